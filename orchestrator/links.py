"""The short-link service: ``GET /<source_code>`` counts a click and redirects to the delivery's link.

Run with ``porte-voix links serve`` (uvicorn, access log off). What it keeps is a count per
source code and UTC hour, nothing else: no IP address, no user agent, no referrer, no cookie.

- ``/<code>`` goes to the delivery's own link, tagged with the code and UTM fields (the post's
  ``link``, else the first campaign link in its text, else the campaign's page).
- ``/<code>/<n>`` goes to the post's n-th link (n ≥ 2), tagged: the address a shortened post
  carries for each of its other links (``content.render.shorten_links`` numbers them the same way).
  Published posts carry these short links (``orchestrator.services.deliveries.rendered``) unless
  ``PORTEVOIX_LINKS_SHORTEN=false`` or the edition's ``link_rules.shorten: false``.
- ``/<code>?to=<url>`` goes to ``url`` only if it is one of the delivery's own links, or an
  ``https`` address on the default port whose host is one of the campaign's ``link_rules.domains``;
  anything else is refused (no open redirect).
- A ``HEAD`` request is answered like a ``GET`` but never counted (link checkers, previews); so
  is a ``GET`` whose user agent names a link-preview fetcher (``PREVIEW_AGENTS``: the platforms'
  card crawlers, the fediverse servers a post reaches). The user agent is looked at for that
  yes/no only, never kept.
- An unknown code gets a 404 page in French and English; nothing is counted.
- ``/m/<token>`` serves an image of a post at a signed, expiring address, for platforms that
  fetch images themselves (Instagram, Threads): see :mod:`orchestrator.media_urls`.

Throughput: codes are looked up once and cached; clicks are added to an in-memory buffer and
written every ``flush_seconds`` in one upsert. The trade-off: if the process is killed (not
stopped), the clicks of the last second or so are lost. A normal stop flushes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from html import escape
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from orchestrator.timeutil import UTC

log = logging.getLogger("porte-voix.links")

CODE = re.compile(r"^[a-z0-9]{4,16}$")
#: Programs that fetch a link to draw its preview card, not people following it: Facebook's and
#: X's crawlers when the post is published, Bluesky's card service, and every Mastodon (or other
#: fediverse) server the post reaches, each fetching the card once. Their requests are answered
#: like any other and never counted. Only this yes/no is taken from the request, then forgotten.
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebookcatalog|facebot|twitterbot|cardyb|mastodon/|pleroma|akkoma|"
    r"misskey|friendica|gotosocial|linkedinbot|slackbot|discordbot|telegrambot|whatsapp|skypeuripreview|"
    r"applebot|googlebot|bingbot|iframely|embedly",
    re.IGNORECASE,
)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclasses.dataclass(frozen=True)
class Target:
    code: str
    default: str | None
    own_links: frozenset[str]
    domains: tuple[str, ...]
    case_slug: str
    channel: str
    link_rules: dict[str, Any]
    #: ``/<code>/<n>`` leads to ``numbered[n - 1]`` (``numbered[0]`` is ``default``).
    numbered: tuple[str | None, ...] = ()

    def allows(self, url: str) -> bool:
        """The delivery's own links as approved, or an address on the campaign's domains in
        ``https`` on the default port only: ``?to=`` must not send a reader to a plain-HTTP page a
        network can rewrite, nor to another service running on a campaign host's odd port."""
        return url in self.own_links or (on_domains(url, self.domains) and _https_default_port(url))

    def tagged(self, url: str) -> str:
        if url in self.own_links:
            return url
        from content.model import LinkRules
        from content.render import decorate_url

        return decorate_url(url, source_code=self.code, channel=self.channel, case_slug=self.case_slug,
                            rules=LinkRules(**self.link_rules))


