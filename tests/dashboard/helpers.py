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
