"""The inbox: the public's replies to our posts and mentions of our accounts, kept to be answered.

Unlike listening (counts only, services/listening.py), the inbox keeps each item's text, its
author's handle and its address on the platform: personal data, kept only as long as the inbox
needs them (docs/privacy.md). :func:`purge` empties those columns
``PORTEVOIX_INBOX_RETENTION_DAYS`` days (default 30) after the item was handled (``done`` or
``ignored``), and ``PORTEVOIX_INBOX_UNHANDLED_DAYS`` days (default 60) after it came in when
nobody handled it, leaving the row (platform, case, state, times) for the counts. Texts and
handles are never exported, never written to the logs nor to the audit trail (which names the
item by its id), and shown only to signed-in staff from the editor role up: a viewer sees counts.

An item is recorded once per account: ``item_key`` is the HMAC of the platform's id under the
listening key (unique with the account), so the same reply read again (a page re-read after a
crash, Facebook's window read every hour) is recognised, even after its id was purged.

Replying from the inbox writes a post with ``reply_to`` set (the item's platform id) and one
delivery on the item's account: the same path as any post (approval by someone else than its
author, never twice, "unconfirmed" then reconciled, rate budgets). The item becomes ``done`` when
that delivery is published (:func:`settle_replies`, run by the worker's inbox pass).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.base import InboxEntry, InboxPage
from orchestrator import states
from orchestrator.models import (
    INBOX_KINDS,
    INBOX_STATES,
    Account,
    Campaign,
    Case,
    Delivery,
    InboxItem,
    Post,
    SavedAnswer,
    User,
)
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.services.listening import cursor_row, post_key
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow

#: The listening cursor stream the inbox resumes from, per account.
STREAM = "inbox"
STATES = INBOX_STATES
NEW, TODO, DONE, IGNORED = INBOX_STATES
OPEN = (NEW, TODO)
HANDLED = (DONE, IGNORED)
STATE_LABELS = {
    NEW: {"fr": "nouveau", "en": "new"},
    TODO: {"fr": "à traiter", "en": "to do"},
    DONE: {"fr": "traité", "en": "done"},
    IGNORED: {"fr": "ignoré", "en": "ignored"},
}
MAX_WORDS = 200
MAX_TEXT = 10_000
#: Columns that hold personal data, emptied by :func:`purge`.
PERSONAL = ("text", "author", "url", "platform_item_id")

_TABLE: Any = InboxItem.__table__  # type: ignore[attr-defined]


def platforms() -> list[str]:
    """The kinds of account whose channel has an inbox (``Channel.inbox`` overridden)."""
    from channels.base import Channel
    from channels.registry import CHANNELS, channel_class

    return [kind for kind in CHANNELS if channel_class(kind).inbox is not Channel.inbox]


# ---------------------------------------------------------------------------------------------
# Flag words


def _fold(text: str) -> str:
    """Lower case without accents: "Traîtres" matches the word "traitres"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def flags(text: str, words: Iterable[str]) -> list[str]:
    """The campaign's words the text carries, as whole words (or the start of one: "traît"
    matches "traîtres"), accents and case aside."""
    folded = _fold(text)
    found = []
    for word in words:
        w = _fold(word.strip())
        if w and re.search(rf"(?<!\w){re.escape(w)}", folded):
            found.append(word.strip())
    return found


def set_words(session: Session, *, actor: Actor, campaign: Campaign, words: Sequence[str]) -> list[str]:
    """The campaign's flag words (one per line in the form); items already in the inbox are
    flagged again with them."""
    require(actor, "approver", "changer les mots à revoir", "change the flag words")
    clean = list(dict.fromkeys(w.strip() for w in words if w.strip()))[:MAX_WORDS]
    campaign.inbox_words = clean
    session.add(campaign)
    for item in session.exec(select(InboxItem).where(InboxItem.campaign_id == campaign.id,
                                                     col(InboxItem.text).is_not(None))):
        item.flagged = flags(item.text or "", clean)
        item.to_review = bool(item.flagged) and item.state in OPEN
        session.add(item)
    audit(session, actor=actor, action="inbox_words", target_type="campaign", target_id=campaign.slug,
          words=len(clean))
    return clean


# ---------------------------------------------------------------------------------------------
# Recording what the worker fetched


@dataclasses.dataclass
class Recorded:
    new: int = 0
    duplicates: int = 0
    flagged: int = 0


def _insert_ignore(session: Session, values: dict[str, Any]) -> bool:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(_TABLE).values(**values)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(_TABLE).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["account_id", "item_key"])
    return session.connection().execute(stmt.returning(_TABLE.c.id)).first() is not None


