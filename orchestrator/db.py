"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"


#: Execution option of a session or connection that only reads: on SQLite its transaction is a
#: plain (deferred) BEGIN instead of BEGIN IMMEDIATE, so it never queues behind a writer.
READ_ONLY = "porte_voix_read_only"
#: Execution option ``(table, index)``: on SQLite, read ``table`` through ``index`` (``INDEXED
#: BY``) where the planner, lacking statistics, would pick an index that makes it sort a backlog.
#: SQLAlchemy's SQLite dialect renders no table hints; other databases ignore the option.
SQLITE_INDEXED_BY = "porte_voix_sqlite_indexed_by"


def is_sqlite(url_or_engine: str | sa.Engine) -> bool:
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> sa.Engine:
    if is_sqlite(url):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs
        )
        _sqlite_single_writer(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive a server restart or a killed backend
    kwargs.setdefault("pool_size", 10)
    return sa.create_engine(url, **kwargs)


_WRITERS: dict[str, threading.Lock] = {}
_HOLDS_WRITER = "porte_voix_writer"
_BUSY_SECONDS = 60.0


def _let_go(info: dict[str, Any]) -> None:
    lock = info.pop(_HOLDS_WRITER, None)
    if lock is not None:
        lock.release()


def _sqlite_single_writer(engine: sa.Engine) -> None:
    """Every transaction starts with BEGIN IMMEDIATE: SQLite then has one writer at a time, so a
    claim is never lost to an upgrade deadlock; WAL lets readers go on meanwhile."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(_BUSY_SECONDS * 1000)}")
        cursor.close()

    # SQLite makes a writer that finds the lock taken sleep and look again (1, 2, 5, 10… ms), even
    # when the holder is a thread of the same process. Writers of this process queue on a lock of
    # ours instead and start the moment the previous one ends; other processes still meet
    # SQLite's own lock. A lock that cannot be had within the busy timeout fails as SQLite would.
    writer = _WRITERS.setdefault(str(engine.url.database), threading.Lock())

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # A read-only unit of work (``READ_ONLY``) takes no write lock: WAL readers never wait.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=_BUSY_SECONDS):
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
        conn.info[_HOLDS_WRITER] = writer
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _let_go(conn.info)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end(conn: sa.Connection) -> None:
        _let_go(conn.info)

    # a connection given back, invalidated or closed without COMMIT or ROLLBACK through us
    @event.listens_for(engine, "reset")
    def _reset(_dbapi: Any, record: Any, _state: Any) -> None:
        _let_go(record.info)

    @event.listens_for(engine, "invalidate")
    @event.listens_for(engine, "close")
    def _closed(_dbapi: Any, record: Any, *_: Any) -> None:
        _let_go(record.info)

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _indexed_by(conn: sa.Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                    executemany: bool) -> tuple[str, Any]:
        hint = context.execution_options.get(SQLITE_INDEXED_BY) if context is not None else None
        if hint:
            table, index = hint
            statement = statement.replace(f"FROM {table} ", f"FROM {table} INDEXED BY {index} ", 1)
        return statement, parameters


@cache
def _cached_engine(url: str) -> sa.Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> sa.Engine:
    if url is None:
        from orchestrator.settings import get_settings

        url = get_settings().resolved_database_url()
    return _cached_engine(url)


@contextlib.contextmanager
def read_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session for reading only: no write lock on SQLite; rolled back at the end."""
    with Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as session:
        yield session


@contextlib.contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error: nothing half-saved."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine_or_url: sa.Engine | str, revision: str = "head") -> None:
    from alembic import command

    url = engine_or_url if isinstance(engine_or_url, str) else engine_or_url.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), revision)


def downgrade(engine_or_url: sa.Engine | str, revision: str) -> None:
    from alembic import command

    url = engine_or_url if isinstance(engine_or_url, str) else engine_or_url.url.render_as_string(hide_password=False)
    command.downgrade(alembic_config(url), revision)
