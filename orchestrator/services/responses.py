"""Responses as counts: tallies entered by hand, clicks on short links, goals and pace, and the
funnel from a post's views to the actions it brought. Figures are SQL aggregates, never rows
loaded one by one. Nobody who acted is stored anywhere: only how many, for which case, when,
and through which post, channel, event or import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator.models import (
    RESPONSE_KINDS,
    Account,
    Campaign,
    Case,
    Delivery,
    LinkClickHour,
    Post,
    Response,
)
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.services.campaigns import current_campaign, get_case
from orchestrator.timeutil import utcnow

MAX_TALLY = 1_000_000

KIND_LABELS = {
    "letter": {"fr": "Lettres à l'autorité", "en": "Letters to the authority"},
    "solidarity": {"fr": "Messages de solidarité", "en": "Solidarity messages"},
    "signature": {"fr": "Signatures", "en": "Signatures"},
    "email": {"fr": "Courriels", "en": "E-mails"},
    "postcard": {"fr": "Cartes postales", "en": "Postcards"},
    "social_action": {"fr": "Actions sur les réseaux", "en": "Social media actions"},
    "other": {"fr": "Autres", "en": "Other"},
}


# ---------------------------------------------------------------------------------------------
# Tallies


def record_tally(
    session: Session,
    *,
    actor: Actor,
    case_slug: str,
    kind: str,
    count: int,
    day: dt.date,
    event: str | None = None,
    campaign: Campaign | None = None,
) -> Response:
    """Counts written offline (e.g. 312 cards for one case at the Montréal marathon), with the
    name of the person who entered them. Each entry is its own row: two volunteers counting two
    tables add up."""
    require(actor, "editor", "saisir un décompte", "enter a tally")
    campaign = campaign or current_campaign(session)
    case = get_case(session, slug=case_slug, campaign=campaign)
    if kind not in RESPONSE_KINDS:
        raise ServiceError(f"Type inconnu « {kind} » (permis : {', '.join(RESPONSE_KINDS)}).",
                           f"Unknown kind '{kind}' (allowed: {', '.join(RESPONSE_KINDS)}).")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_TALLY:
        raise ServiceError(f"Le nombre doit être un entier entre 1 et {MAX_TALLY:,}.".replace(",", " "),
                           f"The count must be a whole number between 1 and {MAX_TALLY:,}.")
    today = utcnow().astimezone(ZoneInfo(campaign.timezone)).date()
    if day > today:
        raise ServiceError("La date ne peut pas être dans le futur.", "The date cannot be in the future.")
    source_type, source = "tally", ""
    if event:
        events = [str(d.get("slug")) for d in campaign.key_dates or []]
        if event not in events:
            raise ServiceError(f"Événement inconnu « {event} » (connus : {', '.join(events)}).",
                               f"Unknown event '{event}' (known: {', '.join(events)}).")
        source_type, source = "event", event
    row = Response(case_id=case.id, kind=kind, count=count, day=day, source_type=source_type,  # type: ignore[arg-type]
                   source=source, entered_by=actor.username, created_at=utcnow())
    session.add(row)
    session.flush()
    audit(session, actor=actor, action="tally", target_type="response", target_id=row.id,
          case=case.slug, kind=kind, count=count, day=day.isoformat(), event=event or "")
    return row


def delete_tally(session: Session, *, actor: Actor, response_id: int) -> None:
    """Undo a mistyped tally (imports are corrected by importing a corrected file)."""
    require(actor, "editor", "supprimer un décompte", "delete a tally")
    row = session.get(Response, response_id)
    if row is None or row.import_id is not None or row.source_type not in ("tally", "event"):
        raise NotFound(f"Décompte {response_id} introuvable.", f"Tally {response_id} not found.")
    audit(session, actor=actor, action="tally_delete", target_type="response", target_id=row.id,
          case_id=row.case_id, kind=row.kind, count=row.count, day=row.day.isoformat())
    session.delete(row)


def recent_tallies(session: Session, *, campaign: Campaign, limit: int = 20) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Response, Case.slug)  # type: ignore[call-overload]
        .join(Case, col(Case.id) == Response.case_id)
        .where(Case.campaign_id == campaign.id, col(Response.import_id).is_(None),
               col(Response.source_type).in_(("tally", "event")))
        .order_by(col(Response.id).desc()).limit(limit)
    )
    return [{"id": r.id, "case": slug, "kind": r.kind, "count": r.count, "day": r.day, "event": r.source,
             "entered_by": r.entered_by, "created_at": r.created_at} for r, slug in rows]


# ---------------------------------------------------------------------------------------------
# Clicks (written by the redirect service, in batches)


def add_clicks(connection: sa.Connection, counts: dict[tuple[str, dt.datetime], int]) -> None:
    """Add buffered click counts: one upsert per (code, hour), INSERT … ON CONFLICT DO UPDATE
    on both SQLite and PostgreSQL, so two redirect processes can share a database."""
    if not counts:
        return
    from sqlalchemy.dialects import postgresql, sqlite

    table: Any = LinkClickHour.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=["source_code", "hour"],
                                      set_={"count": table.c["count"] + stmt.excluded["count"]})
    # Sorted, so two processes flushing at once take row locks in the same order (no deadlock).
    connection.execute(stmt, [{"source_code": code, "hour": hour, "count": n}
                              for (code, hour), n in sorted(counts.items())])


def clicks_by_code(session: Session, *, codes: list[str] | None = None) -> dict[str, int]:
    query = select(LinkClickHour.source_code, sa.func.sum(LinkClickHour.count)).group_by(LinkClickHour.source_code)  # type: ignore[call-overload]
    if codes is not None:
        query = query.where(col(LinkClickHour.source_code).in_(codes))
    return {code: int(n) for code, n in session.exec(query)}


# ---------------------------------------------------------------------------------------------
# Goals and pace


@dataclasses.dataclass(frozen=True)
class Pace:
    slug: str
    label: dict[str, str]
    total: int
    goal: int
    progress: float | None  # 0.42 = 42 %; None without a goal
    projected: int  # at the edition's last day
    behind: bool
    #: 10 December (Human Rights Day) within the edition, and the total projected on that day
    #: (None once it has passed, or without such a day).
    rights_day: dt.date | None = None
    projected_rights_day: int | None = None
    ends_on: dt.date | None = None


def totals_by_case(session: Session, *, campaign: Campaign) -> dict[int, int]:
    """Actions per case id, the public's posts included: listening writes them as
    ``social_action`` rows (orchestrator.services.listening.record_page)."""
    rows = session.exec(
        select(Response.case_id, sa.func.sum(Response.count))  # type: ignore[call-overload]
        .join(Case, col(Case.id) == Response.case_id)
        .where(Case.campaign_id == campaign.id)
        .group_by(col(Response.case_id))
    )
    return {case_id: int(n or 0) for case_id, n in rows}


def totals_by_kind(session: Session, *, campaign: Campaign) -> dict[str, int]:
    rows = session.exec(
        select(Response.kind, sa.func.sum(Response.count))  # type: ignore[call-overload]
        .join(Case, col(Case.id) == Response.case_id)
        .where(Case.campaign_id == campaign.id)
        .group_by(Response.kind)
    )
    return {kind: int(n or 0) for kind, n in rows}


def project(total: int, *, starts_on: dt.date | None, ends_on: dt.date | None, today: dt.date) -> int:
    """The total at the campaign's end if actions keep coming at the average pace so far
    (linear over the days elapsed, the first day counting as one). Before the start or after the
    end, the total is the projection."""
    if starts_on is None or ends_on is None or today < starts_on or today >= ends_on:
        return total
    elapsed = (today - starts_on).days + 1
    length = (ends_on - starts_on).days + 1
    return round(total * length / elapsed)


def project_to(total: int, *, starts_on: dt.date | None, day: dt.date | None, today: dt.date) -> int | None:
    """The total projected on ``day`` at the average pace so far (as :func:`project`); None once
    ``day`` has passed (the total then says more) or without a day."""
    if day is None or today > day:
        return None
    return project(total, starts_on=starts_on, ends_on=day, today=today)


def rights_day(campaign: Campaign, *, today: dt.date) -> dt.date | None:
    """Human Rights Day (10 December, or the key date named for it) within the edition."""
    from orchestrator.services.campaign_results import _rights_day, countdowns

    found = [c["date"] for c in countdowns(campaign, today=today) if _rights_day(c["slug"], c["date"])]
    return found[0] if found else None


def pace(session: Session, *, campaign: Campaign | None = None, today: dt.date | None = None) -> tuple[Pace, list[Pace]]:
    """The campaign's pace, and each case's, in the campaign's order: projected to the edition's
    last day (``projected``, which says whether a case is ``behind``) and to Human Rights Day."""
    campaign = campaign or current_campaign(session)
    today = today or utcnow().astimezone(ZoneInfo(campaign.timezone)).date()
    climax = rights_day(campaign, today=today)
    totals = totals_by_case(session, campaign=campaign)
    cases = list(session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))))

    def make(slug: str, label: dict[str, str], total: int, goal: int) -> Pace:
        projected = project(total, starts_on=campaign.starts_on, ends_on=campaign.ends_on, today=today)
        return Pace(slug=slug, label=label, total=total, goal=goal,
                    progress=(total / goal) if goal else None, projected=projected,
                    behind=bool(goal) and projected < goal, rights_day=climax, ends_on=campaign.ends_on,
                    projected_rights_day=project_to(total, starts_on=campaign.starts_on, day=climax, today=today))

    per_case = [make(c.slug, dict(c.person), totals.get(c.id, 0), c.goal) for c in cases]  # type: ignore[arg-type]
    goal = campaign.goal or sum(c.goal for c in cases)
    overall = make(campaign.slug, dict(campaign.name), sum(totals.values()), goal)
    return overall, per_case


# ---------------------------------------------------------------------------------------------
# The funnel: views -> engagement -> clicks -> actions


def _per_delivery(campaign_id: int) -> Any:
    """One row per delivery of the campaign with its views, engagement, clicks and the actions
    credited to its source code. Clicks and actions are summed in their own subqueries first, so
    joining them never multiplies a delivery's figures."""
    clicks = (select(LinkClickHour.source_code.label("code"), sa.func.sum(LinkClickHour.count).label("n"))  # type: ignore[attr-defined]
              .group_by(LinkClickHour.source_code).subquery())
    actions = (select(Response.source.label("code"), sa.func.sum(Response.count).label("n"))  # type: ignore[attr-defined]
               .where(Response.source_type == "delivery").group_by(Response.source).subquery())
    tables = [m.__table__ for m in (Delivery, Post, Account)]  # type: ignore[attr-defined,union-attr]
    d, p, a = (t.c for t in tables)
    engagement = sa.func.coalesce(d.likes, 0) + sa.func.coalesce(d.shares, 0) + sa.func.coalesce(d.replies, 0)
    return (
        sa.select(
            d.id.label("delivery_id"), d.source_code.label("code"), p.case_id.label("case_id"),
            p.id.label("post_id"), p.text.label("text"), a.kind.label("channel"), a.name.label("account"),
            d.platform_url.label("url"), sa.func.coalesce(d.views, 0).label("views"), engagement.label("engagement"),
            sa.func.coalesce(clicks.c.n, 0).label("clicks"), sa.func.coalesce(actions.c.n, 0).label("actions"),
        )
        .select_from(tables[0])
        .join(tables[1], p.id == d.post_id)
        .join(tables[2], a.id == d.account_id)
        .outerjoin(clicks, clicks.c.code == d.source_code)
        .outerjoin(actions, actions.c.code == d.source_code)
        .where(p.campaign_id == campaign_id)
        .subquery()
    )


