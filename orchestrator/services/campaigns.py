"""Campaigns and their content: loading an edition's folder into the database (idempotent)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from orchestrator.models import CallToAction, Campaign, Case, Template
from orchestrator.services.auth import Actor, NotFound, audit, require
from orchestrator.timeutil import utcnow

if TYPE_CHECKING:
    from content.model import CampaignContent


def _bi(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        return {k: v for k, v in value.model_dump().items() if v is not None}
    return dict(value)


def load_content(session: Session, *, content: CampaignContent, actor: Actor) -> Campaign:
    """Create or update a campaign and its cases, calls to action and templates from a folder.

    Loading the same folder twice changes nothing; a case's status set in the dashboard is kept.
    A folder may withdraw a case's consent (the queued posts that break it are held, as on the
    case page) but never grants back one withdrawn: an old folder loaded again must not undo a
    family's request; granting again takes an approver on the case page.
    """
    from orchestrator.services import consent
    require(actor, "admin", "charger une campagne", "load a campaign")
    data = content.campaign
    campaign = session.exec(select(Campaign).where(Campaign.slug == str(data.slug))).first()
    created = campaign is None
    if campaign is None:
        campaign = Campaign(slug=str(data.slug))
    campaign.name = _bi(data.name)
    campaign.timezone = data.timezone
    campaign.starts_on = data.starts_on
    campaign.ends_on = data.ends_on
    campaign.key_dates = [
        {"slug": d.slug, "date": d.date.isoformat(), "name": _bi(d.name)} for d in data.key_dates
    ]
    campaign.hashtags = {k: list(v) for k, v in data.hashtags.items()}
    campaign.goal = data.goal
    campaign.link_rules = data.link_rules.model_dump(mode="json")
    campaign.url = _bi(data.url)
    campaign.listening = _listening(data.listening)
    campaign.sensitive_dates = [{"date": d.date.isoformat(), "label": _bi(d.label)} for d in data.sensitive_dates or []]
    campaign.updated_at = utcnow()
    if session.exec(select(Campaign).where(Campaign.is_current)).first() is None:
        campaign.is_current = True
    session.add(campaign)
    session.flush()
    assert campaign.id is not None

    existing_cases = {c.slug: c for c in session.exec(select(Case).where(Case.campaign_id == campaign.id))}
    withdrawn_now: list[tuple[Case, str]] = []
    kept_withdrawn: list[str] = []
    for item in content.cases:
        old = existing_cases.get(item.slug)
        case = old or Case(campaign_id=campaign.id, slug=item.slug, status=item.status)
        agreed = item.consent.model_dump() if item.consent else dict.fromkeys(consent.FLAGS, True)
        for flag in consent.FLAGS:
            was = True if old is None else consent.granted(case, flag)
            if agreed[flag] and not was:
                kept_withdrawn.append(f"{item.slug}:{flag}")
            elif was and not agreed[flag]:
                setattr(case, f"consent_{flag}", False)
                if old is not None:
                    withdrawn_now.append((case, flag))
        case.aliases = list(item.aliases or [])
        case.location_terms = list(item.location_terms or [])
        case.position = item.position
        case.person = _bi(item.person)
        case.country = _bi(item.country)
        case.country_code = item.country_code
        case.story = _bi(item.story)
        case.authority = _bi(item.authority)
        case.ask = _bi(item.ask)
        case.solidarity_kind = item.solidarity_kind
        case.solidarity_address = _bi(item.solidarity_address)
        case.solidarity_to = _bi(item.solidarity_to)
        case.goal = item.goal
        case.image_alt = _bi(item.image_alt)
        case.links = item.links.model_dump(mode="json") if item.links is not None else {}
        case.tags = list(item.tags)
        case.listening = _listening(item.listening)
        case.content_warning = item.content_warning.model_dump() if item.content_warning else {}
        case.visibility = item.visibility or "public"
        case.self_labels = list(item.self_labels or [])
        case.reply_limit = item.reply_limit or ""
        case.updated_at = utcnow()
        session.add(case)

    existing_actions = {
        a.slug: a for a in session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id))
    }
    for act in content.actions:
        action = existing_actions.get(act.slug) or CallToAction(campaign_id=campaign.id, slug=act.slug, kind=act.kind)
        action.kind = act.kind
        action.label = _bi(act.label)
        action.text = _bi(act.text)
        action.url = _bi(act.url)
        action.key_date = act.key_date
        session.add(action)

    existing_templates = {
        (t.slug, t.language): t for t in session.exec(select(Template).where(Template.campaign_id == campaign.id))
    }
    for tpl in content.templates:
        template = existing_templates.get((tpl.slug, tpl.language)) or Template(
            campaign_id=campaign.id, slug=tpl.slug, language=tpl.language, action_slug=tpl.action, body=tpl.body
        )
        template.action_slug = tpl.action
        template.body = tpl.body
        session.add(template)
    session.flush()
    held = sum(consent.hold_breaking(session, case=c, flag=flag, actor=actor) for c, flag in withdrawn_now)
    audit(session, actor=actor, action="load" if created else "reload", target_type="campaign",
          target_id=campaign.slug, cases=len(content.cases),
          **({"consent_withdrawn": [f"{c.slug}:{flag}" for c, flag in withdrawn_now], "held": held}
             if withdrawn_now else {}),
          **({"consent_kept_withdrawn": kept_withdrawn} if kept_withdrawn else {}))
    session.flush()
    return campaign


def _listening(terms: Any) -> dict[str, Any]:
    """Content listening terms in the stored shape (languages with no term left out)."""
    return {lang: t.model_dump(mode="json") for lang, t in (terms or {}).items() if t.hashtags or t.keywords}


def current_campaign(session: Session) -> Campaign:
    campaign = session.exec(select(Campaign).where(Campaign.is_current)).first()
    if campaign is None:
        campaign = session.exec(select(Campaign).order_by(Campaign.id.desc())).first()  # type: ignore[union-attr]
    if campaign is None:
        raise NotFound(
            "Aucune campagne n'est chargée : lancez « porte-voix init ».",
            "No campaign is loaded: run `porte-voix init`.",
        )
    return campaign


def chosen_campaign(session: Session, *, campaign_id: int | None) -> Campaign:
    """The edition a person chose (the dashboard's sidebar), else the current one: a choice that
    no longer exists, or none yet, falls back to the current edition."""
    chosen = session.get(Campaign, campaign_id) if campaign_id is not None else None
    return chosen or current_campaign(session)


def get_case(session: Session, *, slug: str, campaign: Campaign | None = None) -> Case:
    campaign = campaign or current_campaign(session)
    case = session.exec(select(Case).where(Case.campaign_id == campaign.id, Case.slug == slug)).first()
    if case is None:
        known = ", ".join(c.slug for c in session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))))
        raise NotFound(
            f"Cas inconnu « {slug} » dans la campagne {campaign.slug} (cas connus : {known}).",
            f"Unknown case '{slug}' in campaign {campaign.slug} (known: {known}).",
        )
    return case


def list_cases(session: Session, *, campaign: Campaign | None = None) -> list[Case]:
    campaign = campaign or current_campaign(session)
    return list(session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))))


def cases_by_key(session: Session, *, campaign_id: int) -> dict[str, Case]:
    """Every edition's cases by slug and by number, the two ways the audit trail names a case.
    Where editions share a slug, the case of ``campaign_id`` (the edition being read) wins."""
    found: dict[str, Case] = {}
    every_case = session.exec(select(Case).order_by(col(Case.campaign_id) == campaign_id, col(Case.id)))
    for case in every_case:  # this edition's last, so that its cases take the shared slugs
        found[case.slug] = case
        found[str(case.id)] = case
    return found
