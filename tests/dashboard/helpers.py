"""Assertion helpers for the dashboard tests."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def texts(at: AppTest) -> str:
    """Everything the page shows as text, to assert on."""
    parts = []
    for kind in ("markdown", "text", "caption", "error", "warning", "info", "success", "title", "subheader",
                 "header", "metric"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")) + " " + str(getattr(element, "label", "")))
    for element in at.get("progress"):
        parts.append(element.proto.text)
    return "\n".join(parts)


def stored(engine, query) -> list:  # type: ignore[no-untyped-def]
    """Rows as the database holds them now, read in a transaction of their own: a test that goes
    on clicking must not keep a transaction open (SQLite has one writer at a time)."""
    from orchestrator import db

    with db.session_scope(engine) as s:
        return list(s.exec(query))
