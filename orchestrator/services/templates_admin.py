"""Post templates per call to action and language, edited from the dashboard.

A template's placeholders ({person} {country} {authority} {ask} {link} {hashtags} {action}
{date} {solidarity_to}) are filled with a case's fields when the composer prefills a post. A
template that would be too long on a platform says so here, before anyone uses it: it is
rendered with every case of the edition, links tagged as they will go out, and checked by the
``validate()`` of each kind of account the edition publishes to.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from channels.registry import KINDS
from content.words import Message
from orchestrator.models import Account, CallToAction, Campaign, Case, Post, Template
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.services.campaign_admin import get_campaign, validated

#: Used when no account exists yet: a template must fit wherever it may be published.
ALL_KINDS = KINDS


#: Problems of a text checked alone that only the post can answer (its images).
NEEDS_THE_POST = frozenset({"image_required"})

def list_templates(session: Session, *, campaign_id: int) -> list[Template]:
    return list(session.exec(select(Template).where(Template.campaign_id == campaign_id)
                             .order_by(col(Template.action_slug), col(Template.language), col(Template.slug))))


def get_template(session: Session, *, template_id: int) -> Template:
    template = session.get(Template, template_id)
    if template is None:
        raise NotFound(f"Modèle {template_id} introuvable.", f"Template {template_id} not found.")
    return template


def _action(session: Session, campaign_id: int, slug: str) -> CallToAction:
    action = session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign_id,
                                                     CallToAction.slug == slug)).first()
    if action is None:
        raise NotFound(f"Appel à l'action inconnu « {slug} ».", f"Unknown call to action '{slug}'.")
    return action


def save_template(
    session: Session,
    *,
    actor: Actor,
    campaign_id: int,
    slug: str,
    action_slug: str,
    language: str,
    body: str,
    template_id: int | None = None,
) -> tuple[Template, list[dict[str, Any]]]:
    """Create (``template_id`` None) or change a template; returns it with its fit report (see
    :func:`fit_report`), so the page can say at once where it is too long."""
    from content.model import Template as TemplateModel

    require(actor, "editor", "modifier un modèle", "edit a template")
    campaign = get_campaign(session, campaign_id=campaign_id)
    model = validated(TemplateModel, {"slug": slug.strip(), "action": action_slug, "language": language,
                                      "body": body}, what_fr="Modèle", what_en="template")
    action = _action(session, campaign_id, model.action)
    if "date" in model.placeholders and not action.key_date:
        raise ServiceError(f"{{date}} est utilisé, mais l'appel à l'action « {action.slug} » n'a pas de date clé.",
                           f"{{date}} is used, but call to action '{action.slug}' has no key date.")
    # Slugs are unique in the edition (as in templates.yaml), whatever the language.
    clash = session.exec(select(Template).where(Template.campaign_id == campaign_id, Template.slug == model.slug)).first()
    if clash is not None and clash.id != template_id:
        raise ServiceError(f"Un modèle « {model.slug} » existe déjà.", f"A template '{model.slug}' already exists.")
    if template_id is None:
        template = Template(campaign_id=campaign.id, slug=model.slug, action_slug=model.action,  # type: ignore[arg-type]
                            language=model.language, body=model.body)
    else:
        template = get_template(session, template_id=template_id)
        if template.campaign_id != campaign_id:
            raise NotFound(f"Modèle {template_id} introuvable.", f"Template {template_id} not found.")
        template.slug, template.action_slug = model.slug, model.action
        template.language, template.body = model.language, model.body
    session.add(template)
    session.flush()
    audit(session, actor=actor, action="template_save", target_type="template", target_id=template.id,
          slug=template.slug, created=template_id is None)
    return template, fit_report(session, campaign_id=campaign_id, body=template.body,
                                language=template.language, action_slug=template.action_slug)


def delete_template(session: Session, *, actor: Actor, template_id: int) -> None:
    """Each call to action keeps at least one template per language (the folder format needs it)."""
    require(actor, "editor", "supprimer un modèle", "delete a template")
    template = get_template(session, template_id=template_id)
    siblings = session.exec(select(Template.id).where(
        Template.campaign_id == template.campaign_id, Template.action_slug == template.action_slug,
        Template.language == template.language, Template.id != template.id)).first()
    if siblings is None:
        raise ServiceError("C'est le dernier modèle de cet appel à l'action dans cette langue : écrivez-en un autre "
                           "avant de le supprimer.",
                           "This is the last template of this call to action in this language: write another "
                           "one before deleting it.")
    audit(session, actor=actor, action="template_delete", target_type="template", target_id=template.id,
          slug=template.slug)
    session.delete(template)


def _kinds(session: Session, language: str) -> list[tuple[str, dict[str, Any], str | None]]:
    """The kinds of account (with their options, which can change a limit) a post in this
    language may go to; every kind when no account is set up yet."""
    seen: dict[tuple[str, str], tuple[str, dict[str, Any], str | None]] = {}
    for account in session.exec(select(Account).order_by(col(Account.kind), col(Account.name))):
        if account.language in (None, language):
            options = dict(account.options or {})
            seen.setdefault((account.kind, repr(sorted(options.items()))), (account.kind, options, account.base_url))
    return list(seen.values()) or [(kind, {}, None) for kind in ALL_KINDS]


def fit_report(session: Session, *, campaign_id: int, body: str, language: str,
               action_slug: str | None = None) -> list[dict[str, Any]]:
    """One row per kind of account: the longest rendering over the edition's cases, its limit,
    and the problems the platform would raise (empty when it fits everywhere)."""
    from content.render import render_template_text
    from orchestrator.services.deliveries import rendered
    from orchestrator.services.validators import offline_validator

    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    action = _action(session, campaign_id, action_slug) if action_slug else None
    cases = list(session.exec(select(Case).where(Case.campaign_id == campaign_id).order_by(col(Case.position))))
    texts: list[tuple[Case | None, str]] = []
    for case in cases or [None]:  # type: ignore[list-item]
        try:
            texts.append((case, render_template_text(body, case=case, action=action, campaign=campaign,  # type: ignore[arg-type]
                                                     language=language)))  # type: ignore[arg-type]
        except Exception as exc:  # ContentError: a placeholder that cannot be filled
            raise (ServiceError.of(exc) if isinstance(exc, Message) else ServiceError(str(exc))) from None
    report = []
    for kind, options, base_url in _kinds(session, language):
        channel = offline_validator(kind, base_url=base_url, options=options)
        account = Account(name=kind, kind=kind, options=options)
        worst: dict[str, Any] | None = None
        for sample, text in texts:
            draft = Post(campaign_id=campaign_id, text=text)
            out, _ = rendered(draft, campaign=campaign, case=sample, account=account, source_code="x" * 7)
            check = channel.validate(out)
            # a template is the text alone: a platform that wants an image (Instagram) gets it with
            # the post, so that refusal says nothing about the template
            problems = [p for p in check.problems if p.code not in NEEDS_THE_POST]
            row = {"kind": kind, "case": sample.slug if sample else "", "length": check.length, "limit": check.limit,
                   "valid": not problems, "problems": {"fr": [p.text("fr") for p in problems],
                                                       "en": [p.text("en") for p in problems]}}
            if worst is None or (not row["valid"], row["length"]) > (not worst["valid"], worst["length"]):
                worst = row
        assert worst is not None
        report.append(worst)
    return report


def too_long(report: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in report if not row["valid"]]
