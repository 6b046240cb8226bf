"""Campaigns run from the dashboard: create, edit, archive, copy into a new one, set the current
one, and export one back to the folder format.

In code a ``Campaign`` is one yearly edition of the campaign; pages say « édition ». Identifiers
use the one word campaign (``tests/test_vocabulary.py``).

The YAML folders are an import format, not the only way in. Whatever staff type here goes
through the same pydantic models as a folder (``content.model``), so an edition set up in the
dashboard can always be dumped to a folder that ``porte-voix content load`` reads back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlmodel import Session, col, select

from orchestrator.models import CallToAction, Campaign, Case, Template
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.timeutil import utcnow

M = TypeVar("M", bound=BaseModel)

#: Campaign fields staff may change; the slug names the edition everywhere (links, exports).
EDITABLE = ("name", "timezone", "starts_on", "ends_on", "key_dates", "hashtags", "goal", "link_rules", "url",
            "sensitive_dates")


def validated(cls: type[M], data: dict[str, Any], *, what_fr: str, what_en: str) -> M:
    """``data`` checked by the content model, or a ServiceError listing every problem found."""
    from content.messages import problems_from

    try:
        return cls.model_validate(data)
    except ValidationError as error:
        problems = problems_from(error, file="")
        fr = "; ".join(f"{p.field or '—'} : {p.message}" for p in problems)
        en = "; ".join(f"{p.field or '—'}: {p.message_en}" for p in problems)
        raise ServiceError(f"{what_fr} invalide — {fr}", f"Invalid {what_en} — {en}") from None


def _clean(value: Any) -> Any:
    """Empty texts and empty link sections removed, as a YAML file would leave them out."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", {})}
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def campaign_data(campaign: Campaign) -> dict[str, Any]:
    """A campaign row as the content model's fields."""
    data: dict[str, Any] = {
        "slug": campaign.slug,
        "name": dict(campaign.name),
        "timezone": campaign.timezone,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "key_dates": [dict(k) for k in campaign.key_dates],
        "hashtags": {k: list(v) for k, v in campaign.hashtags.items()},
        "goal": campaign.goal,
        "link_rules": dict(campaign.link_rules),
    }
    if campaign.url:
        data["url"] = dict(campaign.url)
    if campaign.listening:
        data["listening"] = {k: dict(v) for k, v in campaign.listening.items()}
    if campaign.sensitive_dates:
        data["sensitive_dates"] = [dict(d) for d in campaign.sensitive_dates]
    return data


def _apply(campaign: Campaign, model: Any) -> None:
    campaign.name = model.name.model_dump()
    campaign.timezone = model.timezone
    campaign.starts_on = model.starts_on
    campaign.ends_on = model.ends_on
    campaign.key_dates = [{"slug": k.slug, "date": k.date.isoformat(), "name": k.name.model_dump()}
                          for k in model.key_dates]
    campaign.hashtags = {k: list(v) for k, v in model.hashtags.items()}
    campaign.goal = model.goal
    campaign.link_rules = model.link_rules.model_dump(mode="json")
    campaign.url = model.url.model_dump(exclude_none=True) if model.url is not None else {}
    campaign.listening = {lang: t.model_dump(mode="json") for lang, t in model.listening.items()
                          if t.hashtags or t.keywords}
    campaign.sensitive_dates = [{"date": d.date.isoformat(), "label": d.label.model_dump()}
                                for d in model.sensitive_dates or []]
    campaign.updated_at = utcnow()


# ---------------------------------------------------------------------------------------------
# Reading


def list_campaigns(session: Session, *, include_archived: bool = True) -> list[Campaign]:
    query = select(Campaign).order_by(col(Campaign.starts_on).desc(), col(Campaign.id).desc())
    if not include_archived:
        query = query.where(col(Campaign.archived_at).is_(None))
    return list(session.exec(query))


