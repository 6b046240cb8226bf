"""Sending the outbox: the words of each message, e-mail through SMTP, signed webhooks.

Called by :class:`orchestrator.worker.notifier.Notifier` outside any transaction. Every webhook
request carries ``X-Porte-Voix-Timestamp`` (Unix seconds) and ``X-Porte-Voix-Signature``
(``v1=`` + hex HMAC-SHA256, keyed by the address's secret, of ``<timestamp>.`` followed by the
body's bytes), and ``X-Porte-Voix-Id``, the message's id: a receiver checks the signature, refuses
an old timestamp (replay), and drops an id it has seen (a message sent again after a crash). An
e-mail carries the same id in its Message-ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

import httpx

from orchestrator.models import NotificationOutbox
from orchestrator.services.notify import EVENTS
from orchestrator.settings import Settings

SIGNATURE = "X-Porte-Voix-Signature"
TIMESTAMP = "X-Porte-Voix-Timestamp"
MESSAGE_ID = "X-Porte-Voix-Id"
#: A receiver should refuse a signature older than this (seconds): a replayed request.
TOLERANCE = 300


class SendError(Exception):
    """The address refused or could not be reached; ``permanent``: trying again will not help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return "v1=" + hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
           tolerance: int = TOLERANCE) -> bool:
    """What a receiver does (and the tests): the signature matches and is recent."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((now or time.time()) - stamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


# ---------------------------------------------------------------------------------------------
# Words


def _line(row: NotificationOutbox, fr: bool) -> str:
    d = row.data or {}
    e = row.event
    if e == "approval_requested":
        return (f"Publication n° {d.get('post_id')} de {d.get('author')} à approuver : « {d.get('text', '')[:120]} »" if fr
                else f"Post #{d.get('post_id')} by {d.get('author')} awaits approval: “{d.get('text', '')[:120]}”")
    if e == "rejected":
        return (f"Votre publication n° {d.get('post_id')} a été refusée par {d.get('by')} : {d.get('comment')}" if fr
                else f"Your post #{d.get('post_id')} was rejected by {d.get('by')}: {d.get('comment')}")
    if e in ("delivery_failed", "failed"):
        return (f"Envoi n° {d.get('delivery_id')} (publication n° {d.get('post_id')}) en échec : {d.get('error', '')}" if fr
                else f"Delivery #{d.get('delivery_id')} (post #{d.get('post_id')}) failed: {d.get('error', '')}")
    if e == "delivery_unconfirmed":
        return (f"Envoi n° {d.get('delivery_id')} non confirmé : une personne doit vérifier s'il est paru. {d.get('error', '')}"
                if fr else f"Delivery #{d.get('delivery_id')} unconfirmed: someone must check whether it went out. "
                f"{d.get('error', '')}")
    if e == "account_unhealthy":
        return (f"Le compte {d.get('account')} ({d.get('kind')}) est en panne : {d.get('error', '')}. Ses envois attendent."
                if fr else f"Account {d.get('account')} ({d.get('kind')}) is unhealthy: {d.get('error', '')}. Its deliveries wait.")
    if e == "worker_down":
        return (f"Aucun travailleur en marche depuis {d.get('since', '?')} UTC : rien ne part." if fr
                else f"No worker alive since {d.get('since', '?')} UTC: nothing goes out.")
    if e == "behind_pace":
        return (f"Le cas {d.get('case')} est en retard : {d.get('total')} actions, {d.get('projected')} prévues "
                f"pour un objectif de {d.get('goal')}." if fr else
                f"Case {d.get('case')} is behind: {d.get('total')} actions, {d.get('projected')} projected "
                f"against a goal of {d.get('goal')}.")
    if e == "milestone":
        return (f"{d.get('milestone'):,} actions pour {d.get('case')} ! ".replace(",", "\u202f") if fr
                else f"{d.get('milestone'):,} actions for {d.get('case')}!")
    if e == "published":
        return (f"Envoi n° {d.get('delivery_id')} publié." if fr else f"Delivery #{d.get('delivery_id')} published.")
    if e == "digest":
        return (f"Aujourd'hui : {d.get('published', 0)} envois publiés, {d.get('failed', 0)} en échec, "
                f"{d.get('actions', 0)} actions reçues. Demain : {d.get('tomorrow', 0)} envois prévus." if fr else
                f"Today: {d.get('published', 0)} deliveries published, {d.get('failed', 0)} failed, "
                f"{d.get('actions', 0)} actions received. Tomorrow: {d.get('tomorrow', 0)} deliveries scheduled.")
    if e == "test":
        return ("Essai : les notifications de Porte-voix arrivent bien ici." if fr
                else "Test: Porte-voix notifications arrive here.")
    return e


def words(rows: list[NotificationOutbox], *, dashboard_url: str = "") -> tuple[str, str]:
    """Subject and text of one message telling of ``rows`` (one kind, one address)."""
    first = rows[0]
    fr = first.language != "en"
    event = EVENTS.get(first.event)
    label = (event.label["fr" if fr else "en"] if event else first.event)
    subject = f"Porte-voix — {label}" + (f" ({len(rows)})" if len(rows) > 1 else "")
    lines = [_line(r, fr) for r in rows[:50]]
    if len(rows) > 50:
        lines.append(f"… et {len(rows) - 50} autres." if fr else f"… and {len(rows) - 50} more.")
    if dashboard_url:
        lines.append("")
        lines.append(("Tableau de bord : " if fr else "Dashboard: ") + dashboard_url)
    return subject, "\n".join(lines)


def chat_payload(fmt: str, subject: str, text: str) -> dict[str, Any]:
    """Slack's and Mattermost's incoming webhooks read ``text``; Teams reads a MessageCard."""
    if fmt == "teams":
        return {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": subject,
                "title": subject, "text": text.replace("\n", "  \n")}
    payload: dict[str, Any] = {"text": f"*{subject}*\n{text}" if fmt == "slack" else f"**{subject}**\n{text}"}
    if fmt == "mattermost":
        payload["username"] = "Porte-voix"
    return payload


def hook_payload(rows: list[NotificationOutbox], message_id: int) -> dict[str, Any]:
    return {"id": message_id, "event": rows[0].event,
            "sent_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "events": [{k: v for k, v in (r.data or {}).items() if not k.startswith("_")} for r in rows]}


# ---------------------------------------------------------------------------------------------
# Transports


def send_email(settings: Settings, *, to: str, subject: str, text: str, message_id: int) -> None:
    if not settings.smtp_host:
        raise SendError("PORTEVOIX_SMTP_HOST is not set")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.smtp_from, to, subject
    domain = settings.smtp_from.rsplit("@", 1)[-1] or "localhost"
    msg["Message-ID"] = f"<porte-voix-{message_id}@{domain}>"
    msg.set_content(text)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if settings.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout,
                                    context=context)
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=context)
            password = settings.smtp_password.get_secret_value()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise SendError(f"recipient refused: {_smtp_codes(exc.recipients)}", permanent=True) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"SMTP authentication failed ({exc.smtp_code})") from None  # never the password
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP: {type(exc).__name__}: {str(exc)[:200]}") from None


def _smtp_codes(recipients: dict[str, Any]) -> str:
    return ", ".join(str(v[0]) for v in recipients.values())


def post_json(url: str, payload: dict[str, Any], *, secret: str, message_id: int, timeout: float = 10.0,
              allow_private: bool = False) -> int:
    """POST ``payload`` signed; returns the status. 2xx is sent; 4xx (but 408, 429) will not get
    better by trying again; anything else is tried again. The host must resolve to public
    addresses only (unless ``allow_private``), and the request goes to the address checked."""
    from urllib.parse import urlsplit

    from orchestrator.services.link_cards import Unreadable, _check_host, _pinned

    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    stamp = int(time.time())
    headers = {"Content-Type": "application/json", TIMESTAMP: str(stamp), MESSAGE_ID: str(message_id),
               SIGNATURE: sign(secret, stamp, body), "User-Agent": "Porte-voix"}
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        address = _check_host(host, parts.port or (443 if parts.scheme == "https" else 80), allow_private=allow_private)
    except (ValueError, Unreadable) as exc:
        raise SendError(str(exc), permanent=True) from None
    target, pinned_headers, extensions = _pinned(url, host, address)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(target, content=body, headers={**headers, **pinned_headers}, extensions=extensions)
    except httpx.HTTPError as exc:
        raise SendError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if 200 <= response.status_code < 300:
        return response.status_code
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
    raise SendError(f"HTTP {response.status_code}", permanent=permanent)