def _funnel_rows(session: Session, campaign_id: int, by: tuple[str, ...]) -> list[dict[str, Any]]:
    """The funnel's sums grouped by the columns ``by`` of the per-delivery rows (e.g. case and
    channel: services/public_voice.py shows one case channel by channel)."""
    per = _per_delivery(campaign_id)
    keys = [per.c[name] for name in by]
    rows = session.execute(
        sa.select(*keys, sa.func.count(), sa.func.sum(per.c.views), sa.func.sum(per.c.engagement),
                  sa.func.sum(per.c.clicks), sa.func.sum(per.c.actions))
        .group_by(*keys).order_by(*keys)
    )
    out = []
    for row in rows:
        n, v, e, c, a = row[len(by):]
        out.append({**dict(zip(by, row[:len(by)], strict=True)), "posts": int(n), "views": int(v or 0),
                    "engagement": int(e or 0), "clicks": int(c or 0), "actions": int(a or 0)})
    return out


def _funnel(session: Session, campaign_id: int, by: str) -> list[dict[str, Any]]:
    return _funnel_rows(session, campaign_id, (by,))


def funnel_by_case(session: Session, *, campaign: Campaign) -> list[dict[str, Any]]:
    """Per case: views, engagement, clicks and actions credited to its posts; ``all_actions``
    adds every response for the case (events, tallies, imports without a post's code)."""
    slugs: dict[int | None, str] = {c.id: c.slug for c in session.exec(select(Case).where(Case.campaign_id == campaign.id))}
    totals = totals_by_case(session, campaign=campaign)
    rows = {row["case_id"]: row for row in _funnel(session, campaign.id, "case_id")}  # type: ignore[arg-type]
    out = []
    for case_id, slug in slugs.items():
        row = rows.get(case_id, {"posts": 0, "views": 0, "engagement": 0, "clicks": 0, "actions": 0})
        out.append({"case": slug, **{k: v for k, v in row.items() if k != "case_id"}, "all_actions": totals.get(case_id or 0, 0)})
    return out