def record_page(session: Session, *, account: Account, campaign: Campaign | None, page: InboxPage, key: bytes,
                now: dt.datetime | None = None) -> Recorded:
    """Store one page's new items and the account's inbox cursor, in the caller's transaction.
    A reply is attached to the delivery it answers (and so its post and case); one of our own
    posts (a reply we published) is not the public's and is skipped."""
    assert account.id is not None
    now = now or utcnow()
    ids = {e.platform_id for e in page.entries} | {e.answers for e in page.entries if e.answers}
    ours: dict[str, tuple[int, int | None, int]] = {}
    if ids:
        rows = session.exec(
            select(Delivery.platform_id, Delivery.id, Post.case_id, Post.campaign_id)  # type: ignore[call-overload]
            .join(Account, col(Account.id) == Delivery.account_id)
            .join(Post, col(Post.id) == Delivery.post_id)
            .where(Account.kind == account.kind, col(Delivery.platform_id).in_(list(ids)))
        ).all()
        ours = {str(pid): (int(did or 0), cid, int(camp)) for pid, did, cid, camp in rows}
    words = list(campaign.inbox_words or []) if campaign is not None else []
    result = Recorded()
    for entry in page.entries:
        if entry.platform_id in ours or entry.kind not in INBOX_KINDS:
            continue
        delivery_id, case_id, campaign_id = None, None, campaign.id if campaign is not None else None
        if entry.answers and entry.answers in ours:
            delivery_id, case_id, campaign_id = ours[entry.answers]
        flagged = flags(entry.text, words)
        inserted = _insert_ignore(session, _values(account, entry, key=key, now=now, delivery_id=delivery_id,
                                                   case_id=case_id, campaign_id=campaign_id, flagged=flagged))
        if not inserted:
            result.duplicates += 1
            continue
        result.new += 1
        result.flagged += bool(flagged)
    row = cursor_row(session, account_id=account.id, stream=STREAM)
    if page.cursor is not None:
        row.cursor = page.cursor
    row.last_ok_at = now
    row.last_error = {}
    session.add(row)
    return result


def _values(account: Account, entry: InboxEntry, *, key: bytes, now: dt.datetime, delivery_id: int | None,
            case_id: int | None, campaign_id: int | None, flagged: list[str]) -> dict[str, Any]:
    return {
        "platform": account.kind, "account_id": account.id, "item_key": post_key(key, account.kind, entry.platform_id),
        "platform_item_id": entry.platform_id[:512], "kind": entry.kind, "campaign_id": campaign_id,
        "case_id": case_id, "delivery_id": delivery_id, "answers_id": (entry.answers or None),
        "text": entry.text[:MAX_TEXT], "author": entry.author[:256], "language": (entry.language or "")[:8],
        "url": entry.url, "received_at": entry.created_at, "found_at": now, "state": NEW, "flagged": flagged, "to_review": bool(flagged),
        "hidden": False, "hide_error": "",
    }


def settle_replies(session: Session, *, now: dt.datetime | None = None) -> int:
    """Items whose reply from the inbox is published become ``done``, by the reply's author."""
    now = now or utcnow()
    published = (sa.select(Delivery.post_id)  # type: ignore[call-overload]
                 .where(Delivery.state == states.PUBLISHED))
    rows = session.exec(select(InboxItem, Post.author).join(Post, col(Post.id) == InboxItem.reply_post_id)
                        .where(col(InboxItem.state).in_(OPEN), col(InboxItem.reply_post_id).in_(published))).all()
    for item, author in rows:
        item.state, item.handled_by, item.handled_at, item.to_review = DONE, author, now, False
        session.add(item)
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Privacy: the purge


#: Who "handled" an item nobody answered before its text was erased.
PURGED_BY = "purge"


def purge(session: Session, *, settings: Settings, now: dt.datetime | None = None) -> int:
    """Empty the texts, handles, addresses and platform ids of the items past the retention
    period: ``inbox_retention_days`` after they were handled, ``inbox_unhandled_days`` after they
    came in when nobody handled them. The rows stay (counts). Returns how many were purged."""
    now = now or utcnow()
    handled_before = now - dt.timedelta(days=max(0.0, settings.inbox_retention_days))
    unhandled_before = now - dt.timedelta(days=max(0.0, settings.inbox_unhandled_days))
    due = sa.and_(
        _TABLE.c.purged_at.is_(None),
        sa.or_(
            sa.and_(_TABLE.c.state.in_(HANDLED), _TABLE.c.handled_at < handled_before),
            sa.and_(_TABLE.c.state.in_(HANDLED), _TABLE.c.handled_at.is_(None), _TABLE.c.received_at < handled_before),
            sa.and_(_TABLE.c.state.in_(OPEN), _TABLE.c.received_at < unhandled_before),
        ),
    )
    # An item nobody handled is closed as it is erased ("ignoré", by the purge): with nothing left
    # to read or answer, it would otherwise wait as "nouveau" for ever in the counts.
    still_open = _TABLE.c.state.in_(OPEN)
    result = session.connection().execute(
        _TABLE.update().where(due).values(
            text=None, author=None, url=None, platform_item_id=None, flagged=[], to_review=False, hide_error="",
            purged_at=now, state=sa.case((still_open, "ignored"), else_=_TABLE.c.state),
            handled_by=sa.case((still_open, PURGED_BY), else_=_TABLE.c.handled_by),
            handled_at=sa.case((still_open, now), else_=_TABLE.c.handled_at)))
    return int(result.rowcount or 0)


