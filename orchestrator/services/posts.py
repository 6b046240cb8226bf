"""Posts: write, submit, approve (four eyes), reject, edit. Approval freezes what goes out."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from orchestrator import states
from orchestrator.models import CallToAction, Campaign, Delivery, Post, PostEdit
from orchestrator.services import content_warnings, four_eyes, link_cards
from orchestrator.services.auth import (
    SYSTEM,
    Actor,
    NotFound,
    PermissionDenied,
    ServiceError,
    audit,
    require,
)
from orchestrator.services.campaigns import current_campaign, get_case
from orchestrator.timeutil import utcnow

DRAFT, PENDING, APPROVED, REJECTED = "draft", "pending", "approved", "rejected"
STATUS_LABELS = {
    DRAFT: {"fr": "Brouillon", "en": "Draft"},
    PENDING: {"fr": "En attente d'approbation", "en": "Awaiting approval"},
    APPROVED: {"fr": "Approuvée", "en": "Approved"},
    REJECTED: {"fr": "Refusée", "en": "Rejected"},
}


def _check_text(text: str, link: str | None, language: str) -> None:
    if not text.strip():
        raise ServiceError("Le texte de la publication est vide.", "The post's text is empty.")
    if language not in ("fr", "en"):
        raise ServiceError(f"Langue inconnue « {language} » : fr ou en.", f"Unknown language '{language}': fr or en.")
    if link and not link.startswith(("https://", "http://")):
        raise ServiceError(
            f"Le lien doit commencer par https:// : « {link} ».", f"The link must start with https://: '{link}'."
        )


def create_post(
    session: Session,
    *,
    actor: Actor,
    case_slug: str | None,
    language: str = "fr",
    text: str,
    link: str | None = None,
    action_slug: str | None = None,
    images: list[dict[str, Any]] | None = None,
    sibling_id: int | None = None,
    submit: bool = False,
    campaign: Campaign | None = None,
    variants: dict[str, str] | None = None,
    accounts: list[int] | None = None,
    form_token: str | None = None,
    content_warning: str | None = None,
    visibility: str | None = None,
    self_labels: list[str] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> Post:
    """``variants``: text adjusted per account id (as a string); ``parts``: a thread's parts
    after the first (``{"text", "images"}`` each, alt text required); ``accounts``: the accounts
    chosen, kept until the post is scheduled; ``form_token``: the compose form it came from.
    ``content_warning``, ``visibility``, ``self_labels``: ``None`` takes the case's default
    (``content_warnings``); a value ("" for no warning) is the post's own."""
    require(actor, "editor", "écrire une publication", "write a post")
    _check_text(text, link, language)
    for body in (variants or {}).values():
        _check_text(body, link, language)
    campaign = campaign or current_campaign(session)
    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    warning = content_warnings.resolve(case, language, text=content_warning, visibility=visibility,
                                       labels=self_labels)
    default = content_warnings.case_default(case, language)
    action_id = None
    if action_slug:
        action = session.exec(
            select(CallToAction).where(CallToAction.campaign_id == campaign.id, CallToAction.slug == action_slug)
        ).first()
        if action is None:
            raise NotFound(f"Appel à l'action inconnu « {action_slug} ».", f"Unknown call to action '{action_slug}'.")
        action_id = action.id
    images = _checked_images(images)
    checked_parts = _checked_parts(parts, link, language)
    post = Post(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        case_id=case.id if case else None,
        action_id=action_id,
        language=language,
        text=text.strip(),
        link=link or None,
        images=images,
        variants={str(k): v.strip() for k, v in (variants or {}).items()},
        accounts=[int(a) for a in accounts or []],
        form_token=form_token,
        author=actor.username,
        status=PENDING if submit else DRAFT,
        sibling_id=sibling_id,
        content_warning=warning.text,
        visibility=warning.visibility,
        self_labels=list(warning.labels),
        parts=checked_parts,
    )
    session.add(post)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        if form_token is None:
            raise
        # the same form, sent at the same moment by another request that got there first
        raise ServiceError("Ce formulaire vient d'être soumis : la publication existe déjà.",
                           "This form was just submitted: the post already exists.") from None
    if sibling_id is not None:
        sibling = get_post(session, post_id=sibling_id)
        if sibling.sibling_id is None:
            sibling.sibling_id = post.id
            session.add(sibling)
    audit(session, actor=actor, action="create", target_type="post", target_id=post.id,
          case=case_slug, language=language, submitted=submit,
          **({"warning": content_warnings.fingerprint_part(warning),
              "warning_from_case": warning == default} if not (warning.is_default and default.is_default) else {}))
    if submit:
        tell_approvers(session, post)
    return post