def funnel_by_channel(session: Session, *, campaign: Campaign) -> list[dict[str, Any]]:
    """Per channel kind: the posts' views, engagement and clicks, and actions counted two ways
    kept apart: ``actions`` credited to a post (through its short link's source code) and
    ``channel_actions`` credited to the channel as a whole by an import, with no post to name
    (a source that is not a platform, such as a newsletter, gets a row of its own).
    ``all_actions`` is their sum."""
    direct = dict(session.exec(
        select(Response.source, sa.func.sum(Response.count))  # type: ignore[call-overload]
        .join(Case, col(Case.id) == Response.case_id)
        .where(Case.campaign_id == campaign.id, Response.source_type == "channel")
        .group_by(Response.source)
    ).all())
    rows = _funnel(session, campaign.id, "channel")  # type: ignore[arg-type]
    seen = {row["channel"] for row in rows}
    rows += [{"channel": ch, "posts": 0, "views": 0, "engagement": 0, "clicks": 0, "actions": 0}
             for ch in sorted(direct) if ch not in seen]
    for row in rows:
        row["channel_actions"] = int(direct.get(row["channel"], 0) or 0)
        row["all_actions"] = row["actions"] + row["channel_actions"]
    return rows


def top_posts(session: Session, *, campaign: Campaign, limit: int = 10, case_slug: str | None = None) -> list[dict[str, Any]]:
    """The deliveries whose source code brought the most actions."""
    per = _per_delivery(campaign.id)  # type: ignore[arg-type]
    query = (select(per, Case.slug.label("case"))  # type: ignore[attr-defined]
             .outerjoin(Case, Case.id == per.c.case_id)
             .where(per.c.actions > 0)
             .order_by(per.c.actions.desc(), per.c.clicks.desc(), per.c.delivery_id).limit(limit))
    if case_slug:
        query = query.where(Case.slug == case_slug)
    return [dict(row._mapping) for row in session.execute(query)]
