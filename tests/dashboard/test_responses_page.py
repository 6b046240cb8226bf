"""The dashboard's responses page, run headless with AppTest (the page file on its own: it is
registered in the navigation by dashboard/app.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import streamlit as st
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from orchestrator import db
from orchestrator.models import Response
from orchestrator.services.auth import Actor
from orchestrator.services.responses import record_tally
from tests.dashboard.helpers import texts

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "views" / "responses.py")


@pytest.fixture(autouse=True)
def _fresh_resources(engine: sa.Engine) -> Iterator[None]:
    """The page caches its engine as a Streamlit resource: start and end each test without it."""
    st.cache_resource.clear()
    yield
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


def _running(engine: sa.Engine, *, days_in: int = 30, days_left: int = 60) -> dt.date:
    """Move the edition so that today is inside it, whatever the machine's date; returns today."""
    from orchestrator.models import Campaign

    today = dt.datetime.now(ZoneInfo("America/Toronto")).date()
    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign)).one()
        campaign.starts_on, campaign.ends_on = today - dt.timedelta(days=days_in), today + dt.timedelta(days=days_left)
        s.add(campaign)
    return today


def test_pace_names_the_cases_behind(engine: sa.Engine) -> None:
    today = _running(engine)
    with db.session_scope(engine) as s:
        record_tally(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", kind="letter", count=50_000, day=today)
    at = page("viewer", lang="en")
    warning = " ".join(w.value for w in at.warning)
    assert "Behind" in warning and "Damisoa" in warning and "Juan" not in warning
    assert any("Read only" in i.value for i in at.info)


def test_the_behind_warning_is_said_once_above_the_tabs(engine: sa.Engine) -> None:
    today = _running(engine)
    with db.session_scope(engine) as s:
        record_tally(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", kind="letter", count=50_000, day=today)
    at = page("viewer")
    shown = texts(at)
    assert shown.count("au rythme actuel") == 1, shown  # eight cases, seven behind: one sentence
    assert at.warning[0].value.startswith("En retard") and "Damisoa" in at.warning[0].value
    lines = [p.proto.text for p in at.get("progress")]
    behind = [line for line in lines if "en retard" in line]
    assert len(behind) == 7 and not any("Juan" in line for line in behind)


def test_a_finished_edition_says_which_goals_were_missed(engine: sa.Engine) -> None:
    _running(engine, days_in=120, days_left=-30)
    at = page("viewer")
    assert at.warning[0].value.startswith("Objectif non atteint")
    assert "en retard" not in texts(at)


def test_by_channel_tells_actions_through_posts_from_channel_level_ones(engine: sa.Engine) -> None:
    from tests.orchestrator.helpers import published

    delivery = published(engine, kind="mastodon", views=200, likes=20)
    from orchestrator.models import Case

    with db.session_scope(engine) as s:
        case_id = s.exec(select(Case.id).where(Case.slug == "juan-lopez")).first()
        s.add(Response(case_id=case_id, kind="signature", count=9, day=dt.date(2025, 12, 6), source_type="delivery",
                       source=delivery.source_code))
        s.add(Response(case_id=case_id, kind="letter", count=4, day=dt.date(2025, 12, 6), source_type="channel",
                       source="mastodon"))
        s.add(Response(case_id=case_id, kind="letter", count=1000, day=dt.date(2025, 12, 6), source_type="channel",
                       source="infolettre"))
    at = page("viewer", lang="en")
    frame = at.dataframe[1].value  # by case, by channel, top posts
    rows = {row["Channel"]: row for row in frame.to_dict("records")}
    assert (rows["Mastodon"]["Actions (posts)"], rows["Mastodon"]["Actions (channel, no post)"]) == (9, 4)
    assert rows["Mastodon"]["Actions (all)"] == 13
    assert (rows["infolettre"]["Actions (posts)"], rows["infolettre"]["Actions (channel, no post)"]) == (0, 1000)
    assert any("credited to the channel as a whole" in c.value for c in at.caption)


def test_an_import_with_bad_lines_points_to_the_checkbox_not_a_command(engine: sa.Engine) -> None:
    at = page("editor")
    data = b"case,kind,count,date\njuan-lopez,letter,12027,2025-12-06\njuan-lopez,letter,beaucoup,2025-12-06\n"
    at.file_uploader(key="import_file").set_value(("export.csv", data, "text/csv")).run()
    at.button(key="import_check").click().run()
    assert not at.exception, [e.value for e in at.exception]
    report = "\n".join(c.value for c in at.code)
    assert "--skip-bad-lines" not in report and "porte-voix" not in report
    assert "cochez « Importer les bonnes lignes même si d'autres sont en erreur »" in report
    assert "12\xa0027 actions" in report and "Colonnes lues : cas « case », type d'action « kind »" in report