def get_campaign(session: Session, *, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Édition {campaign_id} introuvable.", f"Edition {campaign_id} not found.")
    return campaign


def _slug_free(session: Session, slug: str) -> None:
    if session.exec(select(Campaign.id).where(Campaign.slug == slug)).first() is not None:
        raise ServiceError(f"L'identifiant « {slug} » est déjà pris par une autre édition.",
                           f"The identifier '{slug}' is already used by another edition.")


# ---------------------------------------------------------------------------------------------
# Changing


def create_campaign(session: Session, *, actor: Actor, data: dict[str, Any]) -> Campaign:
    """A new edition from the content model's fields (slug, name, timezone, dates, hashtags,
    goal, link_rules, optional key_dates and url). It becomes current if none is."""
    from content.model import Campaign as CampaignModel

    require(actor, "admin", "créer une édition", "create an edition")
    model = validated(CampaignModel, _clean(data), what_fr="Édition", what_en="edition")
    _slug_free(session, model.slug)
    campaign = Campaign(slug=model.slug)
    _apply(campaign, model)
    campaign.is_current = session.exec(select(Campaign.id).where(Campaign.is_current)).first() is None
    session.add(campaign)
    session.flush()
    audit(session, actor=actor, action="edition_create", target_type="campaign", target_id=campaign.slug)
    return campaign


def update_campaign(session: Session, *, actor: Actor, campaign_id: int, changes: dict[str, Any]) -> Campaign:
    from content.model import Campaign as CampaignModel

    require(actor, "admin", "modifier une édition", "edit an edition")
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise ServiceError(f"Champ non modifiable : {', '.join(unknown)}.", f"Field not editable: {', '.join(unknown)}.")
    campaign = get_campaign(session, campaign_id=campaign_id)
    model = validated(CampaignModel, _clean(campaign_data(campaign) | changes), what_fr="Édition", what_en="edition")
    _apply(campaign, model)
    session.add(campaign)
    audit(session, actor=actor, action="edition_edit", target_type="campaign", target_id=campaign.slug,
          fields=sorted(changes))
    return campaign


def set_current(session: Session, *, actor: Actor, campaign_id: int) -> Campaign:
    """The edition the worker's plans, the CLI and new dashboard sessions use by default."""
    require(actor, "admin", "changer l'édition en cours", "change the current edition")
    campaign = get_campaign(session, campaign_id=campaign_id)
    if campaign.archived_at is not None:
        raise ServiceError("Une édition archivée ne peut pas être l'édition en cours : sortez-la des archives d'abord.",
                           "An archived edition cannot be the current one: restore it first.")
    for other in session.exec(select(Campaign).where(Campaign.is_current, Campaign.id != campaign.id)):
        other.is_current = False
        session.add(other)
    session.flush()  # one current edition at any instant, even inside this transaction
    campaign.is_current = True
    session.add(campaign)
    audit(session, actor=actor, action="edition_current", target_type="campaign", target_id=campaign.slug)
    return campaign


def archive_campaign(session: Session, *, actor: Actor, campaign_id: int, archived: bool = True) -> Campaign:
    """Archive (or restore) an edition: it leaves the edition menu but nothing is deleted."""
    require(actor, "admin", "archiver une édition", "archive an edition")
    campaign = get_campaign(session, campaign_id=campaign_id)
    if archived and campaign.is_current:
        raise ServiceError("C'est l'édition en cours : choisissez-en une autre comme édition en cours avant de l'archiver.",
                           "This is the current edition: make another one current before archiving it.")
    campaign.archived_at = utcnow() if archived else None
    campaign.updated_at = utcnow()
    session.add(campaign)
    audit(session, actor=actor, action="edition_archive" if archived else "edition_restore",
          target_type="campaign", target_id=campaign.slug)
    return campaign


def copy_campaign(
    session: Session,
    *,
    actor: Actor,
    source_id: int,
    slug: str,
    name: dict[str, str],
    starts_on: dt.date,
    ends_on: dt.date,
    include_cases: bool = False,
) -> Campaign:
    """A new edition with the source's settings: time zone, hashtags, goal, link rules, page,
    calls to action and templates. Key dates move by as many days as the start did (those
    that would fall outside the new dates are left out); link tagging takes the new slug.
    Cases are copied only on request (each autumn brings new ones), as active."""
    require(actor, "admin", "copier une édition", "copy an edition")
    source = get_campaign(session, campaign_id=source_id)
    shift = starts_on - source.starts_on if source.starts_on else dt.timedelta(0)
    key_dates = []
    for item in source.key_dates:
        day = dt.date.fromisoformat(str(item["date"])) + shift
        if starts_on <= day <= ends_on:
            key_dates.append({"slug": item["slug"], "date": day, "name": dict(item["name"])})
    from orchestrator.services.sensitive_dates import moved_years

    data = campaign_data(source) | {
        "slug": slug, "name": name, "starts_on": starts_on, "ends_on": ends_on, "key_dates": key_dates,
        # a day of remembrance comes back on the same day of the year, not by the start's shift
        "sensitive_dates": moved_years(source.sensitive_dates,
                                       starts_on.year - source.starts_on.year if source.starts_on else 0) or None,
        "link_rules": dict(source.link_rules) | {"utm_campaign": slug},
    }
    campaign = create_campaign(session, actor=actor, data=data)
    kept = {k["slug"] for k in campaign.key_dates}
    for action in session.exec(select(CallToAction).where(CallToAction.campaign_id == source.id)):
        session.add(CallToAction(campaign_id=campaign.id, slug=action.slug, kind=action.kind,  # type: ignore[arg-type]
                                 label=dict(action.label), text=dict(action.text), url=dict(action.url),
                                 key_date=action.key_date if action.key_date in kept else None))
    for template in session.exec(select(Template).where(Template.campaign_id == source.id)):
        session.add(Template(campaign_id=campaign.id, slug=template.slug, action_slug=template.action_slug,  # type: ignore[arg-type]
                             language=template.language, body=template.body))
    copied = 0
    if include_cases:
        for case in session.exec(select(Case).where(Case.campaign_id == source.id).order_by(col(Case.position))):
            fields = case.model_dump(exclude={"id", "campaign_id", "status", "status_note", "status_changed_at",
                                              "created_at", "updated_at"})
            session.add(Case(campaign_id=campaign.id, **fields))  # type: ignore[arg-type]
            copied += 1
    session.flush()
    audit(session, actor=actor, action="edition_copy", target_type="campaign", target_id=campaign.slug,
          source=source.slug, cases=copied, key_dates_dropped=len(source.key_dates) - len(key_dates))
    return campaign


# ---------------------------------------------------------------------------------------------
# Back to the folder format


def case_data(case: Case) -> dict[str, Any]:
    """A case row as the content model's fields."""
    data = {
        "slug": case.slug, "position": case.position, "person": case.person, "country": case.country,
        "country_code": case.country_code, "status": case.status, "goal": case.goal, "story": case.story,
        "authority": case.authority, "ask": case.ask, "solidarity_kind": case.solidarity_kind,
        "solidarity_to": case.solidarity_to, "solidarity_address": case.solidarity_address,
        "image_alt": case.image_alt, "links": case.links or {}, "tags": list(case.tags),
        "listening": {k: dict(v) for k, v in (case.listening or {}).items()},
        "content_warning": dict(case.content_warning or {}),
        # the defaults are left out, as a case file would leave them out
        "visibility": None if (case.visibility or "public") == "public" else case.visibility,
        "self_labels": list(case.self_labels or []) or None,
        "reply_limit": case.reply_limit or None,
    }
    from orchestrator.services.consent import as_content

    data.update(as_content(case))
    return _clean(data)  # type: ignore[no-any-return]


def export_content(session: Session, *, campaign_id: int) -> Any:
    """The edition as it is in the database, as a ``content.model.CampaignContent`` (what
    ``content.loader.dump_campaign`` writes). Raises ServiceError listing what a folder would
    not accept (e.g. an edition created here with no call to action yet)."""
    from content.model import CallToAction as ActionModel
    from content.model import Campaign as CampaignModel
    from content.model import CampaignContent
    from content.model import Case as CaseModel
    from content.model import Template as TemplateModel

    campaign = get_campaign(session, campaign_id=campaign_id)
    cases = session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position)))
    actions = session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id)
                           .order_by(col(CallToAction.id)))
    templates = session.exec(select(Template).where(Template.campaign_id == campaign.id).order_by(col(Template.id)))
    content = CampaignContent(
        campaign=validated(CampaignModel, _clean(campaign_data(campaign)), what_fr="Édition", what_en="edition"),
        cases=[validated(CaseModel, case_data(c), what_fr=f"Cas {c.slug}", what_en=f"case {c.slug}") for c in cases],
        actions=[validated(ActionModel, _clean({"slug": a.slug, "kind": a.kind, "label": a.label, "text": a.text,
                                                "url": a.url or None, "key_date": a.key_date}),
                           what_fr=f"Appel à l'action {a.slug}", what_en=f"call to action {a.slug}") for a in actions],
        templates=[validated(TemplateModel, {"slug": t.slug, "action": t.action_slug, "language": t.language,
                                             "body": t.body},
                             what_fr=f"Modèle {t.slug}", what_en=f"template {t.slug}") for t in templates],
    )
    if not content.cases or not content.actions:
        raise ServiceError("Une édition sans cas ou sans appel à l'action ne peut pas être écrite en dossier.",
                           "An edition without cases or calls to action cannot be written as a folder.")
    return content


