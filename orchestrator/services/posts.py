"""Posts: write, submit, approve (four eyes), reject, edit. Approval freezes what goes out."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from orchestrator import states
from orchestrator.models import CallToAction, Campaign, Delivery, Post
from orchestrator.services.auth import SYSTEM, Actor, NotFound, ServiceError, audit, require
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
    actor: Actor = SYSTEM,
    case_slug: str | None,
    language: str = "fr",
    text: str,
    link: str | None = None,
    action_slug: str | None = None,
    images: list[dict[str, Any]] | None = None,
    sibling_id: int | None = None,
    submit: bool = False,
    campaign: Campaign | None = None,
) -> Post:
    require(actor, "editor", "écrire une publication", "write a post")
    _check_text(text, link, language)
    campaign = campaign or current_campaign(session)
    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    action_id = None
    if action_slug:
        action = session.exec(
            select(CallToAction).where(CallToAction.campaign_id == campaign.id, CallToAction.slug == action_slug)
        ).first()
        if action is None:
            raise NotFound(f"Appel à l'action inconnu « {action_slug} ».", f"Unknown call to action '{action_slug}'.")
        action_id = action.id
    for image in images or []:
        if not str(image.get("alt", "")).strip():
            raise ServiceError(
                "Chaque image doit avoir un texte alternatif.", "Every image needs alt text."
            )
    post = Post(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        case_id=case.id if case else None,
        action_id=action_id,
        language=language,
        text=text.strip(),
        link=link or None,
        images=list(images or []),
        author=actor.username,
        status=PENDING if submit else DRAFT,
        sibling_id=sibling_id,
    )
    session.add(post)
    session.flush()
    if sibling_id is not None:
        sibling = get_post(session, post_id=sibling_id)
        if sibling.sibling_id is None:
            sibling.sibling_id = post.id
            session.add(sibling)
    audit(session, actor=actor, action="create", target_type="post", target_id=post.id,
          case=case_slug, language=language, submitted=submit)
    return post


def get_post(session: Session, *, post_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"Publication {post_id} introuvable.", f"Post {post_id} not found.")
    return post


def submit_post(session: Session, *, actor: Actor, post_id: int) -> Post:
    require(actor, "editor", "soumettre une publication", "submit a post")
    post = get_post(session, post_id=post_id)
    if post.status not in (DRAFT, REJECTED):
        raise ServiceError("Seul un brouillon ou une publication refusée peut être soumis.",
                           "Only a draft or a rejected post can be submitted.")
    post.status = PENDING
    post.updated_at = utcnow()
    session.add(post)
    audit(session, actor=actor, action="submit", target_type="post", target_id=post.id)
    return post


def approve_post(session: Session, *, actor: Actor = SYSTEM, post_id: int) -> Post:
    """Approve a post and freeze the text of each of its deliveries."""
    from orchestrator.services.deliveries import render_delivery

    require(actor, "approver", "approuver une publication", "approve a post")
    post = get_post(session, post_id=post_id)
    # Four eyes: the operator at the command line (system) is trusted; named people are not.
    if actor is not SYSTEM and actor.username == post.author:
        raise ServiceError(
            "Vous ne pouvez pas approuver une publication que vous avez écrite : demandez à une autre personne.",
            "You cannot approve a post you wrote: ask someone else.",
        )
    if post.status == APPROVED:
        return post
    post.status = APPROVED
    post.approved_by = actor.username
    post.approved_at = utcnow()
    post.review_comment = ""
    post.updated_at = utcnow()
    session.add(post)
    for delivery in session.exec(select(Delivery).where(Delivery.post_id == post.id)):
        if delivery.state not in (states.PUBLISHED, states.CANCELLED):
            render_delivery(session, delivery=delivery, post=post)
    audit(session, actor=actor, action="approve", target_type="post", target_id=post.id)
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
    return post


def edit_post(
    session: Session, *, actor: Actor, post_id: int, text: str, link: str | None = None
) -> Post:
    """Change a post's text. An approved post goes back for approval and its deliveries wait."""
    require(actor, "editor", "modifier une publication", "edit a post")
    post = get_post(session, post_id=post_id)
    _check_text(text, link, post.language)
    deliveries = list(session.exec(select(Delivery).where(Delivery.post_id == post.id)))
    if any(d.state in (states.PUBLISHING, states.PUBLISHED, states.UNCONFIRMED) for d in deliveries):
        raise ServiceError(
            "Cette publication est déjà partie (ou en cours d'envoi) sur au moins un compte : écrivez-en une nouvelle.",
            "This post already went out (or is going out) on at least one account: write a new one.",
        )
    was_approved = post.status == APPROVED
    post.text = text.strip()
    post.link = link or None
    post.status = PENDING if was_approved or post.status == PENDING else post.status
    post.approved_by = None
    post.approved_at = None
    post.updated_at = utcnow()
    session.add(post)
    for delivery in deliveries:
        delivery.rendered_text = None
        delivery.rendered_link = None
        session.add(delivery)
    audit(session, actor=actor, action="edit", target_type="post", target_id=post.id,
          back_to_approval=was_approved)
    return post


def list_posts(session: Session, *, status: str | None = None, campaign: Campaign | None = None) -> list[Post]:
    campaign = campaign or current_campaign(session)
    query = select(Post).where(Post.campaign_id == campaign.id)
    if status:
        query = query.where(Post.status == status)
    return list(session.exec(query.order_by(Post.created_at.desc())))  # type: ignore[attr-defined]
