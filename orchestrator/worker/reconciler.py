"""The reconciler: sweeps expired leases to ``unconfirmed`` and looks for unconfirmed deliveries
on their platform.

Reconciling: an ``unconfirmed`` delivery is looked for on its account ``reconcile_delay_seconds``
after the doubt arose (a timeline can lag behind a write, and a slow call of a live worker ends
meanwhile). Found → ``published``; proved absent → ``retrying`` (or ``failed`` once attempts ran
out), both by the table of :mod:`orchestrator.outcomes`; undecidable → looked for again every
``reconcile_interval_seconds``, and after ``reconcile_max_tries`` looks left ``unconfirmed`` for a
person with the reason (``last_error_kind = "undecidable"``; each look is an audit row). A refused
token marks the account unhealthy (its queue is held, reconciling resumes once ``account test``
succeeds); a rate limit moves the look to the platform's reset.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import AuthError, ChannelError, Found, RateInfo, RateLimited
from orchestrator import budgets, states
from orchestrator.db import retry_db, session_scope
from orchestrator.models import Account, Attempt, AuditEntry, Case, Delivery, Post
from orchestrator.outcomes import Facts, Result, decide
from orchestrator.services.accounts import mark_unhealthy
from orchestrator.services.auth import SYSTEM, audit
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels
from orchestrator.worker.claimer import publish_request
from orchestrator.worker.recorder import outcome_facts

log = logging.getLogger("porte_voix.worker")


class Reconciler:
    def __init__(self, engine: sa.Engine, settings: Settings, worker_id: str, *, channels: Channels) -> None:
        self.engine = engine
        self.settings = settings
        self.id = worker_id
        self.postgres = engine.dialect.name == "postgresql"
        self.channels = channels

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Expired leases become ``unconfirmed``: the worker may have posted before it died."""
        now = now or utcnow()
        # a call of a slow but live worker ends within a request timeout: look after that
        look_at = now + dt.timedelta(seconds=max(self.settings.reconcile_delay_seconds,
                                                 self.settings.request_timeout + 1))
        with session_scope(self.engine) as session:
            query = select(Delivery).where(Delivery.state == states.PUBLISHING, col(Delivery.lease_until) < now)
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            expired = list(session.exec(query))
            for delivery in expired:
                states.transition(session, delivery, states.UNCONFIRMED, actor=self.id, outcome="lease_expired",
                                  detail=f"lease of {delivery.worker_id} expired", worker_id=None,
                                  lease_until=None, due_at=look_at, last_error_kind="ambiguous",
                                  last_error="Le travailleur s'est arrêté pendant l'envoi : vérification en cours.")
        return len(expired)

    def reconcile(self, now: dt.datetime | None = None, limit: int = 50) -> int:
        """Look for each due ``unconfirmed`` delivery on its account."""
        now = now or utcnow()
        todo = retry_db(lambda: self._take_unconfirmed(now, limit), "reconcile claim")
        for delivery_id, account_id, request, since in todo:
            account = self.channels.account(account_id)
            channel = self.channels.get(account, "reconcile")
            found, error = Found(), None
            try:
                found = channel.find(request, since=since)
            except (AuthError, RateLimited) as exc:
                error = exc
            except ChannelError as exc:
                found = Found(reason=exc.text("fr"))
            except Exception as exc:
                log.exception("reconcile failed for delivery %s", delivery_id)
                found = Found(reason=repr(exc))
            infos = channel.take_rate_info()
            self.channels.keep_session(account, "reconcile", channel)
            retry_db(functools.partial(self._record_reconcile, delivery_id, account, found, error, infos),
                     "record reconcile")
        return len(todo)

    def _take_unconfirmed(self, now: dt.datetime, limit: int) -> list[tuple[int, int, Any, dt.datetime]]:
        todo = []
        with session_scope(self.engine) as session:
            query = (
                select(Delivery, Post)
                .join(Post, col(Post.id) == Delivery.post_id)
                .join(Account, col(Account.id) == Delivery.account_id)
                .where(Delivery.state == states.UNCONFIRMED, Delivery.due_at <= now,
                       Delivery.last_error_kind != "undecidable", Account.healthy == sa.true())
                .order_by(col(Delivery.due_at)).limit(limit)
            )
            if self.postgres:
                query = query.with_for_update(skip_locked=True, of=Delivery)  # type: ignore[arg-type]
            rows = list(session.exec(query))
            ids = [d.id for d, _ in rows]
            first_try = dict(session.exec(  # type: ignore[arg-type]
                select(Attempt.delivery_id, sa.func.min(Attempt.at))
                .where(col(Attempt.delivery_id).in_(ids), Attempt.to_state == states.PUBLISHING)
                .group_by(col(Attempt.delivery_id))
            ).all()) if ids else {}
            for delivery, post in rows:
                ok, retry_at = budgets.spend(session, account_id=delivery.account_id, endpoint="read", now=now)
                if not ok:
                    delivery.due_at = retry_at or now + dt.timedelta(seconds=60)
                    session.add(delivery)
                    continue
                # others skip it meanwhile; if we die, it is looked at again after this
                delivery.due_at = now + dt.timedelta(seconds=self.settings.reconcile_interval_seconds)
                session.add(delivery)
                assert delivery.id is not None
                since = (first_try.get(delivery.id) or delivery.scheduled_at) - dt.timedelta(minutes=2)
                case = session.get(Case, post.case_id) if post.case_id else None
                todo.append((delivery.id, delivery.account_id, publish_request(delivery, post, case), since))
        return todo

    def _record_reconcile(self, delivery_id: int, account: Account, found: Found,
                          error: ChannelError | None, infos: list[RateInfo]) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            query = select(Delivery).where(Delivery.id == delivery_id)
            if self.postgres:
                query = query.with_for_update()
            delivery = session.exec(query).first()
            budgets.correct(session, account_id=account.id or 0, infos=infos)
            if delivery is None or delivery.state != states.UNCONFIRMED:
                return  # a person settled it meanwhile
            if isinstance(error, AuthError):
                fresh = session.get(Account, account.id)
                assert fresh is not None
                mark_unhealthy(session, account=fresh, reason=error.text("fr"))
                delivery.due_at = now  # looked at as soon as the account works again
                delivery.last_error = f"Vérification impossible, compte refusé : {error.message('fr')}"
                session.add(delivery)
            elif isinstance(error, RateLimited):
                reset = error.reset_at or now + dt.timedelta(seconds=60)
                budgets.block_until(session, account_id=delivery.account_id, endpoint="read", until=reset)
                delivery.due_at = reset
                session.add(delivery)
            elif found.published is not None or found.absent:
                result = Result.FOUND if found.published is not None else Result.ABSENT
                then = decide(result, Facts(attempts=delivery.attempts, max_attempts=self.settings.max_attempts))
                if then.state == states.PUBLISHED:
                    assert found.published is not None
                    facts: dict[str, Any] = {
                        "platform_id": found.published.platform_id, "platform_url": found.published.url,
                        "published_at": found.published.published_at or now, "last_error": "",
                        "last_error_kind": "", "next_metrics_at": now, **outcome_facts(found.published)}
                elif then.state == states.FAILED:
                    facts = {"last_error": "Absente de la plateforme après plusieurs essais.",
                             "last_error_kind": "transient"}
                else:
                    facts = {"due_at": now, "last_error": ""}
                states.transition(session, delivery, then.state, actor=self.id, outcome=then.outcome, **facts)
            else:
                self._undecidable(session, delivery, account, found.reason, now)

    def _undecidable(self, session: Any, delivery: Delivery, account: Account, reason: str,
                     now: dt.datetime) -> None:
        since = session.exec(
            select(sa.func.max(Attempt.at)).where(Attempt.delivery_id == delivery.id,
                                                  Attempt.to_state == states.UNCONFIRMED)
        ).one()
        looks = session.exec(
            select(sa.func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "reconcile_undecidable", AuditEntry.target_type == "delivery",
                AuditEntry.target_id == str(delivery.id), AuditEntry.at >= (since or delivery.created_at))
        ).one() + 1
        audit(session, actor=SYSTEM, action="reconcile_undecidable", target_type="delivery",
              target_id=delivery.id, worker=self.id, look=looks, reason=reason[:500])
        if looks >= self.settings.reconcile_max_tries:
            delivery.last_error_kind = "undecidable"
            delivery.last_error = (
                f"Impossible de savoir si la publication est partie ({reason}) après {looks} vérifications : "
                f"vérifiez sur le compte {account.name} puis indiquez si elle est publiée ou à refaire."
            )
            log.warning("delivery %s left for a person after %d looks", delivery.id, looks,
                        extra={"event": "undecidable", "delivery_id": delivery.id, "worker": self.id})
            from orchestrator.services.notify import emit_safely

            emit_safely(session, "delivery_unconfirmed", [{"delivery_id": delivery.id, "post_id": delivery.post_id,
                                                           "account_id": account.id, "account": account.name,
                                                           "error": reason[:500]}])
        else:
            delivery.last_error = f"Vérification impossible pour l'instant ({reason}) ; nouvel essai prévu."
            delivery.due_at = now + dt.timedelta(seconds=self.settings.reconcile_interval_seconds)
        session.add(delivery)

    def reconcile_all(self, stopping: threading.Event, rounds: int = 20) -> None:
        """After a crash many doubts come due together: settle them without waiting ticks."""
        for _ in range(rounds):
            if self.reconcile() < 50 or stopping.is_set():
                return
