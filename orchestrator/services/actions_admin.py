"""Calls to action (write a letter, sign, send a solidarity message, come to an event) edited
from the dashboard, for one edition.

What staff type goes through ``content.model.CallToAction``, the model the YAML loader uses, so
an action made here is one a folder would accept, and the checks the loader makes across files
(a key date the campaign has, ``{date}`` only where there is a key date) are made here too.
Templates name their action by slug: renaming an action renames it in its templates, in the same
transaction, so none is left pointing at nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, func, select

from orchestrator.models import CallToAction, Post, Template
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.services.campaign_admin import get_campaign

#: Field names as staff see them on the form, for validation messages (French, English).
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "slug": ("Identifiant", "Identifier"),
    "kind": ("Type", "Kind"),
    "label": ("Libellé", "Label"),
    "text": ("Texte", "Text"),
    "url": ("Lien", "Link"),
    "key_date": ("Date clé", "Key date"),
}
_LANGUAGE_NAMES = {"fr": ("français", "French"), "en": ("anglais", "English")}


def list_actions(session: Session, *, campaign_id: int) -> list[CallToAction]:
    return list(session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign_id)
                             .order_by(col(CallToAction.slug))))


def get_action(session: Session, *, action_id: int) -> CallToAction:
    action = session.get(CallToAction, action_id)
    if action is None:
        raise NotFound(f"Appel à l'action {action_id} introuvable.", f"Call to action {action_id} not found.")
    return action


def _field_name(dotted: str) -> tuple[str, str]:
    """'label.fr' -> ('Libellé (français)', 'Label (French)'): the form's words, not the file's."""
    head, _, rest = dotted.partition(".")
    fr, en = FIELD_NAMES.get(head, (dotted or "—", dotted or "—"))
    if rest in _LANGUAGE_NAMES:
        fr, en = f"{fr} ({_LANGUAGE_NAMES[rest][0]})", f"{en} ({_LANGUAGE_NAMES[rest][1]})"
    return fr, en


def _validated(data: dict[str, Any]) -> Any:
    """``data`` checked by the content model, or a ServiceError naming every field at fault."""
    from content.messages import problems_from
    from content.model import CallToAction as ActionModel

    try:
        return ActionModel.model_validate(data)
    except ValidationError as error:
        problems = problems_from(error, file="")
        names = [_field_name(p.field) for p in problems]
        fr = "; ".join(f"{name[0]} : {p.message}" for name, p in zip(names, problems, strict=True))
        en = "; ".join(f"{name[1]}: {p.message_en}" for name, p in zip(names, problems, strict=True))
        raise ServiceError(f"Appel à l'action invalide — {fr}", f"Invalid call to action — {en}") from None


def _texts(value: dict[str, str] | None) -> dict[str, str]:
    return {k: (v or "").strip() for k, v in (value or {}).items()}


def _uses_date(body: str) -> bool:
    from content.model import placeholders_in

    try:
        return "date" in placeholders_in(body)
    except ValueError:  # a broken body cannot be rendered anyway; it is not this action's concern
        return False


def save_action(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    slug: str,
    kind: str,
    label: dict[str, str],
    text: dict[str, str],
    url: dict[str, str] | None,
    key_date: str | None,
    action_id: int | None = None,
) -> CallToAction:
    """Create (``action_id`` None) or change a call to action. Every check runs before anything
    is written, so a refusal leaves the edition as it was."""
    require(actor, "editor", "modifier un appel à l'action", "edit a call to action")
    campaign = get_campaign(session, campaign_id=campaign_id)
    links = {k: v for k, v in _texts(url).items() if v}
    model = _validated({"slug": (slug or "").strip(), "kind": kind, "label": _texts(label), "text": _texts(text),
                        "url": links or None, "key_date": (key_date or "").strip() or None})

    known = [str(k["slug"]) for k in campaign.key_dates]
    if model.key_date is not None and model.key_date not in known:
        listed = ", ".join(known) or "aucune"
        raise ServiceError(
            f"Date clé inconnue « {model.key_date} » : l'édition a {listed}. Ajoutez-la à l'édition d'abord.",
            f"Unknown key date '{model.key_date}': the edition has {', '.join(known) or 'none'}. "
            "Add it to the edition first.")

    action: CallToAction | None = None
    templates: list[Template] = []
    if action_id is not None:
        action = get_action(session, action_id=action_id)
        if action.campaign_id != campaign_id:
            raise NotFound(f"Appel à l'action {action_id} introuvable.", f"Call to action {action_id} not found.")
        templates = list(session.exec(select(Template).where(Template.campaign_id == campaign_id,
                                                             Template.action_slug == action.slug)))
        if model.key_date is None:
            dated = sorted(tp.slug for tp in templates if _uses_date(tp.body))
            if dated:
                raise ServiceError(
                    f"Les modèles {', '.join(dated)} utilisent {{date}} : cet appel à l'action a besoin d'une date clé.",
                    f"Templates {', '.join(dated)} use {{date}}: this call to action needs a key date.")

    clash = session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign_id,
                                                    CallToAction.slug == model.slug)).first()
    if clash is not None and clash.id != action_id:
        raise ServiceError(f"Un appel à l'action « {model.slug} » existe déjà dans cette édition.",
                           f"A call to action '{model.slug}' already exists in this edition.")

    renamed_from = action.slug if action is not None and action.slug != model.slug else None
    if action is None:
        action = CallToAction(campaign_id=campaign.id, slug=model.slug, kind=model.kind)  # type: ignore[arg-type]
    action.slug, action.kind = model.slug, model.kind
    action.label, action.text = model.label.model_dump(), model.text.model_dump()
    action.url = model.url.model_dump(exclude_none=True) if model.url is not None else {}
    action.key_date = model.key_date
    session.add(action)
    if renamed_from is not None:
        for template in templates:
            template.action_slug = model.slug
            session.add(template)
    session.flush()
    detail: dict[str, Any] = {"slug": action.slug, "created": action_id is None}
    if renamed_from is not None:
        detail |= {"renamed_from": renamed_from, "templates_renamed": sorted({tp.slug for tp in templates})}
    audit(session, actor=actor, action="action_save", target_type="call_to_action", target_id=action.id, **detail)
    return action


def delete_action(session: Session, *, actor: Actor, action_id: int) -> None:
    """Only an action nothing uses: posts keep the action they were credited to, and templates
    would be left naming one that no longer exists."""
    require(actor, "editor", "supprimer un appel à l'action", "delete a call to action")
    action = get_action(session, action_id=action_id)
    posts = session.exec(select(func.count()).select_from(Post).where(Post.action_id == action.id)).one()
    templates = sorted(session.exec(select(Template.slug).where(Template.campaign_id == action.campaign_id,
                                                                Template.action_slug == action.slug)).all())
    if posts or templates:
        used_fr, used_en = [], []
        if posts:
            used_fr.append(f"{posts} publication(s)")
            used_en.append(f"{posts} post(s)")
        if templates:
            names = ", ".join(sorted(set(templates)))
            used_fr.append(f"les modèles {names}")
            used_en.append(f"templates {names}")
        raise ServiceError(
            f"L'appel à l'action « {action.slug} » est utilisé par {' et '.join(used_fr)} : il ne peut pas être "
            "supprimé.",
            f"Call to action '{action.slug}' is used by {' and '.join(used_en)}: it cannot be deleted.")
    audit(session, actor=actor, action="action_delete", target_type="call_to_action", target_id=action.id,
          slug=action.slug)
    session.delete(action)