def _checked_images(images: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Every image has alt text; an image stored inline must really be a PNG, JPEG, GIF or WebP
    (decoded here, so a renamed text file never reaches an approver or a platform), and its type
    is what its bytes say, not what its name said. Library images were checked when uploaded."""
    from orchestrator.services.media_library import inspect
    from orchestrator.services.post_review import decode_inline

    checked = []
    for number, image in enumerate(images or [], start=1):
        if not isinstance(image, dict):
            raise ServiceError(f"Image {number} sans contenu.", f"Image {number} without content.")
        if not str(image.get("alt", "")).strip():
            raise ServiceError(
                "Chaque image doit avoir un texte alternatif.", "Every image needs alt text."
            )
        if "data" in image:
            name = str(image.get("filename") or number)
            try:
                mime, _, _, _ = inspect(decode_inline(image))
            except ServiceError as exc:
                raise ServiceError(f"Image « {name} » : {exc.fr}", f"Image '{name}': {exc.en}") from None
            image = {**image, "mime_type": mime}
        checked.append(dict(image))
    return checked


def _checked_parts(parts: list[dict[str, Any]] | None, link: str | None, language: str) -> list[dict[str, Any]]:
    """A thread's parts after the first, in order: each with a text (or images) and alt text on
    every image, as any post. Blank parts are dropped."""
    checked = []
    for number, part in enumerate(parts or [], start=2):
        if not isinstance(part, dict):
            raise ServiceError(f"Partie {number} du fil sans contenu.", f"Part {number} of the thread without content.")
        text = str(part.get("text") or "").strip()
        images = _checked_images(list(part.get("images") or []))
        if not text and not images:
            continue
        if text:
            _check_text(text, None, language)
        checked.append({"text": text, "images": images})
    return checked


def get_post(session: Session, *, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"Publication {post_id} introuvable.", f"Post {post_id} not found.")
    return post


def submit_post(session: Session, *, actor: Actor, post_id: int) -> Post:
    require(actor, "editor", "soumettre une publication", "submit a post")
    from orchestrator.services.post_review import refuse_if_problems

    post = get_post(session, post_id=post_id)
    if post.status not in (DRAFT, REJECTED):
        raise ServiceError("Seul un brouillon ou une publication refusée peut être soumis.",
                           "Only a draft or a rejected post can be submitted.")
    refuse_if_problems(session, post, doing_fr="soumettre cette publication", doing_en="submit this post")
    post.status = PENDING
    post.updated_at = utcnow()
    session.add(post)
    audit(session, actor=actor, action="submit", target_type="post", target_id=post.id)
    tell_approvers(session, post)
    return post


def tell_approvers(session: Session, post: Post) -> None:
    """The approvers who chose to hear of it are told (the outbox, in this transaction)."""
    from orchestrator.services.notify import emit

    emit(session, "approval_requested", {"post_id": post.id, "author": post.author, "text": post.text[:280]})


def approve_post(session: Session, *, actor: Actor, post_id: int) -> Post:
    """Approve a post, record the fingerprint of what was approved and freeze the text of each of
    its deliveries."""
    from orchestrator.services.deliveries import post_images, render_delivery
    from orchestrator.services.post_review import refuse_if_problems

    require(actor, "approver", "approuver une publication", "approve a post")
    post = get_post(session, post_id=post_id)
    refusal = four_eyes.approval_refusal(actor, author=post.author,
                                         edited_by=four_eyes.editors(session, post_id=post.id or 0))
    if refusal is not None:
        raise refusal
    if post.status == APPROVED:
        return post
    if post.status != PENDING and not actor.operator:  # the operator may approve a draft directly
        raise ServiceError("Seule une publication en attente d'approbation peut être approuvée.",
                           "Only a post awaiting approval can be approved.")
    # What would fail at send time (an image that is not one, a text too long for an account)
    # is refused now, while the approver is looking, instead of failing later unseen.
    refuse_if_problems(session, post, doing_fr="approuver cette publication", doing_en="approve this post")
    # The link's card is read now (bounded; never an error: an unreadable page leaves a plain
    # link and a warning on the card) and kept, so publishing does not read the page again.
    card = link_cards.refresh(post)
    post.status = APPROVED
    post.approved_by = actor.username
    post.approved_at = utcnow()
    post.approved_fingerprint = four_eyes.post_fingerprint(post, post_images(post))
    post.review_comment = ""
    post.updated_at = utcnow()
    session.add(post)
    consent_held = []
    for delivery in session.exec(select(Delivery).where(Delivery.post_id == post.id)):
        if delivery.state not in (states.PUBLISHED, states.CANCELLED):
            render_delivery(session, delivery=delivery, post=post)
        if delivery.state == states.HELD and \
                states.HeldReason.parse(delivery.held_reason).kind is states.HeldFor.CONSENT:
            consent_held.append(delivery)
    if consent_held:  # held because the text broke a consent: approved now, it breaks none
        from orchestrator.services.deliveries import _release

        _release(session, consent_held, actor=actor.username)
    audit(session, actor=actor, action="approve", target_type="post", target_id=post.id,
          fingerprint=post.approved_fingerprint, **({"four_eyes": "operator"} if actor.operator else {}),
          **({"link_card": (card.get("error") or {}).get("en") or "read"} if card else {}))
    return post


def reject_post(session: Session, *, actor: Actor, post_id: int, comment: str) -> Post:
    require(actor, "approver", "refuser une publication", "reject a post")
    if not comment.strip():
        raise ServiceError("Dites à l'autrice ou l'auteur pourquoi : le commentaire est obligatoire.",
                           "Tell the author why: a comment is required.")
    post = get_post(session, post_id=post_id)
    if post.status != PENDING:
        raise ServiceError("Seule une publication en attente peut être refusée.", "Only a pending post can be rejected.")
    post.status = REJECTED
    post.review_comment = comment.strip()
    post.updated_at = utcnow()
    session.add(post)
    audit(session, actor=actor, action="reject", target_type="post", target_id=post.id, comment=comment.strip())
    from orchestrator.services.notify import emit

    emit(session, "rejected", {"post_id": post.id, "author": post.author, "by": actor.username,
                               "comment": post.review_comment, "text": post.text[:280]})
    return post


def withdraw_post(session: Session, *, actor: Actor, post_id: int) -> Post:
    """The author takes a post back from approval: it is a draft again, its deliveries stay where
    they are and wait (only an approved post goes out), and submitting it again brings them back."""
    require(actor, "editor", "retirer une publication", "withdraw a post")
    post = get_post(session, post_id=post_id)
    if actor.username != post.author and not actor.can("admin"):
        raise PermissionDenied(
            f"Seule l'autrice ou l'auteur ({post.author}) peut retirer cette publication ; "
            "une personne qui approuve peut la refuser avec un commentaire.",
            f"Only its author ({post.author}) can withdraw this post; an approver can reject it with a comment.",
        )
    if post.status != PENDING:
        raise ServiceError("Seule une publication en attente d'approbation peut être retirée.",
                           "Only a post awaiting approval can be withdrawn.")
    post.status = DRAFT
    post.updated_at = utcnow()
    session.add(post)
    audit(session, actor=actor, action="withdraw", target_type="post", target_id=post.id)
    return post


def edit_post(
    session: Session, *, actor: Actor, post_id: int, text: str, link: str | None = None,
    variants: dict[str, str] | None = None, images: list[dict[str, Any]] | None = None,
    content_warning: str | None = None, visibility: str | None = None, self_labels: list[str] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> Post:
    """Change a post's text (and, when given, its per-account variants, its images, its content
    warning, visibility, Bluesky labels or a thread's other parts). Only the author edits a draft or a rejected post;
    the edit is recorded, and whoever made it may not approve the post. An approved post goes
    back for approval and its deliveries wait."""
    require(actor, "editor", "modifier une publication", "edit a post")
    post = get_post(session, post_id=post_id)
    refusal = four_eyes.edit_refusal(actor, author=post.author, status=post.status)
    if refusal is not None:
        raise refusal
    _check_text(text, link, post.language)
    for body in (variants or {}).values():
        if body.strip():
            _check_text(body, link, post.language)
    content_warnings.check(content_warning, visibility, self_labels)
    deliveries = list(session.exec(select(Delivery).where(Delivery.post_id == post.id)))
    if any(d.state in (states.PUBLISHING, states.PUBLISHED, states.UNCONFIRMED) for d in deliveries):
        raise ServiceError(
            "Cette publication est déjà partie (ou en cours d'envoi) sur au moins un compte : écrivez-en une nouvelle.",
            "This post already went out (or is going out) on at least one account: write a new one.",
        )
    new_text, new_link = text.strip(), link or None
    new_variants = post.variants if variants is None else \
        {str(k): v.strip() for k, v in variants.items() if v.strip() and v.strip() != new_text}
    new_images = post.images if images is None else _checked_images(images)
    new_warning = post.content_warning if content_warning is None else content_warnings.clean_text(content_warning)
    new_visibility = post.visibility if visibility is None else visibility
    new_labels = post.self_labels if self_labels is None else content_warnings.clean_labels(self_labels)
    new_parts = post.parts or [] if parts is None else _checked_parts(parts, new_link, post.language)
    changed = [name for name, before, after in (
        ("text", post.text, new_text), ("link", post.link, new_link),
        ("variants", post.variants or {}, new_variants), ("images", post.images or [], new_images),
        ("content_warning", post.content_warning or "", new_warning),
        ("visibility", post.visibility, new_visibility), ("self_labels", post.self_labels or [], new_labels),
        ("parts", post.parts or [], new_parts),
    ) if before != after]
    if not changed:
        return post  # saved as it was: nothing to record, nothing to approve again
    was_approved = post.status == APPROVED
    post.text, post.link, post.variants, post.images = new_text, new_link, new_variants, new_images
    post.content_warning, post.visibility, post.self_labels = new_warning, new_visibility, list(new_labels)
    post.parts = new_parts
    post.status = PENDING if was_approved or post.status == PENDING else post.status
    post.approved_by = None
    post.approved_at = None
    post.approved_fingerprint = None
    post.updated_at = utcnow()
    session.add(post)
    for delivery in deliveries:
        delivery.rendered_text = None
        delivery.rendered_link = None
        session.add(delivery)
    session.add(PostEdit(post_id=post.id or 0, actor=actor.username, changed=changed))
    audit(session, actor=actor, action="edit", target_type="post", target_id=post.id,
          back_to_approval=was_approved, changed=changed)
    return post


def resubmit_post(
    session: Session, *, actor: Actor, post_id: int, text: str, link: str | None = None,
    variants: dict[str, str] | None = None, images: list[dict[str, Any]] | None = None,
    content_warning: str | None = None, visibility: str | None = None, self_labels: list[str] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> Post:
    """A draft or a rejected post, edited and submitted for approval in one step: when the
    submission is refused the edit is refused with it (one transaction), so what the author
    sees is what they last saved."""
    edit_post(session, actor=actor, post_id=post_id, text=text, link=link, variants=variants, images=images,
              content_warning=content_warning, visibility=visibility, self_labels=self_labels, parts=parts)
    return submit_post(session, actor=actor, post_id=post_id)


def void_approval(session: Session, *, post: Post, why: str) -> None:
    """A post whose content no longer matches what was approved goes back for approval; its
    deliveries wait for the new approval (the worker calls this, never a person)."""
    post.status = PENDING
    post.approved_by = None
    post.approved_at = None
    post.approved_fingerprint = None
    post.updated_at = utcnow()
    session.add(post)
    waiting = (states.SCHEDULED, states.RETRYING, states.HELD, states.FAILED)  # not what already went out
    for delivery in session.exec(select(Delivery).where(Delivery.post_id == post.id)):
        if delivery.state in waiting:
            delivery.rendered_text = None
            delivery.rendered_link = None
            session.add(delivery)
    audit(session, actor=SYSTEM, action="approval_void", target_type="post", target_id=post.id, why=why)


def list_posts(session: Session, *, status: str | None = None, campaign: Campaign | None = None,
               limit: int | None = None, language: str | None = None) -> list[Post]:
    """The edition's posts, newest first (the first ``limit`` of them; only those in
    ``language`` when given)."""
    campaign = campaign or current_campaign(session)
    query = select(Post).where(Post.campaign_id == campaign.id)
    if status:
        query = query.where(Post.status == status)
    if language:
        query = query.where(Post.language == language)
    query = query.order_by(Post.created_at.desc(), Post.id.desc())  # type: ignore[attr-defined, union-attr]
    return list(session.exec(query.limit(limit) if limit else query))


def count_posts(session: Session, *, status: str | None = None, campaign: Campaign | None = None) -> int:
    campaign = campaign or current_campaign(session)
    query = select(sa.func.count()).select_from(Post).where(Post.campaign_id == campaign.id)
    if status:
        query = query.where(Post.status == status)
    return int(session.exec(query).one())