# ---------------------------------------------------------------------------------------------
# Reading: the inbox page, the overview's counts


@dataclasses.dataclass(frozen=True)
class Filters:
    case_id: int | None = None
    platform: str | None = None
    account_id: int | None = None
    state: str | None = None
    language: str | None = None
    flagged_first: bool = True


@dataclasses.dataclass(frozen=True)
class Row:
    id: int
    platform: str
    account: str
    kind: str
    case: str
    post_text: str
    post_url: str | None
    text: str | None
    author: str | None
    language: str
    url: str | None
    received_at: dt.datetime
    state: str
    assigned_to: str | None
    handled_by: str | None
    handled_at: dt.datetime | None
    flagged: list[str]
    hidden: bool
    hide_error: str
    purged: bool
    reply_post_id: int | None


def _where(query: Any, campaign_id: int | None, filters: Filters) -> Any:
    if campaign_id is not None:
        query = query.where(_TABLE.c.campaign_id == campaign_id)
    if filters.case_id is not None:
        query = query.where(_TABLE.c.case_id == filters.case_id)
    if filters.platform:
        query = query.where(_TABLE.c.platform == filters.platform)
    if filters.account_id is not None:
        query = query.where(_TABLE.c.account_id == filters.account_id)
    if filters.state:
        query = query.where(_TABLE.c.state == filters.state)
    if filters.language:
        query = query.where(_TABLE.c.language == filters.language)
    return query


def count(session: Session, *, campaign_id: int | None, filters: Filters = Filters()) -> int:
    query = _where(sa.select(sa.func.count()).select_from(_TABLE), campaign_id, filters)
    return int(session.connection().execute(query).scalar() or 0)


def page(session: Session, *, actor: Actor, campaign_id: int | None, filters: Filters = Filters(),
         limit: int = 50, offset: int = 0, language: str = "fr") -> list[Row]:
    """One screen of the inbox, newest first (items with flag words first when asked), paged in
    SQL. Texts and handles only for the editor role up (a viewer is refused: counts only)."""
    require(actor, "editor", "lire les réponses du public", "read the public's replies")
    d = Delivery.__table__  # type: ignore[attr-defined]
    p = Post.__table__  # type: ignore[attr-defined]
    c = Case.__table__  # type: ignore[attr-defined]
    a = Account.__table__  # type: ignore[attr-defined]
    order: list[Any] = []
    if filters.flagged_first:
        # open items carrying flag words first ("à revoir en premier")
        order.append(_TABLE.c.to_review.desc())  # open items with flag words (ix_inbox_item_screen)
    order += [_TABLE.c.received_at.desc(), _TABLE.c.id.desc()]
    query = (sa.select(_TABLE, a.c.name.label("account_name"), c.c.person, c.c.slug.label("case_slug"),
                       p.c.text.label("post_text"), d.c.platform_url.label("post_url"))
             .select_from(_TABLE.join(a, a.c.id == _TABLE.c.account_id).outerjoin(d, d.c.id == _TABLE.c.delivery_id)
                          .outerjoin(p, p.c.id == d.c.post_id).outerjoin(c, c.c.id == _TABLE.c.case_id))
             .order_by(*order).limit(max(1, min(int(limit), 500))).offset(max(0, int(offset))))
    rows = session.connection().execute(_where(query, campaign_id, filters)).mappings().all()
    out = []
    for r in rows:
        person = r["person"] or {}
        out.append(Row(
            id=r["id"], platform=r["platform"], account=r["account_name"], kind=r["kind"],
            case=(person.get(language) or person.get("fr") or r["case_slug"] or "") if r["case_slug"] else "",
            post_text=r["post_text"] or "", post_url=r["post_url"], text=r["text"], author=r["author"],
            language=r["language"], url=r["url"], received_at=r["received_at"], state=r["state"],
            assigned_to=r["assigned_to"], handled_by=r["handled_by"], handled_at=r["handled_at"],
            flagged=list(r["flagged"] or []), hidden=bool(r["hidden"]), hide_error=r["hide_error"] or "",
            purged=r["purged_at"] is not None, reply_post_id=r["reply_post_id"]))
    return out


