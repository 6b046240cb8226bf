"""Deliveries: schedule a post on an account, cancel, retry, hold and release."""

from __future__ import annotations

import datetime as dt
import secrets as pysecrets
from typing import Any

from sqlmodel import Session, col, select

from channels.base import Image, Part
from orchestrator import states
from orchestrator.models import Account, Campaign, Case, Delivery, Post
from orchestrator.services.accounts import get_account
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.settings import get_settings
from orchestrator.timeutil import require_aware, utcnow

_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: codes are read aloud and retyped


def new_source_code(session: Session, length: int = 7) -> str:
    for _ in range(20):
        code = "".join(pysecrets.choice(_ALPHABET) for _ in range(length))
        if session.exec(select(Delivery.id).where(Delivery.source_code == code)).first() is None:
            return code
    raise RuntimeError("could not draw a unique source code")


def rendered(post: Post, *, campaign: Campaign, case: Case | None, account: Account, source_code: str,
             shorten: bool = True) -> tuple[str, str | None]:
    """The exact text and link that will go out: links carry the delivery's source code and, when
    short links are on (:func:`short_links_base`), go through the short-link service, which
    leads to the long tagged link. ``shorten=False``: the long tagged text and link."""
    from content.model import LinkRules
    from content.render import shorten_links, tag_post

    rules = LinkRules(**(campaign.link_rules or {}))
    # the text adjusted for this account, when the post has one (plan rows pass a bare draft)
    body = (getattr(post, "variants", None) or {}).get(str(account.id)) or post.text
    text, link = tag_post(body, post.link, source_code=source_code, channel=account.kind,
                          case_slug=case.slug if case else "", rules=rules)
    base = short_links_base(campaign, account) if shorten else None
    if base is not None:
        text, link = shorten_links(text, link, base_url=base, source_code=source_code, rules=rules)
    return text, link


def short_links_base(campaign: Campaign, account: Account) -> str | None:
    """The short-link service's address for ``account``'s posts in ``campaign``, or ``None`` when
    its posts carry the long link: short links turned off (``PORTEVOIX_LINKS_SHORTEN=false`` or
    the edition's ``link_rules.shorten: false``), or an address the public cannot reach (this
    machine, a private network, plain HTTP) for an account that is not the sandbox's."""
    from orchestrator.links import reachable_by_public

    settings = get_settings()
    if not settings.links_shorten or (campaign.link_rules or {}).get("shorten") is False:
        return None
    base = settings.links_base_url.strip().rstrip("/")
    if not base or not (getattr(account, "is_sandbox", False) or reachable_by_public(base)):
        return None
    return base


def render_delivery(session: Session, *, delivery: Delivery, post: Post) -> None:
    campaign = session.get(Campaign, post.campaign_id)
    account = session.get(Account, delivery.account_id)
    case = session.get(Case, post.case_id) if post.case_id else None
    assert campaign is not None and account is not None
    delivery.rendered_text, delivery.rendered_link = rendered(
        post, campaign=campaign, case=case, account=account, source_code=delivery.source_code
    )
    session.add(delivery)


def post_images(post: Post) -> list[Image]:
    from orchestrator.services.media import load_image

    # the post's own session reads library images inside the caller's transaction
    # (object_session is typed as SQLAlchemy's Session; the instance is sqlmodel's subclass)
    return [load_image(item, Session.object_session(post)) for item in post.images]  # type: ignore[arg-type]


def post_parts(post: Post) -> list[Part]:
    """A thread's parts after the first, with their images read (empty for a single post)."""
    from orchestrator.services.media import load_image

    session = Session.object_session(post)
    return [Part(str(part.get("text") or ""),
                 tuple(load_image(item, session) for item in part.get("images") or []))  # type: ignore[arg-type]
            for part in post.parts or []]


def check_for_account(session: Session, *, post: Post, account: Account, language: str = "fr") -> list[str]:
    """The platform's own rules applied to the text as it will go out; [] when it passes."""
    campaign = session.get(Campaign, post.campaign_id)
    case = session.get(Case, post.case_id) if post.case_id else None
    assert campaign is not None
    text, _ = rendered(post, campaign=campaign, case=case, account=account, source_code="x" * 7)
    from orchestrator.services.validators import for_account

    validator = for_account(account)
    result = validator.validate(text, post_images(post),  # offline: no credentials read
                                content_warning=post.content_warning or "")
    from orchestrator.services.thread_parts import verdict

    def check(part_text: str, images: Any) -> Any:
        return validator.validate(part_text, list(images), content_warning=post.content_warning or "")

    thread_problems, _ = verdict(account.kind, check, [(p.text, p.images) for p in post_parts(post)])
    return [p.text(language) for p in [*result.problems, *thread_problems]]


