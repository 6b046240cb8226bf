"""Notifications: who hears of what, written to the outbox in the event's own transaction.

An event (a post submitted for approval, a delivery failed…) calls :func:`emit` inside the
transaction that makes it happen: one :class:`~orchestrator.models.NotificationOutbox` row per
address that wants it (a staff member's e-mail and chat webhook, an integration's webhook), or
none. Nothing is sent here: the worker (and the link service, which also notices when no worker is
alive) sends the rows (``orchestrator.worker.notifier``), so a mail server that is down never
slows or fails a publication, and a rolled-back event leaves no notification behind.

Grouping: rows of one kind for one address take the due time of the pending row already waiting
for that address (``notify_group_seconds`` after the first), so fifty failures in a minute go out
as one message. ``dedupe`` names an event that several processes may notice (a digest, no worker
alive, a milestone): its rows are written once, whoever notices first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
import secrets as pysecrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from orchestrator import secrets
from orchestrator.errors import ServiceError
from orchestrator.models import IntegrationWebhook, NotificationOutbox, NotificationPreference, User
from orchestrator.services.auth import ROLES, Actor, audit, require
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.notify")


@dataclasses.dataclass(frozen=True)
class Event:
    name: str
    #: the least role that may hear of it (the author of a rejected post hears of it whatever)
    role: str
    label: dict[str, str]
    #: sent as one message with the others of its kind due for the same address
    grouped: bool = True


EVENTS: dict[str, Event] = {e.name: e for e in (
    Event("approval_requested", "approver", {"fr": "Publication à approuver", "en": "Post awaiting approval"}),
    Event("rejected", "editor", {"fr": "Ma publication refusée", "en": "My post rejected"}, grouped=False),
    Event("delivery_failed", "editor", {"fr": "Envoi en échec", "en": "Delivery failed"}),
    Event("delivery_unconfirmed", "editor", {"fr": "Envoi non confirmé", "en": "Delivery unconfirmed"}),
    Event("account_unhealthy", "editor", {"fr": "Compte en panne (jeton expiré, révoqué)",
                                          "en": "Account unhealthy (token expired, revoked)"}),
    Event("worker_down", "editor", {"fr": "Aucun travailleur en marche", "en": "No worker alive"}, grouped=False),
    Event("behind_pace", "viewer", {"fr": "Cas en retard sur son rythme", "en": "Case behind its pace"}),
    Event("milestone", "viewer", {"fr": "Palier atteint", "en": "Milestone reached"}),
    Event("digest", "viewer", {"fr": "Bilan du jour", "en": "Daily digest"}, grouped=False),
    Event("test", "viewer", {"fr": "Essai", "en": "Test"}, grouped=False),
)}
#: What staff may choose on the Notifications page (a test is asked for, not chosen).
CHOOSABLE = tuple(name for name in EVENTS if name != "test")
#: What integrations' webhooks may be told of, and the staff event each one comes with.
HOOK_EVENTS = {"published": "published", "delivery_failed": "failed", "milestone": "milestone"}
FORMATS = ("slack", "mattermost", "teams")
#: Milestones a case's actions cross (« 1 000 cartes au marathon ! »).
MILESTONES = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000)

_EMAIL = re.compile(r"^[^\s@<>,;]+@[^\s@<>,;]+\.[^\s@<>,;]+$")


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _eligible(user: User, event: Event, data: dict[str, Any]) -> bool:
    if event.name == "rejected":
        return user.username == data.get("author")
    if event.name == "approval_requested" and user.username == data.get("author"):
        return False  # four eyes: the author cannot approve it anyway
    return user.role in ROLES and ROLES.index(user.role) >= ROLES.index(event.role)


def _hook_addresses(session: Session, event: str) -> list[IntegrationWebhook]:
    hook_name = HOOK_EVENTS.get(event)
    if hook_name is None:
        return []
    hooks = session.exec(select(IntegrationWebhook).where(col(IntegrationWebhook.active).is_(True))).all()
    return [h for h in hooks if hook_name in (h.events or [])]


def emit(session: Session, event: str, data: dict[str, Any], *, only: set[str] | None = None,
         dedupe: str | None = None, now: dt.datetime | None = None, settings: Settings | None = None) -> int:
    """Write the outbox rows of one event, in the caller's transaction; returns how many.
    ``only``: these usernames at most (a test); ``dedupe``: the event's name for once-only."""
    return emit_many(session, event, [data], only=only, dedupe=[dedupe] if dedupe else None, now=now,
                     settings=settings)


