"""Streamlit's own words in the reader's language (dashboard/streamlit_words.js): the uploaders
take no more than the platforms' images need and say their limit in the reader's words (issue 15:
« 200MB per file » was shown, in English, for a 10 MB limit); the date and time fields' labels."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from dashboard.common import WORD_KEYS
from dashboard.strings import STRINGS
from tests.dashboard.test_words import SCRIPT

CONFIG = Path(__file__).resolve().parents[2] / "dashboard" / ".streamlit" / "config.toml"


def test_the_server_takes_no_file_larger_than_the_largest_image():
    from orchestrator.settings import get_settings

    limit = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["server"]["maxUploadSize"]
    assert limit * 1024 * 1024 >= get_settings().media_max_bytes and limit <= 16  # not Streamlit's 200


@pytest.mark.parametrize(("page", "key"), [("compose", "compose_upload_0"), ("media", "media_file")])
def test_an_image_uploader_shows_the_media_library_s_limit(app, page, key):
    at = app("edith", page)
    (uploader,) = [u for u in at.get("file_uploader") if u.proto.id.endswith(key) or key in u.proto.id]
    assert uploader.proto.max_upload_size_mb == 10
    assert "10 Mo" in uploader.proto.help


def _rewrite(lang: str, english: list[str], platform: str = "Linux x86_64", rules: str = "text") -> list[str]:
    """What streamlit_words.js makes of Streamlit's English, run by Node over a bare page."""
    words = {"lang": lang} | {name: STRINGS[key][lang] for name, key in WORD_KEYS.items()}
    page = "globalThis.navigator = { platform: " + json.dumps(platform) + " };" + """
    const window = globalThis;
    globalThis.document = { documentElement: {}, body: {}, currentScript: null, querySelectorAll: () => [] };
    globalThis.MutationObserver = class { observe() {} disconnect() {} };
    globalThis.requestAnimationFrame = () => 0;
    """
    script = SCRIPT.read_text(encoding="utf-8").replace("__WORDS__", json.dumps(words))
    ask = "console.log(JSON.stringify(" + json.dumps(english) + ".map((e) => window.porteVoixWords.rewrite." + rules + "(e))));"
    out = subprocess.run(["node", "-e", page + script + ask], capture_output=True, text=True, check=True, timeout=30)
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the page's script")
def test_the_uploader_s_limit_and_refusal_read_in_each_language():
    english = ["10MB per file • CSV, TXT", "File must be 10.0MB or smaller.",
               "File is too large. Maximum size is 10000000 bytes.", "Only one file is allowed."]
    assert _rewrite("fr", english) == [
        "10\u00a0Mo au plus par fichier • CSV, TXT", "Fichier trop lourd : 10\u00a0Mo au plus.",
        "Fichier trop lourd : 10\u00a0Mo au plus.", "Un seul fichier à la fois."]
    assert _rewrite("en", english) == [
        "10\u00a0MB at most per file • CSV, TXT", "File too large: 10\u00a0MB at most.",
        "File too large: 10\u00a0MB at most.", "One file at a time."]
    assert _rewrite("fr", ["File is too large. Maximum size is 10485760 bytes."], "Win32") == [
        "Fichier trop lourd : 10\u00a0Mo au plus."]


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the page's script")
def test_the_date_and_time_fields_labels_read_in_each_language():
    """What screen readers announce of the date and time fields (docs/accessibility.md)."""
    english = ["Choose date", "Clear time", "year, Jour", "month, Jour", "12 – December", "hour, Heure",
               "Previous", "Jour"]
    assert _rewrite("fr", english, rules="dateAttr") == [
        "Choisir une date", "Effacer l'heure", "année, Jour", "mois, Jour", "12 – décembre", "heure, Heure",
        "Mois précédent", None]  # a label of ours is left as it is
    assert _rewrite("en", ["Choose date", "12 – December"], rules="dateAttr") == ["Choose a date", "12 – December"]
    assert _rewrite("fr", ["Use arrow keys to navigate dates. Enter to select. Escape to close."],
                    rules="dateText") == ["Flèches : changer de jour. Entrée : choisir. Échap : fermer."]