def schedule(
    session: Session,
    *,
    actor: Actor,
    post_id: int,
    account_name: str,
    at: dt.datetime,
) -> Delivery:
    from orchestrator.services import consent

    require(actor, "editor", "programmer une publication", "schedule a post")
    at = require_aware(at)
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"Publication {post_id} introuvable.", f"Post {post_id} not found.")
    if post.status == "rejected":
        raise ServiceError("Cette publication a été refusée : modifiez-la d'abord.", "This post was rejected: edit it first.")
    account = get_account(session, name=account_name)
    problems = check_for_account(session, post=post, account=account)
    if problems:
        raise ServiceError(
            f"Le texte ne convient pas à {account.name} ({account.kind}) : " + " ".join(problems),
            f"The text does not fit {account.name} ({account.kind}): " + " ".join(check_for_account(session, post=post, account=account, language="en")),
        )
    case = session.get(Case, post.case_id) if post.case_id else None
    delivery = Delivery(
        post_id=post.id,  # type: ignore[arg-type]
        account_id=account.id,  # type: ignore[arg-type]
        scheduled_at=at,
        due_at=at,
        source_code=new_source_code(session),
        state=states.SCHEDULED,
    )
    if case is not None and case.status in ("paused", "good_news", "closed"):
        delivery.state = states.HELD
        delivery.held_reason = str(states.HeldReason.case(case.status))
    elif not account.healthy:
        delivery.state = states.HELD
        delivery.held_reason = str(states.HeldReason.account(account.last_error))
    elif breach := next(iter(consent.breaches(session, post)), None):
        delivery.state = states.HELD
        delivery.held_reason = str(consent.reason_for(breach))
    session.add(delivery)
    session.flush()
    if post.status == "approved":
        render_delivery(session, delivery=delivery, post=post)
    audit(session, actor=actor, action="schedule", target_type="delivery", target_id=delivery.id,
          post=post.id, account=account.name, at=at.isoformat())
    return delivery


