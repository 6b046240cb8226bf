"""Engines, sessions and migrations for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")
log = logging.getLogger("porte_voix.db")


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
        database = sa.engine.make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            create_private_file(Path(database))
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 60}, **kwargs
        )
        _sqlite_single_writer(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)  # survive a server restart or a killed backend
    kwargs.setdefault("pool_size", 10)
    return sa.create_engine(url, **kwargs)


def create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only, as the key file is: it holds password
    hashes, encrypted tokens, drafts and the audit log. SQLite gives its -wal and -shm files the
    database file's own mode. An existing file is left as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


_HOLDS_WRITER = "porte_voix_writer"
_BUSY_SECONDS = 60.0


class _WriterLock:
    """One writer at a time on one SQLite file, handed over without SQLite's sleeps.

    A writer that finds SQLite's lock taken sleeps and looks again (1, 2, 5, 10… up to 100 ms),
    whether the holder is a thread of the same process or another worker. Threads of a process
    queue on a lock of ours (the next one starts the moment the previous ends); processes take
    an advisory lock on a file beside the database, looked at every 0.1 to 1 ms while taken.
    SQLite's own lock stays underneath for any program that does not come through here. Either
    wait gives up after the busy timeout, as SQLite would."""

    def __init__(self, path: str | None) -> None:
        self._thread = threading.Lock()
        self._path = path  # None for an in-memory database: no other process can share it
        self._fd: int | None = None
        self._pid = 0

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._thread.acquire(timeout=timeout):
            return False
        if self._path is None:
            return True
        try:
            if self._fd is None or self._pid != os.getpid():  # opened anew in a forked child
                self._fd, self._pid = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            pause = 0.0001
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        self._thread.release()
                        return False
                    time.sleep(pause)
                    pause = min(pause * 2, 0.001)
        except BaseException:
            self._thread.release()
            raise

    def release(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread.release()

    def locked(self) -> bool:
        return self._thread.locked()


_WRITERS: dict[str, _WriterLock] = {}


def _writer_for(database: str | None) -> _WriterLock:
    key = database or ":memory:"
    if key not in _WRITERS:
        path = None if key == ":memory:" or key.startswith("file::memory:") else f"{Path(key).resolve()}.writer-lock"
        _WRITERS[key] = _WriterLock(path)
    return _WRITERS[key]


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

    writer = _writer_for(engine.url.database)

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


class _Packed:
    """A SELECT wrapped to come back from SQLite as one JSON array (see :func:`fetch_rows`)."""

    def __init__(self, query: Any) -> None:
        inner = query.subquery("packed")
        self.columns = list(inner.c)
        self.statement = (sa.select(sa.func.json_group_array(sa.func.json_array(*self.columns)))
                          .execution_options(**query.get_execution_options()))
        self.row = collections.namedtuple("PackedRow", [c.key for c in self.columns])  # type: ignore[misc]
        self._processors: dict[Any, list[Any]] = {}

    def processors(self, dialect: sa.Dialect) -> list[Any]:
        if dialect not in self._processors:
            self._processors[dialect] = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                                         for c in self.columns]
        return self._processors[dialect]


@functools.lru_cache(maxsize=64)
def _packed(query: Any) -> _Packed:
    return _Packed(query)


def fetch_rows(connection: sa.Connection, query: Any, params: dict[str, Any] | None = None) -> list[Any]:
    """All rows of ``query`` (a Core SELECT built once and reused), in its order, as named tuples.

    On SQLite they come back packed in one JSON array: the driver then steps once instead of
    once per row. It lets go of the interpreter at every step, and while the worker's publishing
    threads keep the interpreter busy each step waits its turn to get it back; a claim reading
    a hundred rows row by row held the database's write lock for a fifth of a second, most of it
    waiting. Values go through the columns' own result processing (dates, JSON, booleans), and
    the rows keep the query's order (SQLite aggregates an ordered subquery in that order)."""
    if connection.dialect.name != "sqlite":
        return list(connection.execute(query, params or {}))
    packed = _packed(query)
    text = connection.execute(packed.statement, params or {}).scalar_one()
    processors = packed.processors(connection.dialect)
    return [packed.row(*[value if process is None or value is None else process(value)
                         for process, value in zip(processors, values, strict=True)])
            for values in json.loads(text)]


@cache
def _cached_engine(url: str) -> sa.Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> sa.Engine:
    if url is None:
        from orchestrator.settings import get_settings

        url = get_settings().resolved_database_url()
    return _cached_engine(url)


def make_read_engine(url: str) -> sa.Engine:
    """For long reads next to the worker (the dashboard's cached aggregates). The main SQLite
    engine opens every transaction with BEGIN IMMEDIATE (one writer at a time), which would make
    a long read hold the worker's writes; this one reads a WAL snapshot without taking the write
    lock. PostgreSQL needs no such care: its usual engine is returned."""
    if not is_sqlite(url):
        return get_engine(url)
    return sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})


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


