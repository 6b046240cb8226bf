"""Writing once for several accounts: previews with each platform's verdict, then one post (with
its per-account variants) and its deliveries created together in one transaction (all or
nothing); scheduling a written post later."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Account, Campaign, Delivery, Post
from orchestrator.services import content_warnings, deliveries, link_cards, posts, reply_limits
from orchestrator.services.accounts import get_account
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.services.campaigns import current_campaign, get_case
from orchestrator.services.reports import next_free_slot
from orchestrator.timeutil import require_aware, utcnow


def _accounts(session: Session, names: list[str] | tuple[str, ...]) -> list[Account]:
    seen: dict[str, Account] = {}
    for name in names:
        if name not in seen:
            seen[name] = get_account(session, name=name)
    return list(seen.values())


def _variants_by_id(accounts: list[Account], variants: dict[str, str] | None, text: str) -> dict[str, str]:
    """Adjusted texts of the chosen accounts, keyed by account id; an empty adjustment, or one
    equal to the common text, is no adjustment. Adjustments of accounts no longer chosen go."""
    out = {}
    for account in accounts:
        body = ((variants or {}).get(account.name) or "").strip()
        if body and body != text.strip():
            out[str(account.id)] = body
    return out


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
    variants: dict[str, str] | None = None,
    content_warning: str | None = None,
    visibility: str | None = None,
    self_labels: list[str] | None = None,
    post_language: str | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The text as it will go out on each account (its variant, links tagged), with length,
    limit, problems and a note when the limit is a platform default; the content warning,
    visibility and labels as that platform carries them (``None``: the case's default for a post
    in ``post_language``; ``language`` is the reader's), and a
    note where it has no language field. Offline: no credentials are read, no platform is
    called. An account whose preview cannot be built gets ``error``; the others are still shown.
    ``parts``: a thread's parts after the first (``{"text", "images"}``): each account's row then
    has ``parts`` (each part's text, length, limit and problems) and what the platform does with
    a thread among its problems and warnings."""
    from orchestrator.services.post_review import check_images, platform
    from orchestrator.services.validators import for_account

    campaign = campaign or current_campaign(session)
    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    loaded, broken = check_images(list(images or []), session)
    broken += _consent_problems(session, campaign=campaign, case=case, text=text, variants=variants, images=images,
                                 parts=parts)
    image_problems = [fr if language == "fr" else en for fr, en in broken]
    thread = _loaded_parts(session, parts)
    for _, _, part_broken in thread:
        image_problems += [fr if language == "fr" else en for fr, en in part_broken]
    post_language = post_language or (language if language in ("fr", "en") else "fr")
    try:
        warning = content_warnings.resolve(case, post_language, text=content_warning, visibility=visibility,
                                           labels=self_labels)
    except ServiceError as exc:
        image_problems.append(exc.message(language))
        warning = content_warnings.case_default(case, post_language)
    result = []
    for name in dict.fromkeys(account_names):
        row: dict[str, Any] = {"account": name, "kind": "", "platform": "", "text": "", "length": 0, "limit": 0,
                               "valid": False, "problems": [], "note": None, "error": None, "variant": False}
        try:
            account = get_account(session, name=name)
            row.update(kind=account.kind, platform=platform(account.kind))
            row.update(content_warnings.preview_notes(account.kind, row["platform"], warning, language))
            row["reply_limit_note"] = reply_limits.preview_note(account.kind, row["platform"],
                                                                reply_limits.of_case(case), language)
            adjusted = _variants_by_id([account], variants, text)
            draft = Post(campaign_id=campaign.id or 0, text=text, link=link or None, variants=adjusted)
            out, out_link = deliveries.rendered(draft, campaign=campaign, case=case, account=account,
                                                source_code="a" * 7)
            validator = for_account(account)
            check = validator.validate(out, loaded, content_warning=warning.text)
            thread_problems, thread_warnings = _thread_verdict(account, validator, thread, warning.text)
            cost = validator.channel.publish_cost(out, out_link)
            if cost is not None:  # each part of a thread is a post of its own on the bill
                cost += sum(validator.channel.publish_cost(text_) or 0.0 for text_, _, _ in thread)
            row["cost_usd"] = cost
            row.update(text=out, length=check.length, limit=check.limit,
                       valid=check.valid and not image_problems and not thread_problems,
                       problems=image_problems + [p.text(language) for p in [*check.problems, *thread_problems]],
                       warnings=[p.text(language) for p in [*check.warnings, *thread_warnings]],
                       note=validator.note.text(language) if validator.note else None, variant=bool(adjusted),
                       parts=[_part_row(validator, text_, images_, warning.text, language)
                              for text_, images_, _ in thread])
        except ServiceError as exc:
            row["error"] = exc.text(language)
        except Exception as exc:  # noqa: BLE001 - this account's preview says it; the others still show
            row["error"] = (f"Aperçu impossible pour ce compte : {exc}" if language == "fr"
                            else f"No preview for this account: {exc}")
        result.append(row)
    return result


