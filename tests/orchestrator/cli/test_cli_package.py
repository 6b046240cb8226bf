"""The command line is a package whose imports go one way (issue 17).

``orchestrator/cli/__init__.py`` builds the root app from the command modules; the command
modules share ``orchestrator/cli/common.py``. No module of the package imports the package root,
and the modules do not import each other in a circle. Read from the source with ``ast``, so an
import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = "orchestrator.cli"


def _imports(path: Path, module: str, package: str) -> list[str]:
    """Every module name that ``path`` imports, relative imports resolved."""
    names: list[str] = []
    is_init = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                # in a package's __init__, level 1 is the package itself
                base = parts[: len(parts) - node.level + (1 if is_init else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names.append(target)
            # `from orchestrator.cli import accounts` names a submodule
            names.extend(f"{target}.{alias.name}" for alias in node.names if target == package)
    return names


def problems(folder: Path, package: str = PACKAGE) -> list[str]:
    """What is wrong with the imports among the modules of the package in ``folder``."""
    modules = {
        (package if p.name == "__init__.py" else f"{package}.{p.stem}"): p for p in sorted(folder.glob("*.py"))
    }
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        imported = _imports(path, module, package)
        if module != package and package in imported:
            found.append(f"{path.name} imports the package root {package}")
        graph[module] = {name for name in imported if name in modules and name != module}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        found.append(f"import cycle: {' -> '.join(exc.args[1])}")
    return found


def test_no_module_of_the_cli_imports_the_package_root_nor_each_other_in_a_circle() -> None:
    folder = ROOT / "orchestrator" / "cli"
    assert (folder / "__init__.py").exists() and (folder / "common.py").exists()
    assert not (ROOT / "orchestrator" / "cli.py").exists()
    assert not list((ROOT / "orchestrator").glob("cli_*.py"))
    assert problems(folder) == []


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"__init__.py": "from pkg import a\n", "a.py": "def f():\n    from pkg import app\n"},
         "a.py imports the package root pkg"),
        ({"__init__.py": "", "a.py": "from . import b\n"}, "a.py imports the package root pkg"),
        ({"__init__.py": "", "a.py": "import pkg.b\n", "b.py": "from .a import x\n"}, "import cycle"),
        ({"__init__.py": "from .a import x\n", "a.py": "from pkg.common import y\n", "common.py": "import typer\n"},
         None),
    ],
)
def test_the_import_check_sees_a_root_import_and_a_cycle(tmp_path: Path, files: dict[str, str],
                                                          expected: str | None) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = problems(tmp_path, "pkg")
    if expected is None:
        assert found == []
    else:
        assert any(expected in p for p in found), found


#: Every command, as before the package (names and hidden aliases included).
COMMANDS = {
    "init", "worker", "sandbox", "up", "schedule", "status", "check", "backup", "restore", "listen", "suspend", "resume", "retract", "confirm-retraction",
    "account list", "account test", "account add", "account set-credentials", "account remove",
    "post add", "post approve", "post reject", "post withdraw",
    "content validate", "content load", "content dump",
    "user add", "user password", "user passwd", "user role", "user disable", "user unlock", "user list",
    "plan apply", "export ics", "export deliveries", "secrets rotate", "metrics rebuild",
    "responses import", "responses tally", "responses pace", "links serve", "links media-url", "api serve",
}


def test_every_command_keeps_its_name() -> None:
    from orchestrator.cli import app

    names: set[str] = set()

    def walk(command: object, path: str) -> None:
        if hasattr(command, "list_commands"):
            for name in command.list_commands(None):  # type: ignore[attr-defined]
                walk(command.get_command(None, name), f"{path} {name}".strip())  # type: ignore[attr-defined]
        else:
            names.add(path)

    walk(typer.main.get_command(app), "")
    assert names == COMMANDS
