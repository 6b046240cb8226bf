"""Proof 2 for threads: a thread of four parts on X, Mastodon, Bluesky and Facebook whose part 3
fails (a 5xx after the write, or no answer after the write) goes on with part 3 — found, not
posted again — and never re-posts parts 1–2; a part 3 that never left is sent once. Checked on
the emulators' side: each part's parent, the root, the order, no part twice."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Delivery
from tests.proofs.faults.helpers import KINDS, PART_PATHS, build_threads, check_threads
from tests.proofs.faults.test_platform_faults import outcomes_by_kind, settle

pytestmark = pytest.mark.slow


def make_worker(engine):
    from orchestrator.settings import get_settings
    from orchestrator.worker import Worker

    settings = get_settings().model_copy(update={
        "request_timeout": 1.0, "backoff_base": 0.01, "reconcile_delay_seconds": 0, "max_attempts": 5})
    return Worker(engine, settings=settings, worker_id="thread-worker")


def fault_on_part(sandbox, part: int, action: str, **kwargs) -> None:
    """``action`` on the call that sends part ``part`` (1-based) on each platform."""
    for kind, path in PART_PATHS.items():
        skip = part - 1 if kind != "facebook" else part - 2  # Facebook: part 1 is the post, not a comment
        sandbox.add_fault(action, platform=kind, method="POST", path=path, skip=skip, **kwargs)


def part_calls(sandbox) -> dict[str, int]:
    """Calls that may post a part (POST only: a look at a post's comments is a GET)."""
    with sandbox.sandbox.lock:
        log = list(sandbox.sandbox.request_log)
    return {kind: sum(1 for p, m, path in log if p == kind and m == "POST" and re.search(pattern, path))
            for kind, pattern in PART_PATHS.items()}


@pytest.mark.parametrize("action", ["error_after_write", "timeout_after_write"])
def test_part_three_lost_after_the_write_goes_on_from_part_three(engine, sandbox, action) -> None:
    kinds = build_threads(engine, sandbox.url)
    fault_on_part(sandbox, 3, action, status=503, delay=1.5)  # 1.5 s > the 1 s request timeout
    worker = make_worker(engine)
    settle(worker)
    check_threads(engine, sandbox, kinds)
    seen = outcomes_by_kind(engine)
    for kind in ("x", "facebook"):  # no deduplication: part 3 was looked for, found, then part 4 sent
        assert seen[kind]["ambiguous"] >= 1 and seen[kind]["reconciled_absent"] >= 1, (kind, seen[kind])
    if action == "timeout_after_write":  # Mastodon's per-part key: a safe retry, which looks first
        assert seen["mastodon"]["ambiguous_safe_retry"] >= 1, seen["mastodon"]
    calls = part_calls(sandbox)
    # every part sent once, part 3 once more at most where the platform answers a repeat by the
    # same key (Bluesky reads its record back after a 5xx and never repeats)
    assert calls["x"] == 4 and calls["facebook"] == 3, calls
    assert calls["bluesky"] == 4 and calls["mastodon"] == 4, calls


def test_part_three_that_never_left_is_sent_once(engine, sandbox) -> None:
    kinds = build_threads(engine, sandbox.url)
    fault_on_part(sandbox, 3, "reset")
    worker = make_worker(engine)
    settle(worker)
    check_threads(engine, sandbox, kinds)


def test_a_thread_whose_part_three_is_refused_keeps_parts_one_and_two(engine, sandbox) -> None:
    """A refusal of part 3 (a 400 from the platform) fails the delivery; a person's retry later
    sends part 3 and 4 only: parts 1–2 are never posted again."""
    from orchestrator.services import deliveries
    from orchestrator.services.auth import SYSTEM

    kinds = build_threads(engine, sandbox.url)
    fault_on_part(sandbox, 3, "error", status=400)
    worker = make_worker(engine)
    settle(worker, rounds=2)
    with db.session_scope(engine) as session:
        states = {kinds[d.id]: d.state for d in session.exec(select(Delivery))}
    assert set(states) == set(KINDS) and all(s in ("failed", "retrying") for s in states.values()), states
    for kind in KINDS:  # two parts out, no more
        assert len([p for p in sandbox.sandbox.posts(kind)]) + sum(
            len(p.get("comments") or []) for p in sandbox.sandbox.posts(kind)) == 2, kind
    with db.session_scope(engine) as session:
        deliveries.retry_all_failed(session, actor=SYSTEM)
    settle(worker, rounds=3)
    check_threads(engine, sandbox, kinds)
