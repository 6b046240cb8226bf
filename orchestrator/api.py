"""The JSON API for other tools: ``porte-voix api serve``, and mounted under ``/api/v1`` beside
the short-link service (``links serve``, ``up``).

Every route but ``/openapi.json`` needs ``Authorization: Bearer pv_…``, a token an admin created
on the Intégrations page (``orchestrator.services.integrations``), with the route's scope:

- ``GET /cases``, ``GET /cases/{slug}``, ``GET /progress``, ``GET /deliveries``: ``read``;
- ``POST /responses``: ``responses:write`` (counts only, idempotent by the caller's key).

Every refusal is JSON ``{"error": {"code", "fr", "en"}}`` with its status, and stores nothing.
Rate: each token's ``rate_per_minute``, as a token bucket in this process (a 429 says when to try
again). The description is ``docs/openapi.json``, served at ``/openapi.json``.

An accepted token is trusted for ``integrations.TOKEN_SECONDS`` (5 s) before it is read again: a
revocation elsewhere takes effect within that time, one in this process at once. Counts are
written by one thread (``GroupWriter``): the requests that arrive while it writes go into its next
transaction together, each in its own savepoint, and each is answered once that commit is done.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orchestrator.db import read_scope, session_scope
from orchestrator.models import ApiToken, Campaign
from orchestrator.services import integrations
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.api")
OPENAPI_FILE = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
HEADERS = {"Cache-Control": "no-store"}

MESSAGES: dict[str, tuple[int, str, str]] = {
    "missing_token": (401, "Jeton manquant : en-tête « Authorization: Bearer pv_… ».",
                      "Missing token: header 'Authorization: Bearer pv_…'."),
    "bad_token": (401, "Jeton inconnu.", "Unknown token."),
    "revoked_token": (401, "Ce jeton a été révoqué.", "This token was revoked."),
    "expired_token": (401, "Ce jeton a expiré.", "This token has expired."),
    "wrong_scope": (403, "Ce jeton n'a pas la portée « {scope} ».", "This token lacks the '{scope}' scope."),
    "rate_limited": (429, "Trop de requêtes pour ce jeton : réessayez dans {retry} s.",
                     "Too many requests for this token: try again in {retry} s."),
    "malformed_json": (400, "Le corps n'est pas du JSON valide (un objet).", "The body is not valid JSON (an object)."),
    "too_large": (413, "Corps trop gros (au plus {limit} octets).", "Body too large (at most {limit} bytes)."),
    "not_found": (404, "Introuvable.", "Not found."),
    "wrong_type": (415, "Content-Type: application/json attendu.", "Content-Type: application/json expected."),
}


def error(code: str, status: int | None = None, fr: str | None = None, en: str | None = None,
          headers: dict[str, str] | None = None, **values: Any) -> JSONResponse:
    known = MESSAGES.get(code, (422, code, code))
    body = {"error": {"code": code, "fr": (fr or known[1]).format(**values), "en": (en or known[2]).format(**values)}}
    return JSONResponse(body, status_code=status or known[0], headers={**HEADERS, **(headers or {})})


class RateLimiter:
    """A token bucket per API token, in this process: ``rate`` requests a minute, bursts of as many."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: int, rate: int, now: float | None = None) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, at = self._buckets.get(key, (float(rate), now))
            tokens = min(float(rate), tokens + (now - at) * rate / 60.0)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return (1.0 - tokens) * 60.0 / rate
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def ok(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, default=_json_default, ensure_ascii=False), status_code=status,
                    media_type="application/json", headers=HEADERS)


def openapi() -> dict[str, Any]:
    return json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))


_Waiting = tuple[ApiToken, str, dict[str, Any], Callable[[Any], object]]  # a request's token, key, body, and how to answer it


