"""The notifier: sends the outbox (``orchestrator.services.notify``), and notices what no single
action announces (no worker alive, the daily digest, a case behind its pace, a milestone).

Sending, like publishing, claims before it acts: due rows are taken in one transaction (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a time) and marked ``sending`` with a
lease and this process's id, so two workers (or a worker and the link service) never send the same
row. Rows of one kind for one address that are due together go out as one message. The message
is sent outside any transaction; its end is written only if the row is still ours. An error is
counted and the row is tried again after a growing delay (``notify_backoff_*``), up to
``notify_max_attempts``; an address that refuses for good (HTTP 4xx, a refused recipient) ends it
``failed`` at once. Nothing here raises into its caller: a notification never stops publishing.

A process that dies after sending and before writing so leaves its rows ``sending``; when their
lease ends they are sent again, under the same message id (the e-mail's Message-ID, the webhook's
``X-Porte-Voix-Id``): a mail client or a receiver that keeps the ids it saw shows it once. That is
the one case where a message can reach an address twice; a row is never lost.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import secrets, states
from orchestrator.db import session_scope
from orchestrator.models import (
    Campaign,
    Case,
    Delivery,
    IntegrationWebhook,
    NotificationOutbox,
    NotificationPreference,
    Post,
    Response,
    WorkerHeartbeat,
)
from orchestrator.services import notify
from orchestrator.services import notify_send as transport
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.notify")
PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


@dataclasses.dataclass
class Report:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    messages: int = 0


def _key(row: NotificationOutbox) -> tuple[str, str, str, str]:
    return (row.channel, row.address, row.event, row.recipient)


class Notifier:
    def __init__(self, engine: sa.Engine, settings: Settings, worker_id: str, *,
                 email: Callable[..., None] | None = None, post: Callable[..., int] | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.id = worker_id
        self.postgres = engine.dialect.name == "postgresql"
        self.email = email or transport.send_email
        self.post = post or transport.post_json

    # ------------------------------------------------------------------------------------------
    # sending

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Rows whose sender died (lease over) are due again, keeping their message id."""
        now = now or utcnow()
        table: Any = NotificationOutbox.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine) as session:
            result = session.connection().execute(
                table.update().where(table.c.state == SENDING, table.c.lease_until < now)
                .values(state=PENDING, worker_id=None, lease_until=None, due_at=now))
            return int(result.rowcount or 0)

    def claim(self, now: dt.datetime | None = None, *, limit: int = 500) -> list[list[NotificationOutbox]]:
        """Due rows, taken for this process and grouped by (address, kind, recipient)."""
        now = now or utcnow()
        with session_scope(self.engine) as session:
            query = (select(NotificationOutbox)
                     .where(NotificationOutbox.state == PENDING, col(NotificationOutbox.due_at) <= now)
                     .order_by(col(NotificationOutbox.due_at), col(NotificationOutbox.id)).limit(limit))
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.exec(query))
            groups: dict[tuple[str, str, str, str], list[NotificationOutbox]] = {}
            for row in rows:
                groups.setdefault(_key(row), []).append(row)
            lease = now + dt.timedelta(seconds=self.settings.notify_lease_seconds)
            for group in groups.values():
                message_id = min(r.message_id or r.id or 0 for r in group)
                for row in group:
                    row.state, row.worker_id, row.lease_until = SENDING, self.id, lease
                    row.message_id = message_id
                    session.add(row)
            return list(groups.values())

    def _secret(self, row: NotificationOutbox) -> str:
        with Session(self.engine) as session:
            if row.channel == "hook":
                hook = session.get(IntegrationWebhook, int(row.recipient.split(":", 1)[1]))
                stored = hook.secret if hook else ""
            else:
                pref = session.get(NotificationPreference, row.recipient)
                stored = pref.webhook_secret if pref else ""
        return secrets.decrypt(stored).get("secret", "") if stored else ""

    def send_group(self, group: list[NotificationOutbox]) -> None:
        """Send one message for ``group``; raises :class:`transport.SendError` (or anything)."""
        first = group[0]
        message_id = first.message_id or first.id or 0
        if first.channel == "hook":
            self.post(first.address, transport.hook_payload(group, message_id), secret=self._secret(first),
                      message_id=message_id, allow_private=self.settings.webhooks_allow_private)
            return
        subject, text = transport.words(group, dashboard_url=self.settings.dashboard_url)
        if first.channel == "email":
            self.email(self.settings, to=first.address, subject=subject, text=text, message_id=message_id)
        else:
            fmt = str((first.data or {}).get("_format", "slack"))
            self.post(first.address, transport.chat_payload(fmt, subject, text), secret=self._secret(first),
                      message_id=message_id, allow_private=self.settings.webhooks_allow_private)

    def finish(self, group: list[NotificationOutbox], error: BaseException | None, now: dt.datetime | None = None) -> str:
        """Write how sending ``group`` ended, for the rows still ours; returns their new state."""
        now = now or utcnow()
        ids = [r.id for r in group]
        with session_scope(self.engine) as session:
            query = select(NotificationOutbox).where(col(NotificationOutbox.id).in_(ids),
                                                     NotificationOutbox.state == SENDING,
                                                     NotificationOutbox.worker_id == self.id)
            if self.postgres:
                query = query.with_for_update()
            rows = list(session.exec(query))
            state = SENT
            for row in rows:
                row.worker_id, row.lease_until = None, None
                if error is None:
                    row.state, row.sent_at, row.last_error = SENT, now, ""
                else:
                    row.attempts += 1
                    row.last_error = str(error)[:500] or type(error).__name__
                    permanent = isinstance(error, transport.SendError) and error.permanent
                    if permanent or row.attempts >= self.settings.notify_max_attempts:
                        row.state = FAILED
                    else:
                        delay = min(self.settings.notify_backoff_base * 2 ** (row.attempts - 1),
                                    self.settings.notify_backoff_max)
                        row.state, row.due_at = PENDING, now + dt.timedelta(seconds=delay)
                state = row.state
                session.add(row)
            return state

    def send_due(self, now: dt.datetime | None = None, *, max_rounds: int = 20) -> Report:
        """Sweep, then claim and send until nothing is due (bounded); never raises."""
        report = Report()
        try:
            self.sweep(now)
            for _ in range(max_rounds):
                groups = self.claim(now)
                if not groups:
                    break
                for group in groups:
                    error: BaseException | None = None
                    try:
                        self.send_group(group)
                    except Exception as exc:  # noqa: BLE001 - any failure is the row's, not the caller's
                        error = exc
                        log.warning("notification %s to %s: %s", group[0].event, group[0].channel, str(exc)[:200])
                    state = self.finish(group, error, now)
                    report.messages += 1
                    if state == SENT:
                        report.sent += len(group)
                    elif state == FAILED:
                        report.failed += len(group)
                    else:
                        report.retried += len(group)
        except Exception:
            log.exception("sending notifications failed; trying again at the next tick")
        return report

    # ------------------------------------------------------------------------------------------
    # what no single action announces

    def watch(self, now: dt.datetime | None = None) -> None:
        """Every check below; each on its own, none raises."""
        for check in (self.watch_workers, self.daily, self.milestones):
            try:
                check(now)
            except Exception:
                log.exception("notification check %s failed", check.__name__)

    def watch_workers(self, now: dt.datetime | None = None) -> bool:
        """"No worker alive", told once per outage (its key is the last heartbeat's time). Run by
        the link service and by any worker, so it is told even when every worker is gone."""
        now = now or utcnow()
        stale = now - dt.timedelta(seconds=self.settings.heartbeat_stale_seconds)
        with session_scope(self.engine) as session:
            alive = session.exec(select(sa.func.count()).select_from(WorkerHeartbeat)
                                 .where(WorkerHeartbeat.running(stale))).one()
            last = session.exec(select(sa.func.max(WorkerHeartbeat.last_seen))).one()  # type: ignore[call-overload]
            if alive or last is None:
                return False  # alive, or none ever started (a fresh installation)
            if isinstance(last, str):
                last = dt.datetime.fromisoformat(last)
            if last.tzinfo is None:
                last = last.replace(tzinfo=dt.UTC)
            since = last.strftime("%Y-%m-%d %H:%M")
            notify.emit(session, "worker_down", {"since": since}, dedupe=f"worker_down:{last.isoformat()}", now=now,
                        settings=self.settings)
            return True

    def daily(self, now: dt.datetime | None = None) -> None:
        """The digest at ``notify_digest_hour`` (the edition's time), and the cases behind pace."""
        now = now or utcnow()
        with session_scope(self.engine) as session:
            campaign = session.exec(select(Campaign).where(col(Campaign.is_current).is_(True))).first()
            if campaign is None:
                return
            tz = ZoneInfo(campaign.timezone)
            local = now.astimezone(tz)
            if local.hour < self.settings.notify_digest_hour:
                return
            today = local.date()
            notify.emit(session, "digest", digest(session, campaign=campaign, today=today),
                        dedupe=f"digest:{campaign.id}:{today}", now=now, settings=self.settings)
            from orchestrator.services.campaign_results import RUNNING, phase
            from orchestrator.services.responses import pace

            if phase(campaign, today=today) != RUNNING:
                return
            _, per_case = pace(session, campaign=campaign, today=today)
            for p in per_case:
                if p.behind:
                    notify.emit(session, "behind_pace", {"case": p.label.get("fr") or p.slug, "slug": p.slug,
                                                         "total": p.total, "projected": p.projected, "goal": p.goal},
                                dedupe=f"pace:{p.slug}:{today}", now=now, settings=self.settings)

    def milestones(self, now: dt.datetime | None = None) -> int:
        """A case whose actions crossed a milestone: told once per milestone, with a draft post
        offered for approval (« 1 000 actions pour … ! »)."""
        now = now or utcnow()
        told = 0
        with session_scope(self.engine) as session:
            campaign = session.exec(select(Campaign).where(col(Campaign.is_current).is_(True))).first()
            if campaign is None:
                return 0
            from orchestrator.services.responses import totals_by_case

            totals = totals_by_case(session, campaign=campaign)
            for case in session.exec(select(Case).where(Case.campaign_id == campaign.id)):
                total = totals.get(case.id or 0, 0)
                reached = [m for m in notify.MILESTONES if m <= total]
                if not reached:
                    continue
                milestone = reached[-1]
                data = {"case": case.label("fr"), "slug": case.slug, "milestone": milestone, "total": total}
                if notify.emit(session, "milestone", data, dedupe=f"milestone:{case.id}:{milestone}", now=now,
                               settings=self.settings) or not _offered(session, case.id or 0, milestone):
                    told += 1
                    _offer_post(session, campaign, case, milestone)
        return told


