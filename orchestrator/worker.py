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
   When the batch is done it claims the account's next due deliveries at once (no tick wait).
3. A success is handed to the recorder thread, which writes outcomes in batches (one transaction
   for many) while the runner goes on with the next call. If the process dies in between, the
   lease expires and reconciling finds the post: the platform's answer is never needed twice.
   Failures are recorded at once: they decide what the runner does next.
4. Sweeping, reconciling and metrics live in :mod:`orchestrator.worker_jobs`.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
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

from channels.base import AmbiguousError, ChannelError, PublishRequest
from orchestrator import __version__, budgets, states
from orchestrator.db import session_scope
from orchestrator.models import Account, Attempt, Case, Delivery, Post, WorkerHeartbeat
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker_jobs import Claimed, JobsMixin, backoff, retry_db
from orchestrator.worker_record import RecorderMixin, Success

log = logging.getLogger("porte_voix.worker")

_ADVISORY_NAMESPACE = 0x5056  # "PV": keeps our advisory locks apart from anyone else's

__all__ = ["Claimed", "Worker", "backoff"]


class Worker(RecorderMixin, JobsMixin):
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
        self._init_recorder()
        self._init_channels(channel_factory)

    # ------------------------------------------------------------------------------------------
    # claiming

    def _due_query(self, session: Any, now: dt.datetime, limit: int, account_id: int | None,
                   exclude: set[int]) -> Any:
        """Ids and accounts of what is due, earliest first (light rows: most are not taken)."""
        # an account another worker is publishing on stays with it: one account, one order
        busy = set(session.exec(
            select(Delivery.account_id).where(Delivery.state == states.PUBLISHING, Delivery.worker_id != self.id)
            .distinct()
        ))
        query = (
            select(Delivery.id, Delivery.account_id)
            .join(Post, col(Post.id) == Delivery.post_id)
            .join(Account, col(Account.id) == Delivery.account_id)
            .where(
                col(Delivery.state).in_(states.CLAIMABLE),
                Delivery.due_at <= now,
                Post.status == "approved",
                col(Delivery.rendered_text).is_not(None),
                Account.healthy == sa.true(),
            )
            .order_by(col(Delivery.due_at), col(Delivery.scheduled_at), col(Delivery.id))
            .limit(limit)
        )
        if account_id is not None:
            query = query.where(Delivery.account_id == account_id)
        if exclude | busy:
            query = query.where(col(Delivery.account_id).not_in(sorted(exclude | busy)))
        if self.postgres:
            query = query.with_for_update(skip_locked=True, of=Delivery)  # type: ignore[arg-type]
        return query

    def claim(self, now: dt.datetime | None = None, *, account_id: int | None = None,
              max_accounts: int | None = None, exclude: set[int] | None = None) -> list[Claimed]:
        """Claim what is due: one account's next batch (``account_id``), or batches of up to
        ``max_accounts`` accounts not in ``exclude`` (those with the earliest due first)."""
        now = now or utcnow()
        per_account = max(1, self.settings.claim_batch)
        accounts_wanted = 1 if account_id is not None else (max_accounts or self.settings.publish_threads)
        claimed: list[Claimed] = []
        with session_scope(self.engine) as session:
            due = session.exec(self._due_query(session, now, per_account * accounts_wanted, account_id,
                                               exclude or set()))
            chosen: dict[int, list[int]] = {}
            for delivery_id, acc_id in due:
                ids = chosen.setdefault(acc_id, []) if len(chosen) < accounts_wanted else chosen.get(acc_id)
                if ids is not None and len(ids) < per_account:
                    ids.append(delivery_id)
            if not chosen:
                return []
            wanted = [i for ids in chosen.values() for i in ids]
            loaded = {
                d.id: (d, p, c)
                for d, p, c in session.exec(
                    select(Delivery, Post, Case.status)
                    .join(Post, col(Post.id) == Delivery.post_id)
                    .outerjoin(Case, col(Case.id) == Post.case_id)
                    .where(col(Delivery.id).in_(wanted))
                )
            }
            for acc_id in sorted(chosen):  # locks in account order: no deadlock with the recorder
                if self.postgres and not self._lock_account(session, acc_id):
                    continue
                batch = self._apply_gates(session, [loaded[i] for i in chosen[acc_id]])
                if batch:
                    claimed.extend(self._claim_batch(session, acc_id, batch, now))
        return claimed

    def _lock_account(self, session: Any, account_id: int) -> bool:
        got = session.execute(sa.select(sa.func.pg_try_advisory_xact_lock(_ADVISORY_NAMESPACE, account_id))).scalar()
        if not got:
            return False  # another worker is claiming this account right now
        busy = session.exec(
            select(Delivery.id).where(Delivery.account_id == account_id, Delivery.state == states.PUBLISHING,
                                      Delivery.worker_id != self.id).limit(1)
        ).first()
        return busy is None

    def _apply_gates(self, session: Any, batch: list[tuple[Delivery, Post, str | None]]) -> list[tuple[Delivery, Post]]:
        """A paused case holds its deliveries even if the pause raced the claim."""
        kept = []
        for delivery, post, case_status in batch:
            if case_status is not None and case_status != "active":
                states.transition(session, delivery, states.HELD, actor=self.id, outcome="held",
                                  detail=f"case {case_status}", held_reason=f"case {case_status}")
                continue
            kept.append((delivery, post))
        return kept

    def _claim_batch(self, session: Any, account_id: int, batch: list[tuple[Delivery, Post]],
                     now: dt.datetime) -> list[Claimed]:
        bucket = budgets.lock_bucket(session, account_id=account_id, endpoint="publish")
        allowed, next_free = len(batch), None
        if bucket is not None:
            allowed, next_free = budgets.take(bucket, now, len(batch))
            session.add(bucket)
        for delivery, _post in batch[allowed:]:
            # spread the burst: wait for the budget instead of being refused
            delivery.due_at = next_free or now + dt.timedelta(seconds=1)
            session.add(delivery)
        taken = batch[:allowed]
        history = self._history(session, [d.id for d, _ in taken if d.attempts])  # type: ignore[misc]
        lease = now + dt.timedelta(seconds=self.settings.lease_seconds)
        claimed = []
        moves: list[tuple[int, str, dict[str, Any]]] = []
        for delivery, post in taken:
            try:
                request = self._request(delivery, post)
            except Exception as exc:  # e.g. an image file gone: a person must fix the post
                states.transition(session, delivery, states.PUBLISHING, actor=self.id, outcome="claimed",
                                  worker_id=self.id, lease_until=lease)
                reason = getattr(exc, "fr", None) or str(exc)
                states.transition(session, delivery, states.FAILED, actor=self.id, outcome="permanent",
                                  detail=reason, worker_id=None, lease_until=None, last_error=reason,
                                  last_error_kind="permanent")
                continue
            moves.append((delivery.id, delivery.state, {}))  # type: ignore[arg-type]
            first_try, was_ambiguous = history.get(delivery.id, (None, False))  # type: ignore[arg-type]
            claimed.append(Claimed(
                delivery_id=delivery.id,  # type: ignore[arg-type]
                account_id=account_id, request=request, lease_until=lease, attempts=delivery.attempts,
                first_try_at=first_try or now, was_ambiguous=was_ambiguous,
            ))
        states.transition_many(session, moves, states.PUBLISHING, actor=self.id, outcome="claimed",
                               worker_id=self.id, lease_until=lease)
        return claimed

    def _history(self, session: Any, ids: list[int]) -> dict[int, tuple[dt.datetime, bool]]:
        """For deliveries tried before: when the first try was claimed, and whether any try may
        have gone out (a safe retry with the same key only holds within the platform's window)."""
        if not ids:
            return {}
        rows = session.exec(
            select(Attempt.delivery_id, sa.func.min(Attempt.at),
                   sa.func.max(sa.case((col(Attempt.to_state) == states.UNCONFIRMED, 1),
                                       (col(Attempt.outcome).like("ambiguous%"), 1), else_=0)))
            .where(col(Attempt.delivery_id).in_(ids), col(Attempt.to_state).in_(
                (states.PUBLISHING, states.UNCONFIRMED, states.RETRYING)))
            .group_by(col(Attempt.delivery_id))
        )
        return {delivery_id: (first, bool(flag)) for delivery_id, first, flag in rows}

    @staticmethod
    def _request(delivery: Delivery, post: Post) -> PublishRequest:
        from orchestrator.services.deliveries import post_images

        assert delivery.rendered_text is not None
        return PublishRequest(
            key=f"pv-{delivery.source_code}-{delivery.id}",
            text=delivery.rendered_text,
            link=delivery.rendered_link,
            images=tuple(post_images(post)),
            language=post.language,
        )

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

    def _compute_fair_share(self) -> int:
        """How many accounts this worker may run at once: all of them when alone; a fair part
        of the accounts that have work when other workers' heartbeats are fresh."""
        now = utcnow()
        stale = now - dt.timedelta(seconds=self.settings.heartbeat_stale_seconds)
        with session_scope(self.engine) as session:
            live = session.exec(
                select(sa.func.count()).select_from(WorkerHeartbeat)
                .where(WorkerHeartbeat.last_seen >= stale, WorkerHeartbeat.id != self.id)
            ).one() + 1
            if live == 1:
                return self.settings.publish_threads
            with_work = session.exec(
                select(sa.func.count(sa.distinct(col(Delivery.account_id)))).where(
                    sa.or_(sa.and_(col(Delivery.state).in_(states.CLAIMABLE), col(Delivery.due_at) <= now),
                           col(Delivery.state) == states.PUBLISHING))
            ).one()
        return max(1, math.ceil(with_work / live))

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
                if not went_well or self._stopping.is_set() or len(self._active) > self._fair_share:
                    # let the next tick (or another worker) take this account
                    retry_db(partial(self._release, [i.delivery_id for i in items]), "release", tries=3)
                    return
        finally:
            with self._inflight_lock:
                self._active.discard(account_id)

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
                outcome = self._publish_one(item, account)
                clean = clean and outcome == "ok"
                if outcome == "stop":
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

    def _publish_one(self, item: Claimed, account: Account) -> str:
        """Publish one claimed delivery: "ok", "failed", or "stop" when the account should stop
        for now."""
        channel = self.channel(account, "publish")
        if self._outside_idempotency_window(item, channel):
            exc: ChannelError = AmbiguousError(
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
        except Exception as exc:  # a bug of ours or the SDK's: we cannot know whether it posted
            duration = int((time.monotonic() - started) * 1000)
            log.exception("unexpected error while publishing delivery %s", item.delivery_id)
            return self._failed(item, account, AmbiguousError(f"unexpected error: {exc!r}"), duration, channel)
        duration = int((time.monotonic() - started) * 1000)
        self._enqueue(Success(item, published, duration, channel.take_rate_info()))
        self._persist_session(account, "publish", channel)
        return "ok"

    def _failed(self, item: Claimed, account: Account, exc: ChannelError, duration: int, channel: Any) -> str:
        return "failed" if self._record_failure(item, account, exc, duration, channel) else "stop"

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
        for _ in range(2):  # publish, then what reconciling sent back to the queue
            self.reconcile()
            for _ in range(max_rounds):
                if self.dispatch(wait=True) == 0:
                    break
            self.wait_idle()
        self.poll_metrics()
        self.heartbeat()

    def stop(self) -> None:
        """Finish the calls in flight, give back what was not started, record everything."""
        self._stopping.set()
        self.pool.shutdown(wait=True)
        self._claims.shutdown(wait=True)
        self.flush(60.0)

    def run_forever(self) -> None:
        import signal

        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        s = self.settings
        jobs = [
            # a missed dispatch tick is simply replaced by the next one
            ("dispatch", lambda: self.dispatch(), s.dispatch_interval, 5),
            ("heartbeat", self.heartbeat, s.heartbeat_seconds, 30),
            ("sweep", self.sweep, max(1.0, min(30.0, s.lease_seconds / 2)), 60),
            ("reconcile", self.reconcile, max(1.0, min(15.0, s.reconcile_delay_seconds / 2)), 60),
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
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.stop()
