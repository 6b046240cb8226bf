"""CSV that a spreadsheet opens without running anything in it.

A cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return, which some
spreadsheets skip before reading a formula) is taken as a formula by Excel, LibreOffice and Google
Sheets: ``=HYPERLINK(...)`` in a post text or a platform's error message would run on the laptop
of whoever opens the export. Such cells get a leading apostrophe, which spreadsheets show as text
(OWASP's advice for CSV injection). Numbers are left alone: ``-3`` stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """The value to write: strings that would be read as a formula are neutralised."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def uncell(value: str) -> str:
    """What :func:`cell` wrote, read back: our own export imports to the same text."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


class SafeWriter:
    """``csv.writer`` with every cell passed through :func:`cell`."""

    def __init__(self, out: Any, **kwargs: Any) -> None:
        self._writer = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: Any, **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)


def dumps(rows: Iterable[Iterable[Any]], **kwargs: Any) -> str:
    out = io.StringIO()
    writer(out, **kwargs).writerows(rows)
    return out.getvalue()