class GroupWriter:
    """One thread writes the counts of every request of this process (``integrations.write_requests``).

    A request hands its body over and waits; the thread takes everything waiting (up to ``most``
    requests, and no more once ``most_counts`` count updates are taken) into one transaction, commits once, then answers each request with its own result or error.
    Nobody is answered before the commit that holds their counts; a failed commit fails every
    request in it, and none is acknowledged. While busy the thread keeps its database connection
    (no checkout and ping per transaction); a transaction that finds that connection broken is
    tried once more on a fresh one (the keys make a second try count nothing twice). The thread
    ends, and lets the connection go, after ``idle`` seconds without work; the next request
    starts it again."""

    def __init__(self, engine: sa.Engine, most: int = 200, most_counts: int = 5000, idle: float = 2.0,
                 threads: int | None = None) -> None:
        self.engine, self.most, self.most_counts, self.idle = engine, most, most_counts, idle
        # SQLite writes one transaction at a time anyway; PostgreSQL takes several at once, and a
        # thread waiting on the server leaves the interpreter to another that checks its requests
        self.threads = threads or (1 if engine.dialect.name == "sqlite" else 3)
        self._waiting: collections.deque[_Waiting] = (
            collections.deque())
        self._ready = threading.Condition()
        self._running = 0  # threads started and not ended
        self._idle_threads = 0  # of which waiting for work
        self.transactions = 0  # commits made, for tests and curiosity

    def submit(self, token: ApiToken, key: str, body: dict[str, Any]) -> concurrent.futures.Future[Any]:
        """For a thread: a future of the request's ``Written``, or of its error."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def settle(result: Any) -> None:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._enqueue(token, key, body, settle)
        return future

    async def write(self, token: ApiToken, key: str, body: dict[str, Any]) -> integrations.Written:
        """For the event loop: the request's ``Written``, or its error raised."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()

        def settle(result: Any) -> None:
            if not waiter.done():
                waiter.set_result(result)

        self._enqueue(token, key, body, lambda result: loop.call_soon_threadsafe(settle, result))
        result = await waiter
        if isinstance(result, BaseException):
            raise result
        return result  # type: ignore[no-any-return]

    def _enqueue(self, token: ApiToken, key: str, body: dict[str, Any], settle: Callable[[Any], object]) -> None:
        with self._ready:
            self._waiting.append((token, key, body, settle))
            if self._running < self.threads and len(self._waiting) > self._idle_threads:
                self._running += 1
                threading.Thread(target=self._run, name="api-writer", daemon=True).start()
            else:
                self._ready.notify()

    def _run(self) -> None:
        connection: sa.Connection | None = None
        try:
            while True:
                with self._ready:
                    if not self._waiting:
                        self._idle_threads += 1
                        self._ready.wait(self.idle)
                        self._idle_threads -= 1
                    if not self._waiting:
                        self._running -= 1
                        return
                    batch: list[_Waiting] = []
                    items = 0
                    while self._waiting and len(batch) < self.most and items < self.most_counts:
                        batch.append(self._waiting.popleft())
                        counts = batch[-1][2].get("counts")
                        items += len(counts) if isinstance(counts, list) else 1
                connection = self._write(batch, connection)
        finally:
            if connection is not None:
                connection.close()

    def _write(self, batch: list[_Waiting],
               connection: sa.Connection | None) -> sa.Connection | None:
        requests = [(t, k, b) for t, k, b, _ in batch]
        for attempt in (1, 2):
            fresh = connection is None
            try:
                if connection is None:
                    connection = self.engine.connect()
                with Session(bind=connection, expire_on_commit=False) as session:
                    results = integrations.write_requests(session, requests)
                    session.commit()
                self.transactions += 1
                break
            except BaseException as exc:  # noqa: BLE001 - every waiting request learns of it
                if connection is not None:
                    connection.close()
                    connection = None
                if attempt == 1 and not fresh and isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
                    continue  # the kept connection had gone (a restarted server): once more on a new one
                for *_, settle in batch:
                    _tell(settle, exc)
                return None
        for (*_, settle), result in zip(batch, results, strict=True):
            _tell(settle, result)
        return connection


def _tell(settle: Callable[[Any], object], result: Any) -> None:
    """Answer one request; one that can no longer be answered (its loop closed) stops no other."""
    try:
        settle(result)
    except Exception:  # noqa: BLE001
        log.exception("API writer: a request could not be answered")


