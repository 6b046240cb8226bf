"""The public's voice, per case: clicks on our short links, the public's own posts (by platform
and kind) and the actions received, in all and day by day; and the funnel of one case channel by
channel. Read for staff on the overview, the case page and the responses page, and by
``porte-voix responses pace --json``.

Public posts are read from ``public_post`` (what listening found), never as people: a count per
case, platform, kind and hour. Among a case's actions they are already there: listening writes
them as ``social_action`` responses (source type "listening", source the platform) in the same
transaction as the posts (orchestrator.services.listening.record_page), so every total, the
counter and the exports include them without reading ``public_post``. Posts found by the
edition's own terms belong to no case: they show as public posts, not as a case's actions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.registry import KINDS
from orchestrator.models import (
    PUBLIC_POST_KINDS,
    RESPONSE_KINDS,
    Campaign,
    Case,
    Delivery,
    LinkClickHour,
    Post,
    PublicPost,
    Response,
)

#: The platforms a public post is found on, in the order they are shown.
PLATFORMS = KINDS
#: The source public posts are counted under among a case's actions.
LISTENING_SOURCE = "listening"
def _public_posts(campaign_id: int | None) -> Any:
    """The edition's public posts (hour, platform, kind) with their case: their own, else the case
    of the post of ours they answer (an outer join, so a post answering nothing keeps its own)."""
    p, d, o = (m.__table__.c for m in (PublicPost, Delivery, Post))  # type: ignore[attr-defined,union-attr]
    tables = [m.__table__ for m in (PublicPost, Delivery, Post)]  # type: ignore[attr-defined,union-attr]
    return (sa.select(p.hour, p.platform, p.kind, sa.func.coalesce(p.case_id, o.case_id).label("case_id"))
            .select_from(tables[0].outerjoin(tables[1], d.id == p.delivery_id).outerjoin(tables[2], o.id == d.post_id))
            .where(p.campaign_id == campaign_id)
            .subquery())


def _local_day(hour: Any, zone: ZoneInfo, cache: dict[Any, dt.date]) -> dt.date:
    day = cache.get(hour)
    if day is None:
        at = hour if isinstance(hour, dt.datetime) else dt.datetime.fromisoformat(str(hour)[:19])
        at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
        day = cache[hour] = at.astimezone(zone).date()
    return day


def _clicks_by_hour(session: Session, campaign: Campaign) -> Any:
    """(hour, case id, clicks) for every short link of the edition's deliveries."""
    return session.execute(
        sa.select(col(LinkClickHour.hour), col(Post.case_id), sa.func.sum(col(LinkClickHour.count)))
        .select_from(LinkClickHour.__table__)  # type: ignore[attr-defined]
        .join(Delivery, col(Delivery.source_code) == col(LinkClickHour.source_code))
        .join(Post, col(Post.id) == col(Delivery.post_id))
        .where(col(Post.campaign_id) == campaign.id)
        .group_by(col(LinkClickHour.hour), col(Post.case_id)))


def voice(session: Session, *, campaign: Campaign) -> dict[str, Any]:
    """Per case and for the whole edition: clicks, public posts by platform and kind, actions by
    kind; and per local day (the edition's time zone) the same three figures per case.

    ``cases``: one entry per case in the edition's order, ``{"case_id", "slug", "person",
    "clicks", "public_posts": {platform: {kind: n}}, "public_total", "actions": {kind: n},
    "actions_total"}``, where ``actions`` includes the public posts as ``social_action`` (written
    so by listening). ``edition``: the same totals, edition-wide posts included.
    ``days``: ``{"day", "case" (slug or None), "clicks", "public_posts", "actions"}`` sorted by
    day then case."""
    zone = ZoneInfo(campaign.timezone)
    cases = list(session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))))
    slugs: dict[int | None, str | None] = {c.id: c.slug for c in cases}
    cache: dict[Any, dt.date] = {}
    days: dict[tuple[dt.date, str | None], dict[str, int]] = {}

    def bump(day: dt.date, case_id: int | None, field: str, n: int) -> None:
        row = days.setdefault((day, slugs.get(case_id)), {"clicks": 0, "public_posts": 0, "actions": 0})
        row[field] += n

    clicks: dict[int | None, int] = {}
    for hour, case_id, n in _clicks_by_hour(session, campaign):
        clicks[case_id] = clicks.get(case_id, 0) + int(n or 0)
        bump(_local_day(hour, zone, cache), case_id, "clicks", int(n or 0))

    public: dict[int | None, dict[str, dict[str, int]]] = {}
    posts = _public_posts(campaign.id)
    keys = (posts.c.hour, posts.c.case_id, posts.c.platform, posts.c.kind)
    rows = session.execute(sa.select(*keys, sa.func.count()).group_by(*keys))
    for hour, case_id, platform, kind, n in rows:
        by_kind = public.setdefault(case_id, {}).setdefault(platform, {})
        by_kind[kind] = by_kind.get(kind, 0) + int(n)
        bump(_local_day(hour, zone, cache), case_id, "public_posts", int(n))

    actions: dict[int | None, dict[str, int]] = {}
    rows = session.execute(
        sa.select(col(Response.day), col(Response.case_id), col(Response.kind), sa.func.sum(col(Response.count)))
        .join(Case, col(Case.id) == col(Response.case_id))
        .where(col(Case.campaign_id) == campaign.id)
        .group_by(col(Response.day), col(Response.case_id), col(Response.kind)))
    for day, case_id, kind, n in rows:
        by_kind = actions.setdefault(case_id, {})
        by_kind[kind] = by_kind.get(kind, 0) + int(n or 0)
        bump(day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)), case_id, "actions", int(n or 0))

    def entry(case_ids: list[int | None]) -> dict[str, Any]:
        posts: dict[str, dict[str, int]] = {}
        kinds: dict[str, int] = {}
        for case_id in case_ids:
            for platform, by_kind in public.get(case_id, {}).items():
                for kind, n in by_kind.items():
                    posts.setdefault(platform, {})[kind] = posts.get(platform, {}).get(kind, 0) + n
            for kind, n in actions.get(case_id, {}).items():
                kinds[kind] = kinds.get(kind, 0) + n
        return {"clicks": sum(clicks.get(c, 0) for c in case_ids), "public_posts": posts,
                "public_total": sum(n for by_kind in posts.values() for n in by_kind.values()),
                "actions": kinds, "actions_total": sum(kinds.values())}

    every = sorted({*clicks, *public, *actions, *slugs}, key=lambda c: (c is None, c or 0))
    return {
        "cases": [{"case_id": c.id, "slug": c.slug, "person": dict(c.person), **entry([c.id])} for c in cases],
        "edition": entry(every),
        "days": [{"day": day, "case": slug, **figures}
                 for (day, slug), figures in sorted(days.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))],
    }


