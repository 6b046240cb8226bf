"""Rate budgets: token buckets per account and endpoint, stored in the database so every worker
spends from the same budget, and corrected from what the platform's headers say.

Buckets are seeded from each channel's ``rate_limits`` (the platforms' published figures) or an
account's ``options["rate_limits"]``. Endpoint names are the channels' own: ``publish``,
``metrics`` and ``read`` everywhere, plus ``media`` (Mastodon) and ``login`` (Bluesky). A header
about an endpoint without a bucket is ignored.

Locking order: buckets are always locked sorted by (account, endpoint), after any delivery rows,
so two workers correcting several accounts at once cannot deadlock each other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlmodel import Session, select

from channels.base import RateInfo
from orchestrator.models import RateBucket
from orchestrator.timeutil import utcnow


def refill(bucket: RateBucket, now: dt.datetime) -> None:
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    rate = bucket.capacity / max(1, bucket.window_seconds)
    bucket.tokens = min(float(bucket.capacity), bucket.tokens + elapsed * rate)
    bucket.updated_at = max(bucket.updated_at, now)


def take(bucket: RateBucket, now: dt.datetime, n: int = 1) -> tuple[int, dt.datetime | None]:
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
        bucket = lock_bucket(session, account_id=account_id, endpoint=endpoint)
        if bucket is None:
            continue
        refill(bucket, now)
        remaining = info.remaining
        if remaining is not None and info.limit and info.limit != bucket.capacity:
            remaining = int(bucket.capacity * remaining / info.limit)
        if remaining is not None and remaining < bucket.tokens:
            bucket.tokens = float(max(0, remaining))
        if info.remaining == 0 and info.reset_at is not None and info.reset_at > now:
            bucket.blocked_until = info.reset_at
        session.add(bucket)


def block_until(session: Session, *, account_id: int, endpoint: str, until: dt.datetime) -> None:
    bucket = lock_bucket(session, account_id=account_id, endpoint=endpoint)
    if bucket is not None:
        bucket.blocked_until = until
        bucket.tokens = 0.0
        bucket.updated_at = utcnow()
        session.add(bucket)
