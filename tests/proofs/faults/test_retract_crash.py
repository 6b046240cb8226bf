"""A worker process killed with SIGKILL again and again while it retracts a case's posts on four
platforms: the restarted worker finishes every deletion, each job's outcome is recorded exactly
once, and nothing recorded is run again (deleting twice would be harmless on the platforms, but
a recorded job is final)."""

from __future__ import annotations

import random
import time

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Delivery, RetractionJob, WorkerHeartbeat
from orchestrator.services import retractions
from orchestrator.services.auth import Actor
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, schedule
from tests.proofs.faults.helpers import KINDS, start_worker, wait_for_heartbeat, worker_env

KILLS = 6
PER_KIND = 8
DELETE_CALL = {"x": {"method": "DELETE"}, "facebook": {"method": "DELETE"}, "mastodon": {"method": "DELETE"},
               "bluesky": {"path": "deleteRecord$"}}


def deletion_calls(sandbox) -> int:  # type: ignore[no-untyped-def]
    with sandbox.sandbox.lock:
        return sum(1 for _, method, path in sandbox.sandbox.request_log
                   if method == "DELETE" or path.endswith("deleteRecord"))


def ours_on_platforms(sandbox) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for kind in KINDS for p in sandbox.sandbox.posts(kind) if "(retrait " in str(p.get("text") or ""))


def settled(engine: sa.Engine) -> int:
    with db.session_scope(engine) as session:
        return int(session.exec(select(sa.func.count()).select_from(RetractionJob).where(
            RetractionJob.state == retractions.RETRACTED)).one())


def wait_for_deleting(engine: sa.Engine, pid: int, timeout: float) -> bool:
    """Wait until the worker of ``pid`` has claimed a job (its deletion in flight); False if no
    job is left that it could claim."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session_scope(engine) as session:
            ids = set(session.exec(select(WorkerHeartbeat.id).where(WorkerHeartbeat.pid == pid)))
            jobs = list(session.exec(select(RetractionJob.state, RetractionJob.worker_id)))
        if any(state == retractions.DELETING and worker in ids for state, worker in jobs):
            return True
        if all(state == retractions.RETRACTED for state, _ in jobs):
            return False
        time.sleep(0.02)
    raise AssertionError("no deletion started within the time allowed")


@pytest.mark.slow
def test_sigkill_mid_retraction_loses_nothing_and_runs_nothing_twice(engine, sandbox, tmp_path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    wide = {"rate_limits": {"delete": [100_000, 900], "publish": [100_000, 900]}}
    for kind in KINDS:
        add_account(engine, kind, name=f"{kind}-kill", base_url=sandbox.url, options=wide)
        for n in range(PER_KIND):
            schedule(engine, approved_post(engine, text=f"Écrivez pour Juan (retrait {kind} {n})", link=None),
                     f"{kind}-kill")
    Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 2.0}), worker_id="pub").run_once()
    total = PER_KIND * len(KINDS)
    with db.session_scope(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(Delivery).where(
            Delivery.state == states.PUBLISHED)).one() == total
        retraction = retractions.request(session, actor=Actor("anne", "approver"), reason="La famille le demande",
                                         case="juan-lopez")
        assert retraction.id is not None
    assert ours_on_platforms(sandbox) == total
    for kind, call in DELETE_CALL.items():  # widen the window in which a deletion is in flight
        sandbox.add_fault("slow", platform=kind, delay=0.15, count=10**6, **call)
    log_path = tmp_path / "worker.log"
    env = worker_env()
    for _ in range(KILLS):
        proc = start_worker(env, log_path)
        try:
            wait_for_heartbeat(engine, proc.pid)
            # kill only once a deletion is under way (a kill before the first claim would prove
            # nothing), at a random instant of its slowed call
            if not wait_for_deleting(engine, proc.pid, timeout=60.0):
                break  # every job settled already: the later assertions say whether that is right
            time.sleep(rng.uniform(0.0, 0.12))
        finally:
            proc.kill()  # SIGKILL: no cleanup of any kind
            proc.wait()
    proc = start_worker(env, log_path)
    try:
        deadline = time.monotonic() + 120
        while settled(engine) < total and time.monotonic() < deadline:
            time.sleep(0.25)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert settled(engine) == total, f"seed {seed}: {settled(engine)}/{total} retracted; see {log_path}"
    assert ours_on_platforms(sandbox) == 0, f"seed {seed}: posts left on the platforms"
    with db.session_scope(engine) as session:
        recorded = [a.target_id for a in session.exec(select(AuditEntry).where(AuditEntry.action == "retracted"))]
        assert sorted(recorded) == sorted(set(recorded)) and len(recorded) == total, f"seed {seed}: recorded twice"
        assert all(d.retracted_at is not None for d in session.exec(select(Delivery)))
        retried = session.exec(select(sa.func.count()).select_from(RetractionJob).where(
            RetractionJob.attempts > 1)).one()
        assert retried > 0, f"seed {seed}: no kill landed mid-retraction; the proof proved nothing"
        report = retractions.progress(session, retraction_id=retraction.id)
        assert report.done and len(report.removed) == total and report.failed == []
    # a recorded job is never run again, by any worker, however late
    calls = deletion_calls(sandbox)
    assert calls >= total
    Worker(engine, settings=get_settings(), worker_id="late").retract()
    assert deletion_calls(sandbox) == calls
