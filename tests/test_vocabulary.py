"""One word for one thing in code: a ``Campaign`` is one yearly edition of the campaign.

Pages say « édition » (strings in ``dashboard/strings.py``); identifiers say campaign. This
reads every module of ``orchestrator/`` and ``dashboard/`` with ``ast`` and fails on a module,
class, function, parameter, variable, attribute, keyword or import whose name says edition.
String literals and comments are free.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("orchestrator", "dashboard")
WORD = "edition"


def _names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every identifier written in ``tree``, with its line."""
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield line, node.name
        elif isinstance(node, ast.arg):
            yield line, node.arg
        elif isinstance(node, ast.Name):
            yield line, node.id
        elif isinstance(node, ast.Attribute):
            yield line, node.attr
        elif isinstance(node, ast.keyword) and node.arg:
            yield line, node.arg
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module:
                yield line, node.module
            for alias in node.names:
                yield line, alias.name
                if alias.asname:
                    yield line, alias.asname
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                yield line, name
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            yield line, node.name


def offending(source: str, where: str) -> list[str]:
    """``where:line name`` for each identifier in ``source`` that says edition."""
    return [f"{where}:{line} {name}" for line, name in _names(ast.parse(source))
            if WORD in name.lower()]


def test_a_name_that_says_edition_is_found_and_a_string_is_not() -> None:
    source = (
        "from orchestrator.services.editions import get_edition\n"
        "class EditionCard: ...\n"
        "def show(edition, *, all_editions=()):\n"
        "    label = 'édition'  # the word staff read\n"
        "    return get_edition(s, campaign_id=edition.id).edition_zip, dict(edition=1), t('app.edition')\n"
    )
    found = {entry.split(" ", 1)[1] for entry in offending(source, "x.py")}
    assert found == {"orchestrator.services.editions", "get_edition", "EditionCard", "edition", "all_editions",
                     "edition_zip"}
    assert offending("x = 'edition'\nlabel = t('campaigns.edition_current')\n", "x.py") == []


def test_code_in_orchestrator_and_dashboard_says_campaign_not_edition() -> None:
    problems: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            if WORD in where.lower():
                problems.append(f"{where}: the module's name")
            problems += offending(path.read_text(encoding="utf-8"), where)
    assert problems == [], ("In code a Campaign is one yearly edition; identifiers say campaign "
                            "(pages say « édition », in strings only):\n" + "\n".join(problems))