def retry_db(fn: Callable[[], T], what: str, *, tries: int = 3) -> T:
    """Run a short transaction again when the database connection was lost (a restarted server,
    a killed backend): the pool hands out a fresh, pinged connection the next time."""
    for attempt in range(1, tries + 1):
        try:
            return fn()
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError):
            if attempt == tries:
                raise
            log.warning("%s: database error, trying again (%d/%d)", what, attempt, tries - 1)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------------------------
# Writing many rows at once (the worker's hot path: claims and records in batches)


class _Compiled:
    """A statement compiled for one dialect, with each parameter's conversion to the driver's
    value (the column type's own bind processor: aware datetimes checked and stored as UTC).

    On SQLite it also knows how to write many rows in one statement (``rows_sql``): the driver
    lets go of the interpreter at every step of a statement, and an executemany steps once per
    row. While publishing threads keep the interpreter busy, each step waits its turn to get it
    back, so a batch written row by row took hundreds of milliseconds of waiting for a few of
    work; written as one statement, it waits once."""

    def __init__(self, statement: Any, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.order = list(compiled.positiontup or []) if compiled.positional else list(compiled.binds)
        self.processors: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        self.many: tuple[str, str] | None = None  # (head, tail) around the rows' placeholders
        if dialect.name == "sqlite" and self.positional:
            self.many = _sqlite_many(statement, self.order, dialect)

    def rows_sql(self, count: int) -> str:
        assert self.many is not None
        head, tail = self.many
        row = "(" + ", ".join("?" * len(self.order)) + ")"
        return head + ", ".join([row] * count) + tail


def _sqlite_many(statement: Any, order: list[str], dialect: sa.Dialect) -> tuple[str, str] | None:
    """The text around a multi-row VALUES list for our two batch shapes: an INSERT whose
    parameters are its columns, and an UPDATE by ``_id`` whose other parameters are the columns
    they set (``UPDATE … FROM (VALUES …)``, SQLite 3.33 and later)."""
    quote = dialect.identifier_preparer.quote
    table = quote(statement.table.name)
    if statement.is_insert:
        return f"INSERT INTO {table} ({', '.join(quote(name) for name in order)}) VALUES ", ""
    if statement.is_update and "_id" in order and sqlite3.sqlite_version_info >= (3, 33):
        sets = ", ".join(f"{quote(name)} = v.column{i + 1}" for i, name in enumerate(order) if name != "_id")
        return (f"UPDATE {table} SET {sets} FROM (VALUES ",
                f") AS v WHERE {table}.id = v.column{order.index('_id') + 1}")
    return None


@functools.lru_cache(maxsize=128)
def _compiled(statement: Any, dialect: sa.Dialect) -> _Compiled:
    return _Compiled(statement, dialect)


#: Rows per statement when SQLite writes many at once, within its limit of parameters per
#: statement (32,766 since SQLite 3.32, 999 before).
SQLITE_ROWS_PER_STATEMENT = 200
_SQLITE_PARAMETERS = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def write_many(connection: sa.Connection, statement: Any, params: list[dict[str, Any]]) -> None:
    """The SQLite batch writer: ``statement`` (an INSERT, or an UPDATE by ``_id``, no expanding
    parameters) once per row of ``params`` through the driver,
    inside ``connection``'s transaction and through its event hooks: on SQLite many rows per
    statement, elsewhere the driver's executemany."""
    compiled = _compiled(statement, connection.dialect)
    columns: list[list[Any]] = []
    for name in compiled.order:
        values = [row[name] for row in params]
        processor = compiled.processors.get(name)
        if processor is not None:
            try:  # many rows share a value (now, the actor, a state): convert each once
                converted = {v: processor(v) for v in set(values) if v is not None}
                values = [None if v is None else converted[v] for v in values]
            except TypeError:  # a value that cannot be a dict key (JSON): converted one by one
                values = [None if v is None else processor(v) for v in values]
        columns.append(values)
    if compiled.many is not None:
        rows = list(zip(*columns, strict=True))
        per = max(1, min(SQLITE_ROWS_PER_STATEMENT, _SQLITE_PARAMETERS // len(compiled.order)))
        for start in range(0, len(rows), per):
            chunk = rows[start:start + per]
            connection.exec_driver_sql(compiled.rows_sql(len(chunk)), tuple(v for row in chunk for v in row))
        return
    if compiled.positional:
        many: list[Any] = list(zip(*columns, strict=True))
    else:
        many = [dict(zip(compiled.order, row, strict=True)) for row in zip(*columns, strict=True)]
    connection.exec_driver_sql(compiled.sql, many)
