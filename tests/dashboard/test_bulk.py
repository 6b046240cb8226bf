"""The dashboard page: upload, the check shown before anything is saved, then confirm."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.orchestrator.services.plan import conftest as plan_database
from tests.orchestrator.services.plan.helpers import add_accounts, counts, csv_text, later

#: The plan tests' database (one per module and backend, emptied between tests), as in
#: tests/orchestrator/services/plan/, where the service under this page is tested.
plan_env, engine, env = plan_database.plan_env, plan_database.engine, plan_database.env

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "views" / "bulk.py")


#: The service under the page runs on both databases in test_import; the page itself, once.
SQLITE_ONLY = "dashboard page: its service is tested on PostgreSQL in test_import"


@pytest.fixture
def page(env, engine):
    add_accounts(engine, "x")
    st.cache_resource.clear()  # the page's engine is cached per URL; each module has its own database

    def open_as(role: str, lang: str = "fr") -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=60)
        at.session_state["lang"] = lang
        at.session_state["actor"] = {"username": "edith", "role": role}
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    yield open_as
    st.cache_resource.clear()


def test_the_check_is_shown_and_nothing_is_saved_until_confirmed(page, engine):
    at = page("editor")
    plan = csv_text(f"juan-lopez,fr,Écrivez pour Juan.,,x-fr,{later()}", f"sonia-dahmani,fr,Pour Sonia.,,x-fr,{later(3)}")
    at.file_uploader[0].set_value(("plan.csv", plan, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["Résultat"]) == ["à créer", "à créer"] and list(table["Ligne"]) == [2, 3]
    assert "Envois : 2 créé(s)" in at.info[0].value
    assert counts(engine) == (0, 0)
    at.button(key="bulk_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert counts(engine) == (2, 2)
    assert "Envois : 2 créé(s), 0 déplacé(s), 0 inchangé(s)" in at.success[0].value


def test_problems_are_listed_in_english_with_their_lines(page, engine):
    at = page("editor", lang="en")
    at.file_uploader[0].set_value(("plan.csv", csv_text("nobody,fr,Text.,,x-fr,now"), "text/csv")).run()
    assert "1 problem(s)" in at.error[0].value
    problems = at.dataframe[1].value
    assert list(problems["Line"]) == [2] and "unknown case 'nobody'" in problems["Problem"][0]
    assert not any(b.key == "bulk_confirm" for b in at.button)
    assert counts(engine) == (0, 0)


def test_a_viewer_sees_no_upload(page):
    at = page("viewer")
    assert not at.file_uploader


@pytest.fixture
def demo_page(env, engine, monkeypatch):
    """The page over the demo's sandbox accounts only (what `make run` creates), with the data of
    every download button it offers kept for the test."""
    from orchestrator import db
    from orchestrator.demo import ensure_sandbox_accounts

    with db.session_scope(engine) as session:
        ensure_sandbox_accounts(session, base_url="http://127.0.0.1:9")
    st.cache_resource.clear()
    offered: dict[str, bytes] = {}
    original = st.download_button

    def keep(label, data=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        offered[kwargs.get("key") or label] = data if isinstance(data, bytes) else str(data).encode()
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", keep)

    def open_as(role: str, lang: str = "fr") -> tuple[AppTest, dict[str, bytes]]:
        at = AppTest.from_file(PAGE, default_timeout=60)
        at.session_state["lang"] = lang
        at.session_state["actor"] = {"username": "edith", "role": role}
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at, offered

    yield open_as
    st.cache_resource.clear()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_example_plan_passes_the_check_as_given(demo_page, engine, lang):
    at, offered = demo_page("editor", lang)
    example = offered["bulk_example"]
    at.file_uploader[0].set_value(("plan-exemple.csv", example, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error] + [str(d.value) for d in at.dataframe]
    assert any(b.key == "bulk_confirm" for b in at.button)
    assert b"sandbox-x-" in example  # an account the demo has
    assert counts(engine) == (0, 0)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_page_says_where_a_plan_s_images_come_from(page, lang):
    """Images come from the media library (media:12) or the folder the server declares, never
    from any path on the server: the page's help says so, as the import does."""
    at = page("editor", lang)
    help_text = " ".join(c.value for c in at.caption)
    assert "media:12" in help_text
    assert "chemin absolu" not in help_text and "absolute path" not in help_text