def _loaded_parts(session: Session, parts: list[dict[str, Any]] | None) -> list[tuple[str, list[Any], list[Any]]]:
    """A thread's parts after the first, blank ones left out: (text, images read, image problems)."""
    from orchestrator.services.post_review import check_images

    out = []
    for part in parts or []:
        text = str(part.get("text") or "").strip()
        loaded, broken = check_images(list(part.get("images") or []), session)
        if text or part.get("images"):
            out.append((text, loaded, broken))
    return out


def _thread_verdict(account: Account, validator: Any, thread: list[tuple[str, list[Any], list[Any]]],
                    content_warning: str) -> tuple[list[Any], list[Any]]:
    from orchestrator.services import thread_parts

    def check(text: str, images: Any) -> Any:
        return validator.validate(text, list(images), content_warning=content_warning)

    return thread_parts.verdict(account.kind, check, [(text, images) for text, images, _ in thread])


def _part_row(validator: Any, text: str, images: list[Any], content_warning: str, language: str) -> dict[str, Any]:
    check = validator.validate(text, images, content_warning=content_warning)
    return {"text": text, "length": check.length, "limit": check.limit, "valid": check.valid,
            "problems": [p.text(language) for p in check.problems], "images": len(images)}


def split_for_accounts(session: Session, *, text: str, account_names: list[str], numbered: bool = False,
                       content_warning: str = "") -> list[str]:
    """``text`` split at its sentences into parts that fit every chosen account (each platform's
    own count: X's weighted characters, Bluesky's graphemes, a Mastodon server's limit with its
    content warning); optionally numbered « 1/4 ». Offline."""
    from orchestrator.services import thread_parts
    from orchestrator.services.validators import for_account

    validators = [for_account(get_account(session, name=name)) for name in dict.fromkeys(account_names)]

    def fits(part: str) -> bool:
        return all(not any(p.code == "too_long" for p in v.validate(part, content_warning=content_warning).problems)
                   for v in validators)

    return thread_parts.split_story(text, fits, numbered=numbered)


