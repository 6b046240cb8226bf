"""Read-only figures for the dashboard, computed in SQL (GROUP BY, date buckets), never by
loading every row: the overview must stay fast with 100,000 deliveries and millions of snapshots.

Nothing here changes the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.registry import CHANNELS, channel_class
from orchestrator import states
from orchestrator.models import (
    Account,
    AuditEntry,
    Campaign,
    Case,
    Delivery,
    EngagementHour,
    LinkClickHour,
    MetricSnapshot,
    Post,
    RateBucket,
    WorkerHeartbeat,
)
from orchestrator.services import safe_links
from orchestrator.services.delivery_views import shown_condition, shown_key
from orchestrator.timeutil import UTC, utcnow

ENGAGEMENT = (
    sa.func.coalesce(Delivery.likes, 0)
    + sa.func.coalesce(Delivery.shares, 0)
    + sa.func.coalesce(Delivery.replies, 0)
    + sa.func.coalesce(Delivery.quotes, 0)
)


def _campaign_posts(campaign_id: int) -> Any:
    return select(Post.id).where(Post.campaign_id == campaign_id)


# ---------------------------------------------------------------------------------------------
# Health


@dataclasses.dataclass(frozen=True)
class WorkerStatus:
    alive: bool
    last_seen: dt.datetime | None
    workers: int


def worker_status(session: Session, *, now: dt.datetime | None = None, stale_seconds: float = 60.0) -> WorkerStatus:
    """Is any worker alive? The dashboard shows a red banner when not: nothing would go out."""
    now = now or utcnow()
    last_seen: dt.datetime | None
    last_seen = session.exec(select(sa.func.max(WorkerHeartbeat.last_seen))).one()  # type: ignore[call-overload]
    # Every worker that ever started keeps its row: only those seen lately and not ended are at
    # work (a `worker --once` run that finished a minute ago is not).
    count = session.exec(select(sa.func.count()).select_from(WorkerHeartbeat).where(
        WorkerHeartbeat.running(now - dt.timedelta(seconds=stale_seconds)))).one()
    if last_seen is not None and last_seen.tzinfo is None or isinstance(last_seen, str):  # aggregates bypass the column type
        last_seen = _parse_utc(last_seen)
    return WorkerStatus(alive=bool(count), last_seen=last_seen, workers=int(count or 0))


def _parse_utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def delivery_totals(session: Session, *, campaign_id: int) -> dict[tuple[int | None, str], tuple[int, int]]:
    """(case id, state shown) -> (deliveries, engagement from their latest figures), for the
    campaign. The state is the one staff see (delivery_views.shown_key): a pending post's
    deliveries count as awaiting approval, not as scheduled.

    The inner GROUP BY (post, state) walks ix_delivery_figures, which holds every column it
    needs in (post_id, state) order: no read of the wide delivery rows and no sort; only its
    few thousand groups are then joined to their post for the case.
    """
    per_post = (
        select(  # type: ignore[call-overload]
            Delivery.post_id, Delivery.state, sa.func.count().label("n"), sa.func.sum(ENGAGEMENT).label("engagement"),
        )
        .where(col(Delivery.post_id).in_(_campaign_posts(campaign_id)))
        .group_by(col(Delivery.post_id), col(Delivery.state))
        .subquery("per_post")
    )
    rows = session.execute(
        sa.select(col(Post.case_id), per_post.c.state, col(Post.status), sa.func.sum(per_post.c.n),
                  sa.func.sum(per_post.c.engagement))
        .select_from(per_post)
        .join(Post, col(Post.id) == per_post.c.post_id)
        .group_by(col(Post.case_id), per_post.c.state, col(Post.status))
    )
    totals: dict[tuple[int | None, str], tuple[int, int]] = {}
    for case_id, state, status, n, engagement in rows:
        key = (case_id, shown_key(state, status))
        before = totals.get(key, (0, 0))
        totals[key] = (before[0] + int(n or 0), before[1] + int(engagement or 0))
    return totals


def state_counts(
    session: Session, *, campaign_id: int, totals: dict[tuple[int | None, str], tuple[int, int]] | None = None
) -> dict[str, int]:
    """Deliveries per state shown; ``totals`` from :func:`delivery_totals` saves reading them again."""
    totals = delivery_totals(session, campaign_id=campaign_id) if totals is None else totals
    counts: dict[str, int] = {}
    for (_, state), (n, _) in totals.items():
        counts[state] = counts.get(state, 0) + n
    return counts


# ---------------------------------------------------------------------------------------------
# Progress


def case_progress(
    session: Session, *, campaign_id: int, totals: dict[tuple[int | None, str], tuple[int, int]] | None = None,
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Each case with its goal, the actions it received (letters, signatures, solidarity
    messages…: the goal counts those), the projection at the campaign's end at the current pace,
    and the engagement its posts earned (latest figures kept on the delivery row, so this reads
    deliveries, not snapshots). Nothing is "behind" before the edition starts or after it ends."""
    from orchestrator.services.campaign_results import RUNNING, phase
    from orchestrator.services.responses import pace

    totals = delivery_totals(session, campaign_id=campaign_id) if totals is None else totals
    engagement: dict[int | None, int] = {}
    published: dict[int | None, int] = {}
    for (case_id, state), (n, gained) in totals.items():
        engagement[case_id] = engagement.get(case_id, 0) + gained
        if state == states.PUBLISHED:
            published[case_id] = published.get(case_id, 0) + n
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    today = today or utcnow().astimezone(ZoneInfo(campaign.timezone)).date()
    running = phase(campaign, today=today) == RUNNING  # before or after, there is no pace to keep
    _, per_case = pace(session, campaign=campaign, today=today)
    paces = {p.slug: p for p in per_case}
    clicks = clicks_by_case(session, campaign_id=campaign_id)
    cases = session.exec(select(Case).where(Case.campaign_id == campaign_id).order_by(col(Case.position)))
    return [
        {
            "case_id": c.id,
            "slug": c.slug,
            "person": dict(c.person),
            "status": c.status,
            "goal": c.goal,
            "actions": paces[c.slug].total if c.slug in paces else 0,
            "projected": paces[c.slug].projected if c.slug in paces else 0,
            "projected_rights_day": paces[c.slug].projected_rights_day if c.slug in paces else None,
            "rights_day": paces[c.slug].rights_day if c.slug in paces else None,
            "ends_on": campaign.ends_on,
            "behind": running and c.slug in paces and paces[c.slug].behind,
            "reached": bool(c.goal) and c.slug in paces and paces[c.slug].total >= c.goal,
            "engagement": engagement.get(c.id, 0),
            "published": published.get(c.id, 0),
            "clicks": clicks.get(c.id, 0),
        }
        for c in cases
    ]


