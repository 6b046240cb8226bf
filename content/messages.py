"""Turn pydantic's validation errors into problems a campaign editor understands, in French
first and English second."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from content.errors import ContentProblem
from content.yamlio import line_of

_PLAIN: dict[str, tuple[str, str]] = {
    "missing": ("champ obligatoire manquant", "required field missing"),
    "string_too_short": ("ne doit pas être vide", "must not be empty"),
    "string_type": (
        "texte attendu (mettez la valeur entre guillemets)",
        "text expected (put the value in quotes)",
    ),
    "int_type": (
        "nombre entier attendu (sans espace ni décimale)",
        "whole number expected (no spaces or decimals)",
    ),
    "int_parsing": (
        "nombre entier attendu (sans espace ni décimale)",
        "whole number expected (no spaces or decimals)",
    ),
    "int_from_float": (
        "nombre entier attendu (sans décimale)",
        "whole number expected (no decimals)",
    ),
    "extra_forbidden": (
        "champ inconnu (faute de frappe ? voir content/campaigns/README.md)",
        "unknown field (typo? see content/campaigns/README.md)",
    ),
    "model_type": (
        "section attendue (des lignes « clé: valeur »)",
        "section expected ('key: value' lines)",
    ),
    "model_attributes_type": (
        "section attendue (des lignes « clé: valeur »)",
        "section expected ('key: value' lines)",
    ),
    "dict_type": (
        "section attendue (des lignes « clé: valeur »)",
        "section expected ('key: value' lines)",
    ),
    "list_type": (
        "liste attendue (des lignes qui commencent par « - »)",
        "list expected (lines starting with '- ')",
    ),
    "date_type": ("date invalide : attendu AAAA-MM-JJ", "invalid date: expected YYYY-MM-DD"),
    "date_parsing": ("date invalide : attendu AAAA-MM-JJ", "invalid date: expected YYYY-MM-DD"),
}


def dotted(loc: tuple[Any, ...]) -> str:
    """('cases', 2, 'goal') -> 'cases[2].goal'; drops pydantic's internal tags."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and not part.startswith(("function-", "[")) and "[" not in part:
            out += ("." if out else "") + part
    return out


def _wording(error: Mapping[str, Any]) -> tuple[str, str]:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "porte_voix":
        return str(ctx["fr"]), str(ctx["en"])
    if kind in _PLAIN:
        return _PLAIN[kind]
    if kind == "greater_than":
        return f"doit être plus grand que {ctx.get('gt')}", f"must be greater than {ctx.get('gt')}"
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        return f"valeur non permise : attendu {expected}", f"value not allowed: expected {expected}"
    return f"valeur invalide ({error.get('msg', '')})", f"invalid value ({error.get('msg', '')})"


def problems_from(
    error: ValidationError,
    *,
    file: str,
    root: Any = None,
    prefix: tuple[Any, ...] = (),
) -> list[ContentProblem]:
    """One ContentProblem per pydantic error; ``prefix`` is where the validated data sits in the file."""
    problems = []
    for item in error.errors(include_url=False):
        loc = prefix + tuple(item["loc"])
        fr, en = _wording(item)
        problems.append(
            ContentProblem(
                file=file, field=dotted(loc), message=fr, message_en=en, line=line_of(root, loc)
            )
        )
    return problems