def open_by_case(session: Session, *, campaign_id: int | None) -> dict[int | None, int]:
    """Untreated items (nouveau, à traiter) per case (None: not about a case): the overview's
    counts, which every role sees."""
    query = (sa.select(_TABLE.c.case_id, sa.func.count()).where(_TABLE.c.state.in_(OPEN))
             .group_by(_TABLE.c.case_id))
    if campaign_id is not None:
        query = query.where(_TABLE.c.campaign_id == campaign_id)
    return {case_id: int(n) for case_id, n in session.connection().execute(query)}


def counts_by_state(session: Session, *, campaign_id: int | None) -> dict[str, int]:
    query = sa.select(_TABLE.c.state, sa.func.count()).group_by(_TABLE.c.state)
    if campaign_id is not None:
        query = query.where(_TABLE.c.campaign_id == campaign_id)
    found = {state: int(n) for state, n in session.connection().execute(query)}
    return {state: found.get(state, 0) for state in INBOX_STATES}


def languages(session: Session, *, campaign_id: int | None) -> list[str]:
    query = sa.select(_TABLE.c.language).distinct()
    if campaign_id is not None:
        query = query.where(_TABLE.c.campaign_id == campaign_id)
    return sorted(x for (x,) in session.connection().execute(query) if x)


def staff(session: Session) -> list[str]:
    """Who an item may be assigned to: enabled staff from the editor role up."""
    return [u.username for u in session.exec(select(User).where(col(User.disabled).is_(False),
                                                                col(User.role).in_(("editor", "approver", "admin")))
                                             .order_by(col(User.username)))]


# ---------------------------------------------------------------------------------------------
# Triage


def get_item(session: Session, *, item_id: int) -> InboxItem:
    item = session.get(InboxItem, item_id)
    if item is None:
        raise NotFound(f"Élément {item_id} introuvable dans la boîte de réception.", f"Inbox item {item_id} not found.")
    return item


def set_state(session: Session, *, actor: Actor, item_id: int, state: str) -> InboxItem:
    require(actor, "editor", "trier la boîte de réception", "triage the inbox")
    if state not in INBOX_STATES:
        raise ServiceError(f"État inconnu « {state} ».", f"Unknown state '{state}'.")
    item = get_item(session, item_id=item_id)
    item.state = state
    item.to_review = bool(item.flagged) and state in OPEN
    if state in HANDLED:
        item.handled_by, item.handled_at = actor.username, utcnow()
    else:
        item.handled_by, item.handled_at = None, None
    session.add(item)
    audit(session, actor=actor, action="inbox_state", target_type="inbox_item", target_id=item.id, state=state)
    return item


def assign(session: Session, *, actor: Actor, item_id: int, username: str | None) -> InboxItem:
    require(actor, "editor", "attribuer un élément de la boîte de réception", "assign an inbox item")
    item = get_item(session, item_id=item_id)
    if username and username not in staff(session):
        raise ServiceError(f"« {username} » n'est pas un membre de l'équipe qui peut répondre.",
                           f"'{username}' is not a staff member who can answer.")
    item.assigned_to = username or None
    if item.state == NEW and username:
        item.state = TODO
    session.add(item)
    audit(session, actor=actor, action="inbox_assign", target_type="inbox_item", target_id=item.id,
          assigned_to=username or "")
    return item


# ---------------------------------------------------------------------------------------------
# Protect: hide


def hide(session: Session, *, actor: Actor, item_id: int, timeout: float = 20.0) -> tuple[bool, dict[str, str]]:
    """Hide the item on its platform where the platform allows it. (True, {}) when hidden; else
    (False, {"fr", "en"}) saying why (Mastodon: report it to the instance), kept on the item."""
    from channels.base import ChannelError
    from orchestrator.services.accounts import build_channel

    require(actor, "editor", "masquer une réponse", "hide a reply")
    item = get_item(session, item_id=item_id)
    if item.platform_item_id is None:
        raise ServiceError("Cet élément a été purgé : il ne peut plus être masqué.",
                           "This item was purged: it can no longer be hidden.")
    account = session.get(Account, item.account_id)
    assert account is not None
    why: dict[str, str] = {}
    try:
        build_channel(account, timeout=timeout).hide_reply(item.platform_item_id, root=item.answers_id)
    except ChannelError as exc:
        why = {"fr": exc.text("fr"), "en": exc.text("en")}
    item.hidden = not why
    item.hide_error = why.get("fr", "") + ("\n" + why["en"] if why else "")
    session.add(item)
    audit(session, actor=actor, action="inbox_hide", target_type="inbox_item", target_id=item.id, ok=not why)
    return not why, why


