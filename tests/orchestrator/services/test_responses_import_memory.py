"""A big export imports in bounded memory: what grows with the number of lines is time, not memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.bench_responses import generate_export
from orchestrator import db
from orchestrator.services.auth import SYSTEM
from orchestrator.services.responses_import import import_responses


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> sa.Engine:
    from content.loader import load_all
    from orchestrator.services.campaigns import load_content

    engine = db.make_engine(f"sqlite:///{tmp_path / 'memory.db'}")
    db.upgrade(engine)
    with db.session_scope(engine) as s:
        for campaign in load_all():
            load_content(s, actor=SYSTEM, content=campaign)
    return engine


def peak_while_importing(engine: sa.Engine, path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with path.open("rb") as data, db.session_scope(engine) as s:
            report = import_responses(s, actor=SYSTEM, data=data, filename=path.name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.saved and report.bad_lines == 0
    return peak, report.total


@pytest.mark.slow
def test_ten_times_the_lines_needs_no_more_memory(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    # Same set of (case, kind, day, source) combinations, so only the line count differs.
    expected_small = generate_export(small, 20_000, seed=1, days=10)
    expected_big = generate_export(big, 200_000, seed=2, days=10)
    assert big.stat().st_size > 15_000_000
    peak_small, total_small = peak_while_importing(sqlite_engine, small)
    peak_big, total_big = peak_while_importing(sqlite_engine, big)
    assert (total_small, total_big) == (expected_small, expected_big)
    # the file is ~18 MB; reading it whole would show up here many times over
    assert peak_big < 12_000_000, peak_big
    assert peak_big < peak_small * 1.5 + 1_000_000, (peak_small, peak_big)
