"""Proof 1: a worker process killed with SIGKILL at random moments, again and again, loses
nothing and publishes nothing twice, on the four platforms, Threads and Instagram (whose
two-step publish leaves, at worst, an unpublished container behind: it expires on its own).
Instagram's posts each carry an image, which its emulator downloads from the links service
while the kills go on."""

from __future__ import annotations

import random
import time

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Attempt
from tests.proofs.faults.helpers import (
    ALL_KINDS,
    PUBLISH_PATHS,
    MediaService,
    build_queue,
    check_exactly_once,
    start_worker,
    wait_for_heartbeat,
    wait_until_settled,
    worker_env,
)

KILLS = 15


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_and_doubles_nothing(engine, sandbox, tmp_path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    kinds = build_queue(engine, sandbox.url, n=240, spread_seconds=25, kinds=ALL_KINDS)
    for kind, path in PUBLISH_PATHS.items():  # widen the window in which a call is in flight
        sandbox.add_fault("slow", platform=kind, method="POST", path=path, delay=0.03, count=10**6)
    log_path = tmp_path / "worker.log"
    with MediaService(engine) as media:
        env = worker_env(**media.env())
        for _ in range(KILLS):
            proc = start_worker(env, log_path)
            try:
                wait_for_heartbeat(engine, proc.pid)
                time.sleep(rng.uniform(0.1, 1.6))
            finally:
                proc.kill()  # SIGKILL: no cleanup of any kind
                proc.wait()
        logins_before = sandbox.sandbox.calls("bluesky", "createSession")
        proc = start_worker(env, log_path)
        try:
            published = wait_until_settled(engine, len(kinds), timeout=120)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    assert published == len(kinds), f"seed {seed}: {published}/{len(kinds)} published; see {log_path}"
    check_exactly_once(engine, sandbox, kinds)
    instagram = sum(1 for k in kinds.values() if k == "instagram")
    assert media.served >= instagram, f"seed {seed}: {media.served} images served for {instagram} Instagram posts"
    with db.session_scope(engine) as session:
        outcomes = [a.outcome for a in session.exec(select(Attempt))]
    # the kills did land while work was in flight, and every doubt was settled by looking
    assert outcomes.count("lease_expired") > 0, f"seed {seed}: no kill hit a claimed delivery"
    assert outcomes.count("reconciled_found") + outcomes.count("reconciled_absent") >= outcomes.count("lease_expired")
    # never even attempted twice: a platform's duplicate refusal would have shown here
    assert "refused_as_duplicate" not in outcomes and "late_outcome" not in outcomes, f"seed {seed}"
    # the last process found the Bluesky sessions stored by earlier ones and did not log in
    # (a process killed between a login and storing its session only costs one more login)
    assert logins_before >= 2 and sandbox.sandbox.calls("bluesky", "createSession") == logins_before, f"seed {seed}"
