"""Keeping a worker on chosen processors (``PORTEVOIX_WORKER_CPUS``): parsed strictly, refused
clearly, and inherited by every thread of the worker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator import cpus
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, schedule
from tests.proofs.faults.helpers import (
    start_worker,
    wait_for_heartbeat,
    wait_until_settled,
    worker_env,
)

pytestmark = pytest.mark.skipif(not cpus.SUPPORTED, reason="choosing processors is Linux's (sched_setaffinity)")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "expected"), [
    ("", set()), ("0", {0}), ("0,2", {0, 2}), ("1-3", {1, 2, 3}), (" 0 , 2-3 ,", {0, 2, 3}),
])
def test_lists_and_ranges_of_processors_are_read(text: str, expected: set[int]) -> None:
    assert cpus.parse(text) == expected


@pytest.mark.parametrize(("text", "words"), [("a", "« a »"), ("3-1", "intervalle"), ("-1", "« -1 »"), ("0-x", "« 0-x »")])
def test_a_bad_list_is_refused_in_french_first(text: str, words: str) -> None:
    with pytest.raises(cpus.CpuError) as raised:
        cpus.parse(text)
    assert words in str(raised.value) and "(" in str(raised.value)  # French, then English


def test_a_processor_this_machine_does_not_offer_is_refused_and_nothing_changes() -> None:
    before = os.sched_getaffinity(0)
    absent = max(before) + 64
    with pytest.raises(cpus.CpuError, match="indisponible"):
        cpus.pin(f"{min(before)},{absent}")
    assert os.sched_getaffinity(0) == before


def test_the_command_refuses_a_bad_list_before_starting() -> None:
    env = {**os.environ, "PORTEVOIX_WORKER_CPUS": "9999"}
    result = subprocess.run([sys.executable, "-m", "orchestrator", "worker"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Erreur : processeur(s) 9999 indisponible(s)" in result.stderr


def _allowed(pid: int, tid: str) -> str:
    with open(f"/proc/{pid}/task/{tid}/status") as handle:
        return next(line.split(":", 1)[1].strip() for line in handle if line.startswith("Cpus_allowed_list"))


def test_every_thread_of_a_pinned_worker_stays_on_its_processor(engine, sandbox, tmp_path) -> None:
    chosen = max(os.sched_getaffinity(0))
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    for i in range(3):
        schedule(engine, approved_post(engine, text=f"Épinglé {i}"), account)
    proc = start_worker(worker_env(worker_cpus=chosen), tmp_path / "worker.log")
    try:
        wait_for_heartbeat(engine, proc.pid)
        assert wait_until_settled(engine, 3, timeout=60) == 3  # it publishes as usual
        threads = os.listdir(f"/proc/{proc.pid}/task")
        assert len(threads) > 3  # publishing, claims, recorder, scheduler… all started by now
        assert {_allowed(proc.pid, tid) for tid in threads} == {str(chosen)}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "worker kept to processor(s)" in (tmp_path / "worker.log").read_text()
