"""Link cards: the page's tags read whatever the page is (hostile HTML, wrong charset), and every
fetch bounded (time, size, redirects, scheme, private addresses) against a real local server."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image as PILImage

from orchestrator.services import link_cards
from orchestrator.services.link_cards import Unreadable, decode, fetch, parse, read_card, thumbnail


def picture(width: int = 600, height: int = 315, fmt: str = "PNG", noise: bool = False) -> bytes:
    out = io.BytesIO()
    if noise:
        import os

        image = PILImage.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    else:
        image = PILImage.new("RGB", (width, height), (250, 220, 0))
    image.save(out, format=fmt)
    return out.getvalue()


class Pages:
    """A local web server whose answers the test writes: (status, headers, body, delay)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes, float]] = {}
        self.hits: list[str] = []
        routes, hits = self.routes, self.hits

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                hits.append(self.path)
                status, headers, body, delay = routes.get(self.path, (404, {}, b"", 0.0))
                self.send_response(status)
                for name, value in headers.items():
                    if value:  # an empty value: the header is left out (a body read to the end)
                        self.send_header(name, value)
                if "Content-Length" not in headers:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    if delay:
                        self.wfile.write(body[:10])
                        self.wfile.flush()
                        time.sleep(delay)
                        self.wfile.write(body[10:])
                    else:
                        self.wfile.write(body)
                except OSError:
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    def add(self, path: str, body: bytes | str, *, status: int = 200, content_type: str = "text/html; charset=utf-8",
            headers: dict[str, str] | None = None, delay: float = 0.0) -> str:
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = (status, {"Content-Type": content_type, **(headers or {})}, data, delay)
        return self.base + path

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def pages() -> Iterator[Pages]:
    server = Pages()
    yield server
    server.stop()


PAGE = """<!doctype html><html><head>
<title>Titre du document</title>
<meta property="og:title" content="Libérez Juan López">
<meta property="og:description" content="Défenseur de l'eau au Honduras, tué en 2024.">
<meta property="og:image" content="/images/juan.png">
<meta name="description" content="La description simple">
</head><body>…</body></html>"""


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


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://a.example/", "javascript:alert(1)",
                                 "gopher://127.0.0.1/", "http://user:pw@127.0.0.1/"])
def test_only_http_and_https_addresses_are_read(url) -> None:
    with pytest.raises(Unreadable):
        fetch(url, max_bytes=1000, allow_private=True)


def test_every_hop_is_checked_and_a_redirect_to_a_private_address_is_refused(pages, monkeypatch) -> None:
    checked: list[str] = []
    real = link_cards._check_host

    def check(host: str, port: int, *, allow_private: bool) -> None:
        checked.append(host)
        # the test server is on 127.0.0.1: let it through, check every other host for real
        real(host, port, allow_private=allow_private or host == "127.0.0.1")

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
