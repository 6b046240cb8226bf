"""Cases set up and kept current from the dashboard: create and edit in both languages, reorder,
and change status with a dated note.

A case's situation can change in a day (Sonia Dahmani was released on 27 November 2025, during
the campaign). Marking it "good news" holds its queued appeals exactly like a pause, and offers
a good-news post written from a template. Editing a case never touches a post already approved:
approval froze the text that goes out (``Delivery.rendered_text``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from content.words import Message
from orchestrator.models import Campaign, Case, CaseStatusNote, Post, Template
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.services.campaign_admin import _clean, case_data, get_campaign, validated
from orchestrator.timeutil import utcnow

STATUSES = ("active", "paused", "good_news", "closed")
#: Statuses that stop publication: queued deliveries are held.
STOPPED = ("paused", "good_news", "closed")
#: Fields edited in the form; slug (in links and exports) and status (below) are not among them.
EDITABLE = ("person", "country", "country_code", "story", "authority", "ask", "solidarity_kind", "solidarity_to",
            "solidarity_address", "goal", "image_alt", "links", "tags", "content_warning", "visibility",
            "self_labels")

#: Used when the edition has no template whose slug starts with "bonne-nouvelle" / "good-news".
GOOD_NEWS_DEFAULT = {
    "fr": "🎉 Bonne nouvelle pour {person} ({country}) ! Merci à toutes les personnes qui ont écrit : "
          "vos mots ont compté.\n{link}\n{hashtags}",
    "en": "🎉 Good news for {person} ({country})! Thank you to everyone who wrote: your words made a "
          "difference.\n{link}\n{hashtags}",
}
GOOD_NEWS_PREFIXES = ("bonne-nouvelle", "good-news")


def get_case_by_id(session: Session, *, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"Cas {case_id} introuvable.", f"Case {case_id} not found.")
    return case


def _model(data: dict[str, Any], slug: str) -> Any:
    from content.model import Case as CaseModel

    return validated(CaseModel, _clean(data), what_fr=f"Cas « {slug} »", what_en=f"case '{slug}'")


def _apply(case: Case, model: Any) -> None:
    for name in ("person", "country", "story", "authority", "ask", "solidarity_to", "solidarity_address", "image_alt"):
        setattr(case, name, getattr(model, name).model_dump())
    case.country_code = model.country_code
    case.solidarity_kind = model.solidarity_kind
    case.goal = model.goal
    case.links = model.links.model_dump(mode="json")
    case.tags = list(model.tags)
    case.content_warning = model.content_warning.model_dump() if model.content_warning else {}
    case.visibility = model.visibility or "public"
    case.self_labels = list(model.self_labels or [])
    case.reply_limit = model.reply_limit or ""
    case.updated_at = utcnow()


def create_case(session: Session, *, actor: Actor, campaign_id: int, data: dict[str, Any]) -> Case:
    """A new case at the end of the list. ``data`` has the fields of a case file (both
    languages everywhere); every problem is listed at once and nothing is saved."""
    require(actor, "editor", "créer un cas", "create a case")
    campaign = get_campaign(session, campaign_id=campaign_id)
    last = session.exec(select(Case.position).where(Case.campaign_id == campaign.id)
                        .order_by(col(Case.position).desc())).first()
    slug = str(data.get("slug", "")).strip()
    model = _model(data | {"slug": slug, "position": (last or 0) + 1, "status": "active"}, slug)
    if session.exec(select(Case.id).where(Case.campaign_id == campaign.id, Case.slug == model.slug)).first():
        raise ServiceError(f"Un cas « {model.slug} » existe déjà dans cette édition.",
                           f"A case '{model.slug}' already exists in this edition.")
    case = Case(campaign_id=campaign.id, slug=model.slug, position=model.position, status="active")  # type: ignore[arg-type]
    _apply(case, model)
    session.add(case)
    session.flush()
    audit(session, actor=actor, action="case_create", target_type="case", target_id=case.slug, campaign=campaign.slug)
    return case


def update_case(session: Session, *, actor: Actor, case_id: int, changes: dict[str, Any]) -> Case:
    """Change a case's texts, goal or links. Posts already approved keep their frozen text."""
    require(actor, "editor", "modifier un cas", "edit a case")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ServiceError(f"Champ non modifiable ici : {', '.join(unknown)}.", f"Field not editable here: {', '.join(unknown)}.")
    case = get_case_by_id(session, case_id=case_id)
    model = _model(case_data(case) | changes, case.slug)
    _apply(case, model)
    session.add(case)
    audit(session, actor=actor, action="case_edit", target_type="case", target_id=case.slug, fields=sorted(changes))
    return case


def reorder(session: Session, *, actor: Actor, campaign_id: int, slugs: list[str]) -> list[Case]:
    """Put the edition's cases in this order (positions 1, 2, 3…); every case must be named once."""
    require(actor, "editor", "réordonner les cas", "reorder cases")
    cases = {c.slug: c for c in session.exec(select(Case).where(Case.campaign_id == campaign_id))}
    if sorted(slugs) != sorted(cases):
        raise ServiceError("Nommez chaque cas de l'édition une fois, et seulement eux.",
                           "Name each case of the edition once, and only those.")
    for position, slug in enumerate(slugs, start=1):
        cases[slug].position = position
        session.add(cases[slug])
    audit(session, actor=actor, action="case_reorder", target_type="campaign", target_id=campaign_id, order=slugs)
    return [cases[s] for s in slugs]


