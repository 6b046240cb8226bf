"""The dashboard reaches the database only through orchestrator.services: no page (nor common.py,
nor any other module of dashboard/) imports the models, the state machine, SQLModel or
SQLAlchemy, or queries a session itself. A rule enforced once, in the services, holds for the
dashboard and the command line alike.

An import under ``if TYPE_CHECKING:`` is allowed: it names a type for mypy and runs nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
FORBIDDEN = ("orchestrator.models", "orchestrator.states", "sqlmodel", "sqlalchemy")
#: Session methods that run SQL, whatever the session is called.
QUERIES = {"exec", "execute", "query", "scalar", "scalars"}
#: Names a session goes by in the dashboard, for ``session.get(Model, id)``.
SESSION_NAMES = {"s", "session", "db_session"}


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def violations(source: str) -> list[str]:
    """What in ``source`` reaches the database without the services, one line each."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return  # the body names types only
        if isinstance(node, ast.Import):
            found.extend(f"line {node.lineno}: import {a.name}" for a in node.names if _forbidden(a.name))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if any(_forbidden(m) for m in modules):
                found.append(f"line {node.lineno}: from {node.module} import "
                             + ", ".join(a.name for a in node.names))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if node.func.attr in QUERIES and not (isinstance(receiver, ast.Name) and receiver.id == "st"):
                found.append(f"line {node.lineno}: .{node.func.attr}(…)")
            elif node.func.attr == "get" and isinstance(receiver, ast.Name) and receiver.id in SESSION_NAMES:
                found.append(f"line {node.lineno}: {receiver.id}.get(…)")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _sources() -> list[Path]:
    return sorted(DASHBOARD.rglob("*.py"))


def test_every_page_and_module_of_the_dashboard_is_read() -> None:
    names = {p.relative_to(DASHBOARD).as_posix() for p in _sources()}
    assert {"common.py", "views/approvals.py", "views/compose.py", "views/series.py", "data.py"} <= names


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(DASHBOARD).as_posix())
def test_the_dashboard_reaches_the_database_only_through_the_services(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    "from sqlmodel import select",
    "import sqlalchemy as sa",
    "from sqlalchemy.orm import Session",
    "from orchestrator.models import Case",
    "from orchestrator import states",
    "from orchestrator import db, models",
    "import orchestrator.states",
    "with common.session() as s:\n    s.exec(q)",
    "common.run(lambda s: s.execute(q))",
    "post = s.get(Post, 1)",
    "def f():\n    if TYPE_CHECKING:\n        pass\n    else:\n        from sqlmodel import select",
])
def test_the_check_sees_a_query_or_an_import_that_would_bypass_the_services(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize("source", [
    "if TYPE_CHECKING:\n    from orchestrator.models import Post",
    "if typing.TYPE_CHECKING:\n    from sqlmodel import Session",
    "from orchestrator.services import posts",
    "from orchestrator import db",
    "name = person.get('fr')",
    "chosen = st.session_state.get('campaign_id')",
])
def test_the_check_lets_types_services_and_plain_lookups_through(source: str) -> None:
    assert violations(source) == []