def _offered(session: Session, case_id: int, milestone: int) -> bool:
    return session.exec(select(Post.id).where(Post.case_id == case_id, Post.author == "system",
                                              col(Post.form_token) == f"milestone-{case_id}-{milestone}")).first() is not None


def _offer_post(session: Session, campaign: Campaign, case: Case, milestone: int) -> None:
    """The draft post offered for approval, once per case and milestone (its form token)."""
    if _offered(session, case.id or 0, milestone):
        return
    number = f"{milestone:,}".replace(",", "\u202f")
    # The campaign's hashtags are kept with their "#" (as the campaign's file writes them).
    tags = " ".join("#" + t.strip().lstrip("#") for t in (campaign.hashtags or {}).get("fr", [])[:2])
    text = f"{number} actions pour {case.label('fr')} ! Merci à toutes et à tous. {tags}".strip()
    post = Post(campaign_id=campaign.id or 0, case_id=case.id, language="fr", text=text, status="pending",
                author="system", form_token=f"milestone-{case.id}-{milestone}")
    session.add(post)
    session.flush()
    notify.emit(session, "approval_requested", {"post_id": post.id, "author": "system", "text": text})


def digest(session: Session, *, campaign: Campaign, today: dt.date) -> dict[str, Any]:
    """The day's results and tomorrow's queue, in the edition's time zone."""
    tz = ZoneInfo(campaign.timezone)
    start = dt.datetime.combine(today, dt.time(), tz).astimezone(dt.UTC)
    end, after = start + dt.timedelta(days=1), start + dt.timedelta(days=2)
    posts = select(Post.id).where(Post.campaign_id == campaign.id)

    def count(*where: Any) -> int:
        return int(session.exec(select(sa.func.count()).select_from(Delivery)
                                .where(col(Delivery.post_id).in_(posts), *where)).one())

    published = count(Delivery.state == states.PUBLISHED, col(Delivery.published_at) >= start,
                      col(Delivery.published_at) < end)
    failed = count(col(Delivery.state).in_((states.FAILED, states.UNCONFIRMED)), col(Delivery.updated_at) >= start,
                   col(Delivery.updated_at) < end)
    tomorrow = count(col(Delivery.state).in_(states.CLAIMABLE), col(Delivery.due_at) >= end,
                     col(Delivery.due_at) < after)
    actions = session.exec(select(sa.func.coalesce(sa.func.sum(Response.count), 0))
                           .join(Case, col(Case.id) == Response.case_id)
                           .where(Case.campaign_id == campaign.id, Response.day == today)).one()
    return {"day": today.isoformat(), "published": published, "failed": failed, "actions": int(actions or 0),
            "tomorrow": tomorrow}
