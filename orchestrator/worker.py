"""The worker: claims due deliveries, publishes them, records outcomes, reconciles, polls metrics.

APScheduler only ticks; what is scheduled lives in our tables, and several workers coordinate
through row claims (PostgreSQL ``FOR UPDATE SKIP LOCKED`` plus a per-account advisory lock; on
SQLite every transaction is ``BEGIN IMMEDIATE``, a single writer).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from channels.base import (
    AmbiguousError,
    AuthError,
    Channel,
    ChannelError,
    Found,
    Published,
    PublishRequest,
    RateLimited,
    TransientError,
)
from orchestrator import __version__, budgets, states
from orchestrator.db import session_scope
from orchestrator.models import (
    Account,
    Attempt,
    Case,
    Delivery,
    MetricSnapshot,
    Post,
    WorkerHeartbeat,
)
from orchestrator.services.accounts import build_channel, mark_unhealthy
from orchestrator.services.deliveries import post_images
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.worker")

_ADVISORY_NAMESPACE = 0x5056  # "PV": keeps our advisory locks apart from anyone else's


@dataclasses.dataclass
class Claimed:
    delivery_id: int
    account_id: int
    request: PublishRequest
    lease_until: dt.datetime
    attempts: int


def backoff(attempts: int, settings: Settings) -> float:
    base = min(settings.backoff_max, settings.backoff_base * (2 ** max(0, attempts - 1)))
    return base * random.uniform(0.5, 1.5)  # jitter: retries of a burst do not land together


class Worker:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        settings: Settings | None = None,
        worker_id: str | None = None,
        channel_factory: Any = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.pool = ThreadPoolExecutor(max_workers=self.settings.publish_threads, thread_name_prefix="publish")
        self._channels: dict[tuple[int, str, str], Channel] = {}
        self._channels_lock = threading.Lock()
        self._inflight: set[Future[None]] = set()
        self._inflight_lock = threading.Lock()
        self._channel_factory = channel_factory or (lambda account: build_channel(account, timeout=self.settings.request_timeout))
        self.postgres = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------------------------------
    # channels

    def channel(self, account: Account, purpose: str) -> Channel:
        """One client per account and purpose (publishing, metrics and reconciling run in
        different threads), rebuilt when the credentials change."""
        assert account.id is not None
        key = (account.id, purpose, account.credentials + str(account.base_url) + str(account.options))
        with self._channels_lock:
            channel = self._channels.get(key)
            if channel is None:
                for stale in [k for k in self._channels if k[:2] == key[:2]]:
                    del self._channels[stale]
                channel = self._channels[key] = self._channel_factory(account)
            return channel

    # ------------------------------------------------------------------------------------------
    # claiming

    def _due_query(self, now: dt.datetime, limit: int) -> Any:
        other = aliased(Delivery)
        busy = (
            select(other.id)
            .where(other.account_id == Delivery.account_id, other.state == states.PUBLISHING)
            .exists()
        )
        query = (
            select(Delivery)
            .join(Post, col(Post.id) == Delivery.post_id)
            .join(Account, col(Account.id) == Delivery.account_id)
            .where(
                col(Delivery.state).in_(states.CLAIMABLE),
                Delivery.due_at <= now,
                Post.status == "approved",
                col(Delivery.rendered_text).is_not(None),
                Account.healthy == sa.true(),
                ~busy,
            )
            .order_by(Delivery.due_at, Delivery.scheduled_at, Delivery.id)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True, of=Delivery)  # type: ignore[arg-type]
        return query

    def claim(self, now: dt.datetime | None = None) -> list[Claimed]:
        now = now or utcnow()
        per_account = max(1, self.settings.lease_seconds // max(1, int(self.settings.request_timeout)) - 1)
        claimed: list[Claimed] = []
        with session_scope(self.engine) as session:
            candidates = list(session.exec(self._due_query(now, self.settings.claim_batch)))
            by_account: dict[int, list[Delivery]] = defaultdict(list)
            for delivery in candidates:
                by_account[delivery.account_id].append(delivery)
            for account_id in sorted(by_account):
                if self.postgres:
                    got = session.exec(  # type: ignore[call-overload]
                        sa.select(sa.func.pg_try_advisory_xact_lock(_ADVISORY_NAMESPACE, account_id))
                    ).scalar()
                    if not got:
                        continue  # another worker is claiming this account right now
                    still_busy = session.exec(
                        select(Delivery.id).where(Delivery.account_id == account_id, Delivery.state == states.PUBLISHING).limit(1)
                    ).first()
                    if still_busy is not None:
                        continue
                batch = by_account[account_id][:per_account]
                batch = self._apply_gates(session, batch)
                if not batch:
                    continue
                bucket = budgets.lock_bucket(session, account_id=account_id, endpoint="publish")
                allowed = len(batch)
                next_free = None
                if bucket is not None:
                    allowed, next_free = budgets.take(bucket, now, len(batch))
                    session.add(bucket)
                for delivery in batch[allowed:]:
                    # spread the burst: wait for the budget instead of being refused
                    delivery.due_at = next_free or now + dt.timedelta(seconds=1)
                    session.add(delivery)
                for i, delivery in enumerate(batch[:allowed]):
                    lease = now + dt.timedelta(seconds=self.settings.lease_seconds + i * self.settings.request_timeout)
                    states.transition(session, delivery, states.PUBLISHING, actor=self.id, outcome="claimed",
                                      worker_id=self.id, lease_until=lease)
                    claimed.append(
                        Claimed(
                            delivery_id=delivery.id,  # type: ignore[arg-type]
                            account_id=account_id,
                            request=self._request(session, delivery),
                            lease_until=lease,
                            attempts=delivery.attempts,
                        )
                    )
        return claimed

    def _apply_gates(self, session: Session, batch: list[Delivery]) -> list[Delivery]:
        """A paused case holds its deliveries even if the pause raced the claim."""
        kept = []
        for delivery in batch:
            post = session.get(Post, delivery.post_id)
            case = session.get(Case, post.case_id) if post and post.case_id else None
            if case is not None and case.status != "active":
                states.transition(session, delivery, states.HELD, actor=self.id, outcome="held",
                                  detail=f"case {case.status}", held_reason=f"case {case.status}")
                continue
            kept.append(delivery)
        return kept

    def _request(self, session: Session, delivery: Delivery) -> PublishRequest:
        post = session.get(Post, delivery.post_id)
        assert post is not None and delivery.rendered_text is not None
        return PublishRequest(
            key=f"pv-{delivery.source_code}-{delivery.id}",
            text=delivery.rendered_text,
            link=delivery.rendered_link,
            images=tuple(post_images(post)),
            language=post.language,
        )

    # ------------------------------------------------------------------------------------------
    # publishing

    def dispatch(self, *, wait: bool = False) -> int:
        """Claim what is due and hand each account's batch to the pool (in order within one
        account, in parallel across accounts)."""
        claimed = self.claim()
        by_account: dict[int, list[Claimed]] = defaultdict(list)
        for item in claimed:
            by_account[item.account_id].append(item)
        futures = []
        for items in by_account.values():
            future = self.pool.submit(self._publish_batch, items)
            with self._inflight_lock:
                self._inflight.add(future)
            future.add_done_callback(self._done)
            futures.append(future)
        if wait:
            for future in futures:
                future.result()
        return len(claimed)

    def _done(self, future: Future[None]) -> None:
        with self._inflight_lock:
            self._inflight.discard(future)
        if future.exception() is not None:
            log.error("publish batch crashed", exc_info=future.exception())

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._inflight_lock:
                pending = list(self._inflight)
            if not pending:
                return
            for future in pending:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # logged by _done
                    pass

    def _publish_batch(self, items: list[Claimed]) -> None:
        for index, item in enumerate(items):
            if not self._publish_one(item):
                # the account cannot take more now (auth, rate limit): give the rest back
                self._release([i.delivery_id for i in items[index + 1 :]])
                return

    def _release(self, delivery_ids: list[int]) -> None:
        if not delivery_ids:
            return
        with session_scope(self.engine) as session:
            for delivery_id in delivery_ids:
                delivery = self._locked(session, delivery_id)
                if delivery is None or delivery.state != states.PUBLISHING or delivery.worker_id != self.id:
                    continue
                account = session.get(Account, delivery.account_id)
                if account is not None and not account.healthy:
                    states.transition(session, delivery, states.HELD, actor=self.id, outcome="held",
                                      worker_id=None, lease_until=None,
                                      held_reason=f"account unhealthy: {account.last_error}")
                    continue
                target = states.RETRYING if delivery.attempts else states.SCHEDULED
                states.transition(session, delivery, target, actor=self.id, outcome="released",
                                  worker_id=None, lease_until=None)

    def _publish_one(self, item: Claimed) -> bool:
        """Publish one claimed delivery; False when the account should stop for now."""
        margin = self.settings.request_timeout + 5
        if (item.lease_until - utcnow()).total_seconds() < margin:
            self._release([item.delivery_id])  # not enough lease left to be sure of the outcome
            return True
        with Session(self.engine, expire_on_commit=False) as session:
            account = session.get(Account, item.account_id)
        assert account is not None
        channel = self.channel(account, "publish")
        started = time.monotonic()
        try:
            published = channel.publish(item.request)
        except ChannelError as exc:
            duration = int((time.monotonic() - started) * 1000)
            return self._record_failure(item, account, exc, duration, channel)
        except Exception as exc:  # a bug of ours or the SDK's: we cannot know whether it posted
            duration = int((time.monotonic() - started) * 1000)
            log.exception("unexpected error while publishing delivery %s", item.delivery_id)
            return self._record_failure(item, account, AmbiguousError(f"unexpected error: {exc!r}"), duration, channel)
        duration = int((time.monotonic() - started) * 1000)
        self._record_published(item, published, duration, channel)
        return True

    def _locked(self, session: Session, delivery_id: int) -> Delivery | None:
        query = select(Delivery).where(Delivery.id == delivery_id)
        if self.postgres:
            query = query.with_for_update()
        return session.exec(query).first()

    def _record_published(self, item: Claimed, published: Published, duration: int, channel: Channel) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            delivery = self._locked(session, item.delivery_id)
            assert delivery is not None
            if delivery.state not in (states.PUBLISHING, states.UNCONFIRMED):
                log.error("delivery %s published while %s", delivery.id, delivery.state)
            if delivery.state in (states.PUBLISHING, states.UNCONFIRMED):
                states.transition(
                    session, delivery, states.PUBLISHED, actor=self.id, outcome="published", duration_ms=duration,
                    platform_id=published.platform_id, platform_url=published.url,
                    published_at=published.published_at or now, worker_id=None, lease_until=None,
                    attempts=delivery.attempts + 1, last_error="", last_error_kind="", next_metrics_at=now,
                )
            else:  # keep the platform id whatever happened: it is the proof the post exists
                delivery.platform_id = published.platform_id
                delivery.platform_url = published.url
                session.add(delivery)
            budgets.correct(session, account_id=item.account_id, infos=channel.take_rate_info())

    def _record_failure(self, item: Claimed, account: Account, exc: ChannelError, duration: int, channel: Channel) -> bool:
        now = utcnow()
        reason = exc.message("fr")
        keep_going = True
        with session_scope(self.engine) as session:
            delivery = self._locked(session, item.delivery_id)
            assert delivery is not None
            budgets.correct(session, account_id=item.account_id, infos=channel.take_rate_info())
            if delivery.state != states.PUBLISHING or delivery.worker_id != self.id:
                log.warning("delivery %s changed while publishing (now %s); outcome %s dropped",
                            delivery.id, delivery.state, exc.kind)
                return True
            common: dict[str, Any] = {"actor": self.id, "outcome": exc.kind, "detail": reason, "duration_ms": duration,
                                      "worker_id": None, "lease_until": None, "last_error": reason,
                                      "last_error_kind": exc.kind}
            if isinstance(exc, RateLimited):
                reset = exc.reset_at or now + dt.timedelta(seconds=60)
                target = states.RETRYING if delivery.attempts else states.SCHEDULED
                states.transition(session, delivery, target, due_at=reset, **common)
                budgets.block_until(session, account_id=item.account_id, endpoint="publish", until=reset)
                keep_going = False
            elif isinstance(exc, TransientError):
                attempts = delivery.attempts + 1
                if attempts >= self.settings.max_attempts:
                    states.transition(session, delivery, states.FAILED, attempts=attempts, **common)
                else:
                    due = now + dt.timedelta(seconds=backoff(attempts, self.settings))
                    states.transition(session, delivery, states.RETRYING, attempts=attempts, due_at=due, **common)
            elif isinstance(exc, AmbiguousError):
                states.transition(session, delivery, states.UNCONFIRMED, attempts=delivery.attempts + 1,
                                  due_at=now + dt.timedelta(seconds=5), **common)
            elif isinstance(exc, AuthError):
                states.transition(session, delivery, states.FAILED, attempts=delivery.attempts + 1, **common)
                fresh = session.get(Account, account.id)
                assert fresh is not None
                mark_unhealthy(session, account=fresh, reason=reason)
                keep_going = False
            else:  # PermanentError and anything else a channel calls final
                states.transition(session, delivery, states.FAILED, attempts=delivery.attempts + 1, **common)
        return keep_going

    # ------------------------------------------------------------------------------------------
    # sweeping and reconciling

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Expired leases become ``unconfirmed``: the worker may have posted before it died."""
        now = now or utcnow()
        with session_scope(self.engine) as session:
            query = select(Delivery).where(Delivery.state == states.PUBLISHING, Delivery.lease_until < now)
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            expired = list(session.exec(query))
            for delivery in expired:
                states.transition(session, delivery, states.UNCONFIRMED, actor=self.id, outcome="lease_expired",
                                  detail=f"lease of {delivery.worker_id} expired", worker_id=None,
                                  lease_until=None, due_at=now, last_error_kind="ambiguous",
                                  last_error="Le travailleur s'est arrêté pendant l'envoi : vérification en cours.")
        return len(expired)

    def reconcile(self, now: dt.datetime | None = None, limit: int = 50) -> int:
        """Look for each due ``unconfirmed`` delivery on its account."""
        now = now or utcnow()
        todo: list[tuple[int, int, PublishRequest, dt.datetime]] = []
        with session_scope(self.engine) as session:
            query = (select(Delivery).where(Delivery.state == states.UNCONFIRMED, Delivery.due_at <= now)
                     .order_by(Delivery.due_at).limit(limit))
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            for delivery in session.exec(query):
                delivery.due_at = now + dt.timedelta(seconds=60)  # others skip it meanwhile
                session.add(delivery)
                since = session.exec(
                    select(sa.func.min(Attempt.at)).where(Attempt.delivery_id == delivery.id,
                                                           Attempt.to_state == states.PUBLISHING)
                ).one()
                since = (since or delivery.scheduled_at) - dt.timedelta(minutes=2)
                todo.append((delivery.id, delivery.account_id, self._request(session, delivery), since))  # type: ignore[arg-type]
        for delivery_id, account_id, request, since in todo:
            with Session(self.engine, expire_on_commit=False) as session:
                account = session.get(Account, account_id)
            assert account is not None
            try:
                found = self.channel(account, "reconcile").find(request, since=since)
            except ChannelError as exc:
                found = Found(reason=exc.message("fr"))
            except Exception as exc:
                log.exception("reconcile failed for delivery %s", delivery_id)
                found = Found(reason=repr(exc))
            self._record_reconcile(delivery_id, found)
        return len(todo)

    def _record_reconcile(self, delivery_id: int, found: Found) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            delivery = self._locked(session, delivery_id)
            if delivery is None or delivery.state != states.UNCONFIRMED:
                return
            if found.published is not None:
                states.transition(session, delivery, states.PUBLISHED, actor=self.id, outcome="reconciled_found",
                                  platform_id=found.published.platform_id, platform_url=found.published.url,
                                  published_at=found.published.published_at or now, last_error="",
                                  last_error_kind="", next_metrics_at=now)
            elif found.absent:
                if delivery.attempts >= self.settings.max_attempts:
                    states.transition(session, delivery, states.FAILED, actor=self.id, outcome="reconciled_absent",
                                      last_error="Absente de la plateforme après plusieurs essais.")
                else:
                    states.transition(session, delivery, states.RETRYING, actor=self.id, outcome="reconciled_absent",
                                      due_at=now, last_error="")
            else:
                delivery.last_error = f"Impossible de vérifier sur la plateforme : {found.reason}"
                delivery.due_at = now + dt.timedelta(minutes=5)
                session.add(delivery)

    # ------------------------------------------------------------------------------------------
    # metrics

    def next_poll(self, published_at: dt.datetime, now: dt.datetime) -> dt.datetime | None:
        age = (now - published_at).total_seconds()
        if age > self.settings.metrics_horizon_days * 86400:
            return None
        if age < self.settings.metrics_first_poll_seconds:
            return published_at + dt.timedelta(seconds=self.settings.metrics_first_poll_seconds)
        for up_to, every in self.settings.metrics_cadence:
            if age < up_to:
                return now + dt.timedelta(seconds=every)
        return now + dt.timedelta(days=1)

    def poll_metrics(self, now: dt.datetime | None = None, limit: int = 2000) -> int:
        now = now or utcnow()
        batches: dict[int, list[tuple[int, str]]] = defaultdict(list)
        with session_scope(self.engine) as session:
            query = (select(Delivery).where(Delivery.state == states.PUBLISHED, Delivery.next_metrics_at <= now,
                                            col(Delivery.platform_id).is_not(None))
                     .order_by(Delivery.next_metrics_at).limit(limit))
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            for delivery in session.exec(query):
                delivery.next_metrics_at = now + dt.timedelta(minutes=5)  # claimed for this round
                session.add(delivery)
                batches[delivery.account_id].append((delivery.id, delivery.platform_id))  # type: ignore[arg-type]
        done = 0
        for account_id, items in batches.items():
            with Session(self.engine, expire_on_commit=False) as session:
                account = session.get(Account, account_id)
            assert account is not None
            try:
                metrics = self.channel(account, "metrics").fetch_metrics([pid for _, pid in items])
            except Exception as exc:  # never lets a metrics problem touch publishing
                log.warning("metrics for account %s failed: %s", account.name, exc)
                continue
            by_pid = {m.platform_id: m for m in metrics}
            with session_scope(self.engine) as session:
                for delivery_id, pid in items:
                    delivery = session.get(Delivery, delivery_id)
                    if delivery is None:
                        continue
                    m = by_pid.get(pid)
                    if m is not None:
                        for field in ("likes", "shares", "replies", "quotes", "views"):
                            setattr(delivery, field, getattr(m, field))
                        delivery.metrics_at = now
                        session.add(MetricSnapshot(delivery_id=delivery_id, taken_at=now, likes=m.likes,
                                                   shares=m.shares, replies=m.replies, quotes=m.quotes, views=m.views))
                        done += 1
                    delivery.next_metrics_at = self.next_poll(delivery.published_at or now, now)
                    session.add(delivery)
        return done

    # ------------------------------------------------------------------------------------------
    # heartbeat and loops

    def heartbeat(self) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            row = session.get(WorkerHeartbeat, self.id)
            if row is None:
                row = WorkerHeartbeat(id=self.id, host=socket.gethostname(), pid=os.getpid(),
                                      version=__version__, started_at=now)
            row.last_seen = now
            session.add(row)

    def safe(self, name: str, fn: Any) -> Any:
        """Run one job; a failing job (database gone for a moment) is logged and tried next tick."""
        try:
            return fn()
        except Exception:
            log.exception("job %s failed; it runs again at its next tick", name)
            return None

    def run_once(self, *, max_rounds: int = 10_000) -> None:
        """Everything that is due now, then return (cron-style deployments and tests)."""
        self.heartbeat()
        self.sweep()
        self.reconcile()
        for _ in range(max_rounds):
            if self.dispatch(wait=True) == 0:
                break
        self.wait_idle()
        self.reconcile()
        for _ in range(max_rounds):
            if self.dispatch(wait=True) == 0:
                break
        self.wait_idle()
        self.poll_metrics()
        self.heartbeat()

    def run_forever(self) -> None:
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        s = self.settings
        jobs = [
            # a missed dispatch tick is simply replaced by the next one
            ("dispatch", lambda: self.dispatch(), s.dispatch_interval, 5),
            ("heartbeat", self.heartbeat, s.heartbeat_seconds, 30),
            ("sweep", self.sweep, 30, 60),
            ("reconcile", self.reconcile, 15, 60),
            ("metrics", self.poll_metrics, 20, 120),
        ]
        for job_id, fn, seconds, grace in jobs:
            scheduler.add_job(self.safe, "interval", args=(job_id, fn), seconds=seconds, id=job_id,
                              replace_existing=True, misfire_grace_time=grace, next_run_time=utcnow())
        log.info("worker %s started", self.id, extra={"event": "worker_start", "worker_id": self.id})
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.pool.shutdown(wait=True)