def _consent_problems(session: Session, *, campaign: Campaign, case: Any, text: str,
                      variants: dict[str, str] | None, images: list[dict[str, Any]] | None,
                      parts: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """What in this text or its images breaks a consent withdrawn on a case: the same problems
    approval would refuse (``services/consent.py``), shown before submitting."""
    from orchestrator.services import consent

    draft = Post(campaign_id=campaign.id or 0, case_id=case.id if case else None, text=text,
                 variants={k: v for k, v in (variants or {}).items() if v}, images=list(images or []),
                 parts=list(parts or []))
    return consent.problems(session, draft)


def consent_check(session: Session, *, campaign: Campaign, case_slug: str | None, text: str,
                  variants: dict[str, str] | None = None, images: list[dict[str, Any]] | None = None,
                  ) -> list[tuple[str, str]]:
    """What in a text being written breaks a consent withdrawn on a case, before any account is
    chosen (the previews say it per account once there are)."""
    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    return _consent_problems(session, campaign=campaign, case=case, text=text, variants=variants, images=images)


@dataclasses.dataclass
class Composed:
    post: Post
    deliveries: list[Delivery]
    at: dt.datetime | None
    #: True when this form had already been submitted: nothing more was created.
    duplicate: bool = False
    #: What must be fixed before submitting (a draft may be saved with them): (fr, en) pairs.
    problems: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def posts(self) -> list[Post]:
        return [self.post]


def check_time(at: dt.datetime, *, publish_now: bool, tz: str, now: dt.datetime | None = None) -> dt.datetime:
    """A time already past is published only when the person said so (then: now, not the past
    time the calendar would show); otherwise refused with what to do."""
    from orchestrator.services.post_review import when_text

    now = now or utcnow()
    at = require_aware(at)
    if at > now:
        return at
    if publish_now:
        return now
    raise ServiceError(
        f"L'heure choisie ({when_text(at, tz, 'fr')}) est déjà passée : choisissez une heure à venir, "
        "ou confirmez « Publier dès l'approbation ».",
        f"The time chosen ({when_text(at, tz, 'en')}) has already passed: pick a time to come, "
        "or confirm 'Publish as soon as approved'.",
    )


def _problems(session: Session, *, text: str, link: str | None, case_slug: str | None,
              accounts: list[Account], images: list[dict[str, Any]], variants: dict[str, str],
              campaign: Campaign, content_warning: str = "",
              parts: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """Each chosen account's verdict on its text, with the images: (fr, en) problems."""
    from orchestrator.services.post_review import check_images, platform
    from orchestrator.services.validators import for_account

    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    loaded, problems = check_images(images, session)
    thread = _loaded_parts(session, parts)
    for _, _, broken in thread:
        problems += broken
    problems += _consent_problems(session, campaign=campaign, case=case, text=text, variants=variants, images=images,
                                  parts=parts)
    draft = Post(campaign_id=campaign.id or 0, text=text.strip(), link=link or None, variants=variants)
    for account in accounts:
        label = f"{account.name} ({platform(account.kind)})"
        out, _ = deliveries.rendered(draft, campaign=campaign, case=case, account=account, source_code="a" * 7)
        validator = for_account(account)
        check = validator.validate(out, loaded, content_warning=content_warning)
        problems += [(f"{label} : {p.fr}", f"{label}: {p.en}") for p in check.problems]
        thread_problems, _ = _thread_verdict(account, validator, thread, content_warning)
        problems += [(f"{label} : {p.fr}", f"{label}: {p.en}") for p in thread_problems]
    return problems


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
    publish_now: bool = False,
    submit: bool = False,
    sibling_id: int | None = None,
    campaign: Campaign | None = None,
    form_token: str | None = None,
    content_warning: str | None = None,
    visibility: str | None = None,
    self_labels: list[str] | None = None,
    link_card: dict[str, Any] | None = None,
    parts: list[dict[str, Any]] | None = None,
) -> Composed:
    """One post for all the chosen accounts, with the text adjusted per account (``variants``:
    account name -> text) kept on the post and approved once; scheduled on every account when a
    time is given, else the accounts are kept on the post for later.

    Every chosen account's rules are checked whether or not a time is set: a post that does not
    fit one of them cannot be submitted or scheduled (a draft without a time may be saved, and
    the result says what to fix). ``form_token`` names the form: the same form sent twice makes
    one post (the second call returns the first post with ``duplicate``). A past ``at`` is refused
    unless ``publish_now``. ``content_warning``, ``visibility``, ``self_labels``: ``None`` takes
    the case's default; checked before anything is saved. ``link_card``: the card of ``link`` as
    the preview read it (``link_cards.read_card``), with the title and description staff left;
    kept on the post, so approval does not read the page again. ``parts``: a thread's parts
    after the first (``{"text", "images"}``), checked for every chosen account like the text."""
    require(actor, "editor", "écrire une publication", "write a post")
    if form_token:
        existing = session.exec(select(Post).where(Post.form_token == form_token)).first()
        if existing is not None:
            earlier = list(session.exec(select(Delivery).where(Delivery.post_id == existing.id)))
            return Composed(post=existing, deliveries=earlier, duplicate=True,
                            at=min((d.scheduled_at for d in earlier), default=None))
    if (at is not None or next_free) and not account_names:
        raise ServiceError("Choisissez au moins un compte pour programmer.", "Pick at least one account to schedule.")
    campaign = campaign or current_campaign(session)  # the edition chosen in the dashboard
    case = get_case(session, slug=case_slug, campaign=campaign) if case_slug else None
    warning = content_warnings.resolve(case, language, text=content_warning, visibility=visibility,
                                       labels=self_labels)
    if at is not None:
        at = check_time(at, publish_now=publish_now, tz=campaign.timezone)
    chosen = _accounts(session, account_names)
    adjusted = _variants_by_id(chosen, variants, text)
    if next_free:
        at = next_free_slot(session, account_names=[a.name for a in chosen], tz=campaign.timezone)
    problems = _problems(session, text=text, link=link, case_slug=case_slug, accounts=chosen,
                         images=list(images or []), variants=adjusted, campaign=campaign,
                         content_warning=warning.text, parts=parts) if text.strip() else []
    if problems and (submit or at is not None):
        raise ServiceError(
            "Cette publication ne convient pas à tous les comptes choisis : " + " · ".join(fr for fr, _ in problems),
            "This post does not fit every account chosen: " + " · ".join(en for _, en in problems),
        )
    post = posts.create_post(
        session, actor=actor, case_slug=case_slug, language=language, text=text, link=link,
        action_slug=action_slug, images=images, submit=submit, campaign=campaign, sibling_id=sibling_id,
        variants=adjusted, accounts=[a.id for a in chosen if a.id is not None], form_token=form_token or None,
        content_warning=warning.text, visibility=warning.visibility, self_labels=list(warning.labels),
        parts=parts,
    )
    if link_card:
        link_cards.keep(post, link_card)
        session.add(post)
    made: list[Delivery] = []
    if at is not None:
        for account in chosen:
            made.append(deliveries.schedule(session, actor=actor, post_id=post.id, account_name=account.name, at=at))  # type: ignore[arg-type]
    audit(session, actor=actor, action="compose", target_type="post", target_id=post.id,
          accounts=[a.name for a in chosen], variants=sorted(adjusted), at=at.isoformat() if at else None)
    return Composed(post=post, deliveries=made, at=at, problems=problems)


def schedule_post(
    session: Session,
    *,
    actor: Actor,
    post_id: int,
    account_names: list[str],
    at: dt.datetime,
    publish_now: bool = False,
) -> list[Delivery]:
    """Schedule a written post (typically an approved one) on more accounts or at another time.
    A past time needs ``publish_now``; the same account twice at the same time is refused."""
    require(actor, "editor", "programmer une publication", "schedule a post")
    post = posts.get_post(session, post_id=post_id)
    if post.status == posts.REJECTED:
        raise ServiceError("Cette publication a été refusée : modifiez-la et soumettez-la d'abord.",
                           "This post was rejected: edit and submit it first.")
    if not account_names:
        raise ServiceError("Choisissez au moins un compte pour programmer.", "Pick at least one account to schedule.")
    campaign = session.get(Campaign, post.campaign_id)
    assert campaign is not None
    at = check_time(at, publish_now=publish_now, tz=campaign.timezone)
    chosen = _accounts(session, account_names)
    made = []
    for account in chosen:
        twin = session.exec(select(Delivery.id).where(
            Delivery.post_id == post.id, Delivery.account_id == account.id, Delivery.scheduled_at == at,
            col(Delivery.state).not_in((states.CANCELLED,)))).first()
        if twin is not None:
            raise ServiceError(f"Déjà programmée sur {account.name} à cette heure-là (envoi n° {twin}).",
                               f"Already scheduled on {account.name} at that time (delivery no. {twin}).")
        made.append(deliveries.schedule(session, actor=actor, post_id=post.id, account_name=account.name, at=at))  # type: ignore[arg-type]
        if account.id is not None and account.id not in post.accounts:
            post.accounts = [*post.accounts, account.id]  # a new list: the JSON column sees the change
    session.add(post)
    return made


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