def move(session: Session, *, actor: Actor, case_id: int, offset: int) -> list[Case]:
    """Move one case up (-1) or down (+1) in its edition's list."""
    require(actor, "editor", "réordonner les cas", "reorder cases")
    case = get_case_by_id(session, case_id=case_id)
    order = [c.slug for c in session.exec(select(Case).where(Case.campaign_id == case.campaign_id)
                                          .order_by(col(Case.position), col(Case.id)))]
    i = order.index(case.slug)
    j = max(0, min(len(order) - 1, i + offset))
    order.insert(j, order.pop(i))
    return reorder(session, actor=actor, campaign_id=case.campaign_id, slugs=order)


# ---------------------------------------------------------------------------------------------
# Status


def set_status(session: Session, *, actor: Actor, case_id: int, status: str, note: str,
               send_late: bool = False) -> tuple[Case, int]:
    """Change a case's status with a dated note; returns the case and how many deliveries were
    held (stopping) or released (back to active).

    Anyone who may write (editors) may stop a case at once; making it active again restarts
    public messages and takes an approver, as the pause switch does."""
    if status not in STATUSES:
        raise ServiceError(f"Statut inconnu « {status} » (permis : {', '.join(STATUSES)}).",
                           f"Unknown status '{status}' (allowed: {', '.join(STATUSES)}).")
    if status == "active":
        require(actor, "approver", "réactiver un cas", "make a case active again")
    else:
        require(actor, "editor", "changer le statut d'un cas", "change a case's status")
        if not note.strip():
            raise ServiceError("Indiquez la raison du changement de statut : l'équipe lira cette note datée.",
                               "Give the reason for the status change: the team will read this dated note.")
    case = get_case_by_id(session, case_id=case_id)
    previous = case.status
    if previous == status:
        raise ServiceError("Le cas a déjà ce statut.", "The case already has this status.")
    case.status = status
    case.status_note = note.strip()
    case.status_changed_at = utcnow()
    case.updated_at = case.status_changed_at
    session.add(case)
    if status == "active":
        count = deliveries.release_case(session, case=case, actor=actor, force=send_late)
    else:
        count = deliveries.hold_case(session, case=case, actor=actor, reason=note.strip())
    record_note(session, case=case, from_status=previous, actor=actor)
    audit(session, actor=actor, action="case_status", target_type="case", target_id=case.slug,
          previous=previous, status=status, note=note.strip(), affected=count)
    return case, count


def record_note(session: Session, *, case: Case, from_status: str, actor: Actor) -> CaseStatusNote:
    require(actor, "editor", "noter un changement de statut", "record a status change")
    note = CaseStatusNote(case_id=case.id, at=case.status_changed_at or utcnow(), from_status=from_status,  # type: ignore[arg-type]
                          status=case.status, note=case.status_note, actor=actor.username)
    session.add(note)
    return note


def status_history(session: Session, *, case_id: int) -> list[CaseStatusNote]:
    return list(session.exec(select(CaseStatusNote).where(CaseStatusNote.case_id == case_id)
                             .order_by(col(CaseStatusNote.at).desc(), col(CaseStatusNote.id).desc())))


# ---------------------------------------------------------------------------------------------
# The good-news post


def good_news_text(session: Session, *, case_id: int, language: str) -> str:
    """A good-news post about the case, from the edition's template (slug starting with
    "bonne-nouvelle" or "good-news" in that language) or the built-in one."""
    from content.render import render_template_text

    case = get_case_by_id(session, case_id=case_id)
    campaign = session.get(Campaign, case.campaign_id)
    template = next((t for t in session.exec(select(Template).where(
        Template.campaign_id == case.campaign_id, Template.language == language).order_by(col(Template.id)))
        if t.slug.startswith(GOOD_NEWS_PREFIXES)), None)
    body = template.body if template else GOOD_NEWS_DEFAULT.get(language, GOOD_NEWS_DEFAULT["fr"])
    try:
        return render_template_text(body, case=case, action=None, campaign=campaign, language=language,  # type: ignore[arg-type]
                                    name=template.slug if template else "good-news")
    except Exception as exc:  # ContentError: the template uses {date} or a misspelt placeholder
        raise (ServiceError.of(exc) if isinstance(exc, Message) else ServiceError(str(exc))) from None


def offer_good_news_post(session: Session, *, actor: Actor, case_id: int, language: str, text: str,
                         submit: bool = True) -> Post:
    """Write the good-news post as a campaign-wide post (no case): the case's own queue stays
    held, and this announcement must not be held with it. It waits for approval as usual."""
    require(actor, "editor", "écrire une publication", "write a post")
    case = get_case_by_id(session, case_id=case_id)
    if case.status != "good_news":
        raise ServiceError("Marquez d'abord le cas comme bonne nouvelle.", "Mark the case as good news first.")
    campaign = session.get(Campaign, case.campaign_id)
    post = posts.create_post(session, actor=actor, case_slug=None, language=language, text=text, submit=submit,
                             campaign=campaign)
    audit(session, actor=actor, action="good_news_post", target_type="case", target_id=case.slug, post=post.id)
    return post
