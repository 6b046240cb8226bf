"""Rate budgets: token buckets per account and endpoint, stored in the database so every worker
spends from the same budget, and corrected from what the platform's headers say."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from channels.base import RateInfo
from orchestrator.models import RateBucket
from orchestrator.timeutil import utcnow


def refill(bucket: RateBucket, now: dt.datetime) -> None:
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    rate = bucket.capacity / max(1, bucket.window_seconds)
    bucket.tokens = min(float(bucket.capacity), bucket.tokens + elapsed * rate)
    bucket.updated_at = now


def take(bucket: RateBucket, now: dt.datetime, n: int = 1) -> tuple[int, dt.datetime | None]:
    """Take up to ``n`` tokens; return how many were taken and, if short, when the next frees."""
    if bucket.blocked_until is not None and bucket.blocked_until > now:
        return 0, bucket.blocked_until
    refill(bucket, now)
    taken = min(n, int(bucket.tokens))
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


def correct(session: Session, *, account_id: int, infos: list[RateInfo]) -> None:
    """Believe the platform when it says fewer calls remain than we thought."""
    now = utcnow()
    for info in infos:
        bucket = lock_bucket(session, account_id=account_id, endpoint=info.endpoint)
        if bucket is None:
            continue
        refill(bucket, now)
        if info.remaining is not None and info.remaining < bucket.tokens:
            bucket.tokens = float(info.remaining)
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
