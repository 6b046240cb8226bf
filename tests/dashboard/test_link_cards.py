"""The link's card on the compose page, in French and English: read from the page's tags, shown
with its picture, its title and description editable (what Bluesky will show), what X, Facebook
and Mastodon will show from the same tags; a page that cannot be read says so and blocks nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from orchestrator.models import Post
from tests.dashboard.helpers import stored, texts
from tests.pages import PAGE, Pages, picture, serve


@pytest.fixture
def pages() -> Iterator[Pages]:
    yield from serve()


HOSTILE = """<html><head><title>ignored</title>
<meta property="og:title" content="<script>alert(1)</script> **Libérez** Juan">
<meta property="og:description" content="[clic](javascript:alert(1)) défenseur">
</head></html>"""


@pytest.fixture
def private_pages_allowed(monkeypatch):
    """The tests' pages are on 127.0.0.1: the explicit, test-only exception."""
    from orchestrator.settings import get_settings

    monkeypatch.setenv("PORTEVOIX_LINK_CARDS_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


WORDS = {
    "fr": {"section": "Carte du lien", "bluesky": "Bluesky montre cette carte telle quelle",
           "others": "X, Facebook et Mastodon lisent la page eux-mêmes et montrent : Libérez Juan López — "
                     "Défenseur de l'eau au Honduras, tué en 2024.",
           "unreadable": "La page du lien n'a pas pu être lue (adresse privée refusée (127.0.0.1))",
           "images": "Bluesky montre les images et pas la carte", "no_image": "La page ne donne pas d'image"},
    "en": {"section": "Link card", "bluesky": "Bluesky shows this card as it is",
           "others": "X, Facebook and Mastodon read the page themselves and show: Libérez Juan López — "
                     "Défenseur de l'eau au Honduras, tué en 2024.",
           "unreadable": "The link's page could not be read (private address refused (127.0.0.1))",
           "images": "Bluesky shows the images, not the card", "no_image": "The page gives no picture"},
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_preview_shows_the_card_and_staff_edit_what_bluesky_shows(app, bare_engine, four_accounts, pages,
                                                                      private_pages_allowed, lang):
    pages.add("/images/juan.png", picture(), content_type="image/png")
    link = pages.add("/cas", PAGE)
    at = app("edith", "compose", lang=lang)
    at.selectbox(key="compose_case").set_value("juan-lopez").run()
    at.text_area(key="compose_text").input("Écrivez pour Juan López.")
    at.text_input(key="compose_link").input(link)
    at.multiselect(key="compose_accounts").set_value(four_accounts).run()
    assert not at.exception
    assert WORDS[lang]["section"] in [e.label for e in at.expander]
    shown = texts(at).replace("\\", "")
    for key in ("bluesky", "others"):
        assert WORDS[lang][key] in shown, key
    assert at.text_input(key="compose_card_title").value == "Libérez Juan López"
    assert at.caption and not any(WORDS[lang]["no_image"] in c.value for c in at.caption)  # it has a picture
    at.text_input(key="compose_card_title").input("Juan López, libre !")
    at.text_area(key="compose_card_description").input("Écrivez-lui.").run()
    assert pages.hits.count("/cas") == 1  # read once, not on every keystroke
    at.button(key="compose_save").click().run()
    assert not at.exception and not at.error
    [post] = stored(bare_engine, select(Post))
    card = post.link_card
    assert (card["url"], card["title"], card["description"], card["edited"]) == \
        (link, "Juan López, libre !", "Écrivez-lui.", True)
    assert card["thumb"]["mime"] == "image/png"
    assert at.text_input(key="compose_link").value == ""  # the form emptied, the card with it


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_unreadable_page_warns_and_blocks_nothing(app, bare_engine, four_accounts, pages, lang):
    link = pages.add("/cas", PAGE)  # on 127.0.0.1, and the exception is off by default
    at = app("edith", "compose", lang=lang)
    at.selectbox(key="compose_case").set_value("juan-lopez").run()
    at.text_area(key="compose_text").input("Écrivez pour Juan López.")
    at.text_input(key="compose_link").input(link)
    at.multiselect(key="compose_accounts").set_value(four_accounts).run()
    assert WORDS[lang]["unreadable"] in texts(at).replace("\\", "")
    assert pages.hits == []
    at.button(key="compose_submit").click().run()
    assert not at.exception and not at.error
    [post] = stored(bare_engine, select(Post))
    assert post.status == "pending" and post.link_card["error"]["en"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_hostile_tags_are_shown_as_text(app, bare_engine, pages, private_pages_allowed, lang):
    at = app("edith", "compose", lang=lang)
    at.text_input(key="compose_link").input(pages.add("/cas", HOSTILE)).run()
    assert not at.exception
    assert any(WORDS[lang]["no_image"] in c.value for c in at.caption)
    assert at.text_input(key="compose_card_title").value == "<script>alert(1)</script> **Libérez** Juan"
    [caption] = [c.value for c in at.caption if "Mastodon" in c.value]
    assert "<script>" not in caption and "\\<script\\>" in caption  # neutralised Markdown
    assert "[clic](" not in caption and "\\[clic\\]" in caption  # no link made


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_with_images_the_preview_says_bluesky_shows_the_images(app, bare_engine, pages, private_pages_allowed, lang):
    import base64

    at = app("edith", "compose", lang=lang)
    at.session_state["compose_images"] = [{"data": base64.b64encode(picture(40, 30)).decode(), "mime_type": "image/png",
                                           "filename": "a.png", "alt": "Des bougies"}]
    at.text_input(key="compose_link").input(pages.add("/cas", PAGE)).run()
    assert WORDS[lang]["images"] in texts(at)


APPROVALS = {
    "fr": {"later": "La carte du lien sera lue sur sa page à l'approbation.",
           "approved_plain": "La page du lien n'a pas pu être lue (adresse privée refusée (127.0.0.1)) : "
                             "le lien partira comme un simple lien, sans carte.",
           "card": "Carte du lien (Bluesky) : Libérez Juan López — Défenseur de l'eau au Honduras, tué en 2024."},
    "en": {"later": "The link's card will be read from its page on approval.",
           "approved_plain": "The link's page could not be read (private address refused (127.0.0.1)): "
                             "the link will go out as a plain link, without a card.",
           "card": "Link card (Bluesky): Libérez Juan López — Défenseur de l'eau au Honduras, tué en 2024."},
}


def _pending(engine, link: str, **kw) -> int:
    from orchestrator import db
    from orchestrator.services import compose
    from orchestrator.services.auth import Actor

    with db.session_scope(engine) as s:
        return compose.compose(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", language="fr",
                               text="Écrivez pour Juan López.", link=link, submit=True, **kw).post.id


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_approval_with_an_unreadable_page_goes_through_and_says_so(app, bare_engine, pages, lang):
    post_id = _pending(bare_engine, pages.add("/cas", PAGE))
    at = app("alain", "approvals", lang=lang)
    assert APPROVALS[lang]["later"] in texts(at)
    at.button(key=f"approve_{post_id}").click().run()
    assert not at.exception
    [post] = stored(bare_engine, select(Post))
    assert post.status == "approved"
    assert APPROVALS[lang]["approved_plain"] in texts(at).replace("\\", "")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_approver_sees_the_card_compose_read(app, bare_engine, pages, private_pages_allowed, lang):
    from orchestrator.services.link_cards import read_card

    link = pages.add("/cas", PAGE)
    _pending(bare_engine, link, link_card=read_card(link, allow_private=True))
    at = app("alain", "approvals", lang=lang)
    assert APPROVALS[lang]["card"] in texts(at).replace("\\", "")
