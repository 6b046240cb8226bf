"""The publisher: one runner per account with due work, in parallel across accounts, in order
within an account.

1. :meth:`Publisher.dispatch` claims due deliveries for accounts without a runner, at most one
   runner per account and, when several workers share the database, at most this worker's fair
   share of the accounts that have work (counted from the heartbeats). Alone, a worker runs every
   account that has work at once, up to ``publish_threads``: a burst goes out at the platforms'
   pace, each account's calls one after the other.
2. A runner publishes its account's batch in order, renewing the batch's lease before each call
   while it has less than half left, and never starting a call without enough lease to finish it:
   an expired lease is swept to ``unconfirmed`` by anyone, and must not be racing a live call.
   The account's next batch is claimed while this one is published (off the publishing thread),
   and a delivery due within a second is waited for, not left to the next tick.
3. Each call's end goes to the recorder: a success is queued and written in a batch while the
   runner goes on; a failure is written at once, and the table of :mod:`orchestrator.outcomes`
   says whether the account goes on.

Safe retries: Bluesky (``publish_is_idempotent``: the record key is derived from the delivery) and
Mastodon (``retry_is_safe``: the ``Idempotency-Key`` is honoured for an hour) cannot make a second
post when the same ``PublishRequest.key`` is sent again, so an ambiguous outcome there is retried
(outcome ``ambiguous_safe_retry``) instead of waiting for a look at the timeline. On Mastodon this
holds only while the first try is well inside the window; later, and on X and Facebook always, an
ambiguous outcome is ``unconfirmed`` and reconciled first.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial

import sqlalchemy as sa
from sqlmodel import col, select

from channels import thread
from channels.base import AmbiguousError, Channel, ChannelError
from orchestrator import media_urls, states
from orchestrator.db import read_scope, retry_db, session_scope
from orchestrator.models import Account, Delivery
from orchestrator.outcomes import Attempted, Result
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels
from orchestrator.worker.claimer import Claimed, Claimer
from orchestrator.worker.recorder import Recorder, Success

log = logging.getLogger("porte_voix.worker")

#: A runner whose account has its next delivery due within this many seconds waits for it.
HOT_SECONDS = 1.0
#: Keep this much of a platform's idempotency window unused: the retry must land well inside it.
WINDOW_MARGIN = dt.timedelta(minutes=10)


class Runners:
    """The accounts with a runner in this process (never two runners for one account)."""

    def __init__(self) -> None:
        self._accounts: set[int] = set()
        self._lock = threading.Lock()

    def add(self, account_id: int) -> None:
        with self._lock:
            self._accounts.add(account_id)

    def discard(self, account_id: int) -> None:
        with self._lock:
            self._accounts.discard(account_id)

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()

    def accounts(self) -> set[int]:
        with self._lock:
            return set(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)

    def __bool__(self) -> bool:
        return bool(self._accounts)


class Publisher:
    def __init__(self, engine: sa.Engine, settings: Settings, worker_id: str, *, claimer: Claimer,
                 recorder: Recorder, channels: Channels, runners: Runners, stopping: threading.Event) -> None:
        self.engine = engine
        self.settings = settings
        self.id = worker_id
        self.claimer = claimer
        self.recorder = recorder
        self.channels = channels
        self.runners = runners
        self._stopping = stopping
        # Threads start as accounts have due work, up to the ceiling, and are kept for the next burst.
        self.pool = ThreadPoolExecutor(max_workers=settings.publish_threads, thread_name_prefix="publish")
        self._claims = ThreadPoolExecutor(max_workers=settings.publish_threads, thread_name_prefix="claim")
        self._inflight: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._fair_share = settings.publish_threads

    def dispatch(self, *, wait: bool = False) -> int:
        """Claim what is due for accounts without a runner, up to this worker's share, and start
        one runner per account (in order within an account, in parallel across accounts)."""
        if self._stopping.is_set():
            return 0
        self._fair_share = self.claimer.fair_share()
        active = self.runners.accounts()
        slots = min(self.settings.publish_threads, self._fair_share) - len(active)
        if slots <= 0:
            return 0
        claimed = self.claimer.claim(max_accounts=slots, exclude=active)
        by_account: dict[int, list[Claimed]] = defaultdict(list)
        for item in claimed:
            by_account[item.account_id].append(item)
        futures = []
        for account_id, items in by_account.items():
            self.runners.add(account_id)
            future = self.pool.submit(self._run_account, account_id, items)
            with self._lock:
                self._inflight.add(future)
            future.add_done_callback(self._done)
            futures.append(future)
        if wait:
            for future in futures:
                future.result()
            self.recorder.flush()
        return len(claimed)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._inflight.discard(future)
        if future.exception() is not None:
            log.error("publish runner crashed", exc_info=future.exception())

    def wait_idle(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = list(self._inflight)
            if not pending:
                break
            for future in pending:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # logged by _done
                    pass
        self.recorder.flush(max(0.0, deadline - time.monotonic()))

    def _run_account(self, account_id: int, items: list[Claimed]) -> None:
        """Publish an account's batches one after the other. The next batch is claimed while
        this one is being published (off the publishing thread), so the account never waits
        for the database between two calls; it is given back if the account has to stop."""
        upcoming: Future[list[Claimed]] | None = None
        try:
            while items:
                upcoming = self._claims.submit(retry_db, partial(self.claimer.claim, account_id=account_id), "claim", tries=3)
                went_well = self.publish_batch(items)
                try:
                    items = upcoming.result()
                except Exception:
                    log.exception("claiming more for account %s failed", account_id)
                    items = []
                upcoming = None
                if went_well and not items and not self._stopping.is_set():
                    items = self._claim_soon(account_id)
                if not went_well or self._stopping.is_set() or len(self.runners) > self._fair_share:
                    # let the next tick (or another worker) take this account
                    retry_db(partial(self.claimer.release, [i.delivery_id for i in items]), "release", tries=3)
                    return
        finally:
            self.runners.discard(account_id)
            self.recorder.record_soon()

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
        return retry_db(partial(self.claimer.claim, account_id=account_id), "claim", tries=3)

    def publish_batch(self, items: list[Claimed]) -> bool:
        """Publish in order; True when every item went out (the runner may go on with the
        account's next due deliveries), False after a failure or when the account must stop
        (auth, rate limit, crash): what follows waits for the next tick."""
        done, clean = 0, True
        try:
            account = self.channels.account(items[0].account_id)
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
                attempted = self.publish_one(item, account)
                clean = clean and attempted.published
                if attempted.account.stops:
                    break
            else:
                return clean
        except Exception:
            log.exception("runner for account %s stopped", items[0].account_id)
        # the account cannot take more now: give the rest back
        retry_db(lambda: self.claimer.release([i.delivery_id for i in items[done:]]), "release", tries=3)
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
        except Exception:  # no call starts without its lease; the batch waits for the sweep
            log.warning("lease of %d delivery(ies) could not be renewed; no call starts without it",
                        len(remaining), exc_info=True)
            ours = set()
        for i in remaining:
            if i.delivery_id in ours:
                i.lease_until = lease
        return item.delivery_id in ours and (lease - utcnow()).total_seconds() >= margin

    def _margin(self, item: Claimed) -> float:
        """Lease needed to start a publish call: its requests (one per image, one for the post)
        each bounded by the request timeout, plus a second for clocks and scheduling. A thread's
        parts each start only with this much left (``channels.thread.lease``, renewed between
        parts): its largest part, and one look for a part whose outcome is unknown."""
        request = item.request
        if not request.parts:
            return self.settings.request_timeout * (1 + len(request.images)) + 1.0
        calls = 2 + max(len(request.images), *(len(part.images) for part in request.parts))
        return self.settings.request_timeout * calls + 1.0

    def publish_one(self, item: Claimed, account: Account) -> Attempted:
        """Publish one claimed delivery: how it ended, and whether the account goes on."""
        channel = self.channels.get(account, "publish")
        if self._outside_idempotency_window(item, channel):
            exc: BaseException = AmbiguousError(
                "An earlier try may have gone out and the platform no longer deduplicates it: look first.",
                message_fr="Un essai précédent est peut-être parti et la plateforme ne le dédoublonne "
                "plus : vérification avant tout nouvel essai.")
            return self._failed(item, exc, 0, channel)
        request = item.request
        try:  # image addresses (a platform that fetches images) signed again, from now
            request = media_urls.refreshed(request, settings=self.settings)
        except Exception:  # nothing sent yet: the claim's addresses serve while they last
            log.warning("image addresses of delivery %s not renewed", item.delivery_id, exc_info=True)
        started = time.monotonic()
        try:
            with thread.lease(partial(self._ensure_lease, [item])):  # renewed between a thread's parts
                published = channel.publish(request)
        except ChannelError as exc:
            duration = int((time.monotonic() - started) * 1000)
            self.channels.keep_session(account, "publish", channel)
            return self._failed(item, exc, duration, channel)
        except Exception as exc:  # a bug of ours or the SDK's: the table treats it as ambiguous
            duration = int((time.monotonic() - started) * 1000)
            log.exception("unexpected error while publishing delivery %s", item.delivery_id)
            return self._failed(item, exc, duration, channel)
        duration = int((time.monotonic() - started) * 1000)
        self.recorder.enqueue(Success(item, published, duration, channel.take_rate_info()))
        self.channels.keep_session(account, "publish", channel)
        return Attempted(Result.PUBLISHED)

    def _failed(self, item: Claimed, exc: BaseException, duration: int, channel: Channel) -> Attempted:
        for_account = self.recorder.record_failure(item, exc, duration_ms=duration, infos=channel.take_rate_info(),
                                                   safe_retry=self._safe_to_retry(item, channel, utcnow()))
        return Attempted(Result.of(exc), for_account)

    def _safe_to_retry(self, item: Claimed, channel: Channel, now: dt.datetime) -> bool:
        if channel.publish_is_idempotent:
            return True
        window = channel.idempotency_window
        if channel.retry_is_safe and window is not None:
            first = item.first_try_at or now
            return now + dt.timedelta(seconds=self.settings.backoff_base * 2) < first + window - WINDOW_MARGIN
        return False

    def _outside_idempotency_window(self, item: Claimed, channel: Channel) -> bool:
        """A Mastodon retry after a possible first post, once the key may have been forgotten."""
        window = channel.idempotency_window
        if not (item.was_ambiguous and channel.retry_is_safe and window is not None):
            return False
        if channel.publish_is_idempotent:
            return False
        return utcnow() > (item.first_try_at or utcnow()) + window - WINDOW_MARGIN

    def stop(self) -> None:
        """Finish the calls in flight (what was not started is given back by its runner)."""
        self._stopping.set()
        self.recorder.record_soon()
        self.pool.shutdown(wait=True)
        self._claims.shutdown(wait=True)
