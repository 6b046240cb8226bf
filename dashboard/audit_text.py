"""The audit log in words: each entry's action, what it acted on and its details, in the reader's
language, instead of codes and JSON. An action or a detail no label knows yet is still shown,
from its code made readable, so a new service never leaves a hole in the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from dashboard.i18n import LANGUAGE_NAMES, fmt_datetime, fmt_number, lang, t

#: Details that hold a number naming a row, not a quantity: never written "1 234".
_IDENTIFIERS = {"post", "sibling", "case_id", "campaign_id", "order", "retraction"}
#: Details that name a case, by its slug or its number: shown as the case's name.
_CASES = {"case", "case_id", "case_slug", "order"}

#: The cases' names by slug and by number (as text), as dashboard/views/audit.py gives them.
Names = Mapping[str, str]


def _known(key: str) -> str | None:
    text = t(key)
    return None if text == key else text


def _readable(code: str) -> str:
    """``something_new`` -> "Something new": the last resort for a code no label knows."""
    words = code.replace(".", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else "—"


def action_label(action: str) -> str:
    return _known(f"audit.action.{action}") or _readable(action)


def target_label(target_type: str, target_id: str, cases: Names | None = None) -> str:
    kind = (_known(f"audit.target.{target_type}") or _readable(target_type)) if target_type else ""
    if target_type == "case" and cases:
        target_id = cases.get(str(target_id), target_id)
    return f"{kind} {target_id}".strip() or "—"


def _word(key: str, value: str) -> str | None:
    """A code the detail holds (a role, a status, a language, a platform…) in words."""
    from orchestrator.services.accounts import CREDENTIAL_NAMES, PLATFORM_NAMES
    from orchestrator.services.auth import ROLE_LABELS
    from orchestrator.services.responses import KIND_LABELS

    if key == "role" and value in ROLE_LABELS:
        return ROLE_LABELS[value][lang()]
    if key in ("status", "previous"):
        return _known(f"case.status.{value}")
    if key == "language":
        return t(f"compose.lang_{value}") if value in LANGUAGE_NAMES else None
    if key == "kind":
        return PLATFORM_NAMES.get(value) or KIND_LABELS.get(value, {}).get(lang())
    if key == "fields" and value in CREDENTIAL_NAMES:
        return CREDENTIAL_NAMES[value][0 if lang() == "fr" else 1]
    return None


def value_text(key: str, value: Any, tz: str, cases: Names | None = None) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return t("audit.yes") if value else t("audit.no")
    if key in _CASES and cases and isinstance(value, str | int) and str(value) in cases:
        return cases[str(value)]
    if isinstance(value, int | float):
        return str(value) if key in _IDENTIFIERS else fmt_number(value)
    if isinstance(value, list | tuple):
        return ", ".join(value_text(key, v, tz, cases) for v in value)
    if isinstance(value, dict):
        return "; ".join(phrase(k, v, tz, cases) for k, v in value.items())
    if isinstance(value, str) and (word := _word(key, value)) is not None:
        return word
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        try:  # an instant written as ISO-8601: shown as a date and time of the campaign's zone
            return fmt_datetime(dt.datetime.fromisoformat(value), tz, "short")
        except ValueError:
            pass
    return str(value)


def phrase(key: str, value: Any, tz: str, cases: Names | None = None) -> str:
    label = _known(f"audit.field.{key}") or _readable(key).lower()
    return t("audit.phrase", label=label, value=value_text(key, value, tz, cases))


def details(detail: Any, tz: str, cases: Names | None = None) -> str:
    """``{"count": 1000, "day": "2025-12-06"}`` -> "nombre : 1 000 · jour : 2025-12-06". Details
    are JSON written by many hands: anything else is still shown, and never stops the log."""
    try:
        if isinstance(detail, dict):
            return " · ".join(phrase(str(k), v, tz, cases) for k, v in detail.items()) or "—"
        return value_text("", detail, tz, cases)
    except Exception:
        return t("audit.unreadable")