def clicks_by_case(session: Session, *, campaign_id: int) -> dict[int | None, int]:
    """Clicks on the short links of each case's posts (counted by ``links serve``)."""
    rows = session.exec(
        select(Post.case_id, sa.func.sum(LinkClickHour.count))  # type: ignore[call-overload]
        .select_from(LinkClickHour)
        .join(Delivery, col(Delivery.source_code) == LinkClickHour.source_code)
        .join(Post, col(Post.id) == Delivery.post_id)
        .where(Post.campaign_id == campaign_id)
        .group_by(col(Post.case_id))
    ).all()
    return {case_id: int(n or 0) for case_id, n in rows}


def _hour(column: Any, dialect: str) -> Any:
    """A UTC hour bucket (text 'YYYY-MM-DD HH' on SQLite, a UTC timestamp on PostgreSQL),
    computed cheaply per row (SQLite's date() with modifiers costs microseconds a row; a
    substring of the stored text costs nothing; PostgreSQL's date_trunc is a third cheaper than
    to_char). Local days are made from hours in Python, on a result of a few thousand rows."""
    if dialect == "postgresql":
        return sa.func.date_trunc("hour", sa.func.timezone("UTC", column))
    return sa.func.substr(column, 1, 13)


def _by_local_day(rows: Any, tz: str, *, hourly: bool = False) -> list[dict[str, Any]]:
    """Sum (hour, case slug, kind, value) rows per local day (or, ``hourly``, per local hour, as
    a naive wall-clock datetime); an hour is a UTC datetime, text starting 'YYYY-MM-DD HH' (UTC),
    or already a local date. A few hundred distinct hours for thousands of rows, so each hour's
    bucket is worked out once."""
    zone = ZoneInfo(tz)
    totals: dict[tuple[Any, str, str], int] = {}
    days: dict[Any, Any] = {}
    for hour, slug, kind, value in rows:
        if hour is None:
            continue
        day = days.get(hour)
        if day is None and isinstance(hour, dt.date) and not isinstance(hour, dt.datetime):
            day = hour  # already a local day
        elif day is None and isinstance(hour, str) and len(hour) == 10:
            day = days[hour] = dt.date.fromisoformat(hour)  # a local day, as SQLite's date() writes it
        elif day is None:
            at = (hour if isinstance(hour, dt.datetime)
                  else dt.datetime.fromisoformat(str(hour)[:13] + ":00"))
            at = (at.replace(tzinfo=UTC) if at.tzinfo is None else at).astimezone(zone)
            day = days[hour] = at.replace(minute=0, second=0, microsecond=0, tzinfo=None) if hourly else at.date()
        key = (day, slug or "", kind)
        totals[key] = totals.get(key, 0) + int(value or 0)
    return [{"day": day, "case": slug, "kind": kind, "engagement": value}
            for (day, slug, kind), value in sorted(totals.items())]


