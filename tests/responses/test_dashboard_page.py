"""The dashboard's responses page, run headless with AppTest (the page file on its own: it is
registered in the navigation by dashboard/app.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from cryptography.fernet import Fernet
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from orchestrator import db
from orchestrator.models import Response
from orchestrator.services.auth import Actor
from orchestrator.services.responses import record_tally
from orchestrator.settings import get_settings

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "views" / "responses.py")


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    from content.loader import bundled_campaign, load_campaign
    from orchestrator.services.campaigns import load_content

    url = f"sqlite:///{tmp_path / 'page.db'}"
    monkeypatch.setenv("PORTEVOIX_DATABASE_URL", url)
    monkeypatch.setenv("PORTEVOIX_HOME", str(tmp_path))
    monkeypatch.setenv("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_resource.clear()
    db.upgrade(url)
    engine = db.get_engine(url)
    with db.session_scope(engine) as s:
        load_content(s, content=load_campaign(bundled_campaign("2025")))
    yield engine
    engine.dispose()
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_resource.clear()


def page(role: str, lang: str = "fr") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state["actor"] = {"username": "edith" if role == "editor" else "victor", "role": role}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_an_editor_enters_a_tally_with_their_name(engine: sa.Engine) -> None:
    at = page("editor")
    at.selectbox(key="tally_case").set_value("damisoa")
    at.selectbox(key="tally_kind").set_value("postcard")
    at.number_input(key="tally_count").set_value(312)
    at.date_input(key="tally_day").set_value(dt.date(2025, 12, 6))
    at.selectbox(key="tally_event").set_value("marathon-montreal")
    at.button[0].click()  # the form's submit button
    at.run()
    assert not at.exception
    with db.session_scope(engine) as s:
        row = s.exec(select(Response)).one()
    assert (row.count, row.kind, row.source, row.entered_by) == (312, "postcard", "marathon-montreal", "edith")
    assert any("Décompte enregistré" in s.value for s in at.success)


def test_pace_names_the_cases_behind(engine: sa.Engine) -> None:
    with db.session_scope(engine) as s:
        record_tally(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", kind="letter", count=50_000,
                     day=dt.date(2025, 12, 6))
    at = page("viewer", lang="en")
    warning = " ".join(w.value for w in at.warning)
    assert "Cases behind" in warning and "Damisoa" in warning and "Juan" not in warning
    assert any("Read only" in i.value for i in at.info)
