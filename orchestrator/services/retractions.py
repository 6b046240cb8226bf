"""Retracting what is published: staff (approver or admin, with a reason) remove one published
delivery, every published delivery of a post, or of a case, optionally only those published
before a cut-off.

A request is a :class:`~orchestrator.models.Retraction`; each delivery it covers is one
:class:`~orchestrator.models.RetractionJob`, claimed by the worker like a delivery
(:mod:`orchestrator.worker.retractor`): within the account's deletion budget, retried with
back-off on a throttle or a server error, given back to the queue when a worker dies mid-call
(deleting twice is harmless: a post already gone counts as deleted), and never run again once
its outcome is recorded. The outcome per delivery is ``retracted`` (``Delivery.retracted_at``)
or "retraction failed: reason" with the post's address to remove it by hand.

Where the edition asks for four eyes (``Campaign.retract_four_eyes``) a request waits for a
second approver or admin to confirm it (the operator at the command line is the one exception,
as for approvals: docs/security.md). The delivery stays ``published``: it went out, and its
figures, attribution and counts earned before are kept. The reason goes to the audit log and to
the case's history.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import (
    Account,
    Campaign,
    Case,
    CaseStatusNote,
    Delivery,
    Post,
    PublicPost,
    Retraction,
    RetractionJob,
)
from orchestrator.services.auth import (
    Actor,
    NotFound,
    PermissionDenied,
    ServiceError,
    audit,
    require,
)
from orchestrator.timeutil import require_aware, utcnow

SCOPES = ("delivery", "post", "case")

#: Request statuses.
AWAITING = "awaiting_confirmation"
CONFIRMED = "confirmed"
DECLINED = "declined"

#: Job states: waiting for the request's confirmation, due, leased to a worker, and the outcomes.
WAITING = "waiting"
QUEUED = "queued"
DELETING = "deleting"
RETRACTED = "retracted"
FAILED = "failed"
#: a failed deletion a person then did by hand on the platform, and said so
BY_HAND = "by_hand"
CANCELLED = "cancelled"
JOB_STATES = (WAITING, QUEUED, DELETING, RETRACTED, FAILED, BY_HAND, CANCELLED)
#: States a job leaves only by the worker or a person: still to be done.
PENDING = (WAITING, QUEUED, DELETING)
#: The job's moves (the worker's: queued -> deleting -> retracted | failed | queued again).
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    WAITING: frozenset({QUEUED, CANCELLED}),
    QUEUED: frozenset({DELETING}),
    DELETING: frozenset({RETRACTED, FAILED, QUEUED}),
    RETRACTED: frozenset(),
    FAILED: frozenset({BY_HAND}),
    BY_HAND: frozenset(),
    CANCELLED: frozenset(),
}

#: What others made of our post that no deletion of ours removes.
OTHERS_COPIES = ("repost", "quote")


def delivery_platform_ids(delivery: Delivery) -> list[str]:
    """Every platform id a retraction of ``delivery`` deletes: its post and the other parts of
    its thread (a Facebook post's first comments), the last part first."""
    parts = [str(pid) for pid in (delivery.part_ids or []) if pid]
    if delivery.platform_id and delivery.platform_id not in parts:
        parts.insert(0, delivery.platform_id)
    return parts[::-1]  # the last reply first: no part is left answering a deleted one


def move(job: RetractionJob, target: str, **changes: Any) -> None:
    """Move a job along :data:`JOB_TRANSITIONS`; any other move is a bug, refused."""
    if target not in JOB_TRANSITIONS.get(job.state, frozenset()):
        raise ServiceError(f"Le retrait {job.id} ne peut pas passer de « {job.state} » à « {target} ».",
                           f"Retraction job {job.id} cannot go from '{job.state}' to '{target}'.")
    job.state = target
    for name, value in changes.items():
        setattr(job, name, value)
    job.updated_at = utcnow()


# ---------------------------------------------------------------------------------------------
# Asking, confirming, declining


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ServiceError("Indiquez la raison du retrait : elle reste dans l'historique du cas et le journal.",
                           "Give the reason for the retraction: it stays in the case's history and the audit log.")
    return text


def _find_case(session: Session, slug: str, campaign_id: int | None = None) -> Case:
    """The case by its slug: in ``campaign_id`` when given, else the current edition's first."""
    query = select(Case).join(Campaign, col(Campaign.id) == col(Case.campaign_id)).where(Case.slug == slug)
    if campaign_id is not None:
        query = query.where(Case.campaign_id == campaign_id)
    found = session.exec(query.order_by(col(Campaign.is_current).desc(), col(Campaign.id).desc())).first()
    if found is None:
        raise NotFound(f"Cas « {slug} » introuvable.", f"Case '{slug}' not found.")
    return found


def _targets(session: Session, *, scope: str, target: str, before: dt.datetime | None,
             campaign_id: int | None = None) -> tuple[list[Delivery], Post | None, Case | None]:
    """The published deliveries the request covers (still on their platform, not being removed
    by another request), and the post and case it is about."""
    query = select(Delivery).where(Delivery.state == states.PUBLISHED, col(Delivery.platform_id).is_not(None),
                                   col(Delivery.retracted_at).is_(None))
    post: Post | None = None
    case: Case | None = None
    if scope == "delivery":
        delivery = session.get(Delivery, int(target))
        if delivery is None:
            raise NotFound(f"Envoi {target} introuvable.", f"Delivery {target} not found.")
        if delivery.state != states.PUBLISHED or not delivery.platform_id:
            label = states.LABELS.get(delivery.state, {"fr": delivery.state, "en": delivery.state})
            raise ServiceError(
                f"L'envoi {target} n'est pas publié (« {label['fr']} ») : il n'y a rien à retirer ; "
                "annulez-le s'il ne doit pas partir.",
                f"Delivery {target} is not published (“{label['en']}”): there is nothing to retract; cancel it "
                "if it must not go out.")
        post = session.get(Post, delivery.post_id)
        query = query.where(Delivery.id == delivery.id)
    elif scope == "post":
        post = session.get(Post, int(target))
        if post is None:
            raise NotFound(f"Publication {target} introuvable.", f"Post {target} not found.")
        query = query.where(Delivery.post_id == post.id)
    else:
        case = _find_case(session, target, campaign_id)
        query = query.join(Post, col(Post.id) == col(Delivery.post_id)).where(Post.case_id == case.id)
    if before is not None:
        query = query.where(col(Delivery.published_at) < before)
    if case is None and post is not None and post.case_id is not None:
        case = session.get(Case, post.case_id)
    found = list(session.exec(query.order_by(col(Delivery.published_at).desc(), col(Delivery.id))))
    busy = set(session.exec(select(RetractionJob.delivery_id).where(
        col(RetractionJob.delivery_id).in_([d.id for d in found] or [-1]), col(RetractionJob.state).in_(PENDING))))
    return [d for d in found if d.id not in busy], post, case


def request(session: Session, *, actor: Actor, reason: str | None, delivery_id: int | None = None,
            post_id: int | None = None, case: str | None = None, before: dt.datetime | None = None,
            campaign_id: int | None = None) -> Retraction:
    """Ask to retract one delivery, a post's or a case's published deliveries (exactly one of
    ``delivery_id``, ``post_id``, ``case``: a slug, of the edition ``campaign_id`` when given),
    published before ``before`` when given. Its jobs are queued at once, or wait for a second
    person where the edition asks for four eyes."""
    require(actor, "approver", "retirer des publications", "retract posts")
    text = _reason(reason)
    given = [(s, v) for s, v in (("delivery", delivery_id), ("post", post_id), ("case", case)) if v not in (None, "")]
    if len(given) != 1:
        raise ServiceError("Retirez un envoi, une publication ou un cas : un seul des trois.",
                           "Retract one delivery, one post or one case: exactly one of the three.")
    scope, target = given[0][0], str(given[0][1]).strip()
    if before is not None:
        before = require_aware(before)
    deliveries, post, found_case = _targets(session, scope=scope, target=target, before=before,
                                            campaign_id=campaign_id)
    campaign_id = found_case.campaign_id if found_case is not None else post.campaign_id if post else None
    campaign = session.get(Campaign, campaign_id) if campaign_id is not None else None
    four_eyes = bool(campaign is not None and campaign.retract_four_eyes and not actor.operator)
    now = utcnow()
    retraction = Retraction(campaign_id=campaign_id, case_id=found_case.id if found_case else None, scope=scope,
                            target=target, before=before, reason=text, requested_by=actor.username, requested_at=now,
                            status=AWAITING if four_eyes else CONFIRMED,
                            confirmed_by=None if four_eyes else actor.username,
                            confirmed_at=None if four_eyes else now)
    session.add(retraction)
    session.flush()
    assert retraction.id is not None
    for delivery in deliveries:
        assert delivery.id is not None
        session.add(RetractionJob(retraction_id=retraction.id, delivery_id=delivery.id,
                                  account_id=delivery.account_id, state=WAITING if four_eyes else QUEUED,
                                  due_at=now, manual_url=delivery.platform_url))
    audit(session, actor=actor, action="retract_request", target_type=scope, target_id=target,
          retraction=retraction.id, reason=text, deliveries=len(deliveries),
          before=before.isoformat() if before else "", four_eyes=four_eyes,
          **({"four_eyes_skipped": "operator"} if actor.operator and campaign is not None
             and campaign.retract_four_eyes else {}))
    if found_case is not None:
        _note(session, found_case, actor,
              f"Retrait demandé ({len(deliveries)} publication(s)) : {text}")
    return retraction


def still_out(session: Session, *, delivery_id: int | None = None, post_id: int | None = None,
              case: str | None = None, before: dt.datetime | None = None, campaign_id: int | None = None) -> int:
    """How many published deliveries a retraction of that scope would remove now (for the
    confirm step): 0 when nothing is left, or the delivery is not published."""
    scope, target = next(((s, str(v)) for s, v in (("delivery", delivery_id), ("post", post_id), ("case", case))
                          if v not in (None, "")), ("", ""))
    if not scope:
        return 0
    try:
        return len(_targets(session, scope=scope, target=target, before=before, campaign_id=campaign_id)[0])
    except ServiceError:
        return 0


def set_four_eyes(session: Session, *, actor: Actor, campaign_id: int, on: bool) -> Campaign:
    """Whether the edition's retractions need a second person's confirmation (admins)."""
    require(actor, "admin", "régler les quatre yeux des retraits", "set four eyes on retractions")
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Édition {campaign_id} introuvable.", f"Edition {campaign_id} not found.")
    campaign.retract_four_eyes = bool(on)
    session.add(campaign)
    audit(session, actor=actor, action="retract_four_eyes", target_type="campaign", target_id=campaign.slug,
          four_eyes=bool(on))
    return campaign


def _note(session: Session, case: Case, actor: Actor, note: str) -> None:
    """The case's history keeps the reason (a note at its unchanged status)."""
    assert case.id is not None
    session.add(CaseStatusNote(case_id=case.id, at=utcnow(), from_status=case.status, status=case.status,
                               note=note, actor=actor.username))


def get(session: Session, *, retraction_id: int) -> Retraction:
    found = session.get(Retraction, retraction_id)
    if found is None:
        raise NotFound(f"Retrait {retraction_id} introuvable.", f"Retraction {retraction_id} not found.")
    return found


def _waiting(session: Session, retraction: Retraction) -> Retraction:
    if retraction.status != AWAITING:
        raise ServiceError(f"Le retrait {retraction.id} n'attend pas de confirmation.",
                           f"Retraction {retraction.id} is not awaiting confirmation.")
    return retraction


def confirm(session: Session, *, actor: Actor, retraction_id: int) -> Retraction:
    """A second person confirms a retraction asked under four eyes: its deletions start."""
    require(actor, "approver", "confirmer un retrait", "confirm a retraction")
    retraction = _waiting(session, get(session, retraction_id=retraction_id))
    if actor.username == retraction.requested_by and not actor.operator:
        raise PermissionDenied(
            "Quatre yeux : une autre personne (approbation ou administration) doit confirmer ce retrait.",
            "Four eyes: another person (approver or admin) must confirm this retraction.")
    now = utcnow()
    retraction.status, retraction.confirmed_by, retraction.confirmed_at = CONFIRMED, actor.username, now
    session.add(retraction)
    for job in session.exec(select(RetractionJob).where(RetractionJob.retraction_id == retraction.id,
                                                        RetractionJob.state == WAITING)):
        move(job, QUEUED, due_at=now)
        session.add(job)
    audit(session, actor=actor, action="retract_confirm", target_type="retraction", target_id=retraction.id,
          requested_by=retraction.requested_by, reason=retraction.reason)
    return retraction


def decline(session: Session, *, actor: Actor, retraction_id: int) -> Retraction:
    """Turn down a retraction awaiting confirmation (the person who asked may withdraw it)."""
    require(actor, "approver", "refuser un retrait", "decline a retraction")
    retraction = _waiting(session, get(session, retraction_id=retraction_id))
    retraction.status = DECLINED
    session.add(retraction)
    for job in session.exec(select(RetractionJob).where(RetractionJob.retraction_id == retraction.id,
                                                        RetractionJob.state == WAITING)):
        move(job, CANCELLED)
        session.add(job)
    audit(session, actor=actor, action="retract_decline", target_type="retraction", target_id=retraction.id,
          reason=retraction.reason)
    return retraction


def removed_by_hand(session: Session, *, actor: Actor, retraction_id: int, delivery_id: int) -> RetractionJob:
    """A person removed by hand, on the platform, a post whose deletion failed: recorded as
    such (the delivery is retracted; the audit log says who)."""
    require(actor, "approver", "retirer des publications", "retract posts")
    job = session.exec(select(RetractionJob).where(RetractionJob.retraction_id == retraction_id,
                                                   RetractionJob.delivery_id == delivery_id)).first()
    if job is None or job.state != FAILED:
        raise ServiceError("Ce retrait n'a pas échoué : rien à noter.", "This retraction did not fail: nothing to note.")
    now = utcnow()
    move(job, BY_HAND, done_at=now)
    session.add(job)
    delivery = session.get(Delivery, delivery_id)
    if delivery is not None and delivery.retracted_at is None:
        delivery.retracted_at = now
        delivery.next_metrics_at = None
        session.add(delivery)
    audit(session, actor=actor, action="retract_by_hand", target_type="delivery", target_id=delivery_id,
          retraction=retraction_id, manual_url=job.manual_url or "")
    return job


# ---------------------------------------------------------------------------------------------
# Progress, for the dashboard and the command line


@dataclasses.dataclass(frozen=True)
class Removed:
    delivery_id: int
    account: str
    platform: str
    url: str | None
    #: removed by a person on the platform after the deletion failed
    by_hand: bool = False


@dataclasses.dataclass(frozen=True)
class NotRemoved:
    delivery_id: int
    account: str
    platform: str
    error: str
    url: str | None
    #: ``url`` when it is safe to show as a link (https on the platform's own host)
    link: str | None = None


@dataclasses.dataclass(frozen=True)
class Progress:
    """Where a retraction stands: removed, failed (with the address to remove it by hand),
    still pending, and the reposts and quotes by others seen (which nobody but their authors
    can remove)."""

    retraction: Retraction
    removed: list[Removed]
    failed: list[NotRemoved]
    pending: int
    cancelled: int
    others_seen: int

    @property
    def total(self) -> int:
        return len(self.removed) + len(self.failed) + self.pending + self.cancelled

    @property
    def done(self) -> bool:
        return self.pending == 0 and self.retraction.status != AWAITING


def progress(session: Session, *, retraction_id: int) -> Progress:
    retraction = get(session, retraction_id=retraction_id)
    from orchestrator.services.safe_links import for_account

    rows = session.exec(
        select(RetractionJob, Account)
        .join(Account, col(Account.id) == col(RetractionJob.account_id))
        .where(RetractionJob.retraction_id == retraction_id).order_by(col(RetractionJob.id))).all()
    removed, failed, pending, cancelled = [], [], 0, 0
    for job, account in rows:
        if job.state in (RETRACTED, BY_HAND):
            removed.append(Removed(job.delivery_id, account.name, account.kind, job.manual_url,
                                   by_hand=job.state == BY_HAND))
        elif job.state == FAILED:
            failed.append(NotRemoved(job.delivery_id, account.name, account.kind, job.error, job.manual_url,
                                     for_account(job.manual_url, account)))
        elif job.state == CANCELLED:
            cancelled += 1
        else:
            pending += 1
    return Progress(retraction, removed, failed, pending, cancelled,
                    others_seen(session, [job.delivery_id for job, _ in rows]))


def others_seen(session: Session, delivery_ids: list[int]) -> int:
    """Reposts and quotes of these deliveries by others, as listening counted them."""
    if not delivery_ids:
        return 0
    return int(session.exec(select(sa.func.count()).select_from(PublicPost).where(
        col(PublicPost.delivery_id).in_(delivery_ids), col(PublicPost.kind).in_(OTHERS_COPIES))).one())


def recent(session: Session, *, case_id: int | None = None, post_id: int | None = None,
           delivery_id: int | None = None, limit: int = 20) -> list[Retraction]:
    """The latest requests, newest first: all, a case's, or those touching a post or a delivery."""
    query = select(Retraction)
    if case_id is not None:
        query = query.where(Retraction.case_id == case_id)
    if post_id is not None or delivery_id is not None:
        jobs = select(RetractionJob.retraction_id).join(Delivery, col(Delivery.id) == col(RetractionJob.delivery_id))
        jobs = jobs.where(Delivery.post_id == post_id) if post_id is not None else \
            jobs.where(RetractionJob.delivery_id == delivery_id)
        query = query.where(col(Retraction.id).in_(jobs))
    return list(session.exec(query.order_by(col(Retraction.id).desc()).limit(limit)))


def awaiting(session: Session) -> list[Retraction]:
    """Requests waiting for a second person, oldest first."""
    return list(session.exec(select(Retraction).where(Retraction.status == AWAITING)
                             .order_by(col(Retraction.id))))


def retracted_at(session: Session, *, delivery_id: int) -> dt.datetime | None:
    """When the delivery's post was removed by a retraction (None: it was not)."""
    found = session.get(Delivery, delivery_id)
    return found.retracted_at if found is not None else None