#: A curve spanning fewer local days than this is drawn hour by hour: on the first day of a
#: campaign every point falls on one day, and a curve of one point per day draws no line.
SHORT_RANGE_DAYS = 3


def is_short(rows: list[dict[str, Any]]) -> bool:
    """True when the per-day ``rows`` span fewer than SHORT_RANGE_DAYS days."""
    days = [r["day"] for r in rows]
    return bool(days) and (max(days) - min(days)).days < SHORT_RANGE_DAYS


def engagement_by_hour(session: Session, *, campaign_id: int, tz: str) -> list[dict[str, Any]]:
    """Like :func:`engagement_by_day`, per local hour of publication: for a short campaign so far."""
    slugs = dict(session.exec(select(Case.id, Case.slug).where(Case.campaign_id == campaign_id)).all())
    kinds = dict(session.exec(select(Account.id, Account.kind)).all())
    t = EngagementHour.__table__.c  # type: ignore[attr-defined]
    kind = sa.case(kinds, value=t.account_id, else_="?") if kinds else sa.literal("?")
    rows = session.connection().execute(
        sa.select(t.hour, t.case_id, kind, sa.func.sum(t.engagement))
        .where(t.campaign_id == campaign_id, t.engagement != 0)
        .group_by(t.hour, t.case_id, kind)
    )
    return _by_local_day(((h, slugs.get(c), k, v) for h, c, k, v in rows), tz, hourly=True)


