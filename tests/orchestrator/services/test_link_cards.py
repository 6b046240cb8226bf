"""Link cards: the page's tags read whatever the page is (hostile HTML, wrong charset), and every
fetch bounded (time, size, redirects, scheme, private addresses) against a real local server."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator

import pytest
from PIL import Image as PILImage

from orchestrator import db, states
from orchestrator.models import Post
from orchestrator.services import compose, link_cards, posts
from orchestrator.services.auth import Actor
from orchestrator.services.link_cards import Unreadable, decode, fetch, parse, read_card, thumbnail
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import delivery, schedule
from tests.pages import PAGE, Pages, picture, serve


@pytest.fixture
def pages() -> Iterator[Pages]:
    yield from serve()


# -- the page's tags ------------------------------------------------------------------------

def test_open_graph_comes_first_and_the_image_is_made_absolute() -> None:
    tags = parse(PAGE, "https://amnistie.ca/cas/juan")
    assert tags == {"title": "Libérez Juan López", "description": "Défenseur de l'eau au Honduras, tué en 2024.",
                    "image": "https://amnistie.ca/images/juan.png"}


def test_without_open_graph_the_title_and_meta_description_are_used() -> None:
    html = "<html><head><title>  Agir \n maintenant </title><meta name='Description' content='Signez.'></head></html>"
    assert parse(html, "https://a.example/") == {"title": "Agir maintenant", "description": "Signez.", "image": ""}


def test_a_page_with_no_tags_at_all_gives_nothing() -> None:
    assert parse("<p>rien", "https://a.example/") == {"title": "", "description": "", "image": ""}


def test_scripts_in_titles_stay_text_and_script_bodies_are_not_titles() -> None:
    html = ('<html><head><title><script>alert(1)</script>Vrai titre</title>'
            '<meta property="og:description" content="&lt;img src=x onerror=alert(1)&gt; \u202egnp.exe\x07">'
            '<meta property="og:image" content="javascript:alert(1)"></head></html>')
    tags = parse(html, "https://a.example/")
    assert tags["title"] == "Vrai titre"
    # entities decoded to plain text (shown escaped), control and bidi characters removed
    assert tags["description"] == "<img src=x onerror=alert(1)> gnp.exe"
    assert tags["image"] == ""  # only http(s) pictures


def test_long_titles_are_cut_and_broken_html_does_not_stop_the_reading() -> None:
    html = f"<title>{'a' * 5000}</title><meta property='og:description' content='ok'><<<</div></p><meta"
    tags = parse(html, "https://a.example/")
    assert len(tags["title"]) == link_cards.MAX_TITLE and tags["title"].endswith("…")
    assert tags["description"] == "ok"


def test_the_charset_comes_from_the_header_then_the_meta_then_utf8() -> None:
    latin = "<title>Égalité</title>".encode("latin-1")
    assert "Égalité" in decode(latin, "text/html; charset=ISO-8859-1")
    assert "Égalité" in decode(b'<meta charset="windows-1252">' + latin, "text/html")
    assert "Égalité" in decode("<title>Égalité</title>".encode(), "text/html; charset=nonsense-42")
    assert "\ufffd" in decode(latin, "text/html")  # wrong bytes replaced, never an error


# -- the bounded fetch ----------------------------------------------------------------------

def test_a_private_address_is_refused_unless_the_tests_allow_it(pages) -> None:
    url = pages.add("/page", PAGE)
    with pytest.raises(Unreadable) as refused:
        fetch(url, max_bytes=10_000)
    assert "private" in refused.value.en and "privée" in refused.value.fr
    assert pages.hits == []  # refused before any request
    assert fetch(url, max_bytes=10_000, allow_private=True)[2].startswith(b"<!doctype")


def test_the_private_exception_is_off_by_default() -> None:
    from orchestrator.settings import Settings

    assert Settings().link_cards_allow_private is False


@pytest.mark.parametrize("host", ["10.0.0.1", "169.254.169.254", "[::1]", "192.168.1.1", "0.0.0.0"])
def test_private_link_local_and_loopback_addresses_are_refused(host) -> None:
    with pytest.raises(Unreadable, match="private address"):
        fetch(f"http://{host}/", max_bytes=1000, timeout=1)


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["93.184.215.14", "127.0.0.1"], ["::ffff:169.254.169.254"],
                                       ["fe80::1"]])
def test_a_name_that_resolves_to_any_private_address_is_refused(monkeypatch, addresses) -> None:
    def resolve(host, port, *args, **kwargs):
        return [(0, 0, 6, "", (address, port)) for address in addresses]

    monkeypatch.setattr(link_cards, "_resolve", resolve)
    with pytest.raises(Unreadable, match="private address"):
        fetch("https://campagne.example/page", max_bytes=1000, timeout=1)


def test_a_name_that_resolves_to_public_addresses_only_passes_the_check(monkeypatch) -> None:
    monkeypatch.setattr(link_cards, "_resolve", lambda host, port, *a, **k: [(0, 0, 6, "", ("93.184.215.14", port))])
    link_cards._check_host("campagne.example", 443, allow_private=False)  # no exception


def test_the_connection_goes_to_the_address_checked_not_to_the_name_resolved_again(pages, monkeypatch) -> None:
    """The name is resolved once, by the check; the request goes to that address with the name in
    its Host header (here a name no resolver knows: resolving it again would fail)."""
    monkeypatch.setattr(link_cards, "_resolve", lambda host, port, *a, **k: [(0, 0, 6, "", ("127.0.0.1", port))])
    pages.add("/cas", PAGE)
    port = pages.base.rsplit(":", 1)[1]
    final, _, body = fetch(f"http://campagne.invalid:{port}/cas", max_bytes=10_000, allow_private=True)
    assert final == f"http://campagne.invalid:{port}/cas" and body.startswith(b"<!doctype")
    assert pages.hosts == [f"campagne.invalid:{port}"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://a.example/", "javascript:alert(1)",
                                 "gopher://127.0.0.1/", "http://user:pw@127.0.0.1/"])
def test_only_http_and_https_addresses_are_read(url) -> None:
    with pytest.raises(Unreadable):
        fetch(url, max_bytes=1000, allow_private=True)


def test_every_hop_is_checked_and_a_redirect_to_a_private_address_is_refused(pages, monkeypatch) -> None:
    checked: list[str] = []
    real = link_cards._check_host

    def check(host: str, port: int, *, allow_private: bool) -> str:
        checked.append(host)
        # the test server is on 127.0.0.1: let it through, check every other host for real
        return real(host, port, allow_private=allow_private or host == "127.0.0.1")

    monkeypatch.setattr(link_cards, "_check_host", check)
    start = pages.add("/go", "", status=302, headers={"Location": "http://10.1.2.3/admin"})
    with pytest.raises(Unreadable, match="private address"):
        fetch(start, max_bytes=1000, timeout=2)
    assert checked == ["127.0.0.1", "10.1.2.3"] and pages.hits == ["/go"]
    final = pages.add("/final", PAGE)
    pages.add("/r1", "", status=301, headers={"Location": "/r2"})
    pages.add("/r2", "", status=302, headers={"Location": "/r3"})
    pages.add("/r3", "", status=307, headers={"Location": final})
    checked.clear()
    assert fetch(pages.base + "/r1", max_bytes=10_000)[0] == final
    assert len(checked) == 4


def test_more_than_three_redirects_are_refused(pages) -> None:
    for i in range(5):
        pages.add(f"/loop{i}", "", status=302, headers={"Location": f"/loop{i + 1}"})
    with pytest.raises(Unreadable, match="too many redirects"):
        fetch(pages.base + "/loop0", max_bytes=1000, allow_private=True)
    assert len(pages.hits) == 4  # the first request and three redirects followed


def test_a_redirect_to_another_scheme_is_refused(pages) -> None:
    pages.add("/file", "", status=302, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(Unreadable, match="http"):
        fetch(pages.base + "/file", max_bytes=1000, allow_private=True)


def test_a_page_too_big_is_refused_announced_or_not(pages) -> None:
    pages.add("/big", b"x" * 50_000)
    with pytest.raises(Unreadable, match="too big"):
        fetch(pages.base + "/big", max_bytes=10_000, allow_private=True)
    pages.add("/unsaid", b"x" * 50_000, headers={"Content-Length": ""})  # no length announced
    with pytest.raises(Unreadable, match="too big"):
        fetch(pages.base + "/unsaid", max_bytes=10_000, allow_private=True)


def test_a_slow_page_is_given_up_within_the_time(pages) -> None:
    pages.add("/slow", b"<title>lent</title>" * 10, delay=3.0)
    started = time.monotonic()
    with pytest.raises(Unreadable, match="timed out"):
        fetch(pages.base + "/slow", max_bytes=10_000, timeout=0.5, allow_private=True)
    assert time.monotonic() - started < 2.5


# -- the card -------------------------------------------------------------------------------

def test_a_card_with_its_thumbnail(pages) -> None:
    pages.add("/images/juan.png", picture(), content_type="image/png")
    card = read_card(pages.add("/cas", PAGE), allow_private=True)
    assert card["error"] is None
    assert (card["title"], card["image"]) == ("Libérez Juan López", pages.base + "/images/juan.png")
    assert card["thumb"]["mime"] == "image/png"
    assert base64.b64decode(card["thumb"]["data"]) == picture()


def test_an_unreadable_page_gives_an_error_in_both_languages_never_an_exception(pages) -> None:
    card = read_card(pages.add("/cas", PAGE))  # the private exception not given
    assert card["error"]["fr"] and card["error"]["en"] and card["title"] == ""
    assert read_card(pages.base + "/missing", allow_private=True)["error"]["en"] == "the page answers 404"
    pdf = read_card(pages.add("/doc.pdf", b"%PDF-1.4", content_type="application/pdf"), allow_private=True)
    assert pdf["error"]["en"] == "this is not a web page"
    assert read_card(pages.add("/empty", "<p>rien</p>"), allow_private=True)["error"] is not None
    assert not link_cards.usable(card, card["url"])


def test_a_broken_picture_leaves_a_card_without_thumbnail(pages) -> None:
    pages.add("/images/juan.png", b"not a picture", content_type="image/png")
    card = read_card(pages.add("/cas", PAGE), allow_private=True)
    assert card["error"] is None and card["thumb"] is None and card["title"] == "Libérez Juan López"


def test_a_heavy_picture_is_scaled_down_below_blueskys_limit() -> None:
    heavy = picture(1600, 1600, fmt="PNG", noise=True)
    assert len(heavy) > link_cards.THUMB_MAX_BYTES
    data, mime = thumbnail(heavy)
    assert mime == "image/jpeg" and len(data) <= link_cards.THUMB_MAX_BYTES
    assert PILImage.open(io.BytesIO(data)).format == "JPEG"
    small = picture(fmt="JPEG")
    assert thumbnail(small) == (small, "image/jpeg")  # kept as it is
    with pytest.raises(Unreadable):
        thumbnail(b"<svg onload=alert(1)>")


# -- kept on the post at approval, used at publishing -------------------------------------------

EDITH = Actor("edith", "editor")
ALAIN = Actor("alain", "approver")


@pytest.fixture
def private_pages_allowed(monkeypatch):
    """The tests' pages are on 127.0.0.1: the explicit, test-only exception."""
    from orchestrator.settings import get_settings

    monkeypatch.setenv("PORTEVOIX_LINK_CARDS_ALLOW_PRIVATE", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _approved(engine, link: str, **compose_kw) -> int:
    with db.session_scope(engine) as s:
        post = compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text="Écrivez pour Juan López.",
                               link=link, submit=True, **compose_kw).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        return post.id


