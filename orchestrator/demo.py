"""Sandbox accounts and a demo schedule, so a newcomer sees posts go out within a minute."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from channels.registry import KINDS
from orchestrator import states
from orchestrator.models import Account, CallToAction, Campaign, Delivery, Post, Template
from orchestrator.services import accounts as account_service
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.services.campaigns import current_campaign, list_cases
from orchestrator.timeutil import utcnow

#: One French sandbox account per platform, and an English one on the first, to show both languages.
SANDBOX_ACCOUNTS = [(kind, f"sandbox-{kind}-fr", "fr") for kind in KINDS] + [(KINDS[0], f"sandbox-{KINDS[0]}-en", "en")]
DEMO_AUTHOR = "demo"


def ensure_sandbox_accounts(session: Session, *, base_url: str) -> list[Account]:
    have = {a.name: a for a in session.exec(select(Account).where(Account.is_sandbox == True))}  # noqa: E712
    result = []
    for kind, name, language in SANDBOX_ACCOUNTS:
        account = have.get(name)
        if account is None:
            account = account_service.add_account(
                session, actor=SYSTEM, kind=kind, name=name, language=language, base_url=base_url, is_sandbox=True,
                credentials=account_service.SANDBOX_CREDENTIALS[kind],
            )
        elif account.base_url != base_url:
            account.base_url = base_url
            session.add(account)
        result.append(account)
    return result


def has_real_accounts(session: Session) -> bool:
    return session.exec(select(Account).where(Account.is_sandbox == False)).first() is not None  # noqa: E712


# ---------------------------------------------------------------------------------------------
# An edition in progress, whatever the date

DEMO_SLUG = "demonstration"
DEMO_NAME = {"fr": "Démonstration — Écrire, ça libère !", "en": "Demo — Write for Rights"}
#: Off season, today is placed this many days before the marathon.
DAYS_BEFORE_MARATHON = 3


def _plus_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def dates_around(source: Campaign, today: dt.date) -> tuple[dt.date, dt.date, list[dict[str, Any]]]:
    """``source``'s first day, last day and key dates, moved so that ``today`` falls inside.

    By whole years when that is enough (in season: the marathon and 10 December keep their
    days); otherwise by days, so that today comes a few days before the marathon (or a third of
    the way through when there is none), every key date moving with it."""
    start = source.starts_on or today - dt.timedelta(days=30)
    end = source.ends_on or start + dt.timedelta(days=90)
    key_dates = [(dict(item), dt.date.fromisoformat(str(item["date"]))) for item in source.key_dates or []]
    for years in (today.year - start.year - 1, today.year - start.year):
        if _plus_years(start, years) <= today <= _plus_years(end, years):
            return (_plus_years(start, years), _plus_years(end, years),
                    [item | {"date": _plus_years(day, years).isoformat()} for item, day in key_dates])
    marathon = next((day for item, day in key_dates if "marathon" in str(item.get("slug", ""))), None)
    anchor = (marathon - dt.timedelta(days=DAYS_BEFORE_MARATHON) if marathon and start <= marathon <= end
              else start + (end - start) / 3)
    shift = today - anchor
    return start + shift, end + shift, [item | {"date": (day + shift).isoformat()} for item, day in key_dates]


#: 6 December in Canada: the National Day of Remembrance and Action on Violence against Women
#: (the École Polytechnique, 1989); in 2025 also the Montréal marathon's day. Posts scheduled on it
#: carry a warning for the approver (services/sensitive_dates.py).
REMEMBRANCE_DAY = (12, 6, {"fr": "Journée nationale de commémoration et d'action contre la violence faite aux femmes",
                           "en": "National Day of Remembrance and Action on Violence against Women"})


def demo_sensitive_dates(starts_on: dt.date, ends_on: dt.date) -> list[dict[str, Any]]:
    """Each 6 December of the demonstration edition's window (and the first after its start, if
    none falls inside), as its sensitive dates."""
    month, day, label = REMEMBRANCE_DAY
    days = [dt.date(year, month, day) for year in range(starts_on.year, ends_on.year + 1)]
    inside = [d for d in days if starts_on <= d <= ends_on] or [d for d in days if d >= starts_on][:1] or \
        [dt.date(starts_on.year + 1, month, day)]
    return [{"date": d.isoformat(), "label": dict(label)} for d in inside]


def ensure_demo_campaign(session: Session, *, today: dt.date) -> Campaign:
    """The current edition if it is in progress ``today``; otherwise a demonstration edition (a
    copy of the newest edition with its cases, calls to action and templates), made or moved
    around today and made current, so that ``up`` on any date shows a campaign under way rather
    than a finished one whose countdowns all say « passé »."""
    from orchestrator.services import campaign_admin
    from orchestrator.services.campaign_results import RUNNING, phase

    current = current_campaign(session)
    if phase(current, today=today) == RUNNING:
        return current
    demo = session.exec(select(Campaign).where(Campaign.slug == DEMO_SLUG)).first()
    sources = [e for e in campaign_admin.list_campaigns(session) if e.slug != DEMO_SLUG]
    source = sources[0] if sources else current
    starts_on, ends_on, key_dates = dates_around(source, today)
    made = demo is None
    if demo is None:  # copy_campaign moves key dates by days: they are set again below, by years when it can
        demo = campaign_admin.copy_campaign(session, actor=SYSTEM, source_id=source.id, slug=DEMO_SLUG,  # type: ignore[arg-type]
                                     name=DEMO_NAME, starts_on=starts_on, ends_on=ends_on, include_cases=True)
    if made or phase(demo, today=today) != RUNNING:
        campaign_admin.update_campaign(session, actor=SYSTEM, campaign_id=demo.id,  # type: ignore[arg-type]
                                changes={"starts_on": starts_on, "ends_on": ends_on, "key_dates": key_dates,
                                         "sensitive_dates": demo_sensitive_dates(starts_on, ends_on) or None})
    campaign_admin.set_current(session, actor=SYSTEM, campaign_id=demo.id)  # type: ignore[arg-type]
    return demo


#: Each demonstration case's pace against its goal: some ahead, some behind, as in a real week.
DEMO_PACE = (1.25, 0.8, 1.1, 0.95, 0.7, 1.05, 0.9, 1.3)


def seed_demo_responses(session: Session, *, campaign: Campaign, today: dt.date) -> int:
    """Letters and signatures counted per day since the demonstration edition began, so that
    its goal bars move (some cases on track, some behind) instead of all standing at zero.
    Only for the demonstration edition, and only once; returns the rows written."""
    from orchestrator.models import Response

    if campaign.slug != DEMO_SLUG or campaign.starts_on is None or campaign.ends_on is None:
        return 0
    cases = list_cases(session, campaign=campaign)
    ids = [c.id for c in cases]
    if not ids or session.exec(select(Response.id).where(col(Response.case_id).in_(ids))).first() is not None:
        return 0
    length = (campaign.ends_on - campaign.starts_on).days + 1
    made = 0
    day = campaign.starts_on
    while day < today:
        for i, case in enumerate(cases):
            per_day = case.goal * DEMO_PACE[i % len(DEMO_PACE)] / length
            count = round(per_day * (0.6 + 0.8 * ((day.toordinal() * 7 + i * 13) % 11) / 10))
            if count:
                session.add(Response(case_id=case.id, kind="letter" if (day.toordinal() + i) % 3 else "signature",  # type: ignore[arg-type]
                                     count=count, day=day, source_type="tally", entered_by=DEMO_AUTHOR))
                made += 1
        day += dt.timedelta(days=1)
    session.flush()
    return made


def campaign_in_progress(session: Session, *, now: dt.datetime | None = None) -> Campaign:
    """The edition the demo shows at ``now`` (its date in the campaign's zone): in progress, with
    its responses counted so far (:func:`ensure_demo_campaign`, :func:`seed_demo_responses`)."""
    now = now or utcnow()
    today = now.astimezone(ZoneInfo(current_campaign(session).timezone)).date()
    campaign = ensure_demo_campaign(session, today=today)
    seed_demo_responses(session, campaign=campaign, today=today)
    return campaign


def schedule_demo(session: Session, *, accounts: list[Account], count: int = 8, first_in: int = 5,
                  every: int = 20, now: dt.datetime | None = None) -> int:
    """Approved posts rendered from the campaign's templates, going out from ``first_in`` seconds
    from now, in an edition in progress (:func:`ensure_demo_campaign`). Does nothing more if demo
    deliveries are still waiting."""
    from content.render import render_template_text

    now = now or utcnow()
    campaign_in_progress(session, now=now)
    waiting = session.exec(
        select(Delivery.id).join(Post, col(Post.id) == Delivery.post_id)
        .where(Post.author == DEMO_AUTHOR, col(Delivery.state).in_(states.CLAIMABLE))
    ).first()
    if waiting is not None:
        return 0
    campaign = current_campaign(session)
    cases = [c for c in list_cases(session, campaign=campaign) if c.status == "active"]
    templates = list(session.exec(select(Template).where(Template.campaign_id == campaign.id)))
    actions = {a.slug: a for a in session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id))}
    made = 0
    slots = itertools.count()
    for i, case in enumerate(itertools.islice(itertools.cycle(cases), count)):
        for language in ("fr", "en"):
            targets = [a for a in accounts if a.language == language]
            usable = [t for t in templates if t.language == language and t.action_slug in actions]
            if not targets or not usable:
                continue
            template = usable[i % len(usable)]
            action = actions[template.action_slug]
            link = (action.url or {}).get(language) or (case.links.get("page") or {}).get(language)
            text = render_template_text(template.body, campaign=campaign, case=case, action=action,
                                        language=language, link=link)
            name = (case.person or {}).get(language) or case.slug
            post = posts.create_post(session, actor=SYSTEM, case_slug=case.slug, language=language, text=text,
                                     link=None, action_slug=action.slug, campaign=campaign,
                                     images=[demo_card(name, language)])
            post.author = DEMO_AUTHOR
            posts.approve_post(session, actor=SYSTEM, post_id=post.id)  # type: ignore[arg-type]
            for account in targets:
                at = now + dt.timedelta(seconds=first_in + every * next(slots) / max(1, len(accounts)))
                try:
                    deliveries.schedule(session, actor=SYSTEM, post_id=post.id, account_name=account.name, at=at)  # type: ignore[arg-type]
                except Exception:  # a template too long for one platform must not stop the demo
                    continue
                made += 1
    return made


def demo_card(name: str, language: str) -> dict[str, str]:
    """A drawn card for a demo post (a JPEG, 4:5, as Instagram takes it): the campaign's yellow,
    the person's name and the call to write, with its alt text. Instagram publishes no post
    without an image, and the others show it too."""
    import base64
    import io

    from PIL import Image as PILImage
    from PIL import ImageDraw

    call = "Écrivez pour" if language == "fr" else "Write for"
    card = PILImage.new("RGB", (1080, 1350), (255, 255, 0))
    draw = ImageDraw.Draw(card)
    draw.rectangle((60, 60, 1020, 1290), outline=(0, 0, 0), width=12)
    draw.text((120, 520), call, fill=(0, 0, 0), font=_font(72))
    draw.text((120, 640), name, fill=(0, 0, 0), font=_font(88))
    out = io.BytesIO()
    card.save(out, "JPEG", quality=85)
    alt = (f"Carte jaune de la campagne : « {call} {name} »." if language == "fr"
           else f"Yellow campaign card: “{call} {name}”.")
    return {"data": base64.b64encode(out.getvalue()).decode(), "mime_type": "image/jpeg", "alt": alt,
            "filename": "carte.jpg"}


def _font(size: int) -> Any:
    """A system font with the accents of the names (« López », « Écrivez »); Pillow's own default
    draws them as boxes, so it is only the last resort."""
    from PIL import ImageFont

    for name in ("DejaVuSans.ttf", "NotoSans-Regular.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


DEMO_USERS = [("redaction", "editor"), ("approbation", "approver"), ("admin", "admin")]


def ensure_demo_users(session: Session, *, home: Path) -> list[tuple[str, str, str]]:
    """On a machine with no staff account yet, demo logins for each role. Their passwords are
    drawn at random, shown once by ``up`` and kept in ``home/demo-logins.txt`` (mode 0600)."""
    from orchestrator.models import User
    from orchestrator.services import users

    if session.exec(select(User.id)).first() is not None:
        return []
    made = []
    for username, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        users.add_user(session, actor=SYSTEM, username=username, password=password, role=role)
        made.append((username, role, password))
    home.mkdir(parents=True, exist_ok=True)
    path = home / "demo-logins.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("Comptes de démonstration (bac à sable) / demo logins\n")
        for username, role, password in made:
            handle.write(f"{username}\t{role}\t{password}\n")
    return made