def emit_many(session: Session, event: str, items: list[dict[str, Any]], *, only: set[str] | None = None,
              dedupe: list[str] | None = None, now: dt.datetime | None = None,
              settings: Settings | None = None) -> int:
    """:func:`emit` for several events of one kind (a batch of publications)."""
    kind = EVENTS.get(event)
    if (kind is None and event not in HOOK_EVENTS) or not items:
        return 0
    settings = settings or get_settings()
    now = now or utcnow()
    rows: list[dict[str, Any]] = []
    if kind is not None:
        query = (select(User, NotificationPreference)
                 .join(NotificationPreference, col(NotificationPreference.username) == col(User.username))
                 .where(col(User.disabled).is_(False)))
        for user, pref in session.exec(query).all():
            if (only is not None and user.username not in only) or (event != "test" and event not in pref.events):
                continue
            for index, data in enumerate(items):
                if not _eligible(user, kind, data):
                    continue
                base = {"event": event, "recipient": user.username, "language": user.language, "data": data,
                        "dedupe": dedupe[index] if dedupe else None}
                if pref.email:
                    rows.append({**base, "channel": "email", "address": pref.email})
                if pref.webhook_url:
                    rows.append({**base, "channel": "chat", "address": pref.webhook_url,
                                 "data": {**data, "_format": pref.webhook_format}})
    for hook in _hook_addresses(session, event):
        for index, data in enumerate(items):
            rows.append({"event": HOOK_EVENTS[event], "recipient": f"webhook:{hook.id}", "language": "en",
                         "channel": "hook", "address": hook.url, "data": data,
                         "dedupe": dedupe[index] if dedupe else None})
    if not rows:
        return 0
    grouped = kind is None or kind.grouped
    window = dt.timedelta(seconds=settings.notify_group_seconds)
    due: dict[tuple[str, str, str], dt.datetime] = {}
    if grouped:
        waiting = session.exec(
            select(NotificationOutbox.channel, NotificationOutbox.address, NotificationOutbox.event,
                   sa.func.min(NotificationOutbox.due_at))
            .where(NotificationOutbox.state == "pending", col(NotificationOutbox.attempts) == 0,
                   col(NotificationOutbox.due_at) > now,
                   col(NotificationOutbox.event).in_({r["event"] for r in rows}))
            .group_by(col(NotificationOutbox.channel), col(NotificationOutbox.address), col(NotificationOutbox.event))
        ).all()
        for channel, address, name, at in waiting:
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=dt.UTC)
            due[(channel, address, name)] = at
    values = []
    for row in rows:
        key = (row["channel"], row["address"], row["event"])
        at = due.setdefault(key, now + window) if grouped else now
        values.append({
            "event": row["event"], "recipient": row["recipient"][:64], "channel": row["channel"],
            "address": row["address"], "language": row["language"], "data": row["data"], "state": "pending",
            "due_at": at, "attempts": 0, "last_error": "", "created_at": now,
            "dedupe_key": f"{row['dedupe']}:{row['recipient']}:{row['channel']}"[:160] if row["dedupe"] else None,
        })
    table: Any = NotificationOutbox.__table__  # type: ignore[attr-defined]
    written = 0
    for value in values:  # one by one: a duplicate of a once-only event is skipped, not an error
        statement = _insert(session)(table).values(**value)
        if value["dedupe_key"]:
            statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
        # RETURNING says whether the row went in (rowcount is -1 on PostgreSQL)
        written += len(session.execute(statement.returning(table.c.id)).all())
    return written