def _publish(engine, post_id: int, account: str) -> int:
    delivery_id = schedule(engine, post_id, account)
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    Worker(engine, settings=settings, worker_id="cards-worker").run_once()
    return delivery_id


def test_the_card_is_read_at_approval_and_publishing_does_not_read_again(engine, sandbox, pages,
                                                                          private_pages_allowed) -> None:
    pages.add("/images/juan.png", picture(), content_type="image/png")
    link = pages.add("/cas", PAGE)
    post_id = _approved(engine, link)
    assert pages.hits == ["/cas", "/images/juan.png"]
    with db.session_scope(engine) as s:
        card = s.get(Post, post_id).link_card
        assert (card["url"], card["title"], card["error"]) == (link, "Libérez Juan López", None)
        assert card["thumb"]["mime"] == "image/png"
    pages.routes.clear()  # the page is gone by publishing time: the card was kept
    bluesky = add_account(engine, "bluesky", name="bluesky-cards", base_url=sandbox.url)
    delivery_id = _publish(engine, post_id, bluesky)
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert pages.hits == ["/cas", "/images/juan.png"]
    [skeet] = sandbox.sandbox.posts("bluesky")
    assert skeet["embed"] == "app.bsky.embed.external"
    assert skeet["link"].startswith(link)  # the delivery's own link, with its tracking code
    assert skeet["card"]["title"] == "Libérez Juan López"
    assert skeet["card"]["description"] == "Défenseur de l'eau au Honduras, tué en 2024."
    assert skeet["card"]["thumb"]["size"] == len(picture()) and skeet["card"]["thumb"]["mimeType"] == "image/png"


