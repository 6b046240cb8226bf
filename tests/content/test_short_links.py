"""Shortening a delivery's tagged text: every address becomes ``<base>/<code>`` or
``<base>/<code>/<n>``, numbered as the short-link service numbers them."""

from __future__ import annotations

from content.model import LinkRules
from content.render import link_targets, shorten_links, tag_post

RULES = LinkRules(utm_campaign="ecrire-2025", domains=["amnistie.ca"])
BASE = "https://go.amnistie.ca"


def test_the_posts_own_link_is_the_bare_code_and_the_others_are_numbered_in_order() -> None:
    text, link = tag_post("Voir https://example.org/a, puis https://amnistie.ca/b. Merci !",
                          "https://amnistie.ca/ecrire", source_code="k7m2p9q", channel="x", rules=RULES)
    short, short_link = shorten_links(text, link, base_url=BASE, source_code="k7m2p9q", rules=RULES)
    assert short == (f"Voir {BASE}/k7m2p9q/2, puis {BASE}/k7m2p9q/3. Merci !\n\n{BASE}/k7m2p9q")
    assert short_link == f"{BASE}/k7m2p9q"
    targets = link_targets(text, link, rules=RULES)
    assert targets[0] == link and link.startswith("https://amnistie.ca/ecrire?source=k7m2p9q&utm_source=x")
    assert targets[1] == "https://example.org/a"  # another site: not tagged, still counted
    assert str(targets[2]).startswith("https://amnistie.ca/b?source=k7m2p9q")


def test_without_a_link_of_its_own_the_first_campaign_link_is_the_bare_code() -> None:
    text, link = tag_post("Lire https://example.org/x et agir https://amnistie.ca/agir", None,
                          source_code="abcd234", channel="bluesky", rules=RULES)
    short, short_link = shorten_links(text, link, base_url=BASE + "/", source_code="abcd234", rules=RULES)
    assert short == f"Lire {BASE}/abcd234/2 et agir {BASE}/abcd234"
    assert short_link is None


def test_the_same_address_twice_gets_one_short_link_and_a_short_link_is_left_alone() -> None:
    text = f"https://amnistie.ca/a et encore https://amnistie.ca/a, déjà court : {BASE}/zzzz999"
    tagged, _ = tag_post(text, None, source_code="q2w3e4r", channel="x", rules=RULES)
    short, _ = shorten_links(tagged, None, base_url=BASE, source_code="q2w3e4r", rules=RULES)
    pasted = tagged.rsplit(" ", 1)[1]  # as the tagger left it: not shortened a second time
    assert pasted.startswith(f"{BASE}/zzzz999")
    assert short == f"{BASE}/q2w3e4r et encore {BASE}/q2w3e4r, déjà court : {pasted}"


def test_a_text_without_address_is_unchanged() -> None:
    assert shorten_links("Écrivez ! #W4R", None, base_url=BASE, source_code="q2w3e4r", rules=RULES) == \
        ("Écrivez ! #W4R", None)
    assert link_targets("Écrivez !", None, rules=RULES) == [None]
