"""Streamlit's file uploader speaks the reader's language in a real browser: its button, its size
limit, its error for a refused file and the labels screen readers announce, and the page says
which language it is in (dashboard/streamlit_words.js, on every page)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.test_end_to_end import dashboard, login, settle  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser

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


def test_the_file_uploader_speaks_the_reader_s_language(dashboard: str, tmp_path: Path) -> None:  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    wrong = tmp_path / "notes.txt"
    wrong.write_text("pas un plan YAML\n", encoding="utf-8")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        login(page, dashboard, "edith")
        assert page.evaluate("document.documentElement.lang") == "fr"
        page.locator('[data-testid="stSidebarNav"] a', has_text="Réponses").first.click()
        settle(page)
        page.get_by_role("tab", name="Importer").click()
        settle(page)
        shown = _uploader_words(page)
        assert "Choisir un fichier" in shown and "Mo au plus par fichier" in shown, shown
        assert not [w for w in ENGLISH if w in shown], shown
        # A file of the wrong type is refused by the browser itself, with Streamlit's words
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(str(wrong))
        settle(page)
        refused = _uploader_words(page, 1)
        assert "Erreur : Les fichiers de type text/plain ne sont pas acceptés ici." in refused, refused
        assert "Retirer notes.txt" in refused and not [w for w in ENGLISH if w in refused], refused

        page.get_by_text("English", exact=True).first.click()
        settle(page)
        assert page.evaluate("document.documentElement.lang") == "en"
        page.get_by_role("tab", name="Import").click()
        settle(page)
        shown = _uploader_words(page)
        assert "Choose a file" in shown and "MB at most per file" in shown, shown
        assert "Choisir" not in shown
        browser.close()
