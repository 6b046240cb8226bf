"""Proof 3: three worker processes racing over one PostgreSQL database publish each of a few
thousand deliveries exactly once, and all three take part; two workers sharing one SQLite file
(one per core on one machine) do the same on a smaller queue. The queues go to the four
platforms, Threads and Instagram (each Instagram post with its image, served by the links
service): a container one worker made is never published by another as a second post."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from channels.sandbox import bluesky as bluesky_emulator
from channels.sandbox import x as x_emulator
from orchestrator import db
from orchestrator.models import Attempt, WorkerHeartbeat
from tests.proofs.faults.helpers import (
    ALL_KINDS,
    KINDS,
    WIDE,
    build_queue,
    check_exactly_once,
    start_worker,
    wait_until_settled,
    worker_env,
)

DELIVERIES = 2000
#: Turns per round: an account of the four platforms gets four deliveries for each one of a
#: Threads or Instagram account (a container post takes six calls and an image download: the
#: race is about workers, and an even share would make this proof several times slower).
SHARE = dict.fromkeys(KINDS, 4)
#: Containers are looked at again after 10 ms instead of 250 (each is still "in progress" at
#: first: the emulator's default).
FAST_CONTAINERS = {"container_first_delay": 0.01}


def _race(engine, sandbox, media, tmp_path, monkeypatch, *, workers: int, total: int,  # noqa: ANN001
          claim_batch: int) -> tuple[dict[int, str], int, float, set[str]]:
    """``workers`` worker processes, all up before anything is due (a small queue could
    otherwise be done by the first while the others still import their modules), over ``total``
    deliveries: (kinds, published, seconds, workers that published)."""
    # The emulators' own budgets are the platforms' real ones; this is about workers, not limits.
    monkeypatch.setattr(sandbox.sandbox.emulator("x"), "limits", {k: 10**6 for k in x_emulator.LIMITS})
    monkeypatch.setattr(sandbox.sandbox.emulator("mastodon"), "window_requests", 10**6)
    monkeypatch.setitem(bluesky_emulator.POLICIES, "global", (10**6, 300))
    for kind in ("instagram", "threads"):  # their publishing quotas per 24 hours
        monkeypatch.setattr(sandbox.sandbox.emulator(kind), "quota_total", 10**6)
    env = worker_env(lease_seconds=30, request_timeout=5, claim_batch=claim_batch, reconcile_delay_seconds=10,
                     **media.env())
    started = time.monotonic()
    procs = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(workers)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.session_scope(engine) as session:
                if len(session.exec(select(WorkerHeartbeat)).all()) >= workers:
                    break
            time.sleep(0.2)
        kinds = build_queue(engine, sandbox.url, n=total, per_kind=2, kinds=ALL_KINDS, weights=SHARE,
                            options={**WIDE, **FAST_CONTAINERS})
        published = wait_until_settled(engine, total, timeout=180)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    with db.session_scope(engine) as session:
        by_worker = {a.actor for a in session.exec(select(Attempt).where(Attempt.outcome == "published"))}
    return kinds, published, time.monotonic() - started, by_worker


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_on_postgresql_publish_each_delivery_once(engine, sandbox, media, tmp_path, monkeypatch) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("scale-out is a PostgreSQL promise; SQLite has a single writer")
    kinds, published, elapsed, by_worker = _race(engine, sandbox, media, tmp_path, monkeypatch, workers=3,
                                                 total=DELIVERIES, claim_batch=20)
    assert published == DELIVERIES, f"{published}/{DELIVERIES} after {elapsed:.0f} s; logs in {tmp_path}"
    check_exactly_once(engine, sandbox, kinds)
    assert len(by_worker) == 3, f"not every worker published: {sorted(by_worker)}"
    print(f"{DELIVERIES} deliveries by 3 workers in {elapsed:.1f} s "
          f"({DELIVERIES / elapsed:.0f}/s, startup included)")


@pytest.mark.slow
def test_two_workers_on_one_sqlite_file_publish_each_delivery_once(engine, sandbox, media, tmp_path, monkeypatch) -> None:
    """One worker per core on one machine: SQLite's writers take turns (BEGIN IMMEDIATE), a
    claim skips accounts another worker is publishing, and nothing goes out twice."""
    if engine.dialect.name != "sqlite":
        pytest.skip("the PostgreSQL race is the test above")
    kinds, published, _, by_worker = _race(engine, sandbox, media, tmp_path, monkeypatch, workers=2, total=400,
                                           claim_batch=10)
    assert published == 400, f"{published}/400; logs in {tmp_path}"
    check_exactly_once(engine, sandbox, kinds)
    assert len(by_worker) == 2, f"not every worker published: {sorted(by_worker)}"
