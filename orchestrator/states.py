"""The delivery state machine: the only place a delivery's state changes.

::

             ┌──── held (case paused, account unhealthy) ◄─────────────────┐
             ▼                                                             │
  scheduled ──► publishing ──► published                                   │
      ▲   │         │ ├──► retrying ──► publishing                         │
      │   │         │ ├──► failed                                          │
      │   │         │ └──► unconfirmed ──► published | retrying | failed   │
      │   └─────────┴──────────────────────────────────────────────────────┘
      └── cancelled (staff, from any state before published)

Every transition goes through :func:`transition`, which refuses one not in the diagram and writes
an :class:`~orchestrator.models.Attempt` row.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from orchestrator.models import Attempt, Delivery
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.delivery")

SCHEDULED = "scheduled"
HELD = "held"
PUBLISHING = "publishing"
PUBLISHED = "published"
RETRYING = "retrying"
FAILED = "failed"
UNCONFIRMED = "unconfirmed"
CANCELLED = "cancelled"

STATES = (SCHEDULED, HELD, PUBLISHING, PUBLISHED, RETRYING, FAILED, UNCONFIRMED, CANCELLED)
#: States a worker may claim from.
CLAIMABLE = (SCHEDULED, RETRYING)
#: States that will not change without a person.
FINAL = (PUBLISHED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    SCHEDULED: frozenset({PUBLISHING, HELD, CANCELLED}),
    RETRYING: frozenset({PUBLISHING, HELD, CANCELLED}),
    HELD: frozenset({SCHEDULED, RETRYING, CANCELLED}),
    PUBLISHING: frozenset({PUBLISHED, RETRYING, FAILED, UNCONFIRMED, SCHEDULED, HELD}),
    # reconcile: found -> published; proved absent -> retrying; a person may give up -> failed
    UNCONFIRMED: frozenset({PUBLISHED, RETRYING, FAILED, CANCELLED}),
    # a person retries a failure
    FAILED: frozenset({RETRYING, SCHEDULED, CANCELLED}),
    PUBLISHED: frozenset(),
    CANCELLED: frozenset(),
}

LABELS: dict[str, dict[str, str]] = {
    SCHEDULED: {"fr": "Programmée", "en": "Scheduled"},
    HELD: {"fr": "Retenue", "en": "Held"},
    PUBLISHING: {"fr": "En cours d'envoi", "en": "Publishing"},
    PUBLISHED: {"fr": "Publiée", "en": "Published"},
    RETRYING: {"fr": "Nouvel essai prévu", "en": "Retrying"},
    FAILED: {"fr": "Échec", "en": "Failed"},
    UNCONFIRMED: {"fr": "Non confirmée", "en": "Unconfirmed"},
    CANCELLED: {"fr": "Annulée", "en": "Cancelled"},
}


class InvalidTransition(ValueError):
    def __init__(self, delivery_id: int | None, current: str, target: str) -> None:
        super().__init__(
            f"La livraison {delivery_id} ne peut pas passer de « {LABELS[current]['fr']} » à "
            f"« {LABELS[target]['fr']} ». (Delivery {delivery_id} cannot go from {current} to {target}.)"
        )
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def transition(
    session: Session,
    delivery: Delivery,
    target: str,
    *,
    actor: str,
    outcome: str = "",
    detail: str = "",
    duration_ms: int | None = None,
    **changes: Any,
) -> Attempt:
    """Move ``delivery`` to ``target``, apply ``changes`` to it, and record the attempt row."""
    current = delivery.state
    if not can_transition(current, target):
        raise InvalidTransition(delivery.id, current, target)
    now = utcnow()
    delivery.state = target
    for name, value in changes.items():
        setattr(delivery, name, value)
    delivery.updated_at = now
    session.add(delivery)
    assert delivery.id is not None
    attempt = Attempt(
        delivery_id=delivery.id,
        at=now,
        actor=actor,
        from_state=current,
        to_state=target,
        outcome=outcome,
        detail=detail[:2000],
        duration_ms=duration_ms,
    )
    session.add(attempt)
    log.info(
        "delivery %s: %s -> %s",
        delivery.id,
        current,
        target,
        extra={"event": "transition", "delivery_id": delivery.id, "from": current, "to": target,
               "outcome": outcome, "actor": actor},
    )
    return attempt


def transition_many(
    session: Session,
    rows: list[tuple[int, str, dict[str, Any]]],
    target: str,
    *,
    actor: str,
    outcome: str = "",
    **common: Any,
) -> None:
    """Many transitions to one ``target`` at once, for the worker's hot path (claiming a batch,
    recording a batch of publications): ``rows`` are (delivery id, current state, its own
    changes). Each is checked against the diagram exactly like :func:`transition`, then all are
    written with one UPDATE and one INSERT of attempt rows. Objects of these deliveries already
    in ``session`` are not refreshed: load them again to read the new values."""
    if not rows:
        return
    for delivery_id, current, _ in rows:
        if not can_transition(current, target):
            raise InvalidTransition(delivery_id, current, target)
    now = utcnow()
    durations = {delivery_id: changes.pop("duration_ms", None) for delivery_id, _, changes in rows}
    # Statements built once per set of columns; the per-row statements go to the driver's
    # executemany with values converted once per distinct value (SQLAlchemy's own executemany
    # converts every parameter of every row again, which cost more than the write itself).
    session.flush()  # pending ORM changes first, as the ORM's own bulk path would
    connection = session.connection()
    if all(not changes for _, _, changes in rows):  # a claim: the same values for all, one UPDATE
        values = {"state": target, "updated_at": now, **common}
        connection.execute(_update_by_ids(tuple(sorted(values))), {**values, "_ids": [r[0] for r in rows]})
    else:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for delivery_id, _, changes in rows:
            values = {"state": target, "updated_at": now, **common, **changes}
            groups.setdefault(tuple(sorted(values)), []).append({"_id": delivery_id, **values})
        for names, params in groups.items():
            _driver_many(connection, _update_each(names), params)
    _driver_many(
        connection,
        _INSERT_ATTEMPT,
        [{"delivery_id": delivery_id, "at": now, "actor": actor, "from_state": current, "to_state": target,
          "outcome": outcome, "detail": "", "duration_ms": durations[delivery_id]} for delivery_id, current, _ in rows],
    )
    if log.isEnabledFor(logging.INFO):  # one record for the batch, one line per transition
        log.info(
            "%d deliveries -> %s",
            len(rows),
            target,
            extra={"event": "transition", "event_message": "delivery {delivery_id}: {from} -> {to}",
                   "event_common": {"to": target, "outcome": outcome, "actor": actor},
                   "events": [{"delivery_id": delivery_id, "from": current} for delivery_id, current, _ in rows]},
        )


_ATTEMPT_COLUMNS = ("delivery_id", "at", "actor", "from_state", "to_state", "outcome", "detail", "duration_ms")
_INSERT_ATTEMPT = sa.insert(Attempt.__table__).values(  # type: ignore[attr-defined]
    {name: sa.bindparam(name) for name in _ATTEMPT_COLUMNS})


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


def _driver_many(connection: sa.Connection, statement: Any, params: list[dict[str, Any]]) -> None:
    """``statement`` (no expanding parameters) once per row of ``params`` through the driver,
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


@functools.lru_cache(maxsize=64)
def _update_by_ids(names: tuple[str, ...]) -> Any:
    """UPDATE delivery SET <names> WHERE id IN (:_ids): one row of values for many deliveries."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    return (table.update().where(table.c.id.in_(sa.bindparam("_ids", expanding=True)))
            .values({n: sa.bindparam(n) for n in names}))


@functools.lru_cache(maxsize=64)
def _update_each(names: tuple[str, ...]) -> Any:
    """UPDATE delivery SET <names> WHERE id = :_id, for an executemany (its own values per row)."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    return table.update().where(table.c.id == sa.bindparam("_id")).values({n: sa.bindparam(n) for n in names})
