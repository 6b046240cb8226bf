"""The recorder: writes what each publish call came to, by the table of :mod:`orchestrator.outcomes`.

Successes are written in batches, off the publishing thread: a runner hands each one (the
platform's id and answer) to one recorder thread per process and goes on with its next call; the
recorder writes whatever has accumulated in one transaction. If the process dies before a success
is written, its lease expires and reconciling finds the post on the platform: nothing is lost,
and nothing is sent twice. Failures are written at once: they decide what the runner does next.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from channels.base import AmbiguousError, ChannelError, Published, RateInfo, RateLimited
from orchestrator import budgets, outcomes, states
from orchestrator.db import fetch_rows, retry_db, session_scope
from orchestrator.models import Account, Delivery
from orchestrator.outcomes import ForAccount, Result
from orchestrator.services.accounts import mark_unhealthy
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.claimer import Claimed

log = logging.getLogger("porte_voix.worker")

#: How long the recorder lets successes accumulate before writing them (one transaction for all).
GATHER_SECONDS = 0.25
MAX_BATCH = 500
#: the line of the outcome table for a publication (the state and the attempt row's outcome)
_PUBLISHED = outcomes.decide(outcomes.Result.PUBLISHED, outcomes.Facts())


@dataclasses.dataclass
class Success:
    item: Claimed
    published: Published
    duration_ms: int
    infos: list[RateInfo]


class Recorder:
    def __init__(self, engine: sa.Engine, settings: Settings, worker_id: str, *,
                 publishing: Callable[[], bool], stopping: threading.Event) -> None:
        """``publishing`` tells whether a runner of this process is publishing (successes are
        gathered only then); ``stopping`` is set when the worker stops."""
        self.engine = engine
        self.settings = settings
        self.id = worker_id
        self.postgres = engine.dialect.name == "postgresql"
        self._publishing = publishing
        self._stopping = stopping
        self._recorded = threading.Condition()
        self._unrecorded = 0
        self._outbox: queue.Queue[Success] = queue.Queue()
        self._thread: threading.Thread | None = None
        # set when a runner has nothing more to publish: what it handed over is written at once
        self._record_now = threading.Event()

    def record_soon(self) -> None:
        """A runner ended: write what it handed over without waiting for more."""
        self._record_now.set()

    def enqueue(self, success: Success) -> None:
        with self._recorded:
            self._unrecorded += 1
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._record_loop, name="recorder", daemon=True)
                self._thread.start()
        self._outbox.put(success)

    def flush(self, timeout: float = 120.0) -> bool:
        """Wait until every success handed to the recorder is in the database."""
        deadline = time.monotonic() + timeout
        with self._recorded:
            while self._unrecorded:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._recorded.wait(min(left, 0.5))
        return True

    def _gather(self) -> list[Success] | None:
        """Wait for a first success, then let more accumulate for up to ``GATHER_SECONDS``
        without waking up for each one (a wake-up per success would take the interpreter from
        the publishing threads at every call), and take them all. No waiting when no runner is
        left in this process (the end of a burst, a single post) or when a full batch is
        already waiting: what has been published is written at once."""
        try:
            batch = [self._outbox.get(timeout=5.0)]
        except queue.Empty:
            return None
        deadline = time.monotonic() + GATHER_SECONDS
        while not self._stopping.is_set() and self._outbox.qsize() < MAX_BATCH - 1:
            left = deadline - time.monotonic()
            if not self._publishing() or left <= 0:
                break
            self._record_now.wait(left)  # set when a runner ends: look again
            self._record_now.clear()
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._outbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _record_loop(self) -> None:
        pause = 0.05
        while True:
            batch = self._gather()
            if batch is None:
                if self._stopping.is_set():
                    return
                continue
            while True:  # never drop an outcome while the process lives
                try:
                    self._record_published(batch)
                    pause = 0.05
                    break
                except Exception:
                    log.exception("recording %d outcome(s) failed; trying again", len(batch))
                    time.sleep(pause)
                    pause = min(pause * 2, 5.0)
            with self._recorded:
                self._unrecorded -= len(batch)
                self._recorded.notify_all()

    def record_failure(self, item: Claimed, exc: BaseException, *, duration_ms: int, infos: list[RateInfo],
                       safe_retry: bool) -> ForAccount:
        """Write what a failed call comes to, at once; what it means for the account's other
        deliveries. ``safe_retry``: the platform cannot make a second post if it is sent again."""
        return retry_db(lambda: self._record_failure(item, exc, duration_ms, infos, safe_retry),
                        "record failure", tries=4)

    def _record_failure(self, item: Claimed, exc: BaseException, duration: int, infos: list[RateInfo],
                        safe_retry: bool) -> ForAccount:
        now = utcnow()
        result = Result.of(exc)
        if not isinstance(exc, ChannelError):  # a bug of ours or the SDK's: we cannot know whether it posted
            exc = AmbiguousError(f"unexpected error: {exc!r}")
        reason = exc.text("fr")
        with session_scope(self.engine) as session:
            query = select(Delivery).where(Delivery.id == item.delivery_id)
            if self.postgres:
                query = query.with_for_update()
            delivery = session.exec(query).one()
            if delivery.state != states.PUBLISHING or delivery.worker_id != self.id:
                log.warning("delivery %s changed while publishing (now %s); outcome %s dropped",
                            delivery.id, delivery.state, exc.kind)
                return ForAccount.GOES_ON
            attempts = delivery.attempts + 1
            then = outcomes.decide(result, outcomes.Facts(
                attempts=attempts, max_attempts=self.settings.max_attempts,
                safe_retry=safe_retry,
                tried_before=delivery.attempts > 0 or item.was_ambiguous))
            reset_at = exc.reset_at if isinstance(exc, RateLimited) else None
            due = outcomes.due_at(then.due, now=now, current=delivery.due_at, attempts=attempts,
                                  settings=self.settings, reset_at=reset_at)
            charged = attempts if then.counts else delivery.attempts
            states.transition(session, delivery, outcomes.target_state(then, charged), actor=self.id,
                              outcome=then.outcome, detail=reason, duration_ms=duration, worker_id=None,
                              lease_until=None, last_error=reason, last_error_kind=exc.kind, attempts=charged,
                              due_at=due)
            if then.account is ForAccount.PAUSED:
                budgets.block_until(session, account_id=item.account_id, endpoint="publish", until=due)
            elif then.account is ForAccount.UNHEALTHY:
                fresh = session.get(Account, item.account_id)
                assert fresh is not None
                mark_unhealthy(session, account=fresh, reason=reason)
            budgets.correct(session, account_id=item.account_id, infos=infos)
        return then.account

    def _record_published(self, batch: list[Success]) -> None:
        now = utcnow()
        ids = sorted(s.item.delivery_id for s in batch)
        with session_scope(self.engine) as session:
            current = _current(session.connection(), ids, lock=self.postgres)
            infos: dict[int, list[RateInfo]] = defaultdict(list)
            moves: list[tuple[int, str, dict[str, object]]] = []
            for success in batch:
                infos[success.item.account_id].extend(success.infos)
                delivery_id = success.item.delivery_id
                state, attempts = current[delivery_id]
                published = success.published
                facts: dict[str, Any] = {"platform_id": published.platform_id, "platform_url": published.url,
                         "published_at": published.published_at or now, "next_metrics_at": now,
                         "last_error": "", "last_error_kind": "", **outcome_facts(published)}
                if state in (states.PUBLISHING, states.UNCONFIRMED):  # the usual case, written together
                    moves.append((delivery_id, state, {**facts, "attempts": attempts + 1,
                                                       "duration_ms": success.duration_ms}))
                    continue
                delivery = session.get(Delivery, delivery_id)
                assert delivery is not None
                if state in states.CLAIMABLE:
                    # Our lease ran out (a stalled process, a skewed clock) and it went back to
                    # the queue: record the truth so it is not sent again.
                    log.error("delivery %s published after its lease ran out", delivery_id)
                    states.transition(session, delivery, states.PUBLISHED, actor=self.id, outcome="late_outcome",
                                      duration_ms=success.duration_ms, **facts)
                else:  # keep the platform id whatever happened: it is the proof the post exists
                    log.error("delivery %s published while %s", delivery_id, state)
                    delivery.platform_id = published.platform_id
                    delivery.platform_url = published.url
                    delivery.part_ids = list(published.part_ids)
                    session.add(delivery)
            states.transition_many(session, moves, _PUBLISHED.state, actor=self.id, outcome=_PUBLISHED.outcome,
                                   worker_id=None, lease_until=None)
            for account_id in sorted(infos):  # buckets after deliveries, in account order
                budgets.correct(session, account_id=account_id, infos=infos[account_id])



def outcome_facts(published: Published) -> dict[str, Any]:
    """What a delivery keeps of a publication besides its id: every part's id (a thread) and
    the note on how it went out (X refused the thread's replies); nothing for a single post (the
    hot path writes the columns it always wrote)."""
    facts: dict[str, Any] = {}
    if published.part_ids:
        facts["part_ids"] = list(published.part_ids)
    if published.note is not None:
        facts["note"] = {"fr": published.note.text("fr"), "en": published.note.text("en")}
    return facts


@functools.lru_cache(maxsize=2)
def _current_query(lock: bool) -> sa.Select[Any]:
    """State and attempts of deliveries ``ids``, locked on PostgreSQL; built once."""
    d = Delivery.__table__  # type: ignore[attr-defined]
    query = sa.select(d.c.id, d.c.state, d.c.attempts).where(d.c.id.in_(sa.bindparam("ids", expanding=True)))
    return query.order_by(d.c.id).with_for_update() if lock else query


def _current(connection: sa.Connection, ids: list[int], *, lock: bool) -> dict[int, tuple[str, int]]:
    """State and attempts of deliveries ``ids`` (in one driver step on SQLite: ``db.fetch_rows``)."""
    rows = fetch_rows(connection, _current_query(lock), {"ids": ids})
    return {int(i): (str(state), int(attempts)) for i, state, attempts in rows}
