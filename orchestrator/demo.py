"""Sandbox accounts and a demo schedule, so a newcomer sees posts go out within a minute."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
from pathlib import Path

from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Account, CallToAction, Delivery, Post, Template
from orchestrator.services import accounts as account_service
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.services.campaigns import current_campaign, list_cases
from orchestrator.timeutil import utcnow

SANDBOX_ACCOUNTS = [
    ("x", "sandbox-x-fr", "fr"),
    ("mastodon", "sandbox-mastodon-fr", "fr"),
    ("bluesky", "sandbox-bluesky-fr", "fr"),
    ("facebook", "sandbox-facebook-fr", "fr"),
    ("x", "sandbox-x-en", "en"),
]
DEMO_AUTHOR = "demo"


def ensure_sandbox_accounts(session: Session, *, base_url: str) -> list[Account]:
    have = {a.name: a for a in session.exec(select(Account).where(Account.is_sandbox == True))}  # noqa: E712
    result = []
    for kind, name, language in SANDBOX_ACCOUNTS:
        account = have.get(name)
        if account is None:
            account = account_service.add_account(
                session, kind=kind, name=name, language=language, base_url=base_url, is_sandbox=True,
                credentials=account_service.SANDBOX_CREDENTIALS[kind],
            )
        elif account.base_url != base_url:
            account.base_url = base_url
            session.add(account)
        result.append(account)
    return result


def has_real_accounts(session: Session) -> bool:
    return session.exec(select(Account).where(Account.is_sandbox == False)).first() is not None  # noqa: E712


def schedule_demo(session: Session, *, accounts: list[Account], count: int = 8, first_in: int = 5,
                  every: int = 20, now: dt.datetime | None = None) -> int:
    """Approved posts rendered from the campaign's templates, going out from ``first_in`` seconds
    from now. Does nothing if demo deliveries are still waiting."""
    from content.render import render_template_text

    now = now or utcnow()
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
            post = posts.create_post(session, actor=SYSTEM, case_slug=case.slug, language=language, text=text,
                                     link=None, action_slug=action.slug, campaign=campaign)
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
        users.add_user(session, username=username, password=password, role=role)
        made.append((username, role, password))
    home.mkdir(parents=True, exist_ok=True)
    path = home / "demo-logins.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("Comptes de démonstration (bac à sable) / demo logins\n")
        for username, role, password in made:
            handle.write(f"{username}\t{role}\t{password}\n")
    return made
