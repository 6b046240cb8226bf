"""The marathon counter: letters and cards counted so far today, per case and in total, against
the day's goal, for a projector at the Montréal marathon.

The figures come from the responses table (tallies entered by volunteers, imports). An admin
publishes the counter, which draws a random token: the page opens with that secret link and no
login, and shows the counter and nothing else. Only the token's SHA-256 is stored, so reading
the database does not give the link away; unpublishing revokes it at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator.models import Campaign, Case, CounterLink, Response
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.timeutil import utcnow

#: What the marathon counts: letters to the authorities, solidarity cards and messages, postcards.
COUNTED_KINDS = ("letter", "solidarity", "postcard")
MAX_DAY_GOAL = 10_000_000


@dataclasses.dataclass(frozen=True)
class CaseCount:
    slug: str
    person: dict[str, str]
    today: int
    #: The case's share of the day's goal, in proportion to the cases' own goals (0 if none).
    goal: int


@dataclasses.dataclass(frozen=True)
class CounterData:
    campaign_name: dict[str, str]
    day: dt.date
    today: int
    day_goal: int
    campaign_total: int
    cases: list[CaseCount]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def counter_data(session: Session, *, campaign: Campaign, day_goal: int = 0, today: dt.date | None = None) -> CounterData:
    """Counted so far on ``today`` (the campaign's local day) per case, and in total."""
    today = today or utcnow().astimezone(ZoneInfo(campaign.timezone)).date()
    cases = list(session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))))
    kinds = col(Response.kind).in_(COUNTED_KINDS)
    in_campaign = col(Response.case_id).in_([c.id for c in cases])
    per_case: dict[int | None, Any] = dict(session.exec(  # type: ignore[arg-type]
        select(Response.case_id, sa.func.sum(Response.count))
        .where(in_campaign, kinds, Response.day == today).group_by(col(Response.case_id))
    ).all())
    # Through the campaign's cases rather than an IN list: on SQLite an IN list over case_id
    # walks the (case, day) index row by row, several times slower than this for a season's rows.
    total = session.exec(select(sa.func.coalesce(sa.func.sum(Response.count), 0))
                         .join(Case, col(Case.id) == Response.case_id)
                         .where(Case.campaign_id == campaign.id, kinds)).one()
    goals = sum(c.goal for c in cases if c.status != "closed") or 0
    rows = [
        CaseCount(slug=c.slug, person=dict(c.person), today=int(per_case.get(c.id, 0) or 0),
                  goal=round(day_goal * c.goal / goals) if goals and day_goal and c.status != "closed" else 0)
        for c in cases if c.status != "closed" or per_case.get(c.id)
    ]
    return CounterData(campaign_name=dict(campaign.name), day=today, today=sum(r.today for r in rows),
                       day_goal=day_goal, campaign_total=int(total or 0), cases=rows)


# ---------------------------------------------------------------------------------------------
# The secret link


def active_link(session: Session, *, campaign_id: int) -> CounterLink | None:
    return session.exec(select(CounterLink).where(CounterLink.campaign_id == campaign_id,
                                                  col(CounterLink.revoked_at).is_(None))).first()


def _check_goal(day_goal: int) -> int:
    if isinstance(day_goal, bool) or not isinstance(day_goal, int) or not 0 <= day_goal <= MAX_DAY_GOAL:
        raise ServiceError("L'objectif du jour doit être un nombre entier positif (0 : aucun).",
                           "The day's goal must be a whole positive number (0: none).")
    return day_goal


def publish(session: Session, *, actor: Actor, campaign_id: int, day_goal: int = 0) -> str:
    """Publish the counter and return the secret token, shown once: only its hash is kept.
    Publishing again draws a new token and revokes the previous link."""
    require(actor, "admin", "publier le compteur", "publish the counter")
    _check_goal(day_goal)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Édition {campaign_id} introuvable.", f"Edition {campaign_id} not found.")
    _revoke(session, campaign_id)
    token = secrets.token_urlsafe(24)
    link = CounterLink(campaign_id=campaign_id, token_hash=_hash(token), day_goal=day_goal,
                       published_by=actor.username, published_at=utcnow())
    session.add(link)
    session.flush()
    audit(session, actor=actor, action="counter_publish", target_type="campaign", target_id=campaign.slug,
          day_goal=day_goal)  # never the token
    return token


def _revoke(session: Session, campaign_id: int) -> int:
    count = 0
    for link in session.exec(select(CounterLink).where(CounterLink.campaign_id == campaign_id,
                                                       col(CounterLink.revoked_at).is_(None))):
        link.revoked_at = utcnow()
        session.add(link)
        count += 1
    session.flush()
    return count


def unpublish(session: Session, *, actor: Actor, campaign_id: int) -> int:
    """Revoke the secret link: the page stops showing the counter on its next refresh."""
    require(actor, "admin", "retirer le compteur", "unpublish the counter")
    count = _revoke(session, campaign_id)
    audit(session, actor=actor, action="counter_unpublish", target_type="campaign", target_id=campaign_id)
    return count


def set_day_goal(session: Session, *, actor: Actor, campaign_id: int, day_goal: int) -> CounterLink:
    require(actor, "admin", "changer l'objectif du jour", "change the day's goal")
    link = active_link(session, campaign_id=campaign_id)
    if link is None:
        raise ServiceError("Le compteur n'est pas publié.", "The counter is not published.")
    link.day_goal = _check_goal(day_goal)
    session.add(link)
    audit(session, actor=actor, action="counter_goal", target_type="campaign", target_id=campaign_id, day_goal=day_goal)
    return link


def by_token(session: Session, *, token: str) -> tuple[Campaign, CounterLink] | None:
    """The campaign and link a token opens, or None (unknown, revoked, or malformed)."""
    if not token or len(token) > 128:
        return None
    link = session.exec(select(CounterLink).where(CounterLink.token_hash == _hash(token),
                                                  col(CounterLink.revoked_at).is_(None))).first()
    if link is None:
        return None
    campaign = session.get(Campaign, link.campaign_id)
    return (campaign, link) if campaign is not None else None