def on_domains(url: str, domains: tuple[str, ...]) -> bool:
    """True if ``url`` is a plain http(s) address on one of ``domains`` (or a subdomain)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return False
    # userinfo (https://amnistie.ca@evil.example), backslashes and odd schemes are how open
    # redirects usually slip past a host check
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc or "\\" in url \
            or any(c.isspace() or ord(c) < 32 for c in url):
        return False
    return any(host == d or host.endswith("." + d) for d in domains)


def _https_default_port(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme == "https" and port in (None, 443)


class Resolver:
    """Source code -> Target, cached; unknown codes are cached too (briefly) so a scan of
    random codes costs one query per code, in a bounded cache."""

    def __init__(self, engine: sa.Engine, *, ttl: float = 60.0, miss_ttl: float = 10.0, size: int = 50_000) -> None:
        self.engine, self.ttl, self.miss_ttl, self.size = engine, ttl, miss_ttl, size
        self._cache: OrderedDict[str, tuple[float, Target | None]] = OrderedDict()
        self._lock = threading.Lock()

    def cached(self, code: str) -> tuple[bool, Target | None]:
        with self._lock:
            hit = self._cache.get(code)
            if hit is None or hit[0] < time.monotonic():
                return False, None
            self._cache.move_to_end(code)
            return True, hit[1]

    def lookup(self, code: str) -> Target | None:
        target = self._load(code)
        with self._lock:
            self._cache[code] = (time.monotonic() + (self.ttl if target else self.miss_ttl), target)
            self._cache.move_to_end(code)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return target

    def _load(self, code: str) -> Target | None:
        from content.model import LinkRules
        from content.render import find_urls, link_targets, tag_post
        from orchestrator.models import Account, Campaign, Case, Delivery, Post

        tables = [m.__table__ for m in (Delivery, Post, Campaign, Account, Case)]  # type: ignore[attr-defined,union-attr]
        d, p, c, a, k = (t.c for t in tables)
        query = (
            sa.select(d.rendered_link, d.rendered_text, c.link_rules, c.url, a.kind, k.slug,
                      p.text, p.link, p.variants, a.id)
            .select_from(tables[0])
            .join(tables[1], p.id == d.post_id)
            .join(tables[2], c.id == p.campaign_id)
            .join(tables[3], a.id == d.account_id)
            .outerjoin(tables[4], k.id == p.case_id)
            .where(d.source_code == code)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        link, text, rules, campaign_url, channel, case_slug, body, post_link, variants, account_id = row
        rules = rules or {}
        domains = tuple(str(d).lower() for d in rules.get("domains", []))
        # The destinations, as the long tagged text numbers them: a post that went out can no
        # longer be edited, so its text (and the account's variant) are what was published.
        long_text, long_link = tag_post((variants or {}).get(str(account_id)) or body or "", post_link,
                                        source_code=code, channel=channel, case_slug=case_slug or "",
                                        rules=LinkRules(**rules))
        targets = tuple(link_targets(long_text, long_link, rules=LinkRules(**rules)))
        own = [u for u in targets if u] + [text[a:b] for a, b in find_urls(text or "")]
        if link:
            own.insert(0, link)
        home = (campaign_url or {}).get("fr")
        return Target(code=code, default=(targets[0] if targets else None) or home, own_links=frozenset(own), domains=domains,
                      case_slug=case_slug or "", channel=channel, link_rules=rules,
                      numbered=tuple(u or home for u in targets))


class ClickBuffer:
    """Counts per (code, hour) in memory; ``drain()`` hands them over and starts afresh."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, dt.datetime], int] = {}
        self._lock = threading.Lock()

    def add(self, code: str, n: int = 1, *, at: dt.datetime | None = None) -> None:
        hour = (at or dt.datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
        with self._lock:
            self._counts[(code, hour)] = self._counts.get((code, hour), 0) + n

    def drain(self) -> dict[tuple[str, dt.datetime], int]:
        with self._lock:
            counts, self._counts = self._counts, {}
        return counts

    def give_back(self, counts: dict[tuple[str, dt.datetime], int]) -> None:
        with self._lock:
            for key, n in counts.items():
                self._counts[key] = self._counts.get(key, 0) + n


_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}</style>
</head><body><h1>{title}</h1><p>{fr}</p><p lang="en">{en}</p>{link}</body></html>"""


def page(status: int, title: str, fr: str, en: str, home: str | None = None) -> HTMLResponse:
    link = f'<p><a href="{escape(home)}">{escape(home)}</a></p>' if home else ""
    return HTMLResponse(_PAGE.format(title=escape(title), fr=escape(fr), en=escape(en), link=link),
                        status_code=status, headers=NO_STORE)


def create_app(engine: sa.Engine, *, flush_seconds: float = 1.0, home: str = "https://amnistie.ca",
               notify_seconds: float = 30.0) -> Starlette:
    """``notify_seconds``: how often this process looks for "no worker alive" and sends the
    notifications that are due (a worker does too; with none alive, this is who tells). 0: never."""
    from orchestrator.services.responses import add_clicks

    resolver = Resolver(engine)
    buffer = ClickBuffer()

    def flush() -> int:
        counts = buffer.drain()
        if not counts:
            return 0
        try:
            with engine.begin() as conn:
                add_clicks(conn, counts)
        except Exception:
            buffer.give_back(counts)  # try again at the next flush rather than lose them
            log.warning("could not write %d click counts; will retry", len(counts), exc_info=True)
            raise
        return sum(counts.values())

    async def flusher() -> None:
        while True:
            await asyncio.sleep(flush_seconds)
            with contextlib.suppress(Exception):
                await run_in_threadpool(flush)

    async def watcher() -> None:
        import os
        import socket

        from orchestrator.settings import get_settings
        from orchestrator.worker.notifier import Notifier

        notifier = Notifier(engine, get_settings(), f"links-{socket.gethostname()}-{os.getpid()}"[:64])

        def once() -> None:
            notifier.watch_workers()
            notifier.send_due()

        while True:
            await asyncio.sleep(notify_seconds)
            with contextlib.suppress(Exception):
                await run_in_threadpool(once)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(flusher())]
        if notify_seconds > 0:
            tasks.append(asyncio.create_task(watcher()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await run_in_threadpool(flush)  # a normal stop loses nothing

    def not_found() -> Response:
        return page(404, "Lien introuvable",
                    "Ce lien court n'existe pas (ou plus). Vérifiez qu'il a été recopié en entier.",
                    "This short link does not exist (or no longer does). Check that it was copied in full.",
                    home)

    async def redirect(request: Request) -> Response:
        code = request.path_params["code"].lower()
        if not CODE.match(code):
            return not_found()
        found, target = resolver.cached(code)
        if not found:
            target = await run_in_threadpool(resolver.lookup, code)
        if target is None:
            return not_found()
        wanted = request.query_params.get("to")
        number = request.path_params.get("n")
        if number is not None:
            # /<code>/<n>: the post's n-th link, as numbered when its text was shortened
            index = int(number) - 1 if number.isdigit() and len(number) <= 3 else -1
            if not 1 <= index < len(target.numbered) or not target.numbered[index]:
                return not_found()
            destination = str(target.numbered[index])
        elif wanted is not None:
            if not target.allows(wanted):
                return page(400, "Lien refusé",
                            "Ce lien court ne mène qu'aux pages de la campagne ; l'adresse demandée n'en fait pas partie.",
                            "This short link only leads to the campaign's pages; the requested address is not one of them.",
                            home)
            destination = target.tagged(wanted)
        elif target.default:
            destination = target.default
        else:
            return not_found()
        if request.method == "GET" and not PREVIEW_AGENTS.search(request.headers.get("user-agent", "")):
            # A HEAD is a link checker, a chat app's preview or a crawler making sure the link
            # works, not a person following it: answered the same, never counted; so is a GET
            # from a program drawing the post's preview card (PREVIEW_AGENTS).
            buffer.add(code)
        # 302 and no-store: a browser that cached a 301 would never be counted again.
        return RedirectResponse(destination, status_code=302, headers=NO_STORE)

    async def health(_request: Request) -> Response:
        return PlainTextResponse("ok", headers=NO_STORE)

    async def root(_request: Request) -> Response:
        return not_found()

    async def nowhere(_request: Request, _exc: Exception) -> Response:
        return not_found()  # any other path (/a/b, /../x) gets the same friendly page

    from orchestrator.api import create_api  # the JSON API for other tools (/api/v1/…)
    from orchestrator.calendar_routes import routes as calendar_routes  # the schedule's feed
    from orchestrator.media_urls import routes as media_routes  # signed image addresses (/m/…)

    app = Starlette(routes=[Route("/healthz", health), Route("/", root), *calendar_routes(engine),
                            *media_routes(engine), Mount("/api/v1", app=create_api(engine)),
                            Route("/{code}", redirect, methods=["GET", "HEAD"]),
                            Route("/{code}/{n}", redirect, methods=["GET", "HEAD"])],
                    lifespan=lifespan, exception_handlers={404: nowhere})
    app.state.flush = flush
    app.state.buffer = buffer
    app.state.resolver = resolver
    return app


@functools.lru_cache(maxsize=64)
def reachable_by_public(base_url: str) -> bool:
    """True for an ``https`` address whose host is a name or a public IP address: what a real
    platform's readers can follow. This machine (``127.0.0.1``, ``localhost``) and private
    networks are for the sandbox only: a real post must never carry a link that leads nowhere."""
    import ipaddress

    try:
        parts = urlsplit(base_url)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return False
    if parts.scheme != "https" or not host or host == "localhost" or host.endswith(".localhost") \
            or "@" in parts.netloc or parts.query or parts.fragment:
        return False
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "." in host  # a host name of the public DNS, not a bare machine name
    return address.is_global
