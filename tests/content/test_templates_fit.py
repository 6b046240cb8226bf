"""Every template, rendered for every case, fits on X (280 weighted characters, a URL counts 23)
and on Bluesky (300 graphemes, links counted in full)."""

from __future__ import annotations

import itertools

import pytest
import regex
import twitter_text

from content import bundled_campaign, decorate_links, load_campaign, render_template

CONTENT = load_campaign(bundled_campaign("2025"))
COMBINATIONS = [
    pytest.param(template, case, id=f"{template.slug}-{case.slug}")
    for template, case in itertools.product(CONTENT.templates, CONTENT.cases)
]


def _render(template, case) -> str:
    return render_template(
        template,
        case=case,
        action=CONTENT.action(template.action),
        campaign=CONTENT.campaign,
        language=template.language,
    )


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


@pytest.mark.parametrize(("template", "case"), COMBINATIONS)
def test_it_fits_on_x_even_with_tagged_links(template, case):
    text = _render(template, case)
    tagged = decorate_links(
        text,
        source_code="abc123",
        channel="x",
        case_slug=case.slug,
        rules=CONTENT.campaign.link_rules,
    )
    assert tagged != text  # every post carries a link to one of our sites
    for candidate in (text, tagged):
        parsed = twitter_text.parse_tweet(candidate)
        assert parsed.weightedLength <= 280, f"{parsed.weightedLength}: {candidate}"


@pytest.mark.parametrize(("template", "case"), COMBINATIONS)
def test_it_fits_on_bluesky(template, case):
    text = _render(template, case)
    assert graphemes(text) <= 300, f"{graphemes(text)}: {text}"


def test_the_checks_would_catch_a_long_post():
    long = "é" * 281
    assert twitter_text.parse_tweet(long).weightedLength > 280
    assert graphemes("👩🏽‍🚀" * 301) == 301 > 300


def test_every_template_language_matches_its_hashtags():
    for template, case in itertools.product(CONTENT.templates, CONTENT.cases[:1]):
        text = _render(template, case)
        assert all(tag in text for tag in CONTENT.campaign.hashtags[template.language]), (
            template.slug
        )