def emit_safely(session: Session, event: str, items: list[dict[str, Any]]) -> None:
    """:func:`emit_many` from the publishing path: in a savepoint, and whatever goes wrong is
    logged, never raised. A notification must not cost a publication its record."""
    if not items:
        return
    try:
        with session.begin_nested():
            emit_many(session, event, items)
    except Exception:
        log.exception("could not write the %s notification(s); the publication is recorded", event)


# ---------------------------------------------------------------------------------------------
# Preferences


def check_email(address: str) -> str:
    address = address.strip()
    if address and (len(address) > 254 or not _EMAIL.match(address)):
        raise ServiceError(f"Adresse de courriel invalide : « {address} ».", f"Invalid e-mail address: '{address}'.")
    return address


def check_webhook_url(url: str) -> str:
    from urllib.parse import urlsplit

    url = url.strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc \
            or len(url) > 500:
        raise ServiceError(f"Adresse de webhook invalide : « {url} » (https://…).",
                           f"Invalid webhook address: '{url}' (https://…).")
    return url


def preference(session: Session, *, username: str) -> NotificationPreference:
    return session.get(NotificationPreference, username) or NotificationPreference(username=username)


def save_preference(session: Session, *, actor: Actor, username: str, events: list[str], email: str = "",
                    webhook_url: str = "", webhook_format: str = "slack") -> tuple[NotificationPreference, str | None]:
    """Save someone's choices (each person their own; an admin anyone's). Returns the row and,
    when a chat webhook is set for the first time or changed, its new signing secret (shown once)."""
    if actor.username != username:
        require(actor, "admin", "changer les notifications d'une autre personne", "change someone else's notifications")
    unknown = [e for e in events if e not in CHOOSABLE]
    if unknown:
        raise ServiceError(f"Événement inconnu : {', '.join(unknown)}.", f"Unknown event: {', '.join(unknown)}.")
    if webhook_format not in FORMATS:
        raise ServiceError(f"Format inconnu « {webhook_format} » ({', '.join(FORMATS)}).",
                           f"Unknown format '{webhook_format}' ({', '.join(FORMATS)}).")
    row = preference(session, username=username)
    email, webhook_url = check_email(email), check_webhook_url(webhook_url)
    new_secret = None
    if webhook_url and (webhook_url != row.webhook_url or not row.webhook_secret):
        new_secret = pysecrets.token_urlsafe(32)
        row.webhook_secret = secrets.encrypt({"secret": new_secret})
    if not webhook_url:
        row.webhook_secret = ""
    row.events = [e for e in CHOOSABLE if e in events]
    row.email, row.webhook_url, row.webhook_format = email, webhook_url, webhook_format
    row.updated_at = utcnow()
    session.add(row)
    audit(session, actor=actor, action="notify_prefs", target_type="user", target_id=username,
          events=row.events, email=bool(email), webhook=bool(webhook_url))
    return row, new_secret


def send_test(session: Session, *, actor: Actor) -> int:
    """A test message to each of the actor's own addresses, sent at once by the next pass."""
    pref = session.get(NotificationPreference, actor.username)
    if pref is None or not (pref.email or pref.webhook_url):
        raise ServiceError("Aucune adresse enregistrée : indiquez un courriel ou un webhook, puis enregistrez.",
                           "No address saved: give an e-mail or a webhook, then save.")
    return emit(session, "test", {"by": actor.username}, only={actor.username})


# ---------------------------------------------------------------------------------------------
# What the dashboard shows


def recent(session: Session, *, recipient_prefix: str = "", limit: int = 100) -> list[NotificationOutbox]:
    query = select(NotificationOutbox).order_by(col(NotificationOutbox.id).desc()).limit(limit)
    if recipient_prefix:
        query = query.where(col(NotificationOutbox.recipient).startswith(recipient_prefix))
    return list(session.exec(query).all())
