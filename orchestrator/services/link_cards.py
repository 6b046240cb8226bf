"""Link cards: what a post's link looks like on the platforms, read from the page's own tags.

Bluesky shows only the card it is given (an ``app.bsky.embed.external`` with a title, a
description and a thumbnail blob); X, Facebook and Mastodon read the page themselves, from the
same Open Graph tags. So the page is read once, when the post is approved (and when staff look at
the compose preview), and the card is kept on the post (``Post.link_card``): publishing never
fetches a page.

Reading a page someone pasted is reading an address chosen by someone else, from our server:
every fetch is bounded in time, size and redirects, goes only to ``http``/``https``, and only to
public addresses (each hop's host is resolved, every address it resolves to checked, and the
connection made to the address checked, not to the name resolved again).
``allow_private`` lifts the last rule for the sandbox's and the tests' pages on 127.0.0.1 only
when asked (the ``link_cards_allow_private`` setting, off by default). Whatever goes wrong, the
result is a card with an ``error`` (French and English) and the link stays a plain link: a page
that cannot be read never fails an approval or a post.
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import io
import ipaddress
import re
import socket
import time
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from channels.base import Image, LinkCard

TIMEOUT = 5.0  # seconds for a whole fetch (every hop and the body)
MAX_PAGE_BYTES = 1_000_000
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 3
#: lexicons/app/bsky/embed/external.json: "thumb" maxSize
THUMB_MAX_BYTES = 1_000_000
MAX_TITLE = 300
MAX_DESCRIPTION = 1000
_MAX_PIXELS = 40_000_000  # a larger picture is refused before it is decoded (decompression bombs)
_KEPT_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
_USER_AGENT = "Porte-voix link cards (+https://github.com/porte-voix)"


class Unreadable(Exception):
    """Why a page (or its picture) could not be read, in French and English."""

    def __init__(self, fr: str, en: str) -> None:
        super().__init__(en)
        self.fr, self.en = fr, en


# -- bounded fetch --------------------------------------------------------------------------------

#: How a host's name becomes addresses (the tests put one here that reads no network).
_resolve: Callable[..., list[Any]] = socket.getaddrinfo


def _check_host(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to for ``host`` (the first it resolves to), once every address it
    resolves to is checked public (unless ``allow_private``)."""
    try:
        infos = _resolve(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise Unreadable(f"adresse introuvable ({host})", f"address not found ({host})") from exc
    if not infos:
        raise Unreadable(f"adresse introuvable ({host})", f"address not found ({host})")
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    if not allow_private:
        for value in addresses:
            address = ipaddress.ip_address(value)
            mapped = getattr(address, "ipv4_mapped", None)
            if mapped is not None:
                address = mapped
            if not address.is_global or address.is_multicast:
                raise Unreadable(f"adresse privée refusée ({host})", f"private address refused ({host})")
    return addresses[0]


def _pinned(url: str, host: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``url`` sent to the checked ``address`` itself, so the name is not resolved a second time
    (to another address) by the connection: the ``Host`` header and, for https, the TLS server
    name (checked against the certificate) stay the name's."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host_header = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {"Host": host_header}, extensions


def _checked_url(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Unreadable("adresse invalide", "invalid address") from exc
    if parts.scheme not in ("http", "https"):
        raise Unreadable("seules les adresses http(s) sont lues", "only http(s) addresses are read")
    if parts.username is not None or parts.password is not None or not parts.hostname:
        raise Unreadable("adresse invalide", "invalid address")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def fetch(url: str, *, max_bytes: int, accept: str = "*/*", timeout: float = TIMEOUT,
          max_redirects: int = MAX_REDIRECTS, allow_private: bool = False) -> tuple[str, str, bytes]:
    """``(final address, Content-Type, body)`` of ``url``, or :class:`Unreadable`.

    Redirects are followed by hand so each hop is checked like the first; the whole fetch has
    ``timeout`` seconds; a body above ``max_bytes`` (announced or read) is refused."""
    deadline = time.monotonic() + timeout
    hops = 0
    with httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout,
                      headers={"User-Agent": _USER_AGENT, "Accept": accept}) as client:
        while True:
            host, port = _checked_url(url)
            address = _check_host(host, port, allow_private=allow_private)
            target, headers, extensions = _pinned(url, host, address)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unreadable("délai dépassé", "timed out")
            try:
                with client.stream("GET", target, headers=headers, extensions=extensions,
                                   timeout=httpx.Timeout(left)) as response:
                    if response.is_redirect:
                        hops += 1
                        if hops > max_redirects:
                            raise Unreadable("trop de redirections", "too many redirects")
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if response.status_code != 200:
                        raise Unreadable(f"la page répond {response.status_code}",
                                         f"the page answers {response.status_code}")
                    announced = response.headers.get("content-length", "")
                    if announced.isdigit() and int(announced) > max_bytes:
                        raise Unreadable("trop volumineux", "too big")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise Unreadable("trop volumineux", "too big")
                        if time.monotonic() > deadline:
                            raise Unreadable("délai dépassé", "timed out")
                    return url, response.headers.get("content-type", ""), bytes(body)
            except httpx.TimeoutException as exc:
                raise Unreadable("délai dépassé", "timed out") from exc
            except httpx.HTTPError as exc:
                raise Unreadable("la page ne répond pas", "the page does not answer") from exc


# -- the page's tags --------------------------------------------------------------------------

class _Tags(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "svg"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title: list[str] = []
        self._in_title = False
        self._title_done = False
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
            return
        if tag == "title" and not self._title_done and not self._skipping:
            self._in_title = True
        elif tag == "meta":
            values = {k.lower(): v or "" for k, v in attrs}
            name = (values.get("property") or values.get("name") or "").strip().lower()
            if name and "content" in values:
                self.meta.setdefault(name, values["content"])

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "title" and self._in_title:
            self._in_title, self._title_done = False, True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self._skipping:
            self.title.append(data)


def clean_text(value: str, limit: int) -> str:
    """One line of plain text: no control or format characters, spaces collapsed, cut at ``limit``."""
    kept = "".join(" " if c.isspace() else c for c in value
                   if c.isspace() or unicodedata.category(c)[0] != "C")
    text = re.sub(r"\s+", " ", kept).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode(body: bytes, content_type: str = "") -> str:
    """The page's text: the charset the header names, else the one a ``<meta>`` names, else
    UTF-8; an unknown charset is read as UTF-8 and bad bytes replaced."""
    found = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type or "", re.I)
    name = found.group(1) if found else None
    if name is None:
        meta = _META_CHARSET.search(body[:4096])
        name = meta.group(1).decode("ascii", "replace") if meta else None
    try:
        codec = codecs.lookup(name or "utf-8").name
    except LookupError:
        codec = "utf-8"
    return body.decode(codec, errors="replace")


def parse(html: str, base_url: str) -> dict[str, str]:
    """``title``, ``description`` and ``image`` (absolute http(s) address, or "") of a page:
    Open Graph first, then ``<title>`` and the meta description (and Twitter's tags)."""
    parser = _Tags()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - a broken page still gives what was read before it broke
        pass
    meta = parser.meta
    title = meta.get("og:title") or meta.get("twitter:title") or "".join(parser.title)
    description = meta.get("og:description") or meta.get("twitter:description") or meta.get("description") or ""
    image = (meta.get("og:image:secure_url") or meta.get("og:image") or meta.get("og:image:url")
             or meta.get("twitter:image") or "").strip()
    if image:
        image = urljoin(base_url, image)
        if urlsplit(image).scheme not in ("http", "https") or len(image) > 2048:
            image = ""
    return {"title": clean_text(title, MAX_TITLE), "description": clean_text(description, MAX_DESCRIPTION),
            "image": image}


# -- the thumbnail ----------------------------------------------------------------------------

def thumbnail(data: bytes, *, max_bytes: int = THUMB_MAX_BYTES) -> tuple[bytes, str]:
    """``(bytes, MIME type)`` of a picture Bluesky accepts as a card's thumb: as it is when it is
    a JPEG, PNG, WebP or GIF within ``max_bytes``, else scaled down and saved as JPEG until it
    fits. Not a picture (or a picture too large to decode safely): :class:`Unreadable`."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            width, height = probe.size
            if width * height > _MAX_PIXELS:
                raise Unreadable("image trop grande", "picture too large")
            probe.verify()
        if len(data) <= max_bytes and fmt in _KEPT_FORMATS:
            return data, _KEPT_FORMATS[fmt]
        with PILImage.open(io.BytesIO(data)) as picture:
            picture.load()
            rgb = picture.convert("RGB")
    except Unreadable:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on a broken file
        raise Unreadable("l'image n'en est pas une", "the picture is not one") from exc
    side = min(2000, max(rgb.size))
    while side >= 64:
        copy = rgb.copy()
        copy.thumbnail((side, side))
        out = io.BytesIO()
        copy.save(out, format="JPEG", quality=82, optimize=True)
        if out.tell() <= max_bytes:
            return out.getvalue(), "image/jpeg"
        side = int(side * 0.75)
    raise Unreadable("image trop lourde", "picture too heavy")


# -- the card ---------------------------------------------------------------------------------

def read_card(url: str, *, allow_private: bool = False, timeout: float = TIMEOUT,
              fetcher: Callable[..., tuple[str, str, bytes]] = fetch) -> dict[str, Any]:
    """The card of ``url`` as kept on a post: ``url``, ``title``, ``description``, ``image``
    (the picture's address), ``thumb`` ({"data": base64, "mime"} or None), ``fetched_at``, and
    ``error`` ({"fr", "en"}) when the page could not be read (the link then stays plain).
    Never raises."""
    card: dict[str, Any] = {"url": url, "title": "", "description": "", "image": "", "thumb": None,
                            "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "error": None}
    try:
        final, ctype, body = fetcher(url, max_bytes=MAX_PAGE_BYTES, accept="text/html,application/xhtml+xml",
                                     timeout=timeout, allow_private=allow_private)
        kind = ctype.split(";")[0].strip().lower()
        if kind and kind not in ("text/html", "application/xhtml+xml"):
            raise Unreadable("ce n'est pas une page web", "this is not a web page")
        card.update(parse(decode(body, ctype), final))
        if not card["title"] and not card["description"]:
            raise Unreadable("la page ne donne ni titre ni description", "the page gives no title or description")
    except Unreadable as exc:
        card["error"] = {"fr": exc.fr, "en": exc.en}
        return card
    except Exception:  # noqa: BLE001 - never fail what asked for the card
        card["error"] = {"fr": "la page n'a pas pu être lue", "en": "the page could not be read"}
        return card
    if card["image"]:
        try:
            _, _, picture = fetcher(card["image"], max_bytes=MAX_IMAGE_BYTES, accept="image/*",
                                    timeout=timeout, allow_private=allow_private)
            data, mime = thumbnail(picture)
            card["thumb"] = {"data": base64.b64encode(data).decode("ascii"), "mime": mime}
        except Exception:  # noqa: BLE001 - a card without its picture is still a card
            card["thumb"] = None
    return card


def usable(card: dict[str, Any] | None, link: str | None) -> bool:
    """Whether ``card`` is a read card of this very ``link``."""
    return bool(card and link and card.get("url") == link and not card.get("error")
                and (card.get("title") or card.get("description")))


def for_channel(card: dict[str, Any] | None, link: str | None) -> LinkCard | None:
    """What a channel is given: the stored card of the post's link, or None (a plain link)."""
    if not usable(card, link):
        return None
    assert card is not None
    thumb = None
    stored = card.get("thumb") or None
    if stored:
        try:
            thumb = Image(data=base64.b64decode(stored["data"], validate=True), mime_type=str(stored["mime"]),
                          alt="", filename="thumb")
        except (KeyError, ValueError, TypeError):
            thumb = None
    return LinkCard(title=str(card.get("title") or ""), description=str(card.get("description") or ""),
                    thumb=thumb)


def allow_private() -> bool:
    from orchestrator.settings import get_settings

    return bool(get_settings().link_cards_allow_private)


def refresh(post: Any, *, allow_private_pages: bool | None = None) -> dict[str, Any] | None:
    """Read the card of ``post.link`` unless the post already holds a read card of it, keep it
    on the post (with the title and description staff edited, if they did) and return it; a
    post without a link holds no card. Never raises."""
    link = post.link or None
    current = dict(post.link_card or {}) or None
    if not link:
        if current:
            post.link_card = {}
        return None
    if usable(current, link) and current and current.get("fetched_at"):
        return current
    card = read_card(link, allow_private=allow_private() if allow_private_pages is None else allow_private_pages)
    if current and current.get("url") == link and current.get("edited"):
        for field in ("title", "description"):
            if current.get(field):
                card[field] = current[field]
        card["edited"] = True
        if card.get("error") and (card["title"] or card["description"]):
            card["error"] = None  # staff wrote the card themselves
    post.link_card = card
    return card


def edit(post: Any, *, title: str, description: str) -> dict[str, Any]:
    """Staff's own title and description for the card of ``post.link``."""
    card = dict(post.link_card or {})
    if card.get("url") != post.link:
        card = {"url": post.link, "title": "", "description": "", "image": "", "thumb": None,
                "fetched_at": None, "error": None}
    card["title"] = clean_text(title, MAX_TITLE)
    card["description"] = clean_text(description, MAX_DESCRIPTION)
    card["edited"] = True
    if card["title"] or card["description"]:
        card["error"] = None
    post.link_card = card
    return card


def keep(post: Any, card: dict[str, Any] | None) -> None:
    """Keep on ``post`` the card read for its link in the compose preview (title and description
    as staff left them, cleaned again); a card of another address is ignored."""
    if not card or not post.link or card.get("url") != post.link:
        return
    kept = {key: card.get(key) for key in ("url", "image", "thumb", "fetched_at", "error", "edited")}
    kept["title"] = clean_text(str(card.get("title") or ""), MAX_TITLE)
    kept["description"] = clean_text(str(card.get("description") or ""), MAX_DESCRIPTION)
    thumb = kept.get("thumb")
    if not (isinstance(thumb, dict) and isinstance(thumb.get("data"), str) and thumb.get("mime") in _KEPT_FORMATS.values()):
        kept["thumb"] = None
    if kept["error"] is not None and not isinstance(kept["error"], dict):
        kept["error"] = {"fr": "la page n'a pas pu être lue", "en": "the page could not be read"}
    post.link_card = kept