# ---------------------------------------------------------------------------------------------
# Key dates typed as lines (the dashboard's form)


def key_dates_text(campaign: Campaign) -> str:
    return "\n".join(f"{k['slug']} | {k['date']} | {k['name'].get('fr', '')} | {k['name'].get('en', '')}"
                     for k in campaign.key_dates)


def parse_key_dates(text: str) -> list[dict[str, Any]]:
    """``slug | YYYY-MM-DD | nom | name`` per line; the dates themselves are checked with the rest."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 4:
            raise ServiceError(f"Date clé, ligne {number} : il faut « identifiant | AAAA-MM-JJ | nom | name ».",
                               f"Key date, line {number}: expected 'identifier | YYYY-MM-DD | nom | name'.")
        found.append({"slug": parts[0], "date": parts[1], "name": {"fr": parts[2], "en": parts[3]}})
    return found


def campaign_zip(session: Session, *, campaign_id: int) -> bytes:
    """The edition as its content folder (``content.loader.dump_campaign``), zipped, for staff to
    keep it in a repository without the command line. Raises ServiceError as ``export_content``."""
    import io
    import tempfile
    import zipfile
    from pathlib import Path

    from content.loader import dump_campaign

    content = export_content(session, campaign_id=campaign_id)
    out = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder:
        root = dump_campaign(content, Path(folder) / content.campaign.slug)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root.parent).as_posix())
    return out.getvalue()
