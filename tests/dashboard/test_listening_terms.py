"""Listening terms typed on the case page and the editions page: refused where typed with the
platform's reason, in the reader's language, nothing half-saved; saved and shown otherwise."""

from __future__ import annotations

import re

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
    assert "Listening term refused, nothing is saved" in shown and "no spaces or punctuation" in shown
    assert stored(bare_engine, select(Campaign).where(Campaign.is_current))[0].listening == current.listening


def test_several_refusals_read_as_a_list_one_line_per_term_and_platform(app, bare_engine, four_accounts) -> None:
    """Two bad hashtags on four platforms: one line each (a Markdown list), the terms in the order
    typed, each line naming its platform; in French the platforms' reasons all say « mot-clic »;
    nothing is saved."""
    before = _case(bare_engine).listening
    at = _open_form(app, "edith")
    at.text_area(key=f"{FORM}_tags_fr").input("#JusticePourJuan\n#Écrire-ça-libère\n#2026")
    at.button(key=f"FormSubmitter:{FORM}-Enregistrer les termes d'écoute").click().run()
    assert not at.exception
    # as drawn: the page escapes Markdown's characters in what people typed (« \# », « \: »)
    [refusal] = [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]
    head, _, body = refusal.partition("\n\n")
    assert head == "Terme d'écoute refusé, rien n'est enregistré :"
    lines = body.split("\n")
    assert all(line.startswith("- ") for line in lines), lines
    bad = [line for line in lines if "Écrire-ça-libère —" in line]
    digits = [line for line in lines if "2026 —" in line]
    assert len(bad) >= 3 and len(digits) >= 3, lines  # Bluesky makes no hashtag of digits either
    assert lines.index(bad[-1]) < lines.index(digits[0]), "the terms are not in the order typed"
    assert {p for p in ("Facebook", "Mastodon", "Bluesky", "X") if any(f"— {p}" in line for line in bad)} >= {
        "Facebook", "Mastodon", "X"}
    assert "hashtag" not in refusal, "a French reason says « hashtag » where the page says « mot-clic »"
    assert _case(bare_engine).listening == before, "a refused change saved part of itself"


def test_an_editor_changes_the_edition_s_terms_and_a_viewer_reads_them(app, bare_engine, four_accounts) -> None:
    """The service lets editors change the edition's terms, as they change a case's: the editions
    page offers them the form (not the rest of the edition, which stays an admin's), and shows the
    terms to a viewer without a form. Its help says that edition-wide posts add to no case."""
    current = stored(bare_engine, select(Campaign).where(Campaign.is_current))[0]
    form = f"edition_listen_{current.slug}"
    at = app("edith", "campaigns")
    assert "Les publications du public qui les portent sont comptées pour l'édition, sans cas" in texts(at)
    at.text_area(key=f"{form}_tags_fr").input("#ÉcrireÇaLibère\n#W4R")
    at.button(key=f"FormSubmitter:{form}-Enregistrer les termes d'écoute").click().run()
    assert not at.exception
    assert stored(bare_engine, select(Campaign).where(Campaign.is_current))[0].listening["fr"]["hashtags"] == [
        "ÉcrireÇaLibère", "W4R"]
    assert "edition_name_fr" not in {w.key for w in at.text_input}, "an editor got the admin's form"
    assert "Lecture seule" not in texts(at), "an editor who may change the terms is told the page is read-only"
    viewer = app("victor", "campaigns")
    assert not any(key.startswith(form) for key in (w.key for w in viewer.text_area)), "a viewer got the form"
    assert "#W4R" in texts(viewer) and "Lecture seule" in texts(viewer)
    assert "Un par ligne" not in texts(viewer), "a reader without a form is told how to type in it"


def test_the_case_page_s_switch_names_what_it_opens_for_one_case(app, bare_engine) -> None:
    """Inside one case the switch does not say « par cas » (the overview's heading): it says what
    opens, in the reader's language."""
    for lang, words in (("fr", "La voix du public en détail"), ("en", "The public's voice in detail")):
        at = app("victor", "cases", lang=lang)
        labels = [w.label for w in at.toggle if w.key == "case_voice_juan-lopez"]
        assert labels and labels[0].startswith(words) and "par cas" not in labels[0] and "by case" not in labels[0]


def test_the_case_s_card_stays_open_after_its_terms_are_saved(app, bare_engine, four_accounts) -> None:
    """Saving shows a confirmation at the top of the page, which makes the cards new to the
    browser: the card being worked in is drawn open, so the saved terms are in sight."""
    at = _open_form(app, "edith")
    at.text_area(key=f"{FORM}_tags_fr").input("#LiberezJuan")
    at.button(key=f"FormSubmitter:{FORM}-Enregistrer les termes d'écoute").click().run()
    assert not at.exception
    cards = {e.label: e.proto.expanded for e in at.expander if "Juan" in e.label or "Damisoa" in e.label}
    assert any(open_ for label, open_ in cards.items() if "Juan" in label), cards
    assert not any(open_ for label, open_ in cards.items() if "Damisoa" in label), cards