def get_delivery(session: Session, *, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        raise NotFound(f"Livraison {delivery_id} introuvable.", f"Delivery {delivery_id} not found.")
    return delivery


def cancel(session: Session, *, actor: Actor, delivery_id: int) -> Delivery:
    require(actor, "editor", "annuler une publication programmée", "cancel a delivery")
    delivery = get_delivery(session, delivery_id=delivery_id)
    if delivery.state == states.PUBLISHING:
        raise ServiceError("Cette publication part en ce moment : attendez son résultat.",
                           "This delivery is being published right now: wait for its outcome.")
    states.transition(session, delivery, states.CANCELLED, actor=actor.username, outcome="cancelled")
    audit(session, actor=actor, action="cancel", target_type="delivery", target_id=delivery.id)
    return delivery


def reschedule(session: Session, *, actor: Actor, delivery_id: int, at: dt.datetime) -> Delivery:
    require(actor, "editor", "déplacer une publication", "move a delivery")
    at = require_aware(at)
    delivery = get_delivery(session, delivery_id=delivery_id)
    if delivery.state not in (states.SCHEDULED, states.HELD, states.RETRYING, states.FAILED):
        raise ServiceError("Cette publication ne peut plus être déplacée.", "This delivery can no longer be moved.")
    delivery.scheduled_at = at
    delivery.due_at = at
    delivery.updated_at = utcnow()
    session.add(delivery)
    audit(session, actor=actor, action="reschedule", target_type="delivery", target_id=delivery.id, at=at.isoformat())
    return delivery


def retry(session: Session, *, actor: Actor, delivery_id: int) -> Delivery:
    """A person asks for a failed delivery to be tried again now."""
    require(actor, "editor", "relancer une publication", "retry a delivery")
    delivery = get_delivery(session, delivery_id=delivery_id)
    if delivery.state != states.FAILED:
        raise ServiceError("Seule une publication en échec peut être relancée.", "Only a failed delivery can be retried.")
    account = session.get(Account, delivery.account_id)
    if account is not None and not account.healthy:
        raise ServiceError(
            f"Le compte {account.name} est en panne ({account.last_error}) : testez-le d'abord.",
            f"Account {account.name} is unhealthy ({account.last_error}): test it first.",
        )
    states.transition(session, delivery, states.RETRYING, actor=actor.username, outcome="manual_retry",
                      due_at=utcnow(), attempts=0, last_error="", last_error_kind="")
    _hold_if_breaking(session, delivery, actor=actor.username)
    audit(session, actor=actor, action="retry", target_type="delivery", target_id=delivery.id)
    return delivery


def _hold_if_breaking(session: Session, delivery: Delivery, *, actor: str) -> None:
    """Back in the queue, a delivery whose post breaks a consent withdrawn meanwhile is held."""
    from orchestrator.services import consent

    post = session.get(Post, delivery.post_id)
    breach = next(iter(consent.breaches(session, post)), None) if post is not None else None
    if breach is not None:
        reason = consent.reason_for(breach)
        states.transition(session, delivery, states.HELD, actor=actor, outcome="held", detail=str(reason),
                          held_reason=str(reason))


def retry_all_failed(session: Session, *, actor: Actor) -> int:
    require(actor, "editor", "relancer les publications en échec", "retry failed deliveries")
    count = 0
    for delivery in session.exec(select(Delivery).where(Delivery.state == states.FAILED)):
        account = session.get(Account, delivery.account_id)
        if account is not None and account.healthy:
            retry(session, actor=actor, delivery_id=delivery.id)  # type: ignore[arg-type]
            count += 1
    return count


def resolve_unconfirmed(
    session: Session, *, actor: Actor, delivery_id: int, published: bool, platform_url: str | None = None
) -> Delivery:
    """A person checked the platform: the post is there (published) or not (tried again)."""
    require(actor, "editor", "trancher une publication non confirmée", "resolve an unconfirmed delivery")
    delivery = get_delivery(session, delivery_id=delivery_id)
    if delivery.state != states.UNCONFIRMED:
        raise ServiceError("Cette publication n'est pas « non confirmée ».", "This delivery is not unconfirmed.")
    if published:
        now = utcnow()
        states.transition(session, delivery, states.PUBLISHED, actor=actor.username, outcome="confirmed_by_person",
                          platform_url=platform_url or delivery.platform_url, published_at=delivery.published_at or now,
                          lease_until=None, worker_id=None)
    else:
        states.transition(session, delivery, states.RETRYING, actor=actor.username, outcome="absent_per_person",
                          due_at=utcnow(), lease_until=None, worker_id=None)
        _hold_if_breaking(session, delivery, actor=actor.username)
    audit(session, actor=actor, action="resolve", target_type="delivery", target_id=delivery.id, published=published)
    return delivery


# ---------------------------------------------------------------------------------------------
# Holding and releasing


def _hold(session: Session, deliveries: list[Delivery], *, actor: str, reason: states.HeldReason) -> int:
    for delivery in deliveries:
        states.transition(session, delivery, states.HELD, actor=actor, outcome="held", detail=str(reason),
                          held_reason=str(reason))
    return len(deliveries)


def _release(session: Session, deliveries: list[Delivery], *, actor: str, force: bool = False) -> int:
    """Held deliveries go back to the queue; one whose time passed more than the lateness limit
    ago waits for a person (``force``)."""
    from orchestrator.services.consent import still_held

    limit = dt.timedelta(minutes=get_settings().lateness_limit_minutes)
    now = utcnow()
    released = 0
    kept = {id(d) for d in still_held(session, deliveries)}  # a withdrawn consent holds them still
    for delivery in deliveries:
        if id(delivery) in kept:
            continue
        if not force and delivery.scheduled_at < now - limit:
            delivery.held_reason = str(states.HeldReason.late())
            session.add(delivery)
            continue
        states.transition(session, delivery, states.requeue_state(delivery.attempts), actor=actor, outcome="released",
                          held_reason="", due_at=max(delivery.due_at, now) if delivery.due_at < now else delivery.due_at)
        released += 1
    return released


#: What a person may do with what came due while deliveries were held (a suspension lifted)
OVERDUE_CHOICES = ("publish", "reschedule", "cancel")


def settle_overdue(session: Session, held: list[Delivery], *, by: str, choice: str,
                   spacing_minutes: int = 10) -> int:
    """Held deliveries whose time came while they were held: ``publish`` sends them now (as
    "send anyway" does), ``reschedule`` spreads them from now, ``spacing_minutes`` apart per
    account, earliest first, and ``cancel`` cancels them, in the name of ``by`` (whose right to
    do so the caller checked). Returns how many were settled."""
    if choice not in OVERDUE_CHOICES:
        raise ServiceError(f"Choix inconnu « {choice} » (permis : {', '.join(OVERDUE_CHOICES)}).",
                           f"Unknown choice '{choice}' (allowed: {', '.join(OVERDUE_CHOICES)}).")
    from orchestrator.services.consent import still_held

    held = [d for d in held if d.state == states.HELD]
    if choice != "cancel":  # a withdrawn consent holds them still
        kept = {id(d) for d in still_held(session, held)}
        held = [d for d in held if id(d) not in kept]
    if choice == "publish":
        return _release(session, held, actor=by, force=True)
    if choice == "cancel":
        for delivery in held:
            states.transition(session, delivery, states.CANCELLED, actor=by, outcome="cancelled")
        return len(held)
    now = utcnow()
    step = dt.timedelta(minutes=max(0, spacing_minutes))
    per_account: dict[int, int] = {}
    for delivery in sorted(held, key=lambda d: (d.scheduled_at, d.id or 0)):
        n = per_account.get(delivery.account_id, 0)
        per_account[delivery.account_id] = n + 1
        at = now + step * n
        states.transition(session, delivery, states.requeue_state(delivery.attempts), actor=by,
                          outcome="rescheduled", held_reason="", scheduled_at=at, due_at=at)
    return len(held)


def _queued_for(session: Session, *, case_id: int | None = None, account_id: int | None = None,
                state_in: tuple[str, ...]) -> list[Delivery]:
    query = select(Delivery).where(col(Delivery.state).in_(state_in))
    if account_id is not None:
        query = query.where(Delivery.account_id == account_id)
    if case_id is not None:
        query = query.join(Post, col(Post.id) == Delivery.post_id).where(Post.case_id == case_id)
    return list(session.exec(query))


def hold_case(session: Session, *, case: Case, actor: Actor, reason: str) -> int:
    require(actor, "editor", "retenir les publications d'un cas", "hold a case's deliveries")
    return _hold(session, _queued_for(session, case_id=case.id, state_in=(states.SCHEDULED, states.RETRYING)),
                 actor=actor.username, reason=states.HeldReason.case(case.status, reason.strip()))


def release_case(session: Session, *, case: Case, actor: Actor, force: bool = False) -> int:
    require(actor, "editor", "relâcher les publications d'un cas", "release a case's deliveries")
    held = [d for d in _queued_for(session, case_id=case.id, state_in=(states.HELD,))
            if states.HeldReason.parse(d.held_reason).kind in (states.HeldFor.CASE, states.HeldFor.LATE)]
    return _release(session, held, actor=actor.username, force=force)


def hold_account(session: Session, *, account: Account, reason: str) -> int:
    return _hold(session, _queued_for(session, account_id=account.id, state_in=(states.SCHEDULED, states.RETRYING)),
                 actor="system", reason=states.HeldReason.account(reason))


def release_account(session: Session, *, account: Account, actor: Actor) -> int:
    require(actor, "editor", "relâcher les publications d'un compte", "release an account's deliveries")
    held = [d for d in _queued_for(session, account_id=account.id, state_in=(states.HELD,))
            if states.HeldReason.parse(d.held_reason).kind is states.HeldFor.ACCOUNT]
    return _release(session, held, actor=actor.username)


def release_late(session: Session, *, actor: Actor, delivery_id: int) -> Delivery:
    """A person sends a held, late delivery anyway."""
    require(actor, "editor", "envoyer une publication en retard", "send a late delivery")
    delivery = get_delivery(session, delivery_id=delivery_id)
    if delivery.state != states.HELD:
        raise ServiceError("Cette publication n'est pas retenue.", "This delivery is not held.")
    _release(session, [delivery], actor=actor.username, force=True)
    audit(session, actor=actor, action="release", target_type="delivery", target_id=delivery.id)
    return delivery
