"""Streamlit's file uploader speaks the reader's language in a real browser: its button, its size
limit, its error for a refused file and the labels screen readers announce, and the page says
which language it is in (dashboard/streamlit_words.js, on every page)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.proofs.browser.conftest import Site
from tests.proofs.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

ENGLISH = ("Upload", "per file", "Drag and drop", "files are not allowed", "file upload", "Remove ", "Add files")


def _uploader_words(page, index: int = 0) -> str:
    """What the uploader shows and announces: its text and its elements' accessible labels."""
    # Streamlit loads the uploader's code on first use: wait until it is drawn.
    page.locator('[data-testid="stFileUploaderDropzone"]').nth(index).wait_for(timeout=30_000)
    page.wait_for_timeout(300)
    return page.evaluate(
        """(i) => { const u = document.querySelectorAll('[data-testid="stFileUploader"]')[i];
                    const labels = [...u.querySelectorAll('[aria-label], [title]')]
                        .map(e => (e.getAttribute('aria-label') || '') + ' ' + (e.getAttribute('title') || ''));
                    return u.innerText + ' | ' + labels.join(' | '); }""", index)


def test_the_file_uploader_speaks_the_reader_s_language(site: Site, screen: Screen, tmp_path: Path) -> None:
    wrong = tmp_path / "notes.txt"
    wrong.write_text("pas un plan YAML\n", encoding="utf-8")
    page = screen.page
    screen.sign_in("edith")
    assert page.evaluate("document.documentElement.lang") == "fr"
    screen.open("responses")
    page.get_by_role("tab", name="Importer").click()
    screen.settle()
    shown = _uploader_words(page)
    assert "Choisir un fichier" in shown and "Mo au plus par fichier" in shown, shown
    assert not [w for w in ENGLISH if w in shown], shown
    # A file of the wrong type is refused by the browser itself, with Streamlit's words
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(wrong))
    screen.settle()
    refused = _uploader_words(page, 1)
    assert "Erreur : Les fichiers de type text/plain ne sont pas acceptés ici." in refused, refused
    assert "Retirer notes.txt" in refused and not [w for w in ENGLISH if w in refused], refused

    screen.switch_language("en")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("tab", name="Import").click()
    screen.settle()
    shown = _uploader_words(page)
    assert "Choose a file" in shown and "MB at most per file" in shown, shown
    assert "Choisir" not in shown


DATE_ENGLISH = ("Choose date", "Previous", "Next", "Clear", "year,", "month,", "day,", "hour,",
                "Use arrow keys")


def _date_words(page) -> str:
    """What the date and time fields and an open calendar show and announce."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
                    '[data-testid="stDateInput"], [data-testid="stDateInputCalendar"], [data-testid="stTimeInput"]')]
              .flatMap(f => [f, ...f.querySelectorAll('[aria-label], [aria-valuetext], [title]')]
                  .map(e => ['aria-label', 'aria-valuetext', 'title'].map(a => e.getAttribute(a) || '').join(' '))
                  .concat([f.innerText]))
              .join(' | ')""")


def test_the_date_fields_and_their_calendar_speak_the_reader_s_language(site: Site, screen: Screen) -> None:
    page = screen.page
    screen.sign_in("edith")
    screen.open("series")
    screen.keyed("series_start").locator("button").first.click()  # the calendar opens
    page.locator('[data-testid="stDateInputCalendar"]').first.wait_for()
    page.wait_for_timeout(300)
    shown = _date_words(page)
    assert "Choisir une date" in shown and "Mois précédent" in shown and "Mois suivant" in shown, shown
    assert "année, " in shown and "heure, " in shown, shown
    assert not [w for w in DATE_ENGLISH if w in shown], shown
    page.keyboard.press("Escape")

    screen.switch_language("en")
    screen.keyed("series_start").locator("button").first.click()
    page.locator('[data-testid="stDateInputCalendar"]').first.wait_for()
    page.wait_for_timeout(300)
    shown = _date_words(page)
    assert "Choose a date" in shown and "Previous month" in shown and "year, " in shown, shown
    assert "Choisir" not in shown and "Mois précédent" not in shown, shown
