"""``GET /calendar/<token>.ics``: an edition's schedule as an iCalendar feed, on the short-link
service (``porte-voix links serve``), which is the one part of Porte-voix that answers the
public internet, where calendar apps fetch subscriptions from.

The token is checked against the hashes in ``calendar_feed`` (services/calendar_feed.py) at
every request, so a revoked address stops at once; the file itself is built at most once per
``ttl`` seconds per edition and language (calendar apps poll every few minutes to hours, and a
busy edition's feed takes a moment to build), in a worker thread.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
HEADERS = {"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


class FeedCache:
    """Built feeds per (edition, language), each kept ``ttl`` seconds; one build at a time."""

    def __init__(self, engine: sa.Engine, *, ttl: float) -> None:
        self.engine, self.ttl = engine, ttl
        self._built: dict[tuple[int, str], tuple[float, str, str]] = {}
        self._lock = threading.Lock()

    def get(self, token: str, language: str) -> tuple[str, str] | None:
        """(file name, iCalendar text) for a valid token, else None."""
        from orchestrator import db
        from orchestrator.services import calendar_feed

        with db.session_scope(self.engine) as session:
            campaign = calendar_feed.by_token(session, token=token)
            if campaign is None or campaign.id is None:
                return None
            key = (campaign.id, language)
            with self._lock:  # a second poller waits for the first build instead of starting its own
                hit = self._built.get(key)
                if hit is not None and hit[0] > time.monotonic():
                    return hit[1], hit[2]
                text = calendar_feed.feed_ics(session, campaign=campaign, language=language)
                name = f"{campaign.slug}.ics"
                self._built[key] = (time.monotonic() + self.ttl, name, text)
                return name, text


def routes(engine: sa.Engine, *, ttl: float = 300.0) -> list[Route]:
    cache = FeedCache(engine, ttl=ttl)

    async def feed(request: Request) -> Response:
        from orchestrator.links import page

        token = request.path_params["token"]
        language = "en" if request.query_params.get("lang") == "en" else "fr"
        found: Any = await run_in_threadpool(cache.get, token, language) if TOKEN.match(token) else None
        if found is None:
            return page(404, "Calendrier introuvable",
                        "Cette adresse de calendrier n'existe pas ou a été retirée. Demandez la nouvelle adresse à "
                        "l'équipe de la campagne.",
                        "This calendar address does not exist or was withdrawn. Ask the campaign team for the new one.")
        name, text = found
        return Response(text, media_type="text/calendar; charset=utf-8",
                        headers={**HEADERS, "Content-Disposition": f'inline; filename="{name}"'})

    return [Route("/calendar/{token}.ics", feed, methods=["GET", "HEAD"])]
