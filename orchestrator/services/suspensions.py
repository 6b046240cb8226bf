"""Stopping everything: an admin suspends all publishing for the organisation, one edition or one
account, with a reason; lifting it settles what came due meanwhile.

While a suspension is in force the worker claims nothing it covers: the claim holds each covered
delivery that comes due (``states.HeldReason.suspended``), whatever is scheduled. Lifting it
shows those held deliveries (now overdue) and settles them as a person chooses, through
:func:`orchestrator.services.deliveries.settle_overdue`: publish now, reschedule (spread from
now) or cancel. Both moves are admin-only and audited.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Account, Campaign, Delivery, Post, Suspension
from orchestrator.services import deliveries
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.timeutil import utcnow


@dataclasses.dataclass(frozen=True)
class InForce:
    """A suspension in force, as the claim and the banner read it."""

    id: int
    campaign_id: int | None
    account_id: int | None
    reason: str
    set_by: str
    set_at: dt.datetime
    #: what it covers, for people: "" (everything), the edition's slug or the account's name
    scope_name: str = ""
    #: the edition's name in each language (staff know an edition by its name, not its slug)
    campaign_name: dict[str, str] | None = None

    @property
    def scope(self) -> str:
        return "campaign" if self.campaign_id is not None else "account" if self.account_id is not None else "all"

    def covers(self, *, campaign_id: int | None, account_id: int | None) -> bool:
        if self.campaign_id is not None:
            return campaign_id == self.campaign_id
        if self.account_id is not None:
            return account_id == self.account_id
        return True

    def scope_text(self, language: str) -> str:
        fr = language == "fr"
        if self.scope == "campaign":
            names = self.campaign_name or {}
            name = names.get(language) or names.get("fr") or self.scope_name
            return f"l'édition « {name} »" if fr else f"the “{name}” edition"
        if self.scope == "account":
            return f"le compte {self.scope_name}" if fr else f"the {self.scope_name} account"
        return "toute l'organisation" if fr else "the whole organisation"


#: PostgreSQL advisory lock between claims (shared) and a new suspension (exclusive): once
#: ``suspend`` has committed, every claim either finished before it or sees it. Apart from the
#: claimer's per-account locks (another namespace).
_LOCK = (0x5053, 0)


def in_force(session: Any, *, for_claim: bool = False) -> list[InForce]:
    """Every suspension in force, the oldest first (one small query: the claim calls it, with
    ``for_claim``, which on PostgreSQL waits for a suspension being set to be committed)."""
    if for_claim and session.connection().dialect.name == "postgresql":
        session.connection().execute(sa.select(sa.func.pg_advisory_xact_lock_shared(*_LOCK)))
    s, c, a = Suspension.__table__, Campaign.__table__, Account.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(
        sa.select(s.c.id, s.c.campaign_id, s.c.account_id, s.c.reason, s.c.set_by, s.c.set_at,
                  sa.func.coalesce(c.c.slug, a.c.name, ""), c.c.name)
        .select_from(s.outerjoin(c, c.c.id == s.c.campaign_id).outerjoin(a, a.c.id == s.c.account_id))
        .where(s.c.lifted_at.is_(None)).order_by(s.c.set_at, s.c.id))
    return [InForce(*row) for row in rows]


def covering(suspensions: list[InForce], *, campaign_id: int | None, account_id: int | None) -> InForce | None:
    """The first suspension in force that covers a delivery of that edition on that account."""
    return next((s for s in suspensions if s.covers(campaign_id=campaign_id, account_id=account_id)), None)


def _scope(session: Session, campaign: str | None, account: str | None) -> tuple[int | None, int | None]:
    if campaign and account:
        raise ServiceError("Suspendez une édition ou un compte, pas les deux.",
                           "Suspend one edition or one account, not both.")
    if campaign:
        found = session.exec(select(Campaign).where(Campaign.slug == campaign)).first()
        if found is None:
            raise NotFound(f"Édition « {campaign} » introuvable.", f"Edition '{campaign}' not found.")
        return found.id, None
    if account:
        acc = session.exec(select(Account).where(Account.name == account)).first()
        if acc is None:
            raise NotFound(f"Compte « {account} » introuvable.", f"Account '{account}' not found.")
        return None, acc.id
    return None, None


def suspend(session: Session, *, actor: Actor, reason: str, campaign: str | None = None,
            account: str | None = None) -> Suspension:
    """Suspend all publishing (or one edition's, by slug, or one account's, by name)."""
    require(actor, "admin", "suspendre les publications", "suspend publishing")
    if not reason or not reason.strip():
        raise ServiceError("Indiquez la raison de la suspension : elle s'affiche sur chaque page.",
                           "Give the reason for the suspension: it is shown on every page.")
    campaign_id, account_id = _scope(session, campaign, account)
    if session.connection().dialect.name == "postgresql":
        # claims in progress finish first; claims after wait for this transaction, then see it
        session.connection().execute(sa.select(sa.func.pg_advisory_xact_lock(*_LOCK)))
    for existing in in_force(session):
        if existing.campaign_id == campaign_id and existing.account_id == account_id:
            raise ServiceError(f"Une suspension est déjà en vigueur pour {existing.scope_text('fr')} (n° {existing.id}).",
                               f"A suspension is already in force for {existing.scope_text('en')} (no. {existing.id}).")
    suspension = Suspension(campaign_id=campaign_id, account_id=account_id, reason=reason.strip(),
                            set_by=actor.username, set_at=utcnow())
    session.add(suspension)
    session.flush()
    audit(session, actor=actor, action="suspend", target_type="suspension", target_id=suspension.id,
          reason=suspension.reason, campaign=campaign or "", account=account or "")
    return suspension


def get(session: Session, *, suspension_id: int) -> Suspension:
    found = session.get(Suspension, suspension_id)
    if found is None:
        raise NotFound(f"Suspension {suspension_id} introuvable.", f"Suspension {suspension_id} not found.")
    return found


def find(session: Session, *, campaign: str | None = None, account: str | None = None) -> Suspension:
    """The suspension in force for that scope (everything when neither is given)."""
    campaign_id, account_id = _scope(session, campaign, account)
    for s in in_force(session):
        if s.campaign_id == campaign_id and s.account_id == account_id:
            return get(session, suspension_id=s.id)
    raise NotFound("Aucune suspension en vigueur pour cette portée.", "No suspension in force for that scope.")


def overdue(session: Session, *, suspension_id: int) -> list[Delivery]:
    """The deliveries this suspension held when they came due: now overdue, for a person to settle."""
    held = session.exec(select(Delivery).where(Delivery.state == states.HELD,
                                               col(Delivery.held_reason).like("suspended %"))
                        .order_by(col(Delivery.scheduled_at), col(Delivery.id)))
    return [d for d in held if states.HeldReason.parse(d.held_reason).suspension_id == suspension_id]


@dataclasses.dataclass(frozen=True)
class Overdue:
    """An overdue delivery as the lifting page lists it: which account, what text."""

    id: int
    scheduled_at: dt.datetime
    account: str
    text: str


def overdue_rows(session: Session, *, suspension_id: int) -> list[Overdue]:
    """:func:`overdue`, each with its account's name and the text that would go out: a number
    alone tells staff nothing about what they are about to publish or cancel."""
    rows = []
    for d in overdue(session, suspension_id=suspension_id):
        account, post = session.get(Account, d.account_id), session.get(Post, d.post_id)
        rows.append(Overdue(d.id or 0, d.scheduled_at, account.name if account else "",
                            d.rendered_text or (post.text if post else "")))
    return rows


def still_covered(session: Session, delivery_ids: list[int]) -> dict[int, int]:
    """Of these deliveries, those still waiting that a suspension in force covers: delivery id ->
    that suspension's number. Lifting one suspension of several lets nothing out that another
    still covers (the next claim holds it again): the page says so instead of "settled"."""
    force = in_force(session)
    if not delivery_ids or not force:
        return {}
    rows = session.exec(select(Delivery.id, Delivery.account_id, Post.campaign_id)
                        .join(Post, col(Post.id) == col(Delivery.post_id))
                        .where(col(Delivery.id).in_(delivery_ids),
                               col(Delivery.state).in_((states.SCHEDULED, states.RETRYING, states.HELD))))
    found = {}
    for delivery_id, account_id, campaign_id in rows:
        other = covering(force, campaign_id=campaign_id, account_id=account_id)
        if other is not None and delivery_id is not None:
            found[delivery_id] = other.id
    return found


def lift(session: Session, *, actor: Actor, suspension_id: int, choice: str,
         spacing_minutes: int = 10) -> tuple[Suspension, int]:
    """Lift a suspension and settle what it held (``publish``, ``reschedule`` or ``cancel``);
    returns the suspension and how many deliveries were settled."""
    require(actor, "admin", "lever une suspension", "lift a suspension")
    if choice not in deliveries.OVERDUE_CHOICES:
        raise ServiceError(f"Choix inconnu « {choice} » (permis : {', '.join(deliveries.OVERDUE_CHOICES)}).",
                           f"Unknown choice '{choice}' (allowed: {', '.join(deliveries.OVERDUE_CHOICES)}).")
    suspension = get(session, suspension_id=suspension_id)
    if suspension.lifted_at is not None:
        raise ServiceError("Cette suspension est déjà levée.", "This suspension is already lifted.")
    suspension.lifted_at = utcnow()
    suspension.lifted_by = actor.username
    suspension.lift_choice = choice
    session.add(suspension)
    count = deliveries.settle_overdue(session, overdue(session, suspension_id=suspension_id), by=actor.username,
                                      choice=choice, spacing_minutes=spacing_minutes)
    audit(session, actor=actor, action="resume", target_type="suspension", target_id=suspension.id,
          choice=choice, settled=count, reason=suspension.reason)
    return suspension, count