def public_table(public_posts: dict[str, dict[str, int]]) -> list[dict[str, Any]]:
    """Public posts by platform (rows, in PLATFORMS order then any other) and kind (columns, each
    of PUBLIC_POST_KINDS, and ``total``); platforms with nothing are left out."""
    order = [p for p in PLATFORMS if p in public_posts] + sorted(p for p in public_posts if p not in PLATFORMS)
    return [{"platform": p, **{k: public_posts[p].get(k, 0) for k in PUBLIC_POST_KINDS},
             "total": sum(public_posts[p].values())} for p in order]


def pace_figures(session: Session, *, campaign: Campaign, today: dt.date | None = None) -> dict[str, Any]:
    """``{"cases": {slug: {"total", "goal", "by_kind": {kind: n for every kind}, "clicks"}}}``:
    what ``porte-voix responses pace --json`` prints for scripts."""
    from orchestrator.services.responses import pace

    _, per_case = pace(session, campaign=campaign, today=today)
    figures = {c["slug"]: c for c in voice(session, campaign=campaign)["cases"]}
    out: dict[str, Any] = {}
    for item in per_case:
        row = figures.get(item.slug, {})
        kinds = row.get("actions", {})
        out[item.slug] = {"total": item.total, "goal": item.goal,
                          "by_kind": {k: int(kinds.get(k, 0)) for k in (*RESPONSE_KINDS, *sorted(set(kinds) - set(RESPONSE_KINDS)))},
                          "clicks": int(row.get("clicks", 0))}
    return {"cases": out}


# ---------------------------------------------------------------------------------------------
# The funnel of one case, channel by channel

#: The funnel's steps, top to bottom; the public's own posts come last, on their own row.
FUNNEL_STEPS = ("posts", "views", "engagement", "clicks", "actions", "public_posts")


def funnel_by_case_channel(session: Session, *, campaign: Campaign) -> list[dict[str, Any]]:
    """One row per (case, channel kind) with anything to show: our deliveries, their views,
    engagement, clicks and the actions credited to their source codes, and the public's posts
    on that platform for that case. ``case`` is the slug (None for the edition's own terms)."""
    from orchestrator.services.responses import _funnel_rows

    rows: dict[tuple[str | None, str], dict[str, Any]] = {}
    slugs = dict(session.exec(select(Case.id, Case.slug).where(Case.campaign_id == campaign.id)).all())
    for row in _funnel_rows(session, campaign.id or 0, ("case_id", "channel")):
        key = (slugs.get(row["case_id"]), row["channel"])
        rows[key] = {"case": key[0], "channel": key[1], **{k: row[k] for k in FUNNEL_STEPS[:-1]}, "public_posts": 0}
    posts = _public_posts(campaign.id)
    keys = (posts.c.case_id, posts.c.platform)
    for case_id, platform, n in session.execute(sa.select(*keys, sa.func.count()).group_by(*keys)):
        key = (slugs.get(case_id), platform)
        row = rows.setdefault(key, {"case": key[0], "channel": platform, **dict.fromkeys(FUNNEL_STEPS, 0)})
        row["public_posts"] += int(n)
    order = {p: i for i, p in enumerate(PLATFORMS)}
    return sorted(rows.values(), key=lambda r: (r["case"] or "\uffff", order.get(r["channel"], 99), r["channel"]))


def case_funnel(rows: list[dict[str, Any]], slug: str | None) -> dict[str, dict[str, int]]:
    """The rows of :func:`funnel_by_case_channel` for one case as ``{channel: {step: n}}``, with
    a ``total`` channel; every platform of PLATFORMS is present, even at zero."""
    out: dict[str, dict[str, int]] = {p: dict.fromkeys(FUNNEL_STEPS, 0) for p in PLATFORMS}
    for row in rows:
        if row["case"] == slug:
            out[row["channel"]] = {k: int(row[k]) for k in FUNNEL_STEPS}
    out["total"] = {k: sum(v[k] for v in out.values()) for k in FUNNEL_STEPS}
    return out

