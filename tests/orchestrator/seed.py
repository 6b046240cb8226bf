"""Data for schema tests, found by reflection so that tables added by future migrations get rows too.

``fill_empty_tables`` puts one plausible row in every table that has none, parents before children,
each foreign key pointing at an existing row. ``snapshot`` reads every row of every table, to
compare a database before and after an upgrade, a downgrade or a backup.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

SKIP = {"alembic_version"}


def reflect(conn: sa.Connection) -> sa.MetaData:
    metadata = sa.MetaData()
    metadata.reflect(conn)
    return metadata


def _value(column: sa.Column[Any], n: int, conn: sa.Connection) -> Any:
    """A value of the column's type; strings respect the column's length."""
    if column.foreign_keys:
        fk = next(iter(column.foreign_keys))
        parent = fk.column.table
        if parent is column.table and column.nullable:
            return None
        found = conn.execute(sa.select(fk.column).limit(1)).scalar()
        if found is None and column.nullable:
            return None
        return found
    kind = column.type
    try:
        python_type = kind.python_type
    except NotImplementedError:
        python_type = str
    if isinstance(kind, sa.JSON) or python_type in (dict, list):
        return json.dumps({}) if isinstance(kind, sa.JSON) and conn.dialect.name == "sqlite" else {}
    if python_type is bytes:
        return f"seed{n}".encode()
    if python_type is bool:
        return False
    if python_type is int:
        return n
    if python_type is float:
        return float(n)
    if python_type is dt.datetime:
        return dt.datetime(2025, 12, 1, 12, 0, n % 60, tzinfo=dt.UTC if conn.dialect.name != "sqlite" else None)
    if python_type is dt.date:
        return dt.date(2025, 12, 1)
    length = getattr(kind, "length", None) or 24
    return f"seed{n}-{column.name}"[:length]


def fill_empty_tables(conn: sa.Connection) -> list[str]:
    """One row in each empty table; returns the tables filled."""
    metadata = reflect(conn)
    filled = []
    for n, table in enumerate(metadata.sorted_tables, start=1):
        if table.name in SKIP or conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
            continue
        row = {}
        for column in table.columns:
            if (column.primary_key and not column.foreign_keys and column.autoincrement in (True, "auto")
                    and isinstance(column.type, sa.Integer) and len(table.primary_key.columns) == 1):
                continue
            if column.nullable and not column.foreign_keys and column.server_default is None:
                row[column.name] = _value(column, n, conn) if not isinstance(column.type, sa.JSON) else None
                continue
            row[column.name] = _value(column, n, conn)
        conn.execute(table.insert().values(**{k: v for k, v in row.items() if v is not None}))
        filled.append(table.name)
    return filled


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.datetime):
        return (value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def snapshot(conn: sa.Connection, tables: list[str] | None = None) -> dict[str, set[str]]:
    """Every row of every table (or of ``tables``), as canonical JSON strings per table."""
    metadata = reflect(conn)
    out: dict[str, set[str]] = {}
    for table in metadata.sorted_tables:
        if table.name in SKIP or (tables is not None and table.name not in tables):
            continue
        rows = conn.execute(sa.select(table)).mappings()
        out[table.name] = {json.dumps({k: _plain(v) for k, v in r.items()}, sort_keys=True, default=repr) for r in rows}
    return out
