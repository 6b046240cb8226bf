"""Proof 2: platform faults on six channels at once (the four, and the two-step publishing of
Threads and Instagram, whose images are fetched from the links service) (5xx after the write,
timeout after the write, connection resets, 429 storms, revoked tokens) end in the outcomes the
issue promises, and never in a second post."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Account, Attempt, Delivery, RateBucket
from orchestrator.services import accounts, deliveries
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.proofs.faults.helpers import ALL_KINDS as KINDS
from tests.proofs.faults.helpers import (
    CONTAINER_KINDS,
    PUBLISH_PATHS,
    MediaService,
    build_queue,
    check_exactly_once,
)

#: Kinds without deduplication, where an unknown outcome is looked for before anything else.
LOOK_FIRST = ("x", "facebook", *CONTAINER_KINDS)

pytestmark = pytest.mark.slow


def make_worker(engine: sa.Engine, media: MediaService) -> Worker:
    settings = get_settings().model_copy(update={
        "request_timeout": 1.0, "backoff_base": 0.01, "reconcile_delay_seconds": 0, "max_attempts": 5,
        **media.env()})
    return Worker(engine, settings=settings, worker_id="fault-worker")


def settle(worker: Worker, rounds: int = 6) -> None:
    for _ in range(rounds):
        worker.sweep()
        worker.reconcile()
        worker.dispatch(wait=True)
        worker.wait_idle()
        with db.session_scope(worker.engine) as session:  # backoffs of a few ms have passed
            for d in session.exec(select(Delivery).where(Delivery.state == states.RETRYING)):
                d.due_at = utcnow()


def outcomes_by_kind(engine: sa.Engine) -> dict[str, Counter[str]]:
    with db.session_scope(engine) as session:
        rows = session.exec(
            select(Account.kind, Attempt.outcome).join(Delivery, Delivery.id == Attempt.delivery_id)
            .join(Account, Account.id == Delivery.account_id))
        found: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
        for kind, outcome in rows:
            found[kind][outcome] += 1
        return found


def containers_resumed(sandbox) -> None:
    """Threads and Instagram: one container per post. A container made for a try whose outcome
    was lost is resumed (or found published) by the next, never made again beside it."""
    for kind in CONTAINER_KINDS:
        emulator = sandbox.sandbox.emulator(kind)
        with sandbox.sandbox.lock:
            made = len(emulator.containers)
        assert made == len(sandbox.sandbox.posts(kind)), (kind, made, len(sandbox.sandbox.posts(kind)))


def fault_on_every_publish(sandbox, action: str, **kwargs) -> None:
    for kind, path in PUBLISH_PATHS.items():
        sandbox.add_fault(action, platform=kind, method="POST", path=path, **kwargs)


@pytest.mark.parametrize("action", ["error_after_write", "timeout_after_write"])
def test_a_write_whose_answer_is_lost_is_published_once(engine, sandbox, media, action) -> None:
    kinds = build_queue(engine, sandbox.url, n=2 * len(KINDS), per_kind=1, kinds=KINDS)
    fault_on_every_publish(sandbox, action, status=503, delay=1.5)  # 1.5 s > the 1 s request timeout
    worker = make_worker(engine, media)
    settle(worker)
    check_exactly_once(engine, sandbox, kinds)
    seen = outcomes_by_kind(engine)
    for kind in LOOK_FIRST:  # no deduplication there: look before anything else
        assert seen[kind]["ambiguous"] >= 1 and seen[kind]["reconciled_found"] >= 1, (kind, seen[kind])
    # Mastodon's idempotency key makes the retry safe; Bluesky's fixed record key too, and its
    # client reads the record back after a 5xx
    assert seen["mastodon"]["ambiguous_safe_retry"] >= 1, seen["mastodon"]
    assert seen["mastodon"]["reconciled_found"] == 0
    assert seen["bluesky"]["reconciled_found"] == 0
    containers_resumed(sandbox)


def test_connection_resets_are_settled_then_published_once(engine, sandbox, media) -> None:
    kinds = build_queue(engine, sandbox.url, n=2 * len(KINDS), per_kind=1, kinds=KINDS)
    fault_on_every_publish(sandbox, "reset", count=2)
    worker = make_worker(engine, media)
    settle(worker)
    check_exactly_once(engine, sandbox, kinds)
    seen = outcomes_by_kind(engine)
    for kind in KINDS:
        assert seen[kind]["published"] + seen[kind]["reconciled_found"] == 2, (kind, seen[kind])
    # the reset left nothing behind: proved absent, then sent (Threads: its container, never
    # published, is resumed)
    for kind in LOOK_FIRST:
        assert seen[kind]["reconciled_absent"] >= 1, (kind, seen[kind])
    containers_resumed(sandbox)


def test_a_429_storm_waits_for_each_reset_and_charges_no_attempt(engine, sandbox, media) -> None:
    kinds = build_queue(engine, sandbox.url, n=3 * len(KINDS), per_kind=1, kinds=KINDS)
    fault_on_every_publish(sandbox, "rate_limit", count=3)
    worker = make_worker(engine, media)
    for _ in range(3):
        calls = {k: sandbox.sandbox.calls(k, path) for k, path in PUBLISH_PATHS.items()}
        worker.dispatch(wait=True)
        with db.session_scope(engine) as session:
            rows = session.exec(select(Delivery)).all()
            assert {d.state for d in rows} == {states.SCHEDULED} and {d.attempts for d in rows} == {0}
            assert all(d.due_at > utcnow() for d in rows)  # each waits for its platform's reset
            blocked = session.exec(select(RateBucket).where(RateBucket.endpoint == "publish")).all()
            assert all(b.blocked_until and b.blocked_until > utcnow() for b in blocked)
        assert worker.dispatch(wait=True) == 0  # nobody hammers a platform that said stop
        for kind, path in PUBLISH_PATHS.items():  # one refused call per platform, not one per post
            assert sandbox.sandbox.calls(kind, path) - calls[kind] == 1, kind
        with db.session_scope(engine) as session:  # time passes: every reset comes, budgets full again
            past = utcnow() - dt.timedelta(seconds=1)
            for d in session.exec(select(Delivery)):
                d.due_at = past
            for b in session.exec(select(RateBucket)):
                b.blocked_until = None
                b.tokens = float(b.capacity)  # a reset opens a new window (left empty, the budget
                # would spread the burst over the next few milliseconds instead of calling)
    settle(worker, rounds=2)
    check_exactly_once(engine, sandbox, kinds)
    containers_resumed(sandbox)  # a refused publishing keeps its container for the next
    with db.session_scope(engine) as session:
        assert {d.attempts for d in session.exec(select(Delivery))} == {1}


def test_a_revoked_token_fails_one_holds_the_rest_until_tested(engine, sandbox, media) -> None:
    kinds = build_queue(engine, sandbox.url, n=3 * len(KINDS), per_kind=1, kinds=KINDS)
    for kind in KINDS:
        sandbox.add_fault("revoke", platform=kind, count=10**6)
    worker = make_worker(engine, media)
    settle(worker, rounds=2)
    with db.session_scope(engine) as session:
        rows = session.exec(select(Delivery).order_by(Delivery.id)).all()
        by_state = Counter(d.state for d in rows)
        assert by_state == {states.FAILED: len(KINDS), states.HELD: 2 * len(KINDS)}, by_state
        assert {d.last_error_kind for d in rows if d.state == states.FAILED} == {"auth"}
        assert not any(a.healthy for a in session.exec(select(Account)))
        names = [a.name for a in session.exec(select(Account))]
    assert sum(len(sandbox.sandbox.posts(k)) for k in KINDS) == 0
    sandbox.sandbox.faults.clear()  # the tokens are renewed
    with db.session_scope(engine) as session:
        for name in names:
            assert accounts.test_account(session, actor=SYSTEM, name=name)[0]
        assert deliveries.retry_all_failed(session, actor=SYSTEM) == len(KINDS)  # a person retries the failures
    settle(worker, rounds=2)
    check_exactly_once(engine, sandbox, kinds)
