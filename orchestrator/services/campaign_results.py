"""Where a campaign (one yearly edition) stands in time (before, during, after), the dates it counts down to, and
its final results (the bilan) once it is over.

After the last day there is nothing left to count down to and no pace to keep: saying « passé »
three times and « en retard » under every case told staff nothing. A finished edition shows what
it achieved instead: actions per case against the goals, posts published, engagement, clicks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Campaign, Case, Delivery, LinkClickHour, Post

UPCOMING, RUNNING, FINISHED = "upcoming", "running", "finished"


def phase(campaign: Campaign, *, today: dt.date) -> str:
    """``upcoming`` before the first day, ``finished`` after the last, else ``running``."""
    if campaign.starts_on is not None and today < campaign.starts_on:
        return UPCOMING
    if campaign.ends_on is not None and today > campaign.ends_on:
        return FINISHED
    return RUNNING


def _rights_day(slug: str, day: dt.date) -> bool:
    """Human Rights Day: 10 December, or the key date named for it (a demonstration edition
    moved off season keeps it under its name)."""
    return (day.month == 12 and day.day == 10) or "droits-humains" in slug or "human-rights" in slug


def countdowns(campaign: Campaign, *, today: dt.date) -> list[dict[str, Any]]:
    """Days left to the marathon, to 10 December (Human Rights Day) and to the campaign's last
    day, from the edition's key dates. 10 December is shown even if the content forgot it, when
    it falls within the edition; the last day is the edition's ``ends_on`` (named after the key
    date of that day when there is one)."""
    found: list[dict[str, Any]] = []
    last = campaign.ends_on
    for item in campaign.key_dates or []:
        slug = str(item.get("slug", ""))
        day = dt.date.fromisoformat(str(item["date"]))
        if "marathon" in slug or _rights_day(slug, day) or day == last:
            found.append({"slug": slug, "date": day, "name": dict(item.get("name") or {}),
                          "days": (day - today).days, "last": day == last})
    if not any(_rights_day(f["slug"], f["date"]) for f in found):
        year = campaign.starts_on.year if campaign.starts_on else today.year
        day = dt.date(year, 12, 10)
        inside = (campaign.starts_on is None or campaign.starts_on <= day) and (last is None or day <= last)
        if inside:
            found.append({"slug": "journee-droits-humains", "date": day, "last": day == last,
                          "name": {"fr": "Journée des droits humains", "en": "Human Rights Day"},
                          "days": (day - today).days})
    if last is not None and not any(f["last"] for f in found):
        found.append({"slug": "fin", "date": last, "last": True, "days": (last - today).days,
                      "name": {"fr": "Dernier jour de la campagne", "en": "Campaign's last day"}})
    return sorted(found, key=lambda f: f["date"])


def results(session: Session, *, campaign: Campaign) -> dict[str, Any]:
    """The edition's bilan: actions per case against its goal, and for the whole edition the
    actions by kind, posts and deliveries published, their engagement and the clicks on their
    short links. Sums in SQL over the published deliveries (one pass, whatever their number)."""
    from orchestrator.services.responses import totals_by_case, totals_by_kind

    per_case_total = totals_by_case(session, campaign=campaign)
    cases = list(session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))))
    posts = select(Post.id).where(Post.campaign_id == campaign.id)
    published: list[Any] = [col(Delivery.post_id).in_(posts), col(Delivery.state) == states.PUBLISHED]
    n, n_posts, views, likes, shares, replies, quotes = session.execute(
        sa.select(
            sa.func.count(), sa.func.count(sa.distinct(col(Delivery.post_id))),
            *(sa.func.coalesce(sa.func.sum(getattr(Delivery, f)), 0)
              for f in ("views", "likes", "shares", "replies", "quotes")),
        ).where(*published)
    ).one()
    codes = select(Delivery.source_code).where(*published)
    clicks = session.exec(
        select(sa.func.coalesce(sa.func.sum(LinkClickHour.count), 0))
        .where(col(LinkClickHour.source_code).in_(codes))
    ).one()
    rows = []
    for case in cases:
        total = per_case_total.get(case.id or 0, 0)
        rows.append({"slug": case.slug, "person": dict(case.person), "status": case.status, "goal": case.goal,
                     "actions": total, "reached": bool(case.goal) and total >= case.goal,
                     "share": (total / case.goal) if case.goal else None})
    goal = campaign.goal or sum(c.goal for c in cases)
    actions = sum(per_case_total.values())
    return {
        "cases": rows,
        "actions": actions,
        "goal": goal,
        "reached": bool(goal) and actions >= goal,
        "share": (actions / goal) if goal else None,
        "by_kind": totals_by_kind(session, campaign=campaign),
        "deliveries": int(n or 0),
        "posts": int(n_posts or 0),
        "views": int(views or 0),
        "engagement": int(likes or 0) + int(shares or 0) + int(replies or 0) + int(quotes or 0),
        "likes": int(likes or 0),
        "shares": int(shares or 0),
        "replies": int(replies or 0),
        "clicks": int(clicks or 0),
    }
