"""Proof 1 for threads: a worker process killed with SIGKILL while part 3 of a four-part thread
is in flight on X, Mastodon, Bluesky and Facebook — part 3 not yet out (the call stalls), or out
but its answer never read (the platform wrote it, then the process died) — is resumed by the
next process from part 3: a part 3 that went out is found and not sent again, one that did not
is sent once, and parts 1–2 are never re-posted. Checked on the emulators' side."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Attempt, Delivery, PublishProgress
from orchestrator.timeutil import utcnow
from tests.proofs.faults.helpers import (
    PART_PATHS,
    build_threads,
    check_threads,
    start_worker,
    wait_for_heartbeat,
    wait_until_settled,
    worker_env,
)
from tests.proofs.faults.test_thread_faults import fault_on_part, part_calls

pytestmark = pytest.mark.slow


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def parts_out(sandbox, kind: str) -> int:
    posts = sandbox.sandbox.posts(kind)
    return len(posts) + sum(len(p.get("comments") or []) for p in posts)


@pytest.mark.parametrize("action", ["stall", "timeout_after_write"])
def test_a_worker_killed_during_part_three_resumes_from_part_three(engine, sandbox, tmp_path, action) -> None:
    kinds = build_threads(engine, sandbox.url)
    # part 3's call is held open long after the kill: "stall" never writes it, while
    # "timeout_after_write" writes it at once and never answers
    fault_on_part(sandbox, 3, action, delay=20)
    log_path = tmp_path / "worker.log"
    # a lease long enough for the whole thread's calls: it is the kill that stops the worker
    env = worker_env(request_timeout=3, lease_seconds=40)
    proc = start_worker(env, log_path)
    try:
        wait_for_heartbeat(engine, proc.pid)
        third = {k: 3 if k != "facebook" else 2 for k in PART_PATHS}  # Facebook's part 1 is the post
        wait_for(lambda: all(part_calls(sandbox)[k] >= third[k] for k in PART_PATHS), 60, "part 3 in flight")
        if action == "timeout_after_write":
            wait_for(lambda: all(parts_out(sandbox, k) == 3 for k in PART_PATHS), 10, "part 3 written")
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait()
    for kind in PART_PATHS:
        assert parts_out(sandbox, kind) == (3 if action == "timeout_after_write" else 2), kind
    with db.session_scope(engine) as session:
        rows = list(session.exec(select(Delivery)))
        assert {d.state for d in rows} == {"publishing"}
        # what the dead process left: parts 1-2 noted as out, part 3 as maybe going out
        notes = {p.account.split("/")[0]: p.data for p in session.exec(select(PublishProgress))}
        assert {k: (len(n["parts"]), n["pending"]) for k, n in notes.items()} == {k: (2, 2) for k in PART_PATHS}
        # time passes: the dead worker's leases run out
        session.execute(sa.update(Delivery).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    with db.session_scope(engine) as session:
        assert all(d.lease_until < utcnow() for d in session.exec(select(Delivery)))
    proc = start_worker(worker_env(reconcile_delay_seconds=0), log_path)
    try:
        published = wait_until_settled(engine, len(kinds), timeout=90)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert published == len(kinds), f"{published}/{len(kinds)} published; see {log_path}"
    check_threads(engine, sandbox, kinds)
    calls = part_calls(sandbox)
    # parts 1, 2 and 4 sent once each; part 3 once more only where it never left
    once_more = 1 if action == "stall" else 0
    assert calls == {k: (4 if k != "facebook" else 3) + once_more for k in PART_PATHS}, calls
    with db.session_scope(engine) as session:
        outcomes = [a.outcome for a in session.exec(select(Attempt))]
    assert outcomes.count("lease_expired") == len(kinds)
    assert "refused_as_duplicate" not in outcomes and "late_outcome" not in outcomes