def test_an_unreadable_page_approves_and_publishes_a_plain_link(engine, sandbox, pages) -> None:
    link = pages.add("/cas", PAGE)  # on 127.0.0.1, and the exception is off: refused
    post_id = _approved(engine, link)
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        assert post.status == posts.APPROVED
        assert "private address" in post.link_card["error"]["en"] and post.link_card["error"]["fr"]
    assert pages.hits == []
    bluesky = add_account(engine, "bluesky", name="bluesky-cards", base_url=sandbox.url)
    assert delivery(engine, _publish(engine, post_id, bluesky)).state == states.PUBLISHED
    [skeet] = sandbox.sandbox.posts("bluesky")
    assert skeet["embed"] is None and link in [f["features"][0]["uri"].split("?")[0] for f in skeet["facets"]]


def test_the_card_staff_edited_in_the_preview_is_the_one_published(engine, sandbox, pages,
                                                                   private_pages_allowed) -> None:
    pages.add("/images/juan.png", picture(), content_type="image/png")
    link = pages.add("/cas", PAGE)
    card = read_card(link, allow_private=True)
    card.update(title="  Juan López <b>libre</b>\n", description="Écrivez-lui.", edited=True)
    hits = len(pages.hits)
    post_id = _approved(engine, link, link_card=card)
    assert len(pages.hits) == hits  # approval kept the preview's card
    bluesky = add_account(engine, "bluesky", name="bluesky-cards", base_url=sandbox.url)
    _publish(engine, post_id, bluesky)
    [skeet] = sandbox.sandbox.posts("bluesky")
    assert (skeet["card"]["title"], skeet["card"]["description"]) == ("Juan López <b>libre</b>", "Écrivez-lui.")
    assert "thumb" in skeet["card"]


