"""The page timings of ``make bench`` (benchmarks/_pages.py): each page's heading and the end of
its run are seen, a page that raises is reported as such instead of timed, and the report names
the pages that miss a target."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import streamlit as st

from benchmarks import _pages
from benchmarks.bench_dashboard import tables
from orchestrator import db
from orchestrator.services.auth import SYSTEM


@pytest.fixture
def admin(engine: sa.Engine) -> str:
    from orchestrator.services.users import add_user

    with db.session_scope(engine) as s:
        add_user(s, actor=SYSTEM, username=_pages.ADMIN, password="motdepasse-solide", role="admin")
    st.cache_data.clear()
    st.cache_resource.clear()
    return _pages.ADMIN


def test_it_times_the_heading_and_the_end_of_each_page(env: dict[str, str], admin: str) -> None:
    rows = _pages.time_pages(env["PORTEVOIX_DATABASE_URL"], runs=2, languages=("fr", "en"),
                             pages=[("overview", "viewer"), ("users", "admin")])
    assert [(r["page"], r["language"]) for r in rows] == [
        ("overview", "fr"), ("users", "fr"), ("overview", "en"), ("users", "en")]
    for row in rows:
        assert row["error"] == "" and row["runs"] == 2
        assert 0 < row["heading"] < row["script"] < 30, row
        assert 0 < row["warm_heading"] < row["warm_script"], row
        assert row["ok"] is (row["heading"] <= _pages.HEADING_TARGET and row["script"] <= _pages.SCRIPT_TARGET)


def test_a_page_that_raises_is_reported_and_fails(env: dict[str, str], admin: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.services import users

    def broken(*_args: object, **_kwargs: object) -> list[object]:
        raise RuntimeError("the people list is gone")

    monkeypatch.setattr(users, "list_users", broken)
    [row] = _pages.time_pages(env["PORTEVOIX_DATABASE_URL"], runs=1, languages=("fr",), pages=[("users", "admin")])
    assert "the people list is gone" in row["error"]
    assert row["ok"] is False


def test_the_report_has_a_row_per_page_and_names_the_pages_that_miss() -> None:
    def row(page: str, language: str, heading: float, script: float) -> dict[str, object]:
        ok = heading <= _pages.HEADING_TARGET and script <= _pages.SCRIPT_TARGET
        return {"table": "pages", "case": "100 deliveries — sqlite", "page": page, "role": "viewer",
                "language": language, "heading": heading, "script": script, "warm_heading": heading,
                "warm_script": script, "runs": 5, "error": "", "ok": ok}

    lines = tables([row("overview", "fr", 0.1, 0.3), row("overview", "en", 0.1, 0.4),
                    row("calendar", "fr", 0.1, 21.0), row("calendar", "en", 0.6, 1.0)])
    text = "\n".join(lines)
    assert "| overview | everyone | 0.10 (0.10) | 0.30 (0.30) | 0.10 (0.10) | 0.40 (0.40) | pass |" in text
    assert "| calendar | everyone | 0.10 (0.10) | **21.00** (21.00) | **0.60** (0.60) | 1.00 (1.00) | **FAIL** |" in text
    assert "calendar: sqlite fr, sqlite en" in text
