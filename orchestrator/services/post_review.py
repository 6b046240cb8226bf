"""A post as each of its accounts will show it, and what stops it from going out.

Used where a post is checked before it leaves: Compose (before submitting), Approvals and the
posts page (the previews), and the submit and approve services (which refuse a post that would
fail at send time). Everything is offline: validators are built from each account's address and
options (:mod:`orchestrator.services.validators`), and no credentials are decrypted.

One broken thing never hides the rest: an image that cannot be read, or an account whose
preview cannot be built, becomes a problem on its own line.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from channels.base import Image
from orchestrator import states
from orchestrator.models import Account, Campaign, Case, Delivery, Post
from orchestrator.services.auth import ServiceError

#: A problem said in both languages.
Said = tuple[str, str]

#: Deliveries that no longer say where a post goes: a cancelled one is gone.
_GONE = (states.CANCELLED,)


def _name(item: dict[str, Any], number: int) -> str:
    return str(item.get("filename") or "") or f"n° {number}"


def decode_inline(item: dict[str, Any]) -> bytes:
    """The bytes of an image stored inline on a post (base64), or a ServiceError."""
    try:
        return base64.b64decode(str(item.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ServiceError("Le contenu de l'image est illisible.", "The image's content is unreadable.") from None


def check_images(items: list[dict[str, Any]], session: Session | None = None) -> tuple[list[Image], list[Said]]:
    """Each image read and decoded (a real PNG, JPEG, GIF or WebP): the good ones, and one problem
    per image that is not, naming it."""
    from orchestrator.services.media import load_image
    from orchestrator.services.media_library import inspect

    good: list[Image] = []
    problems: list[Said] = []
    for number, item in enumerate(items, start=1):
        try:
            if not isinstance(item, dict):
                raise ServiceError("Image sans contenu.", "Image without content.")
            image = load_image(item, session)
            inspect(image.data)
        except ServiceError as exc:
            name = _name(item if isinstance(item, dict) else {}, number)
            problems.append((f"Image {number} (« {name} ») : {exc.fr}", f"Image {number} ('{name}'): {exc.en}"))
            continue
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the page says it on this post
            problems.append((f"Image {number} illisible : {exc}", f"Image {number} unreadable: {exc}"))
            continue
        good.append(image)
    return good, problems


def chosen_accounts(session: Session, post: Post) -> list[tuple[Account, Delivery | None]]:
    """Where the post goes: every live delivery (in time order), then each account chosen when it
    was written that has no delivery yet."""
    rows = list(session.exec(
        select(Delivery, Account).join(Account, col(Account.id) == Delivery.account_id)
        .where(Delivery.post_id == post.id, col(Delivery.state).not_in(_GONE))
        .order_by(col(Delivery.scheduled_at), col(Delivery.id))
    ))
    out: list[tuple[Account, Delivery | None]] = [(account, delivery) for delivery, account in rows]
    scheduled = {account.id for account, _ in out}
    for account_id in post.accounts or []:
        if account_id in scheduled:
            continue
        account = session.get(Account, account_id)
        if account is not None:
            out.append((account, None))
            scheduled.add(account_id)
    return out


def _campaign_and_case(session: Session, post: Post) -> tuple[Campaign, Case | None]:
    campaign = session.get(Campaign, post.campaign_id)
    case = session.get(Case, post.case_id) if post.case_id else None
    assert campaign is not None
    return campaign, case


def _verdict(session: Session, post: Post, account: Account, images: list[Image],
             source_code: str, context: tuple[Campaign, Case | None] | None = None) -> tuple[str, Any, Any, float | None]:
    """The text that goes out on ``account``, the platform's verdict on it, its note and what
    publishing it costs (X bills per post; None elsewhere). ``context``: the
    post's edition and case, read once by a caller checking many accounts (the session keeps only
    weak references: a case read here alone would be read again for every delivery)."""
    from orchestrator.services.deliveries import rendered
    from orchestrator.services.validators import for_account

    campaign, case = context or _campaign_and_case(session, post)
    text, link = rendered(post, campaign=campaign, case=case, account=account, source_code=source_code)
    validator = for_account(account)
    check = validator.validate(text, images, content_warning=post.content_warning or "")
    cost = validator.channel.publish_cost(text, link)
    if post.parts:  # a thread: each other part by the same rules, and what the platform does with a thread
        import dataclasses

        from orchestrator.services.deliveries import post_parts
        from orchestrator.services.thread_parts import verdict

        def part_check(part_text: str, part_images: Any) -> Any:
            return validator.validate(part_text, list(part_images), content_warning=post.content_warning or "")

        parts = post_parts(post)
        problems, warnings = verdict(account.kind, part_check, [(p.text, p.images) for p in parts])
        check = dataclasses.replace(check, problems=(*check.problems, *problems), warnings=(*check.warnings, *warnings))
        if cost is not None:  # each part is a post of its own on the bill
            cost += sum(validator.channel.publish_cost(p.text) or 0.0 for p in parts)
    return text, check, validator.note, cost


def problems_of(session: Session, post: Post) -> list[Said]:
    """What would make this post fail on one of its accounts (images first), or break a consent
    withdrawn on a case (``services/consent.py``): [] when it may go."""
    from orchestrator.services.consent import problems as consent_problems

    images, problems = check_images(list(post.images or []), session)
    problems += consent_problems(session, post)
    context = _campaign_and_case(session, post)
    for account, _ in chosen_accounts(session, post):
        label = f"{account.name} ({platform(account.kind)})"
        try:
            _, check, _, _ = _verdict(session, post, account, images, "x" * 7, context)
        except ServiceError as exc:
            problems.append((f"{label} : {exc.fr}", f"{label}: {exc.en}"))
            continue
        except Exception as exc:  # noqa: BLE001 - a post that cannot be checked cannot be trusted to go
            problems.append((f"{label} : vérification impossible ({exc}).", f"{label}: cannot be checked ({exc})."))
            continue
        problems += [(f"{label} : {p.fr}", f"{label}: {p.en}") for p in check.problems]
    return problems


def refuse_if_problems(session: Session, post: Post, *, doing_fr: str, doing_en: str) -> None:
    problems = problems_of(session, post)
    if problems:
        raise ServiceError(f"Impossible de {doing_fr} : " + " · ".join(fr for fr, _ in problems),
                           f"Cannot {doing_en}: " + " · ".join(en for _, en in problems))


def platform(kind: str) -> str:
    from orchestrator.services.validators import platform_name

    return platform_name(kind)


def previews(session: Session, *, post: Post, language: str = "fr") -> list[dict[str, Any]]:
    """One row per account the post goes to: the text as it will go out (that account's variant,
    links tagged), its length against the limit, the platform's problems, a note when the limit
    is a default, the content warning, visibility and labels as that platform carries them (see
    ``content_warnings.preview_notes``), and ``error`` when this one preview could not be built."""
    from orchestrator.services import content_warnings, reply_limits, sensitive_dates

    images, _ = check_images(list(post.images or []), session)
    context = _campaign_and_case(session, post)
    rows: list[dict[str, Any]] = []
    for account, delivery in chosen_accounts(session, post):
        row: dict[str, Any] = {
            "delivery_id": delivery.id if delivery else None, "account": account.name, "kind": account.kind,
            "platform": platform(account.kind), "state": delivery.state if delivery else None,
            "scheduled_at": delivery.scheduled_at if delivery else None,
            "variant": str(account.id) in (post.variants or {}), "text": "", "length": 0, "limit": 0,
            "valid": False, "problems": [], "note": None, "error": None,
        }
        try:
            code = delivery.source_code if delivery else "x" * 7
            text, check, note, cost = _verdict(session, post, account, images, code, context)
            row["cost_usd"] = cost
            if delivery is not None and delivery.rendered_text and post.status == "approved":
                text = delivery.rendered_text  # what was frozen is what goes out
            row.update(text=text, length=check.length, limit=check.limit, valid=check.valid,
                       problems=[p.text(language) for p in check.problems],
                       warnings=[p.text(language) for p in check.warnings],
                       note=note.text(language) if note else None,
                       parts=[{"text": str(part.get("text") or ""), "images": len(part.get("images") or [])}
                              for part in post.parts or []])
            row.update(content_warnings.preview_notes(account.kind, row["platform"],
                                                      content_warnings.of_post(post), language))
            row["reply_limit_note"] = None if post.reply_to else reply_limits.preview_note(
                account.kind, row["platform"], reply_limits.of_case(context[1]), language)
            if delivery is not None and (day := sensitive_dates.warning(context[0], delivery.scheduled_at)):
                row["warnings"].append(day[0] if language == "fr" else day[1])  # worth a second look, not a refusal
        except ServiceError as exc:
            row["error"] = exc.text(language)
        except Exception as exc:  # noqa: BLE001 - this account's card says it; the others still show
            row["error"] = (f"Aperçu impossible pour ce compte : {exc}" if language == "fr"
                            else f"No preview for this account: {exc}")
        rows.append(row)
    return rows


def when_text(at: dt.datetime, tz: str, language: str = "fr") -> str:
    """An instant in the campaign's zone as people say it, for service messages."""
    from zoneinfo import ZoneInfo

    from babel.dates import format_datetime

    pattern, locale = (("d MMMM y, HH 'h' mm", "fr_CA") if language == "fr" else ("MMMM d, y, h:mm a", "en_CA"))
    return format_datetime(at, format=pattern, tzinfo=ZoneInfo(tz), locale=locale)
