"""The worker: claims due deliveries, publishes them, records outcomes, reconciles, polls metrics.

APScheduler only ticks; what is scheduled lives in our tables, and several workers coordinate
through row claims (PostgreSQL ``FOR UPDATE SKIP LOCKED`` plus a per-account advisory lock; on
SQLite every transaction is ``BEGIN IMMEDIATE``, a single writer).

How one delivery travels (the rules are in ``design/architecture.md``):

1. ``dispatch`` claims due deliveries, at most one runner per account and, when several workers
   share the database, at most this worker's fair share of the accounts that have work (counted
   from the heartbeats), so workers split the accounts instead of one taking them all.
2. A runner publishes its account's batch in order, renewing the batch's lease before each call
   while it has less than half left, and never starting a call without enough lease to finish it:
   an expired lease is swept to ``unconfirmed`` by anyone, and must not be racing a live call.
   The account's next batch is claimed while this one is published (off the publishing
   thread), and a delivery due within a second is waited for, not left to the next tick.
3. A success is handed to the recorder thread, which writes outcomes in batches (one transaction
   for many) while the runner goes on with the next call. If the process dies in between, the
   lease expires and reconciling finds the post: the platform's answer is never needed twice.
   Failures are recorded at once: they decide what the runner does next.
4. Sweeping, reconciling and metrics live in :mod:`orchestrator.worker_jobs`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import AmbiguousError, ChannelError
from orchestrator import __version__, states
from orchestrator.db import read_scope, session_scope
from orchestrator.models import Account, Delivery, WorkerHeartbeat
from orchestrator.outcomes import Attempted, Result, backoff
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker_claims import ClaimsMixin
from orchestrator.worker_jobs import Claimed, JobsMixin, retry_db
from orchestrator.worker_record import RecorderMixin, Success

log = logging.getLogger("porte_voix.worker")

#: A runner whose account has its next delivery due within this many seconds waits for it.
HOT_SECONDS = 1.0

__all__ = ["Claimed", "Worker", "backoff"]


class Worker(ClaimsMixin, RecorderMixin, JobsMixin):
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
        if self.settings.lease_seconds < 2 * (self.settings.request_timeout + 1):
            raise ValueError(
                "Le bail (PORTEVOIX_LEASE_SECONDS) doit durer au moins deux fois le délai d'une requête "
                f"plus une seconde ({2 * (self.settings.request_timeout + 1):.0f} s). "
                "(The lease must last at least twice the request timeout plus one second.)"
            )
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.postgres = engine.dialect.name == "postgresql"
        self.pool = ThreadPoolExecutor(max_workers=self.settings.publish_threads, thread_name_prefix="publish")
        self._inflight: set[Future[None]] = set()
        self._inflight_lock = threading.Lock()
        self._active: set[int] = set()  # accounts with a runner in this process
        self._fair_share = self.settings.publish_threads
        self._claims = ThreadPoolExecutor(max_workers=self.settings.publish_threads, thread_name_prefix="claim")
        self._stopping = threading.Event()
        self._readable: dict[int, str] = {}
        self.key_problems: dict[str, str] = {}
        self._init_recorder()
        self._init_channels(channel_factory)

    # ------------------------------------------------------------------------------------------
    # dispatching and running accounts

    def dispatch(self, *, wait: bool = False) -> int:
        """Claim what is due for accounts without a runner, up to this worker's share, and start
        one runner per account (in order within an account, in parallel across accounts)."""
        if self._stopping.is_set():
            return 0
        self._fair_share = self._compute_fair_share()
        with self._inflight_lock:
            active = set(self._active)
        slots = min(self.settings.publish_threads, self._fair_share) - len(active)
        if slots <= 0:
            return 0
        claimed = self.claim(max_accounts=slots, exclude=active)
        by_account: dict[int, list[Claimed]] = defaultdict(list)
        for item in claimed:
            by_account[item.account_id].append(item)
        futures = []
        for account_id, items in by_account.items():
            with self._inflight_lock:
                self._active.add(account_id)
            future = self.pool.submit(self._run_account, account_id, items)
            with self._inflight_lock:
                self._inflight.add(future)
            future.add_done_callback(self._done)
            futures.append(future)
        if wait:
            for future in futures:
                future.result()
            self.flush()
        return len(claimed)

    def _done(self, future: Future[None]) -> None:
        with self._inflight_lock:
            self._inflight.discard(future)
        if future.exception() is not None:
            log.error("publish runner crashed", exc_info=future.exception())

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._inflight_lock:
                pending = list(self._inflight)
            if not pending:
                break
            for future in pending:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # logged by _done
                    pass
        self.flush(max(0.0, deadline - time.monotonic()))

    def _run_account(self, account_id: int, items: list[Claimed]) -> None:
        """Publish an account's batches one after the other. The next batch is claimed while
        this one is being published (off the publishing thread), so the account never waits
        for the database between two calls; it is given back if the account has to stop."""
        upcoming: Future[list[Claimed]] | None = None
        try:
            while items:
                upcoming = self._claims.submit(retry_db, partial(self.claim, account_id=account_id), "claim", tries=3)
                went_well = self._publish_batch(items)
                try:
                    items = upcoming.result()
                except Exception:
                    log.exception("claiming more for account %s failed", account_id)
                    items = []
                upcoming = None
                if went_well and not items and not self._stopping.is_set():
                    items = self._claim_soon(account_id)
                if not went_well or self._stopping.is_set() or len(self._active) > self._fair_share:
                    # let the next tick (or another worker) take this account
                    retry_db(partial(self._release, [i.delivery_id for i in items]), "release", tries=3)
                    return
        finally:
            with self._inflight_lock:
                self._active.discard(account_id)
            self._record_soon()

    def _claim_soon(self, account_id: int) -> list[Claimed]:
        """When the account's next delivery is due within a second, wait for it here rather
        than for the next tick: a steady stream goes out on time."""
        with read_scope(self.engine) as session:
            due = session.exec(select(sa.func.min(Delivery.due_at)).where(
                Delivery.account_id == account_id, col(Delivery.state).in_(states.CLAIMABLE))).one()
        if due is None:
            return []
        wait = (due - utcnow()).total_seconds()
        if wait > HOT_SECONDS:
            return []
        if wait > 0:
            self._stopping.wait(wait + 0.001)
        return retry_db(partial(self.claim, account_id=account_id), "claim", tries=3)

    def _publish_batch(self, items: list[Claimed]) -> bool:
        """Publish in order; True when every item went out (the runner may go on with the
        account's next due deliveries), False after a failure or when the account must stop
        (auth, rate limit, crash): what follows waits for the next tick."""
        done, clean = 0, True
        try:
            account = self._load_account(items[0].account_id)
            for index, item in enumerate(items):
                done = index  # from here on, nothing was started
                if self._stopping.is_set():
                    break
                ours = self._ensure_lease(items[index:])
                # From now on this item's fate is its outcome or, if that is lost, its lease:
                # it is never given back blindly.
                done = index + 1
                if not ours:
                    clean = False
                    continue  # swept meanwhile: reconciling decides its fate
                attempted = self._publish_one(item, account)
                clean = clean and attempted.published
                if attempted.account.stops:
                    break
            else:
                return clean
        except Exception:
            log.exception("runner for account %s stopped", items[0].account_id)
        # the account cannot take more now: give the rest back
        retry_db(lambda: self._release([i.delivery_id for i in items[done:]]), "release", tries=3)
        return False

    def _ensure_lease(self, remaining: list[Claimed]) -> bool:
        """Renew the batch's lease when less than half is left; True when the first item is
        still ours with enough lease to finish a call."""
        item = remaining[0]
        now = utcnow()
        margin = self._margin(item)
        left = (item.lease_until - now).total_seconds()
        if left >= max(margin, self.settings.lease_seconds / 2):
            return True
        ids = [i.delivery_id for i in remaining]
        lease = now + dt.timedelta(seconds=self.settings.lease_seconds)

        def renew() -> set[int]:
            with session_scope(self.engine) as session:
                session.execute(
                    sa.update(Delivery)
                    .where(col(Delivery.id).in_(ids), col(Delivery.state) == states.PUBLISHING,
                           col(Delivery.worker_id) == self.id)
                    .values(lease_until=lease)
                )
                renewed = session.exec(
                    select(col(Delivery.id)).where(col(Delivery.id).in_(ids), Delivery.state == states.PUBLISHING,
                                                   Delivery.worker_id == self.id)
                )
                return {i for i in renewed if i is not None}

        try:
            ours = retry_db(renew, "renew lease", tries=2)
        except Exception:
            ours = set()
        for i in remaining:
            if i.delivery_id in ours:
                i.lease_until = lease
        return item.delivery_id in ours and (lease - utcnow()).total_seconds() >= margin

    def _margin(self, item: Claimed) -> float:
        """Lease needed to start a publish call: its requests (one per image, one for the post)
        each bounded by the request timeout, plus a second for clocks and scheduling."""
        return self.settings.request_timeout * (1 + len(item.request.images)) + 1.0

    def _publish_one(self, item: Claimed, account: Account) -> Attempted:
        """Publish one claimed delivery: how it ended, and whether the account goes on."""
        channel = self.channel(account, "publish")
        if self._outside_idempotency_window(item, channel):
            exc: BaseException = AmbiguousError(
                "An earlier try may have gone out and the platform no longer deduplicates it: look first.",
                message_fr="Un essai précédent est peut-être parti et la plateforme ne le dédoublonne "
                "plus : vérification avant tout nouvel essai.")
            return self._failed(item, account, exc, 0, channel)
        started = time.monotonic()
        try:
            published = channel.publish(item.request)
        except ChannelError as exc:
            duration = int((time.monotonic() - started) * 1000)
            self._persist_session(account, "publish", channel)
            return self._failed(item, account, exc, duration, channel)
        except Exception as exc:  # a bug of ours or the SDK's: the table treats it as ambiguous
            duration = int((time.monotonic() - started) * 1000)
            log.exception("unexpected error while publishing delivery %s", item.delivery_id)
            return self._failed(item, account, exc, duration, channel)
        duration = int((time.monotonic() - started) * 1000)
        self._enqueue(Success(item, published, duration, channel.take_rate_info()))
        self._persist_session(account, "publish", channel)
        return Attempted(Result.PUBLISHED)

    def _failed(self, item: Claimed, account: Account, exc: BaseException, duration: int, channel: Any) -> Attempted:
        return Attempted(Result.of(exc), self._record_failure(item, account, exc, duration, channel))

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
            row.ended_at = None
            session.add(row)

    def sign_off(self) -> None:
        """The worker's last heartbeat: it has ended, so it is no longer counted as at work."""
        now = utcnow()
        with session_scope(self.engine) as session:
            row = session.get(WorkerHeartbeat, self.id)
            if row is not None:
                row.last_seen = row.ended_at = now
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
        self.check_credentials()
        self.sweep()
        for _ in range(2):  # publish, then what reconciling sent back to the queue
            self.reconcile()
            for _ in range(max_rounds):
                if self.dispatch(wait=True) == 0:
                    break
            self.wait_idle()
        self.poll_metrics()
        self.sign_off()  # done: a finished run is not a worker at work

    def _reconcile_all(self, rounds: int = 20) -> None:
        """After a crash many doubts come due together: settle them without waiting ticks."""
        for _ in range(rounds):
            if self.reconcile() < 50 or self._stopping.is_set():
                return

    def stop(self) -> None:
        """Finish the calls in flight, give back what was not started, record everything."""
        self._stopping.set()
        self._record_soon()
        self.pool.shutdown(wait=True)
        self._claims.shutdown(wait=True)
        self.flush(60.0)
        self.safe("sign off", self.sign_off)

    def run_forever(self) -> None:
        import signal

        from apscheduler.schedulers.blocking import BlockingScheduler

        from channels.registry import CHANNELS, channel_class

        for kind in CHANNELS:  # import every SDK now: the first due post must not wait for it
            channel_class(kind)
        # The interpreter's own switch interval (5 ms) is kept. Measured in paired rounds against
        # the bare client loop (8 accounts, zero latency, 2 cores): median 0.96x at 5 ms, 1.06x
        # at 1 ms, 1.32x at 0.2 ms; shorter intervals cost more in forced switches between the
        # publishing threads than they save in waits behind the bookkeeping.
        scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        s = self.settings
        jobs = [
            # a missed dispatch tick is simply replaced by the next one
            ("dispatch", lambda: self.dispatch(), s.dispatch_interval, 5),
            ("heartbeat", self.heartbeat, s.heartbeat_seconds, 30),
            ("sweep", self.sweep, max(1.0, min(30.0, s.lease_seconds / 2)), 60),
            ("reconcile", self._reconcile_all, max(1.0, min(15.0, s.reconcile_delay_seconds / 2)), 60),
            ("metrics", self.poll_metrics, 20, 120),
        ]
        for job_id, fn, seconds, grace in jobs:
            scheduler.add_job(self.safe, "interval", args=(job_id, fn), seconds=seconds, id=job_id,
                              replace_existing=True, misfire_grace_time=grace, next_run_time=utcnow())

        def on_term(*_: object) -> None:
            scheduler.shutdown(wait=False)

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_term)
        log.info("worker %s started", self.id, extra={"event": "worker_start", "worker_id": self.id})
        self.safe("check credentials", self.check_credentials)
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.stop()