# ---------------------------------------------------------------------------------------------
# Reply


def reply(session: Session, *, actor: Actor, item_id: int, text: str, language: str | None = None,
          at: dt.datetime | None = None) -> Post:
    """Write the reply to an item: a post about the item's case with ``reply_to`` the item's
    platform id, submitted for approval (approved by someone else than its author), with one
    delivery on the item's account, due at once (or ``at``) once approved."""
    from orchestrator.services import deliveries
    from orchestrator.services.posts import create_post

    require(actor, "editor", "répondre au public", "answer the public")
    item = get_item(session, item_id=item_id)
    if item.platform_item_id is None:
        raise ServiceError("Cet élément a été purgé : on ne peut plus y répondre.",
                           "This item was purged: it can no longer be answered.")
    if item.reply_post_id is not None:
        raise ServiceError("Une réponse à cet élément existe déjà.", "A reply to this item already exists.")
    account = session.get(Account, item.account_id)
    assert account is not None
    case = session.get(Case, item.case_id) if item.case_id else None
    campaign = session.get(Campaign, item.campaign_id) if item.campaign_id else None
    lang = language or (item.language[:2] if item.language[:2] in ("fr", "en") else account.language or "fr")
    post = create_post(session, actor=actor, case_slug=case.slug if case else None, language=lang, text=text,
                       submit=True, campaign=campaign, accounts=[account.id or 0])
    post.reply_to = item.platform_item_id
    session.add(post)
    session.flush()
    deliveries.schedule(session, actor=actor, post_id=post.id or 0, account_name=account.name, at=at or utcnow())
    item.reply_post_id = post.id
    if item.state == NEW:
        item.state = TODO
    item.assigned_to = item.assigned_to or actor.username
    session.add(item)
    audit(session, actor=actor, action="inbox_reply", target_type="inbox_item", target_id=item.id, post=post.id)
    return post


def answered_by(session: Session, *, actor: Actor, post_id: int) -> InboxItem | None:
    """The inbox item a reply post answers (the approvals page shows it beside the reply)."""
    require(actor, "editor", "lire les réponses du public", "read the public's replies")
    return session.exec(select(InboxItem).where(InboxItem.reply_post_id == post_id)).first()


# ---------------------------------------------------------------------------------------------
# Saved answers


def saved_answers(session: Session, *, campaign_id: int, language: str | None = None) -> list[SavedAnswer]:
    query = select(SavedAnswer).where(SavedAnswer.campaign_id == campaign_id)
    if language:
        query = query.where(SavedAnswer.language == language)
    return list(session.exec(query.order_by(col(SavedAnswer.language), col(SavedAnswer.title))))


def save_answer(session: Session, *, actor: Actor, campaign_id: int, language: str, title: str, text: str,
                answer_id: int | None = None) -> SavedAnswer:
    """Add a saved answer, or change one (``answer_id``)."""
    require(actor, "editor", "enregistrer une réponse type", "save an answer")
    if language not in ("fr", "en"):
        raise ServiceError(f"Langue inconnue « {language} » : fr ou en.", f"Unknown language '{language}': fr or en.")
    if not title.strip() or not text.strip():
        raise ServiceError("Une réponse type a un titre et un texte.", "A saved answer has a title and a text.")
    answer = session.get(SavedAnswer, answer_id) if answer_id else SavedAnswer(campaign_id=campaign_id, title="",
                                                                                text="")
    if answer is None or answer.campaign_id != campaign_id:
        raise NotFound(f"Réponse type {answer_id} introuvable.", f"Saved answer {answer_id} not found.")
    answer.language, answer.title, answer.text = language, title.strip()[:140], text.strip()
    answer.updated_by, answer.updated_at = actor.username, utcnow()
    session.add(answer)
    session.flush()
    audit(session, actor=actor, action="saved_answer", target_type="saved_answer", target_id=answer.id)
    return answer


def delete_answer(session: Session, *, actor: Actor, answer_id: int) -> None:
    require(actor, "editor", "supprimer une réponse type", "delete a saved answer")
    answer = session.get(SavedAnswer, answer_id)
    if answer is not None:
        session.delete(answer)
        audit(session, actor=actor, action="saved_answer_delete", target_type="saved_answer", target_id=answer_id)
