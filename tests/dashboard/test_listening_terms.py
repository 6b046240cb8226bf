"""Listening terms typed on the case page and the editions page: refused where typed with the
platform's reason, in the reader's language, nothing half-saved; saved and shown otherwise."""

from __future__ import annotations

from sqlmodel import select

from orchestrator.models import Campaign, Case
from tests.dashboard.helpers import stored, texts

FORM = "case_listen_juan-lopez"


def _case(bare_engine) -> Case:
    return stored(bare_engine, select(Case).where(Case.slug == "juan-lopez"))[0]


def _open_form(app, who: str, lang: str = "fr"):
    at = app(who, "cases", lang=lang)
    at.toggle(key="case_listen_toggle_juan-lopez").set_value(True).run()
    assert not at.exception
    return at


def test_a_hashtag_mastodon_cannot_search_is_refused_on_the_case_page_with_the_reason(app, bare_engine, four_accounts) -> None:
    before = _case(bare_engine).listening
    at = _open_form(app, "edith")
    at.text_area(key=f"{FORM}_tags_fr").input("#LiberezJuan\n#Libérez Juan")
    at.button(key=f"FormSubmitter:{FORM}-Enregistrer les termes d'écoute").click().run()
    assert not at.exception
    shown = texts(at)
    assert "#Libérez Juan" in shown and "Mastodon" in shown and "sans espace ni ponctuation" in shown
    assert _case(bare_engine).listening == before, "a refused change saved part of itself"


def test_an_editor_saves_the_case_s_terms(app, bare_engine, four_accounts) -> None:
    at = _open_form(app, "edith")
    at.text_area(key=f"{FORM}_tags_fr").input("#LiberezJuan\nW4R")
    at.text_area(key=f"{FORM}_words_en").input("Free Juan López")
    at.button(key=f"FormSubmitter:{FORM}-Enregistrer les termes d'écoute").click().run()
    assert not at.exception
    saved = _case(bare_engine).listening
    assert saved["fr"]["hashtags"] == ["LiberezJuan", "W4R"] and saved["en"]["keywords"] == ["Free Juan López"]
    assert "#LiberezJuan" in texts(app("victor", "cases"))


def test_a_viewer_sees_the_terms_but_cannot_change_them(app, bare_engine) -> None:
    at = app("victor", "cases")
    assert "case_listen_toggle_juan-lopez" not in {w.key for w in at.toggle}
    assert "#JuanLopez" in texts(at)  # the shipped content's term


def test_an_admin_edits_the_edition_s_terms(app, bare_engine, four_accounts) -> None:
    at = app("ada", "campaigns")
    current = stored(bare_engine, select(Campaign).where(Campaign.is_current))[0]
    form = f"edition_listen_{current.slug}"
    at.text_area(key=f"{form}_tags_en").input("#WriteForRights\n#W4R 2025")
    at.button(key=f"FormSubmitter:{form}-Enregistrer les termes d'écoute").click().run()
    assert "#W4R 2025" in texts(at)
    assert stored(bare_engine, select(Campaign).where(Campaign.is_current))[0].listening == current.listening
    at.text_area(key=f"{form}_tags_en").input("#WriteForRights")
    at.button(key=f"FormSubmitter:{form}-Enregistrer les termes d'écoute").click().run()
    assert stored(bare_engine, select(Campaign).where(Campaign.is_current))[0].listening["en"]["hashtags"] == ["WriteForRights"]


def test_the_refusal_is_in_english_for_an_english_reader(app, bare_engine, four_accounts) -> None:
    at = app("ada", "campaigns", lang="en")
    current = stored(bare_engine, select(Campaign).where(Campaign.is_current))[0]
    form = f"edition_listen_{current.slug}"
    at.text_area(key=f"{form}_tags_fr").input("#Écrire, ça libère")
    at.button(key=f"FormSubmitter:{form}-Save the listening terms").click().run()
    assert not at.exception
    shown = texts(at)
    assert "Listening term refused" in shown and "no spaces or punctuation" in shown
    assert stored(bare_engine, select(Campaign).where(Campaign.is_current))[0].listening == current.listening
