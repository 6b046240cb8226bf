"""Writing once for several accounts: previews with each platform's verdict, then posts and
their deliveries created together in one transaction (all or nothing)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlmodel import Session, select

from orchestrator.models import Account, Campaign, Delivery, Post
from orchestrator.services import deliveries, posts
from orchestrator.services.accounts import get_account
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.services.campaigns import current_campaign, get_case
from orchestrator.services.reports import next_free_slot


def preview(
    session: Session,
    *,
    text: str,
    link: str | None,
    case_slug: str | None,
    account_names: list[str],
    images: list[dict[str, Any]] | None = None,
    language: str = "fr",
    campaign: Campaign | None = None,
) -> list[dict[str, Any]]:
    """The text as it will go out on each account (links tagged), with length and problems.
    Offline: no credentials are read, no platform is called."""
    from channels.base import AccountConfig
    from channels.registry import channel_class
    from orchestrator.services.media import load_image

    campaign = campaign or current_campaign(session)
    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    draft = Post(campaign_id=campaign.id or 0, text=text, link=link or None)
    loaded = [load_image(i) for i in images or []]
    result = []
    for name in account_names:
        account = get_account(session, name=name)
        out, _ = deliveries.rendered(draft, campaign=campaign, case=case, account=account, source_code="a" * 7)
        channel = channel_class(account.kind)(AccountConfig(kind=account.kind, name=account.name, credentials={}))
        check = channel.validate(out, loaded)
        result.append({"account": name, "kind": account.kind, "text": out, "length": check.length,
                       "limit": check.limit, "valid": check.valid,
                       "problems": [p.text(language) for p in check.problems]})
    return result


@dataclasses.dataclass
class Composed:
    posts: list[Post]
    deliveries: list[Delivery]
    at: dt.datetime | None


def compose(
    session: Session,
    *,
    actor: Actor,
    case_slug: str | None,
    language: str,
    text: str,
    link: str | None = None,
    action_slug: str | None = None,
    images: list[dict[str, Any]] | None = None,
    account_names: list[str] = (),  # type: ignore[assignment]
    variants: dict[str, str] | None = None,
    at: dt.datetime | None = None,
    next_free: bool = False,
    submit: bool = False,
    sibling_id: int | None = None,
    campaign: Campaign | None = None,
) -> Composed:
    """One post for the common text, one more per distinct adjusted text, each scheduled on its
    accounts. ``variants`` maps an account name to the text adjusted for it.

    Each text is a post of its own because approval freezes exactly what goes out."""
    require(actor, "editor", "écrire une publication", "write a post")
    if (at is not None or next_free) and not account_names:
        raise ServiceError("Choisissez au moins un compte pour programmer.", "Pick at least one account to schedule.")
    campaign = campaign or current_campaign(session)  # the edition chosen in the dashboard
    if next_free:
        at = next_free_slot(session, account_names=list(account_names), tz=campaign.timezone)
    groups: dict[str, list[str]] = {text.strip(): []}
    for name in account_names:
        adjusted = ((variants or {}).get(name) or text).strip()
        groups.setdefault(adjusted, []).append(name)
    made_posts: list[Post] = []
    made_deliveries: list[Delivery] = []
    for body, names in groups.items():
        if not names and account_names:
            continue  # every account got its own text: the common one is not needed
        post = posts.create_post(
            session, actor=actor, case_slug=case_slug, language=language, text=body, link=link,
            action_slug=action_slug, images=images, submit=submit, campaign=campaign,
            sibling_id=sibling_id if not made_posts else None,
        )
        made_posts.append(post)
        if at is not None:
            for name in names:
                made_deliveries.append(deliveries.schedule(session, actor=actor, post_id=post.id, account_name=name, at=at))  # type: ignore[arg-type]
    audit(session, actor=actor, action="compose", target_type="post", target_id=",".join(str(p.id) for p in made_posts),
          accounts=list(account_names), at=at.isoformat() if at else None)
    return Composed(posts=made_posts, deliveries=made_deliveries, at=at)


def link_siblings(session: Session, *, actor: Actor, post_id: int, sibling_id: int) -> None:
    """Mark a French post and its English counterpart as the same message."""
    require(actor, "editor", "lier deux publications", "link two posts")
    first = posts.get_post(session, post_id=post_id)
    second = posts.get_post(session, post_id=sibling_id)
    if first.id == second.id or first.language == second.language:
        raise ServiceError("Liez une publication française à une publication anglaise.",
                           "Link a French post with an English one.")
    first.sibling_id, second.sibling_id = second.id, first.id
    session.add(first)
    session.add(second)
    audit(session, actor=actor, action="link_siblings", target_type="post", target_id=first.id, sibling=second.id)


def my_posts(session: Session, *, actor: Actor, limit: int = 50, campaign: Campaign | None = None) -> list[Post]:
    campaign = campaign or current_campaign(session)
    return list(session.exec(
        select(Post).where(Post.campaign_id == campaign.id, Post.author == actor.username)
        .order_by(Post.updated_at.desc()).limit(limit)  # type: ignore[attr-defined]
    ))


def schedulable_accounts(session: Session, *, language: str | None = None) -> list[Account]:
    """Accounts a post in ``language`` may go to: those of that language and those with none."""
    query = select(Account).order_by(Account.kind, Account.name)
    return [a for a in session.exec(query) if language is None or a.language in (None, language)]
