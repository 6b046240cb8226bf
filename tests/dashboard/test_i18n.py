"""Every string the pages ask for exists in French and English, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from dashboard.strings import STRINGS

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"


def test_every_key_has_both_languages_with_the_same_placeholders():
    for key, entry in STRINGS.items():
        assert entry.get("fr") and entry.get("en"), key
        names = [{f[1] for f in string.Formatter().parse(entry[lang]) if f[1]} for lang in ("fr", "en")]
        assert names[0] == names[1], key


def test_every_literal_key_used_exists():
    used = set()
    for path in DASHBOARD.rglob("*.py"):
        used |= set(re.findall(r"\bt\(\"([a-z_]+\.[a-z_.]+)\"", path.read_text()))
    missing = sorted(k for k in used if k not in STRINGS)
    assert not missing


VIEWS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "dashboard" / "views").glob("*.py")
               if p.stem != "__init__")


def test_every_page_is_in_the_navigation():
    app = (Path(__file__).resolve().parents[2] / "dashboard" / "app.py").read_text(encoding="utf-8")
    missing = [name for name in VIEWS if f'page("{name}"' not in app]
    assert not missing, f"pages written but not reachable from the sidebar: {missing}"


def test_dynamic_keys_exist():
    for prefix, names in {
        "nav.": VIEWS,
        "case.status.": ["active", "paused", "good_news", "closed"],
        "compose.when_": ["none", "at", "next"],
        "overview.by_": ["case", "kind"],
        "calendar.": ["week", "month"],
    }.items():
        for name in names:
            assert prefix + name in STRINGS


def test_no_user_text_is_rendered_as_html():
    for path in DASHBOARD.rglob("*.py"):
        assert "unsafe_allow_html" not in path.read_text(), path
