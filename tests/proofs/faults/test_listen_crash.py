"""Proof: ``porte-voix listen --once`` killed with SIGKILL at random moments while catching up
on a backlog counts every public post exactly once (the page and its cursor commit together,
and a post re-read after a kill is recognised by its keyed hash)."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import PublicPost, Response
from tests.orchestrator.listen_helpers import (
    CASE_TAG,
    EDITION_TAG,
    emulator,
    mastodon_account,
    setup_terms,
)
from tests.proofs.faults.helpers import worker_env

KILLS = 6
BACKLOG = 1600


def _start(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "listen", "--once"], env=env, stdout=log,
                            stderr=log, cwd=Path(__file__).resolve().parents[3])


def _counts(engine: sa.Engine) -> tuple[int, int, int]:
    with db.session_scope(engine) as session:
        posts = session.exec(select(sa.func.count()).select_from(PublicPost)).one()
        of_cases = session.exec(select(sa.func.count()).select_from(PublicPost)
                                .where(PublicPost.case_id.is_not(None))).one()  # type: ignore[union-attr]
        counted = session.exec(select(sa.func.coalesce(sa.func.sum(Response.count), 0))
                               .where(Response.source_type == "listening")).one()
    return int(posts), int(of_cases), int(counted)


@pytest.mark.slow
def test_sigkill_mid_page_never_counts_a_public_post_twice(engine, sandbox, tmp_path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    em = emulator(sandbox)
    mastodon_account(engine, sandbox)
    setup_terms(engine)
    em.public_post(tag=CASE_TAG, author=0)
    em.public_post(tag=EDITION_TAG, author=0)
    env = worker_env(listen_max_pages=1000)
    log_path = tmp_path / "listen.log"
    first = subprocess.run([sys.executable, "-m", "orchestrator", "listen", "--once", "--json"], env=env,
                           capture_output=True, text=True, cwd=Path(__file__).resolve().parents[3], timeout=120)
    assert first.returncode == 0, first.stderr
    for n in range(BACKLOG):  # the outage: a backlog on both terms
        em.public_post(tag=CASE_TAG if n % 2 else EDITION_TAG, kind="photo" if n % 5 == 0 else "original", author=n)
    # each page a little slow, so that kills land while a page is in flight or being written
    sandbox.add_fault("slow", platform="mastodon", method="GET", path="timelines/tag", delay=0.3, count=10**6)
    for _ in range(KILLS):
        before = _counts(engine)[0]
        proc = _start(env, log_path)
        try:
            deadline = time.monotonic() + 60
            while _counts(engine)[0] == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)  # wait for this process to be catching up, then kill it mid-way
            time.sleep(rng.uniform(0.0, 0.7))
        finally:
            proc.kill()  # SIGKILL: no cleanup of any kind
            proc.wait()
        posts, of_cases, counted = _counts(engine)
        assert counted == of_cases, f"seed {seed}: {counted} counted for {of_cases} posts of cases after a kill"
    interrupted = _counts(engine)[0]
    final = subprocess.run([sys.executable, "-m", "orchestrator", "listen", "--once"], env=env, capture_output=True,
                           text=True, cwd=Path(__file__).resolve().parents[3], timeout=300)
    assert final.returncode == 0, final.stderr
    posts, of_cases, counted = _counts(engine)
    assert posts == BACKLOG + 2, f"seed {seed}: {posts} public posts stored for {BACKLOG + 2}; see {log_path}"
    assert of_cases == BACKLOG // 2 + 1 and counted == of_cases, f"seed {seed}"
    assert 2 < interrupted < posts, f"seed {seed}: the kills never landed mid-catch-up ({interrupted})"
