"""Engagement per UTC hour of publication, case and account (table ``engagement_hour``): what
the overview's curve needs, kept small so the page does not sum 100,000 deliveries each time.

The rows are recomputed, never incremented: :func:`refresh` replaces every hour in which one of
the given deliveries was published with the sum of the latest figures of all the deliveries
published in that hour. A missed or repeated call therefore never leaves a wrong figure behind
for good; the next refresh of that hour puts it right. The worker calls it in the transaction
that records new figures; :func:`rebuild` recomputes everything (tests, repairs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator.models import Delivery, EngagementHour, Post
from orchestrator.timeutil import UTC

ENGAGEMENT = (
    sa.func.coalesce(Delivery.likes, 0) + sa.func.coalesce(Delivery.shares, 0)
    + sa.func.coalesce(Delivery.replies, 0) + sa.func.coalesce(Delivery.quotes, 0)
)
#: Hours this close together are recomputed as one range: fewer statements, same result.
MERGE_GAP = dt.timedelta(hours=24)
_CHUNK = 900  # ids per IN (…), under every SQLite build's variable limit


def _hour(dialect: str) -> Any:
    """The start of the UTC hour of publication, as the column type stores it."""
    published = Delivery.__table__.c.published_at  # type: ignore[attr-defined]
    if dialect == "postgresql":
        return sa.func.timezone("UTC", sa.func.date_trunc("hour", sa.func.timezone("UTC", published)))
    return sa.func.substr(published, 1, 13).concat(":00:00.000000")  # SQLAlchemy's SQLite text format


def _recompute(session: Session, start: dt.datetime | None = None, end: dt.datetime | None = None,
               account_id: int | None = None) -> None:
    """Replace the rows of the hours in [start, end) (all of them without bounds), for one
    account or for all."""
    dialect = session.get_bind().dialect.name
    hour = _hour(dialect)
    delete = sa.delete(EngagementHour)
    where: list[Any] = [col(Delivery.published_at).is_not(None)]
    if start is not None and end is not None:
        delete = delete.where(col(EngagementHour.hour) >= start, col(EngagementHour.hour) < end)
        where += [col(Delivery.published_at) >= start, col(Delivery.published_at) < end]
    if account_id is not None:
        delete = delete.where(col(EngagementHour.account_id) == account_id)
        where.append(col(Delivery.account_id) == account_id)
    case_id = sa.func.coalesce(Post.case_id, 0)
    sums = (
        sa.select(col(Post.campaign_id), hour, case_id, col(Delivery.account_id), sa.func.sum(ENGAGEMENT))
        .select_from(Delivery)
        .join(Post, col(Post.id) == Delivery.post_id)
        .where(*where)
        .group_by(col(Post.campaign_id), hour, case_id, col(Delivery.account_id))
    )
    session.execute(delete)
    session.execute(sa.insert(EngagementHour).from_select(
        ["campaign_id", "hour", "case_id", "account_id", "engagement"], sums))


def _ranges(hours: list[dt.datetime]) -> list[tuple[dt.datetime, dt.datetime]]:
    ranges: list[tuple[dt.datetime, dt.datetime]] = []
    for h in sorted(set(hours)):
        end = h + dt.timedelta(hours=1)
        if ranges and h - ranges[-1][1] <= MERGE_GAP:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((h, end))
    return ranges


def refresh(session: Session, delivery_ids: Iterable[int]) -> int:
    """Recompute, for the accounts of these deliveries, the hours in which they were published;
    returns how many (account, range) pairs were recomputed. Unpublished deliveries are ignored.
    The worker refreshes one account's batch at a time, so each call sums that account's
    deliveries only."""
    ids = list(delivery_ids)
    session.flush()  # the figures just set on these deliveries must be what is summed
    hours: dict[int, list[dt.datetime]] = {}
    for i in range(0, len(ids), _CHUNK):
        for account_id, published in session.exec(
            select(Delivery.account_id, Delivery.published_at)  # type: ignore[call-overload]
            .where(col(Delivery.id).in_(ids[i:i + _CHUNK]), col(Delivery.published_at).is_not(None))
        ):
            assert published is not None  # filtered above
            hours.setdefault(account_id, []).append(published.astimezone(UTC).replace(minute=0, second=0, microsecond=0))
    done = 0
    for account_id, account_hours in sorted(hours.items()):
        for start, end in _ranges(account_hours):
            _recompute(session, start, end, account_id)
            done += 1
    return done


def rebuild(session: Session) -> None:
    """Every hour from the deliveries' figures."""
    session.flush()
    _recompute(session)
