"""The bundled 2025 edition loads, and says what the reference says."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import content
from content import Bilingual, bundled_campaign, load_all, load_campaign, validate_campaign

GLOBAL_CASES_2025 = [
    ("damisoa", "MG"),
    ("unecebo-mboteni", "ZA"),
    ("juan-lopez", "HN"),
    ("mother-nature-cambodia", "KH"),
    ("sai-zaw-thaike", "MM"),
    ("ellinor-guttorm-utsi", "NO"),
    ("sonia-dahmani", "TN"),
    ("guerreras-por-la-amazonia", "EC"),
]


def _bilinguals(model, path=""):
    """Every Bilingual inside a model, with its dotted path."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = f"{path}.{name}" if path else name
        if isinstance(value, Bilingual):
            yield here, value
        elif hasattr(type(value), "model_fields"):
            yield from _bilinguals(value, here)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if hasattr(type(item), "model_fields"):
                    yield from _bilinguals(item, f"{here}[{index}]")


def test_it_validates_without_problems():
    assert validate_campaign(bundled_campaign("2025")) == []


def test_it_loads_the_eight_global_cases_in_order():
    content = load_campaign(bundled_campaign("2025"))
    assert [(c.slug, c.country_code) for c in content.cases] == GLOBAL_CASES_2025
    assert [c.position for c in content.cases] == list(range(1, 9))
    assert content.source == bundled_campaign("2025").resolve()


def test_every_text_exists_in_both_languages():
    content = load_campaign(bundled_campaign("2025"))
    models = [content.campaign, *content.cases, *content.actions]
    found = 0
    for model in models:
        for path, text in _bilinguals(model):
            assert text.fr.strip() and text.en.strip(), f"{model}: {path}"
            found += 1
    assert found > 8 * 8  # every case has at least 8 bilingual fields


def test_the_campaign_has_its_key_dates_and_settings():
    campaign = load_campaign(bundled_campaign("2025")).campaign
    assert campaign.name.fr == "Écrire, ça libère ! 2025"
    assert campaign.name.en == "Write for Rights 2025"
    assert campaign.timezone == "America/Toronto"
    assert campaign.key_date("marathon-montreal").date == dt.date(2025, 12, 6)
    assert campaign.key_date("journee-droits-humains").date == dt.date(2025, 12, 10)
    assert campaign.key_date("lancement").date == campaign.starts_on
    assert campaign.starts_on < dt.date(2025, 12, 6) < dt.date(2025, 12, 10) <= campaign.ends_on
    assert "#W4R2025" in campaign.hashtags["fr"] and "#W4R2025" in campaign.hashtags["en"]
    assert set(campaign.link_rules.domains) == {"amnistie.ca", "amnesty.ca", "amnesty.org"}
    assert campaign.goal >= sum(c.goal for c in load_campaign(bundled_campaign("2025")).cases) > 0


def test_there_is_one_call_to_action_of_each_kind_and_a_template_for_each_language():
    content = load_campaign(bundled_campaign("2025"))
    assert sorted(a.kind for a in content.actions) == ["event", "letter", "signature", "solidarity"]
    for action in content.actions:
        for language in ("fr", "en"):
            assert content.templates_for(action.slug, language), (action.slug, language)
    event = next(a for a in content.actions if a.kind == "event")
    assert content.campaign.key_date(event.key_date).date == dt.date(2025, 12, 6)


def test_stories_have_two_to_four_sentences():
    # A sentence ends with . ! ? or … followed by a space and a capital (or the end of the text).
    sentence_end = re.compile(r"[.!?…](?=\s+[A-ZÀ-Ý«\"]|\s*$)")
    for case in load_campaign(bundled_campaign("2025")).cases:
        for language in ("fr", "en"):
            count = len(sentence_end.findall(case.story.get(language)))
            assert 2 <= count <= 4, (case.slug, language, count)


def test_sonia_dahmani_ask_follows_her_conditional_release():
    case = load_campaign(bundled_campaign("2025")).case("sonia-dahmani")
    assert "liberation-conditionnelle" in case.tags
    assert "abandon" in case.ask.fr and "dropped" in case.ask.en


def test_load_all_finds_the_bundled_editions():
    campaigns = load_all()
    assert [e.campaign.slug for e in campaigns] == ["ecrire-2025"]


def test_the_package_stays_offline_and_below_the_orchestrator():
    code = (
        "import sys, content, content.loader, content.render;"
        "bad = [m for m in ('orchestrator', 'requests', 'httpx', 'channels') if m in sys.modules];"
        "print(bad)"
    )
    root = Path(content.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root, env=env
    )
    assert result.stdout.strip() == "[]"