def _sqlite_local_day(column: Any, tz: str, first: Any, last: Any) -> Any:
    """The local day of a stored UTC time, for SQLite, which knows no time zones: date() shifted
    by the zone's offset, one CASE branch per offset in force between ``first`` and ``last``
    (one, or two across a change of time). Offsets are found hour by hour in Python."""
    if first is None or last is None:
        return sa.type_coerce(column, sa.String)
    zone = ZoneInfo(tz)
    start, end = (_parse_utc(first), _parse_utc(last))
    assert start is not None and end is not None
    at = start
    spans: list[tuple[int, dt.datetime]] = []  # (offset in minutes, in force from)
    while at <= end + dt.timedelta(hours=1):
        offset = int(at.astimezone(zone).utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        if not spans or spans[-1][0] != offset:
            spans.append((offset, at))
        at += dt.timedelta(hours=1)
    shifted = [sa.func.date(column, f"{offset:+d} minutes") for offset, _ in spans]
    if len(spans) == 1:
        return shifted[0]
    return sa.case(*[(column < spans[i + 1][1], shifted[i]) for i in range(len(spans) - 1)], else_=shifted[-1])


def engagement_by_day(session: Session, *, campaign_id: int, tz: str) -> list[dict[str, Any]]:
    """Engagement per local day of publication, case and channel kind: each delivery's latest
    figures counted on the day it went out, read from ``engagement_hour`` (a few thousand rows,
    kept by the worker: orchestrator.services.metrics_rollup) rather than from every delivery.
    The overview draws its curve from this."""
    slugs = dict(session.exec(select(Case.id, Case.slug).where(Case.campaign_id == campaign_id)).all())
    # A handful of accounts: their kind as a CASE on account_id groups by kind without a join.
    kinds = dict(session.exec(select(Account.id, Account.kind)).all())
    t = EngagementHour.__table__.c  # type: ignore[attr-defined]
    kind = sa.case(kinds, value=t.account_id, else_="?") if kinds else sa.literal("?")
    # Local days in SQL, so a few hundred rows come back rather than one per hour.
    if session.get_bind().dialect.name == "postgresql":
        hour: Any = sa.cast(sa.func.timezone(tz, t.hour), sa.Date)
    else:
        first, last = session.connection().execute(
            sa.select(sa.func.min(t.hour), sa.func.max(t.hour)).where(t.campaign_id == campaign_id)).one()
        hour = _sqlite_local_day(t.hour, tz, first, last)
    rows = session.connection().execute(
        sa.select(hour, t.case_id, kind, sa.func.sum(t.engagement))
        .where(t.campaign_id == campaign_id, t.engagement != 0)
        .group_by(hour, t.case_id, kind)
    )
    return _by_local_day(((h, slugs.get(c), k, v) for h, c, k, v in rows), tz)


def overview(session: Session, *, campaign_id: int, tz: str) -> dict[str, Any]:
    """Everything the overview page caches: one pass over the delivery figures' covering index
    and a read of the hourly engagement (docs/benchmarks.md has the timings)."""
    computed_at = utcnow()
    totals = delivery_totals(session, campaign_id=campaign_id)
    by_day = engagement_by_day(session, campaign_id=campaign_id, tz=tz)
    return {
        "progress": case_progress(session, campaign_id=campaign_id, totals=totals),
        "by_day": by_day,
        # Hour by hour only when the days are too few to draw a line (a read of a few hundred rows).
        "by_hour": engagement_by_hour(session, campaign_id=campaign_id, tz=tz) if is_short(by_day) else None,
        "counts": state_counts(session, campaign_id=campaign_id, totals=totals),
        "computed_at": computed_at,
    }


def engagement_series(
    session: Session, *, campaign_id: int, tz: str, since: dt.datetime | None = None, hourly: bool = False
) -> list[dict[str, Any]]:
    """Engagement gained per local day (when it happened), case and channel kind, from the
    snapshots. Heavier than :func:`engagement_by_day` (it reads every snapshot since ``since``),
    so the dashboard runs it on request, not on every overview.

    A snapshot holds running totals, so summing snapshots would count the same likes many times:
    each snapshot's gain is its total minus the previous snapshot's of the same delivery (LAG in
    id order, which the worker writes chronologically), summed per hour, then per local day.
    """
    since = since or (utcnow() - dt.timedelta(days=60))
    dialect = session.get_bind().dialect.name
    ms = MetricSnapshot.__table__.c  # type: ignore[attr-defined]
    total = (
        sa.func.coalesce(ms.likes, 0) + sa.func.coalesce(ms.shares, 0)
        + sa.func.coalesce(ms.replies, 0) + sa.func.coalesce(ms.quotes, 0)
    )
    gained = (
        sa.select(
            ms.delivery_id.label("delivery_id"),
            _hour(ms.taken_at, dialect).label("hour"),
            (total - sa.func.coalesce(sa.func.lag(total).over(partition_by=ms.delivery_id, order_by=ms.id), 0)).label("gain"),
        )
        .where(ms.taken_at >= since)
        .subquery("gained")
    )
    per_hour = (
        sa.select(gained.c.delivery_id, gained.c.hour, sa.func.sum(gained.c.gain).label("gain"))
        .group_by(gained.c.delivery_id, gained.c.hour)
        .subquery("per_hour")
    )
    d, p, a, c = (Delivery.__table__.c, Post.__table__.c, Account.__table__.c,  # type: ignore[attr-defined]
                  Case.__table__.c)  # type: ignore[attr-defined]
    query = (
        sa.select(per_hour.c.hour, c.slug, a.kind, sa.func.sum(per_hour.c.gain))
        .select_from(per_hour)
        .join(Delivery.__table__, d.id == per_hour.c.delivery_id)  # type: ignore[attr-defined]
        .join(Post.__table__, p.id == d.post_id)  # type: ignore[attr-defined]
        .join(Account.__table__, a.id == d.account_id)  # type: ignore[attr-defined]
        .outerjoin(Case.__table__, c.id == p.case_id)  # type: ignore[attr-defined]
        .where(p.campaign_id == campaign_id)
        .group_by(per_hour.c.hour, c.slug, a.kind)
    )
    return _by_local_day(session.execute(query), tz, hourly=hourly)


# ---------------------------------------------------------------------------------------------
# Deliveries, for the queue, the calendar and the overview


def _delivery_filter(
    *,
    campaign_id: int,
    state_in: list[str] | None = None,
    shown_in: list[str] | None = None,
    case_ids: list[int] | None = None,
    kinds: list[str] | None = None,
    account_ids: list[int] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[Any]:
    """Conditions on the delivery table alone (post and account through IN subqueries), so the
    planner starts from delivery and its (state, due_at) index instead of scanning posts."""
    posts = select(Post.id).where(Post.campaign_id == campaign_id)
    if case_ids:
        posts = posts.where(col(Post.case_id).in_(case_ids))
    # The "+ 0" keeps SQLite from walking a post_id index (one random row read per delivery)
    # when the filters need columns only the delivery row has; PostgreSQL plans a hash join.
    where: list[Any] = [(col(Delivery.post_id) + 0).in_(posts)]
    if state_in:
        where.append(col(Delivery.state).in_(state_in))
    if shown_in:  # states as staff see them (delivery_views.SHOWN_STATES)
        where.append(shown_condition(shown_in, campaign_id=campaign_id))
    if kinds:
        where.append(col(Delivery.account_id).in_(select(Account.id).where(col(Account.kind).in_(kinds))))
    if account_ids:
        where.append(col(Delivery.account_id).in_(account_ids))
    if start is not None:
        where.append(Delivery.scheduled_at >= start)
    if end is not None:
        where.append(Delivery.scheduled_at < end)
    return where


def _hydrate(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """Full rows for a short list of delivery ids, in that order."""
    if not ids:
        return []
    found = {
        d.id: _row(d, p, a, c)
        for d, p, a, c in session.exec(
            select(Delivery, Post, Account, Case)
            .join(Post, col(Post.id) == Delivery.post_id)
            .join(Account, col(Account.id) == Delivery.account_id)
            .outerjoin(Case, col(Case.id) == Post.case_id)
            .where(col(Delivery.id).in_(ids))
        )
    }
    return [found[i] for i in ids if i in found]


def _row(delivery: Delivery, post: Post, account: Account, case: Case | None) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "state": delivery.state,
        "scheduled_at": delivery.scheduled_at,
        "due_at": delivery.due_at,
        "published_at": delivery.published_at,
        "retracted_at": delivery.retracted_at,
        "account": account.name,
        "account_id": account.id,
        "kind": account.kind,
        "case": case.slug if case else "",
        "case_person": dict(case.person) if case else {},
        "post_id": post.id,
        "post_status": post.status,
        "shown": shown_key(delivery.state, post.status),
        "review_comment": post.review_comment,
        "case_status": case.status if case else "",
        "language": post.language,
        "text": delivery.rendered_text or post.text,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "last_error_kind": delivery.last_error_kind,
        "held_reason": delivery.held_reason,
        "platform_url": delivery.platform_url,
        "profile_url": profile_url(account),
        # The same addresses when they may be shown as links (safe_links), else None.
        "platform_link": safe_links.for_account(delivery.platform_url, account),
        "profile_link": safe_links.for_account(profile_url(account), account),
        "source_code": delivery.source_code,
        "likes": delivery.likes,
        "shares": delivery.shares,
        "replies": delivery.replies,
        "quotes": delivery.quotes,
        "views": delivery.views,
        "saves": delivery.saves,
    }


def profile_url(account: Account) -> str | None:
    """Where a person can look for a post whose outcome is unknown: the account's public page."""
    if account.kind not in CHANNELS:
        return None
    return channel_class(account.kind).profile_url(account.handle, account.base_url)


def list_deliveries(
    session: Session, *, campaign_id: int, limit: int = 200, offset: int = 0, newest_first: bool = False,
    **filters: Any,
) -> list[dict[str, Any]]:
    order = col(Delivery.scheduled_at).desc() if newest_first else col(Delivery.scheduled_at)
    ids = session.exec(
        select(Delivery.id).where(*_delivery_filter(campaign_id=campaign_id, **filters))
        .order_by(order, col(Delivery.id)).offset(offset).limit(limit)
    )
    return _hydrate(session, [i for i in ids if i is not None])


def count_deliveries(session: Session, *, campaign_id: int, **filters: Any) -> int:
    query = select(sa.func.count()).select_from(Delivery).where(*_delivery_filter(campaign_id=campaign_id, **filters))
    return int(session.exec(query).one())  # type: ignore[call-overload]


def upcoming(session: Session, *, campaign_id: int, limit: int = 10, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """What goes out next: waiting deliveries by due time, read through the ix_delivery_due index."""
    since = (now or utcnow()) - dt.timedelta(minutes=10)
    ids = session.exec(
        select(Delivery.id)
        .where(*_delivery_filter(campaign_id=campaign_id, state_in=[*states.CLAIMABLE, states.HELD]),
               Delivery.due_at >= since)
        .order_by(col(Delivery.due_at)).limit(limit)
    )
    return _hydrate(session, [i for i in ids if i is not None])


def next_free_slot(
    session: Session,
    *,
    account_names: list[str],
    tz: str,
    after: dt.datetime | None = None,
    spacing_minutes: int = 60,
    day_start: int = 8,
    day_end: int = 21,
    horizon_days: int = 60,
) -> dt.datetime:
    """The first time on the hour grid (local day_start..day_end) when none of these accounts has
    anything within ``spacing_minutes``: posts spread out instead of landing together."""
    zone = ZoneInfo(tz)
    after = (after or utcnow()) + dt.timedelta(minutes=5)
    ids = [a for a in session.exec(select(Account.id).where(col(Account.name).in_(account_names)))]
    horizon = after + dt.timedelta(days=horizon_days)
    taken = [
        t for t in session.exec(
            select(Delivery.scheduled_at).where(
                col(Delivery.account_id).in_(ids),
                col(Delivery.state).not_in((states.CANCELLED,)),
                Delivery.scheduled_at >= after - dt.timedelta(minutes=spacing_minutes),
                Delivery.scheduled_at < horizon,
            )
        )
    ] if ids else []
    spacing = dt.timedelta(minutes=spacing_minutes)
    local = after.astimezone(zone)
    candidate = local.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    while candidate.astimezone(UTC) < horizon:
        if day_start <= candidate.hour < day_end:
            at = candidate.astimezone(UTC)
            if all(abs(at - t) >= spacing for t in taken):
                return at
        candidate = (candidate + dt.timedelta(hours=1)).astimezone(zone)
    return after


# ---------------------------------------------------------------------------------------------
# Posts waiting for a person


def post_previews(session: Session, *, post: Post, language: str = "fr") -> list[dict[str, Any]]:
    """How a post will look on each account it goes to (scheduled, or chosen and not yet
    scheduled), with that platform's verdict; a row that cannot be built carries its own
    ``error`` instead of breaking the others. Offline: no credentials are decrypted here."""
    from orchestrator.services.post_review import previews

    return previews(session, post=post, language=language)


# ---------------------------------------------------------------------------------------------
# Accounts


def rate_budgets(session: Session, *, now: dt.datetime | None = None) -> dict[int, list[dict[str, Any]]]:
    """Remaining calls per account and endpoint, refilled to ``now`` on paper (nothing is written:
    the worker alone spends tokens)."""
    now = now or utcnow()
    result: dict[int, list[dict[str, Any]]] = {}
    for bucket in session.exec(select(RateBucket).order_by(col(RateBucket.account_id), col(RateBucket.endpoint))):
        elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
        rate = bucket.capacity / max(1, bucket.window_seconds)
        remaining = min(float(bucket.capacity), bucket.tokens + elapsed * rate)
        blocked = bucket.blocked_until if bucket.blocked_until and bucket.blocked_until > now else None
        result.setdefault(bucket.account_id, []).append({
            "endpoint": bucket.endpoint, "remaining": 0 if blocked else int(remaining),
            "capacity": bucket.capacity, "window_seconds": bucket.window_seconds, "blocked_until": blocked,
        })
    return result


# ---------------------------------------------------------------------------------------------
# Audit


def audit_entries(
    session: Session, *, limit: int = 200, offset: int = 0, actor: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.exec(query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).offset(offset).limit(limit)))


def audit_actions(session: Session) -> list[str]:
    return list(session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


# ---------------------------------------------------------------------------------------------
# Dates that matter


def countdowns(campaign: Campaign, *, today: dt.date) -> list[dict[str, Any]]:
    """The marathon, 10 December and the last day: see campaign_results.countdowns."""
    from orchestrator.services import campaign_results

    return campaign_results.countdowns(campaign, today=today)
