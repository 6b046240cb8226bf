"""Accessibility of what we publish: warnings (never refusals) on hashtags not in CamelCase, more
than three emoji in a row, a link in the middle of a sentence on X, and alt text that is empty,
the file's name or longer than the platform shows; added to every offline validator's verdict.
And what a post costs on X (pay-per-use: $0.015, $0.20 with a URL)."""

from __future__ import annotations

import pytest

from channels import accessibility
from channels.base import Image
from channels.x import XChannel
from orchestrator.services.validators import offline_validator
from tests.orchestrator.services.helpers import png


def _codes(problems) -> list[str]:  # type: ignore[no-untyped-def]
    return [p.code for p in problems]


@pytest.mark.parametrize(("text", "warned"), [
    ("Écrivez ! #ecrirecaliberelibere", True),
    ("Écrivez ! #Ecrirecaliberelibere", True),  # one capital: still one long word
    ("Écrivez ! #WRITEFORRIGHTSNOW", True),  # capitals only read letter by letter, or as one word
    ("Écrivez ! #ÉcrireÇaLibère #WriteForRights", False),
    ("Écrivez ! #W4R2025 #amnistie #solidarité", False),  # short: one word, or digits
    ("Écrivez ! #droitshumains", True),  # 13 letters: beyond LONG_HASHTAG
])
def test_hashtags_not_in_camel_case(text: str, warned: bool) -> None:
    assert bool(accessibility.camel_case_warnings(text)) is warned


def test_the_hashtag_rule_names_the_hashtags_in_both_languages() -> None:
    (warning,) = accessibility.camel_case_warnings("#ecrirecaliberelibere et #ecrirecaliberelibere")
    assert "#ecrirecaliberelibere" in warning.fr and "lecteur d'écran" in warning.fr
    assert "screen reader" in warning.en and warning.en.count("#ecrire") == 1


@pytest.mark.parametrize(("text", "run"), [
    ("Bravo 🎉🎉🎉", 3),
    ("Bravo 🎉🎉🎉🎉", 4),
    ("Bravo 🎉 🎉 🎉 🎉 !", 4),  # spaces do not break the row
    ("🎉🎉 merci 🎉🎉", 2),
    ("👍🏽👨‍👩‍👧🇨🇦✊🏿", 4),  # skin tones, families and flags count once each
    ("Pas d'émoji ici.", 0),
])
def test_emoji_in_a_row(text: str, run: int) -> None:
    assert accessibility.emoji_run(text) == run
    assert bool(accessibility.emoji_warnings(text)) is (run > accessibility.MAX_EMOJI_RUN)


@pytest.mark.parametrize(("text", "mid"), [
    ("Signez https://amnistie.ca/juan pour Juan.", True),
    ("Signez amnistie.ca/juan pour Juan.", True),  # X links a bare address too
    ("Signez pour Juan : https://amnistie.ca/juan", False),
    ("Signez pour Juan : https://amnistie.ca/juan.", False),
    ("Signez : https://amnistie.ca/juan #W4R2025 @amnistie", False),
    ("https://amnistie.ca/juan\nSignez pour Juan.", False),  # the link on its own line
])
def test_a_link_in_the_middle_of_a_sentence(text: str, mid: bool) -> None:
    assert accessibility.link_mid_sentence(text) is mid
    assert bool(accessibility.link_warnings("x", text)) is mid
    assert accessibility.link_warnings("mastodon", text) == []  # on X only


def test_alt_text_that_says_nothing_is_the_file_name_or_is_not_read() -> None:
    data = png()
    images = [Image(data, "image/png", "Photo", filename="juan.png"),
              Image(data, "image/png", "juan", filename="juan.png"),
              Image(data, "image/png", "IMG_2041.JPG", filename="IMG_2041.JPG"),
              Image(data, "image/png", "Juan López devant la rivière Guapinol.", filename="juan.png"),
              Image(data, "image/png", "x" * 2001, filename="long.png")]
    codes = _codes(accessibility.alt_warnings(images, platform="Bluesky", read_limit=2000))
    assert codes == ["alt_empty", "alt_file_name", "alt_file_name", "alt_unread"]
    assert _codes(accessibility.alt_warnings(images[3:], platform="Facebook", read_limit=None)) == []


def test_every_offline_validator_adds_them_as_warnings_and_the_text_stays_valid() -> None:
    text = "Signez https://amnistie.ca/juan pour Juan 🎉🎉🎉🎉 #ecrirecaliberelibere"
    x = offline_validator("x").validate(text)
    assert x.valid and _codes(x.warnings) == ["hashtag_camel_case", "emoji_run", "link_mid_sentence"]
    mastodon = offline_validator("mastodon", base_url="https://mastodon.example").validate(text)
    assert mastodon.valid and _codes(mastodon.warnings) == ["hashtag_camel_case", "emoji_run"]
    alt = Image(png(), "image/png", "y" * 2100, filename="a.png")
    bluesky = offline_validator("bluesky").validate("Signez pour Juan.", [alt])
    assert bluesky.valid and _codes(bluesky.warnings) == ["alt_unread"]
    # where the platform refuses a longer alt text, that is its own problem, not a second warning
    assert "alt_unread" not in _codes(offline_validator("x").validate("Juan", [alt]).warnings)


def test_a_post_on_x_costs_more_with_a_url() -> None:
    assert XChannel.publish_cost("Écrivez pour Juan.") == 0.015
    assert XChannel.publish_cost("Écrivez pour Juan.", "https://amnistie.ca/juan") == 0.20
    assert XChannel.publish_cost("Écrivez pour Juan : amnistie.ca/juan") == 0.20
    from channels.mastodon import MastodonChannel

    assert MastodonChannel.publish_cost("https://amnistie.ca") is None