def create_api(engine: sa.Engine, settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    limiter = RateLimiter()
    writer = GroupWriter(engine)
    last_used: dict[int, float] = {}

    def check_token(header: str) -> ApiToken | str:
        if not header.lower().startswith("bearer "):
            return "missing_token"
        secret = header[7:].strip()
        seen = integrations.revocations()
        with read_scope(engine) as session:
            found = integrations.authenticate(session, secret)
        if isinstance(found, ApiToken):
            integrations.remember_token(secret, found, seen)
        if isinstance(found, ApiToken) and time.monotonic() - last_used.get(found.id or 0, -1e9) > 60:
            last_used[found.id or 0] = time.monotonic()  # noted at most once a minute: reads stay reads
            with session_scope(engine) as session:
                row = session.get(ApiToken, found.id)
                if row is not None:
                    row.last_used_at = utcnow()
                    session.add(row)
        return found

    async def authorized(request: Request, scope: str) -> ApiToken | Response:
        header = request.headers.get("authorization", "")
        found = integrations.cached_token(header[7:].strip()) if header.lower().startswith("bearer ") else None
        if found is None:
            found = await run_in_threadpool(check_token, header)
        if isinstance(found, str):
            return error(found, headers={"WWW-Authenticate": "Bearer"})
        if scope not in found.scopes:
            return error("wrong_scope", scope=scope)
        wait = limiter.take(found.id or 0, found.rate_per_minute)
        if wait:
            retry = max(1, int(wait + 0.999))
            return error("rate_limited", retry=retry, headers={"Retry-After": str(retry)})
        return found

    def read(fn: Any) -> Any:
        with read_scope(engine) as session:
            from orchestrator.services.campaigns import current_campaign

            return fn(session, current_campaign(session))

    def cases_of(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
        from orchestrator.services.reports import case_progress

        return [{k: row[k] for k in ("slug", "person", "status", "goal", "actions", "projected", "behind",
                                     "reached", "published", "engagement", "clicks")}
                for row in case_progress(session, campaign_id=campaign.id or 0)]

    async def cases(request: Request) -> Response:
        token = await authorized(request, "read")
        if isinstance(token, Response):
            return token
        return ok({"cases": await run_in_threadpool(read, cases_of)})

    async def case(request: Request) -> Response:
        token = await authorized(request, "read")
        if isinstance(token, Response):
            return token
        slug = request.path_params["slug"]
        found = [c for c in await run_in_threadpool(read, cases_of) if c["slug"] == slug]
        return ok(found[0]) if found else error("not_found")

    def progress_of(session: Session, campaign: Campaign) -> dict[str, Any]:
        from orchestrator.services.campaign_results import results
        from orchestrator.services.responses import pace

        overall, _ = pace(session, campaign=campaign)
        data = results(session, campaign=campaign)
        data.pop("cases", None)
        return {"campaign": campaign.slug, "name": dict(campaign.name), **data,
                "pace": {"projected": overall.projected, "behind": overall.behind,
                         "projected_rights_day": overall.projected_rights_day}}

    async def progress(request: Request) -> Response:
        token = await authorized(request, "read")
        if isinstance(token, Response):
            return token
        return ok(await run_in_threadpool(read, progress_of))

    async def deliveries(request: Request) -> Response:
        token = await authorized(request, "read")
        if isinstance(token, Response):
            return token
        from orchestrator.services.reports import list_deliveries
        from orchestrator.states import STATES

        state = request.query_params.get("state", "published")
        try:
            limit = min(500, max(1, int(request.query_params.get("limit", "100"))))
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            return error("invalid", 400, "limit et offset : des entiers.", "limit and offset: integers.")
        if state not in STATES:
            return error("invalid", 400, f"state : l'un de {', '.join(STATES)}.", f"state: one of {', '.join(STATES)}.")
        fields = ("id", "state", "scheduled_at", "published_at", "kind", "case", "language", "text", "platform_url",
                  "source_code", "likes", "shares", "replies", "quotes", "views", "saves")

        def rows(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
            found = list_deliveries(session, campaign_id=campaign.id or 0, limit=limit, offset=offset,
                                    newest_first=True, state_in=[state])
            return [{k: r[k] for k in fields} for r in found]

        return ok({"deliveries": await run_in_threadpool(read, rows), "limit": limit, "offset": offset})

    async def body_of(request: Request) -> dict[str, Any] | Response:
        limit = settings.api_max_body_bytes
        if "json" not in request.headers.get("content-type", ""):
            return error("wrong_type")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return error("too_large", limit=limit)
        raw = bytearray()
        async for chunk in request.stream():  # never more than the limit in memory
            raw.extend(chunk)
            if len(raw) > limit:
                return error("too_large", limit=limit)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return error("malformed_json")
        return body if isinstance(body, dict) else error("malformed_json")

    async def responses(request: Request) -> Response:
        token = await authorized(request, "responses:write")
        if isinstance(token, Response):
            return token
        body = await body_of(request)
        if isinstance(body, Response):
            return body
        key = str(body.get("key") or request.headers.get("idempotency-key", ""))
        try:
            written = await writer.write(token, key, body)
        except integrations.Refused as refused:
            return error(refused.code, refused.status, refused.fr, refused.en)
        except sa.exc.IntegrityError:  # the same key at the same moment from another request
            return error("key_reused", 409, "Cette clé vient d'être utilisée par une autre requête : rien n'est "
                         "enregistré.", "This key was just used by another request: nothing is stored.")
        return ok(written.as_json(), 200 if written.duplicate else 201)

    async def spec(_request: Request) -> Response:
        return ok(openapi())

    async def missing(_request: Request, _exc: Exception) -> Response:
        return error("not_found")

    async def not_allowed(_request: Request, _exc: Exception) -> Response:
        return error("method_not_allowed", 405, "Méthode non permise.", "Method not allowed.")

    routes = [
        Route("/openapi.json", spec, methods=["GET"]),
        Route("/cases", cases, methods=["GET"]),
        Route("/cases/{slug}", case, methods=["GET"]),
        Route("/progress", progress, methods=["GET"]),
        Route("/deliveries", deliveries, methods=["GET"]),
        Route("/responses", responses, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: missing, 405: not_allowed})
    app.state.limiter = limiter
    app.state.writer = writer
    return app
