"""The worker: its parts put together, and the loops that run them.

APScheduler only ticks; what is scheduled lives in our tables, and several workers coordinate
through row claims (PostgreSQL ``FOR UPDATE SKIP LOCKED`` plus a per-account advisory lock; on
SQLite every transaction is ``BEGIN IMMEDIATE``, a single writer). The parts, each built from
explicit arguments and testable alone (docs/architecture.md shows how a delivery goes through them):

- :class:`~orchestrator.worker.claimer.Claimer`: which due deliveries to take, and giving back;
- :class:`~orchestrator.worker.publisher.Publisher`: a runner per account with due work;
- :class:`~orchestrator.worker.recorder.Recorder`: writes each call's end, by the outcome table;
- :class:`~orchestrator.worker.reconciler.Reconciler`: expired leases, unknown outcomes;
- :class:`~orchestrator.worker.metrics.MetricsPoller`: the figures of published posts;
- :class:`~orchestrator.worker.retractor.Retractor`: deleting what staff retract, job by job;
- :class:`~orchestrator.worker.listen.Listener`: the public's posts with the edition's terms, and
  the answers to ours (within each budget's reserve for publishing);
- :class:`~orchestrator.worker.inbox.InboxFetcher`: replies and mentions kept to be answered
  (same budgets and reserve), their purge after the retention period;
- :class:`~orchestrator.worker.channels.Channels`: the platform clients they share.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from channels.base import use_progress_record
from orchestrator import __version__
from orchestrator.db import session_scope
from orchestrator.models import WorkerHeartbeat
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels, Factory
from orchestrator.worker.claimer import Claimed, Claimer
from orchestrator.worker.inbox import InboxFetcher, InboxReport
from orchestrator.worker.listen import Listener, ListenReport
from orchestrator.worker.metrics import MetricsPoller
from orchestrator.worker.notifier import Notifier
from orchestrator.worker.progress import DatabaseProgress
from orchestrator.worker.publisher import Publisher, Runners
from orchestrator.worker.reconciler import Reconciler
from orchestrator.worker.recorder import Recorder
from orchestrator.worker.retractor import Retractor

log = logging.getLogger("porte_voix.worker")


class Worker:
    def __init__(
        self,
        engine: sa.Engine,
        *,
        settings: Settings | None = None,
        worker_id: str | None = None,
        channel_factory: Factory | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings = settings or get_settings()
        if settings.lease_seconds < 2 * (settings.request_timeout + 1):
            raise ValueError(
                "Le bail (PORTEVOIX_LEASE_SECONDS) doit durer au moins deux fois le délai d'une requête "
                f"plus une seconde ({2 * (settings.request_timeout + 1):.0f} s). "
                "(The lease must last at least twice the request timeout plus one second.)"
            )
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()
        self.runners = Runners()
        self.channels = Channels(engine, settings, channel_factory)
        # channels note publications in several calls in the database, for any worker to resume
        use_progress_record(DatabaseProgress(engine))
        self.claimer = Claimer(engine, settings, self.id)
        self.recorder = Recorder(engine, settings, self.id, publishing=self.runners.__bool__, stopping=self.stopping)
        self.publisher = Publisher(engine, settings, self.id, claimer=self.claimer, recorder=self.recorder,
                                   channels=self.channels, runners=self.runners, stopping=self.stopping)
        self.reconciler = Reconciler(engine, settings, self.id, channels=self.channels)
        self.metrics = MetricsPoller(engine, settings, channels=self.channels)
        self.retractor = Retractor(engine, settings, self.id, channels=self.channels)
        self.listener = Listener(engine, settings, channels=self.channels, publishing=self.runners.__bool__,
                                 stopping=self.stopping)
        #: the outbox of notifications, sent apart from publishing (a mail server down slows nothing)
        self.notifier = Notifier(engine, settings, self.id)
        self.inbox_fetcher = InboxFetcher(engine, settings, channels=self.channels,
                                          publishing=self.runners.__bool__, stopping=self.stopping)

    # ------------------------------------------------------------------------------------------
    # what the loops, the command line and the tests call

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self.publisher.pool

    @property
    def key_problems(self) -> dict[str, str]:
        """Account name -> why its credentials cannot be read with the key in force."""
        return self.claimer.key_problems

    def dispatch(self, *, wait: bool = False) -> int:
        return self.publisher.dispatch(wait=wait)

    def claim(self, now: dt.datetime | None = None, *, account_id: int | None = None,
              max_accounts: int | None = None, exclude: set[int] | None = None) -> list[Claimed]:
        return self.claimer.claim(now, account_id=account_id, max_accounts=max_accounts, exclude=exclude)

    def check_credentials(self) -> dict[str, str]:
        return self.claimer.check_credentials()

    def flush(self, timeout: float = 120.0) -> bool:
        return self.recorder.flush(timeout)

    def wait_idle(self, timeout: float = 120.0) -> None:
        self.publisher.wait_idle(timeout)

    def sweep(self, now: dt.datetime | None = None) -> int:
        return self.reconciler.sweep(now)

    def reconcile(self, now: dt.datetime | None = None, limit: int = 50) -> int:
        return self.reconciler.reconcile(now, limit)

    def poll_metrics(self, now: dt.datetime | None = None, limit: int = 50_000) -> int:
        return self.metrics.poll(now, limit)

    def retract(self, now: dt.datetime | None = None) -> int:
        return self.retractor.run_due(now)

    def listen(self, now: dt.datetime | None = None) -> ListenReport:
        return self.listener.listen(now)

    def inbox(self, now: dt.datetime | None = None) -> InboxReport:
        """One pass of the inbox: replies and mentions fetched, answered items settled, purge."""
        return self.inbox_fetcher.fetch(now)

    def next_poll(self, published_at: dt.datetime, now: dt.datetime) -> dt.datetime | None:
        return self.metrics.next_poll(published_at, now)

    def channel(self, account: Any, purpose: str) -> Any:
        return self.channels.get(account, purpose)

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
        self.retract()
        self.poll_metrics()
        # notifications due (sending never raises); milestones are looked for by the long-running
        # worker only (they offer a post for approval)
        self.safe("notify daily", self.notifier.daily)
        self.notifier.send_due()
        self.sign_off()  # done: a finished run is not a worker at work

    def stop(self) -> None:
        """Finish the calls in flight, give back what was not started, record everything."""
        self.publisher.stop()
        self.recorder.flush(60.0)
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
            ("reconcile", lambda: self.reconciler.reconcile_all(self.stopping), max(1.0, min(15.0, s.reconcile_delay_seconds / 2)), 60),
            ("retract", self.retract, max(0.5, s.dispatch_interval), 30),
            ("metrics", self.poll_metrics, 20, 120),
            ("listen", self.listen, max(10.0, s.listen_seconds), 300),
            ("notify", self.notifier.send_due, 5, 60),
            ("notify-watch", self.notifier.watch, 60, 300),
            ("inbox", self.inbox, max(10.0, s.inbox_seconds), 300),
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