def test_a_card_of_another_address_is_not_kept(engine, pages, private_pages_allowed) -> None:
    card = read_card(pages.add("/autre", PAGE), allow_private=True)
    link = pages.add("/cas", "<title>La vraie page</title>")
    post_id = _approved(engine, link, link_card=card)
    with db.session_scope(engine) as s:
        assert s.get(Post, post_id).link_card["title"] == "La vraie page"


def test_a_card_goes_to_the_channel_only_for_the_link_it_was_read_from() -> None:
    card = {"url": "https://a.example/", "title": "T", "description": "D", "error": None,
            "thumb": {"data": base64.b64encode(b"\xff\xd8jpeg").decode(), "mime": "image/jpeg"}}
    sent = link_cards.for_channel(card, "https://a.example/")
    assert sent is not None and (sent.title, sent.description, sent.thumb.data) == ("T", "D", b"\xff\xd8jpeg")
    assert link_cards.for_channel(card, "https://b.example/") is None  # the link changed since
    assert link_cards.for_channel({**card, "error": {"fr": "x", "en": "x"}}, "https://a.example/") is None
    assert link_cards.for_channel({}, "https://a.example/") is None
    assert link_cards.for_channel({**card, "thumb": {"data": "%%%", "mime": "image/jpeg"}}, card["url"]).thumb is None


def test_a_card_from_the_preview_is_cleaned_again_before_it_is_kept() -> None:
    class Post:
        link = "https://a.example/"
        link_card: dict = {}

    post = Post()
    link_cards.keep(post, {"url": post.link, "title": "a\x00b\u202e  c", "description": "x" * 5000,
                           "thumb": {"data": "AAAA", "mime": "text/html"}, "error": None})
    assert post.link_card["title"] == "ab c" and len(post.link_card["description"]) == link_cards.MAX_DESCRIPTION
    assert post.link_card["thumb"] is None  # only pictures
    link_cards.keep(post, {"url": "https://other.example/", "title": "autre"})
    assert post.link_card["title"] == "ab c"  # a card of another address is ignored
