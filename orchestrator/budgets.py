"""Rate budgets: token buckets per account and endpoint, stored in the database so every worker
spends from the same budget, and corrected from what the platform's headers say.

Buckets are seeded from each channel's ``rate_limits`` (the platforms' published figures) or an
account's ``options["rate_limits"]``. Endpoint names are the channels' own: ``publish``,
``metrics`` and ``read`` everywhere, plus ``media`` (Mastodon), ``login`` (Bluesky) and X's
listening endpoints ``search``, ``mentions`` and ``counts``. An account created before an
endpoint was added gets its bucket from :func:`ensure_buckets` (the listener calls it at each
pass). A header about an endpoint without a bucket is ignored.

Locking order: buckets are always locked sorted by (account, endpoint), after any delivery rows,
so two workers correcting several accounts at once cannot deadlock each other.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from channels.base import RateInfo
from orchestrator.models import RateBucket
from orchestrator.timeutil import utcnow


@dataclasses.dataclass
class Bucket:
    """A bucket's row read with Core for the worker's hot path (claims and corrections), where
    loading and flushing an ORM object cost more than the arithmetic; :func:`refill` and
    :func:`take` work on it as on a :class:`RateBucket`."""

    id: int
    capacity: int
    window_seconds: int
    tokens: float
    updated_at: dt.datetime
    blocked_until: dt.datetime | None


_TABLE: Any = RateBucket.__table__  # type: ignore[attr-defined]
_READ = sa.select(_TABLE.c.id, _TABLE.c.capacity, _TABLE.c.window_seconds, _TABLE.c.tokens, _TABLE.c.updated_at,
                  _TABLE.c.blocked_until).where(_TABLE.c.account_id == sa.bindparam("account_id"),
                                                _TABLE.c.endpoint == sa.bindparam("endpoint"))
_WRITE = _TABLE.update().where(_TABLE.c.id == sa.bindparam("_id")).values(
    tokens=sa.bindparam("tokens"), updated_at=sa.bindparam("updated_at"), blocked_until=sa.bindparam("blocked_until"))


def read_bucket(session: Session, *, account_id: int, endpoint: str) -> Bucket | None:
    """The bucket, locked until the end of the transaction (PostgreSQL; SQLite has one writer).
    Pending ORM changes (a bucket blocked earlier in this transaction) are written first."""
    session.flush()
    connection = session.connection()
    query = _READ.with_for_update() if connection.dialect.name == "postgresql" else _READ
    row = connection.execute(query, {"account_id": account_id, "endpoint": endpoint}).first()
    return Bucket(*row) if row is not None else None


def ensure_buckets(session: Session, *, account_id: int, limits: dict[str, tuple[int, int]]) -> int:
    """Add, full, the buckets of ``limits`` the account does not have yet (an endpoint added to a
    platform after the account was); safe when two workers do it at once. How many were added."""
    if not limits:
        return 0
    have = {e for (e,) in session.connection().execute(
        sa.select(_TABLE.c.endpoint).where(_TABLE.c.account_id == account_id))}
    missing = [{"account_id": account_id, "endpoint": e, "capacity": int(c), "window_seconds": int(w),
                "tokens": float(c), "updated_at": utcnow()} for e, (c, w) in sorted(limits.items()) if e not in have]
    if not missing:
        return 0
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = postgresql.insert if session.connection().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(_TABLE).values(missing).on_conflict_do_nothing(index_elements=["account_id", "endpoint"])
    session.connection().execute(stmt)
    return len(missing)


def write_bucket(session: Session, bucket: Bucket) -> None:
    session.connection().execute(_WRITE, {"_id": bucket.id, "tokens": bucket.tokens, "updated_at": bucket.updated_at,
                                          "blocked_until": bucket.blocked_until})


def refill(bucket: RateBucket | Bucket, now: dt.datetime) -> None:
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    rate = bucket.capacity / max(1, bucket.window_seconds)
    bucket.tokens = min(float(bucket.capacity), bucket.tokens + elapsed * rate)
    bucket.updated_at = max(bucket.updated_at, now)


def take(bucket: RateBucket | Bucket, now: dt.datetime, n: int = 1) -> tuple[int, dt.datetime | None]:
    """Take up to ``n`` tokens; return how many were taken and, if short, when the next frees."""
    if bucket.blocked_until is not None and bucket.blocked_until > now:
        return 0, bucket.blocked_until
    refill(bucket, now)
    taken = max(0, min(n, int(bucket.tokens)))
    bucket.tokens -= taken
    if taken < n:
        rate = bucket.capacity / max(1, bucket.window_seconds)
        wait = (1.0 - (bucket.tokens % 1.0)) / rate if rate > 0 else 60.0
        return taken, now + dt.timedelta(seconds=wait)
    return taken, None


def lock_bucket(session: Session, *, account_id: int, endpoint: str) -> RateBucket | None:
    query = select(RateBucket).where(RateBucket.account_id == account_id, RateBucket.endpoint == endpoint)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).first()


def spend(session: Session, *, account_id: int, endpoint: str, n: int = 1,
          now: dt.datetime | None = None) -> tuple[bool, dt.datetime | None]:
    """All ``n`` tokens or none: (True, None) when spent, else (False, when to try again).
    An endpoint without a bucket is not limited by us."""
    now = now or utcnow()
    bucket = lock_bucket(session, account_id=account_id, endpoint=endpoint)
    if bucket is None:
        return True, None
    if bucket.blocked_until is not None and bucket.blocked_until > now:
        return False, bucket.blocked_until
    refill(bucket, now)
    if bucket.tokens >= n:
        bucket.tokens -= n
        session.add(bucket)
        return True, None
    rate = bucket.capacity / max(1, bucket.window_seconds)
    wait = (n - bucket.tokens) / rate if rate > 0 else 60.0
    session.add(bucket)
    return False, now + dt.timedelta(seconds=max(1.0, wait))


def latest(infos: Iterable[RateInfo]) -> dict[str, RateInfo]:
    """The last word per endpoint: a later answer knows at least as much as an earlier one."""
    last: dict[str, RateInfo] = {}
    for info in infos:
        last[info.endpoint] = info
    return last


def correct(session: Session, *, account_id: int, infos: Iterable[RateInfo]) -> None:
    """Believe the platform when it says fewer calls remain than we thought.

    When the platform states its limit and it differs from our bucket (Facebook speaks in
    percent; an account may be configured more cautiously), the remaining share is scaled to
    our bucket: 10 left of 100 is a tenth of our capacity. Nothing left means nothing until the
    platform's reset."""
    now = utcnow()
    for endpoint, info in sorted(latest(infos).items()):
        bucket = read_bucket(session, account_id=account_id, endpoint=endpoint)
        if bucket is None:
            continue
        refill(bucket, now)
        remaining = info.remaining
        if remaining is not None and info.limit and info.limit != bucket.capacity:
            remaining = int(bucket.capacity * remaining / info.limit)
        changed = False
        if remaining is not None and remaining < bucket.tokens:
            bucket.tokens = float(max(0, remaining))
            changed = True
        if info.remaining == 0 and info.reset_at is not None and info.reset_at > now:
            bucket.blocked_until = info.reset_at
            changed = True
        if changed:  # a refill alone need not be written: refilling later from the old row gives the same
            write_bucket(session, bucket)


def block_until(session: Session, *, account_id: int, endpoint: str, until: dt.datetime) -> None:
    bucket = lock_bucket(session, account_id=account_id, endpoint=endpoint)
    if bucket is not None:
        bucket.blocked_until = until
        bucket.tokens = 0.0
        bucket.updated_at = utcnow()
        session.add(bucket)
