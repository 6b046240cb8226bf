"""A stateful emulator of the Mastodon REST API, good enough for the unchanged Mastodon.py.

What it serves (https://docs.joinmastodon.org/methods/):

- ``GET /api/v1/instance/``, ``GET /api/v2/instance/``: version 4.3.0 with ``api_versions`` so
  Mastodon.py uploads through ``/api/v2/media``; the default limits in ``configuration``.
- ``GET /api/v1/accounts/verify_credentials``, ``GET /api/v1/accounts/:id/statuses`` (newest
  first, ``limit`` ≤ 40, ``max_id``/``since_id``/``min_id``).
- ``POST /api/v1/statuses`` (form or JSON) with ``Idempotency-Key``: the same token and key within
  an hour return the status already created; its ``spoiler_text`` (content warning) counts with
  the text toward the limit and marks the status sensitive, as Mastodon does;
  ``GET``/``DELETE /api/v1/statuses/:id``;
  ``GET /api/v1/statuses?id[]=`` (at most 20 ids, Mastodon ≥ 4.3).
- ``POST /api/v2/media`` and ``/api/v1/media`` (multipart ``file`` + ``description``).
- ``GET /api/v1/timelines/tag/:hashtag`` (public; ``limit`` ≤ 40, ``max_id``/``since_id``/``min_id``,
  newest first) and ``GET /api/v1/notifications`` (``types[]``, ``limit`` ≤ 80, same ids), both
  with Mastodon's ``Link`` header (``rel="next"`` older, ``rel="prev"`` newer).

The simulated public: :meth:`MastodonEmulator.public_post` adds one post by a member of the public
(a hashtag post, a photo, a reply to, boost or quote of one of our statuses, which also notifies
us). With ``auto_public`` set (the demo), reading a tag timeline or the notifications makes the
public post deterministically as simulated time passes (seeded, at most ``public_max`` per tag and
a few answers per status of ours), so the demo's listening fills.

Every answer carries ``X-RateLimit-Limit/Remaining/Reset`` (ISO-8601), like Mastodon's rack-attack
throttles (300 calls per 5 minutes per account). Budgets are counted always and enforced only when
``enforce_budget`` is set, so demos and benchmarks are not throttled unless a test asks for it.
Errors use Mastodon's body ``{"error": "..."}``. Any non-empty token that is not revoked is valid;
each token is its own account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from typing import Any

import regex

from channels.sandbox.core import Emulator, Request, Response, json_response
from channels.sandbox.public import ANSWER_TEXTS

VERSION = "4.3.0"
MAX_CHARACTERS = 500
URL_CHARACTERS = 23
MAX_MEDIA = 4
MAX_IDS = 20  # Api::BaseController::DEFAULT_STATUSES_LIMIT, checked by StatusesController#index
MAX_PAGE = 40
IMAGE_LIMIT = 16 * 1024 * 1024
DESCRIPTION_LIMIT = 1500
IMAGE_TYPES = (
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/heic",
    "image/heif",
    "image/avif",
)
IDEMPOTENCY_SECONDS = 3600.0  # PostStatusService keeps the key for one hour
WINDOW_SECONDS = 300
WINDOW_REQUESTS = 300
VISIBILITIES = ("public", "unlisted", "private", "direct")
#: 4.5's ``quote_approval_policy`` on a new status.
QUOTE_POLICIES = ("public", "followers", "nobody")

# A second, simpler opinion on Mastodon's counting than the channel's (so tests compare two).
_URL = regex.compile(
    r"(?<![\w/@])https?://[^\s<>\"]+?(?=[.,;:!?'\")\]]*(?:\s|$))", regex.IGNORECASE
)
_REMOTE_MENTION = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)@([\w.-]+\w)", regex.IGNORECASE
)
_HASHTAG = regex.compile(r"(?<![=/\w])#(\w+)")
_ENTITY = regex.compile(
    f"(?:{_URL.pattern})|(?:{_REMOTE_MENTION.pattern})|(?:{_HASHTAG.pattern})", regex.IGNORECASE
)
_STATUS_ID = re.compile(r"^/api/v1/statuses/(\d+)$")
_TAG_TIMELINE = re.compile(r"^/api/v1/timelines/tag/([^/]+)$")
MAX_NOTIFICATIONS = 80
#: The simulated public's names (what listening must never keep).
PUBLIC_NAMES = ("camille_soutien", "yanis_plume", "ines_lettres", "tomas_cartes", "awa_voix", "lea_relais")
_ACCOUNT_STATUSES = re.compile(r"^/api/v1/accounts/(\d+)/statuses$")


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def text_length(text: str) -> int:
    if not text.strip():
        return 0
    countable = _URL.sub("x" * URL_CHARACTERS, text)
    countable = _REMOTE_MENTION.sub(r"@\1", countable)
    return len(regex.findall(r"\X", countable))


def render_html(text: str, base: str) -> str:
    """Mastodon's TextFormatter output for local plain text: paragraphs, <br />, linked URLs with
    invisible spans, hashtags and (resolved) remote mentions shown as ``@user``."""

    def link(url: str) -> str:
        scheme, _, rest = url.partition("://")
        shown, hidden = rest[:30], rest[30:]
        cls = "ellipsis" if hidden else ""
        return (
            f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
            f'<span class="invisible">{html.escape(scheme)}://</span><span class="{cls}">'
            f'{html.escape(shown)}</span><span class="invisible">{html.escape(hidden)}</span></a>'
        )

    def piece(chunk: str) -> str:
        out: list[str] = []
        cursor = 0
        for m in _ENTITY.finditer(chunk):
            out.append(html.escape(chunk[cursor : m.start()]))
            token = m.group(0)
            if token.startswith("#"):
                tag = token[1:]
                out.append(
                    f'<a href="{base}/tags/{tag.lower()}" class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>'
                )
            elif token.startswith("@"):
                user, _, domain = token[1:].partition("@")
                out.append(
                    f'<span class="h-card" translate="no"><a href="https://{html.escape(domain)}/@{html.escape(user)}" '
                    f'class="u-url mention">@<span>{html.escape(user)}</span></a></span>'
                )
            else:
                out.append(link(token))
            cursor = m.end()
        out.append(html.escape(chunk[cursor:]))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join(
        "<p>" + "<br />".join(piece(line) for line in p.split("\n")) + "</p>" for p in paragraphs
    )


class _Paged:
    """A list answer with its ``Link`` header."""

    def __init__(self, items: list[dict[str, Any]], link: str) -> None:
        self.items, self.link = items, link


def _page(ids: list[int], req: Request, default: int, most: int) -> list[int]:
    """Mastodon's paging over ascending ids: ``min_id`` gives the page just after it (oldest
    first taken, returned newest first), else the newest page below ``max_id``."""

    def number(name: str) -> int | None:
        value = req.arg(name)
        return int(value) if value else None

    limit = max(1, min(number("limit") or default, most))
    max_id, since_id, min_id = number("max_id"), number("since_id"), number("min_id")
    ids = [i for i in ids if (max_id is None or i < max_id) and (since_id is None or i > since_id)]
    chosen = [i for i in ids if i > min_id][:limit] if min_id is not None else ids[-limit:]
    return list(reversed(chosen))


def _link(url: str, ids: list[int], extra: str = "") -> str:
    """``Link: <…?max_id=oldest>; rel="next", <…?min_id=newest>; rel="prev"`` as Mastodon sends."""
    if not ids:
        return ""
    return (f'<{url}?{extra}max_id={min(ids)}>; rel="next", '
            f'<{url}?{extra}min_id={max(ids)}>; rel="prev"')


class MastodonError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class MastodonEmulator(Emulator):
    platform = "mastodon"
    prefixes = ("/api/",)

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.max_characters = MAX_CHARACTERS
        self.window_requests = WINDOW_REQUESTS
        self.enforce_budget = False
        self.reset()

    def reset(self) -> None:
        with self.sandbox.lock:
            self.statuses: dict[str, dict[str, Any]] = {}
            self.by_account: dict[str, list[str]] = {}  # ascending ids
            self.media: dict[str, dict[str, Any]] = {}
            self.idempotency: dict[tuple[str, str], tuple[str, float]] = {}
            self.windows: dict[str, tuple[int, int]] = {}  # bucket -> (window start, calls)
            self.enforce_budget = False
            self.window_requests = WINDOW_REQUESTS
            self.max_characters = MAX_CHARACTERS
            self.public: dict[str, dict[str, Any]] = {}  # statuses by the public, by id
            self.by_tag: dict[str, list[str]] = {}  # lower-cased tag -> ascending ids
            self.notifications: dict[str, list[dict[str, Any]]] = {}  # our account id -> ascending
            self.auto_public = False
            self.public_every = 600.0  # simulated seconds between two posts per tag
            self.public_max = 200
            self.tag_started: dict[str, float] = {}
            self.answered: set[str] = set()
            self.last_public = 0.0  # the newest time inject_public gave, so the next come after it

    # -- wire format of errors and rate limits ------------------------------------------------

    def _rate_headers(self, bucket: str, spend: bool) -> tuple[dict[str, str], bool]:
        now = self.sandbox.now()
        start = int(now) - int(now) % WINDOW_SECONDS
        with self.sandbox.lock:
            window, used = self.windows.get(bucket, (start, 0))
            if window != start:
                used = 0
            over = used >= self.window_requests
            if spend and not (over and self.enforce_budget):
                used += 1
            self.windows[bucket] = (start, used)
        headers = {
            "X-RateLimit-Limit": str(self.window_requests),
            "X-RateLimit-Remaining": str(max(0, self.window_requests - used)),
            "X-RateLimit-Reset": _iso(start + WINDOW_SECONDS),
        }
        return headers, over and self.enforce_budget and spend

    def rate_limited(self, req: Request) -> Response:
        # config/initializers/rack_attack.rb throttled_responder
        headers, _ = self._rate_headers(req.bearer() or "anonymous", spend=False)
        headers["X-RateLimit-Remaining"] = "0"
        return json_response({"error": "Too many requests"}, 429, **headers)

    def bad_token(self, req: Request) -> Response:
        return json_response(
            {"error": "The access token is invalid"},
            401,
            **{
                "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token", '
                'error_description="The access token is invalid"'
            },
        )

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        token = req.bearer()
        headers, limited = self._rate_headers(token or "anonymous", spend=True)
        if limited:
            return self.rate_limited(req)
        base = f"http://{req.headers.get('host', '127.0.0.1')}"
        try:
            if req.method == "GET" and path == "/api/v1/instance":
                body: Any = self._instance_v1(base)
            elif req.method == "GET" and path == "/api/v2/instance":
                body = self._instance_v2(base)
            else:
                body = self._route(req, path, token, base)
        except MastodonError as exc:
            return json_response({"error": exc.message}, exc.status, **headers)
        if isinstance(body, _Paged):
            if body.link:
                headers["Link"] = body.link
            body = body.items
        return json_response(body, 200, **headers)

    def _route(self, req: Request, path: str, token: str | None, base: str) -> Any:
        m = _STATUS_ID.match(path)
        a = _ACCOUNT_STATUSES.match(path)
        # Public statuses can be read without a token; everything else needs one.
        if req.method == "GET" and (path == "/api/v1/statuses" or m or a):
            if a:
                return self._account_statuses(req, a.group(1), base)
            return (
                self._many(req, base)
                if m is None
                else self._status_json(self._get(m.group(1)), base)
            )
        t = _TAG_TIMELINE.match(path)
        if t and req.method == "GET":
            return self._tag_timeline(req, t.group(1), base)
        if not token:
            raise MastodonError(401, "The access token is invalid")
        account = self._account(token)
        if path == "/api/v1/notifications" and req.method == "GET":
            return self._notifications(req, account, base)
        if path == "/api/v1/accounts/verify_credentials" and req.method == "GET":
            return self._account_json(account, base, source=True)
        if path == "/api/v1/statuses" and req.method == "POST":
            return self._create(req, account, base)
        if m and req.method == "DELETE":
            return self._delete(m.group(1), account, base)
        if path in ("/api/v2/media", "/api/v1/media") and req.method == "POST":
            return self._upload(req, account, base)
        raise MastodonError(404, "Record not found")

    # -- accounts -----------------------------------------------------------------------------

    @staticmethod
    def _account(token: str) -> dict[str, Any]:
        username = re.sub(r"[^a-z0-9_]", "_", token.lower())[:30].strip("_") or "sandbox"
        number = int(hashlib.sha256(token.encode()).hexdigest()[:12], 16)
        return {"id": str(number), "username": username}

    def _account_json(
        self, account: dict[str, Any], base: str, *, source: bool = False
    ) -> dict[str, Any]:
        u = account["username"]
        with self.sandbox.lock:
            count = len(self.by_account.get(account["id"], ()))
        body: dict[str, Any] = {
            "id": account["id"],
            "username": u,
            "acct": u,
            "display_name": f"{u} (sandbox)",
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": "2024-09-01T00:00:00.000Z",
            "note": "<p>Porte-voix sandbox account</p>",
            "url": f"{base}/@{u}",
            "uri": f"{base}/users/{u}",
            "avatar": f"{base}/avatars/original/missing.png",
            "avatar_static": f"{base}/avatars/original/missing.png",
            "header": f"{base}/headers/original/missing.png",
            "header_static": f"{base}/headers/original/missing.png",
            "followers_count": 1200,
            "following_count": 80,
            "statuses_count": count,
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }
        if source:
            body["source"] = {
                "privacy": "public",
                "sensitive": False,
                "language": "fr",
                "note": "",
                "fields": [],
            }
        return body

    # -- statuses -----------------------------------------------------------------------------

    def _snowflake(self) -> str:
        # Mastodon ids: milliseconds << 16 | sequence, so since_id=<datetime> works as in Mastodon.py.
        return str((int(self.sandbox.now() * 1000) << 16) | (self.sandbox.next_id() & 0xFFFF))

    def _create(self, req: Request, account: dict[str, Any], base: str) -> dict[str, Any]:
        if req.headers.get("content-type", "").startswith("application/json"):
            data = req.json()
            text = str(data.get("status") or "")
            media_ids = [str(i) for i in data.get("media_ids") or []]
            visibility = data.get("visibility") or "public"
            language = data.get("language")
            spoiler_text = str(data.get("spoiler_text") or "")
            in_reply_to = str(data.get("in_reply_to_id") or "") or None
            quote_policy = str(data.get("quote_approval_policy") or "") or None
        else:
            params = req.params()
            text = (params.get("status") or [""])[0]
            media_ids = params.get("media_ids[]") or params.get("media_ids") or []
            visibility = (params.get("visibility") or ["public"])[0]
            language = (params.get("language") or [""])[0] or None
            spoiler_text = (params.get("spoiler_text") or [""])[0]
            in_reply_to = (params.get("in_reply_to_id") or [""])[0] or None
            quote_policy = (params.get("quote_approval_policy") or [""])[0] or None
        key = req.headers.get("idempotency-key")
        now = self.sandbox.now()
        with self.sandbox.lock:
            if key:
                known = self.idempotency.get((account["id"], key))
                if known and now - known[1] < IDEMPOTENCY_SECONDS and known[0] in self.statuses:
                    return self._status_json(self.statuses[known[0]], base)
            if visibility not in VISIBILITIES:
                raise MastodonError(
                    422, "Validation failed: Visibility is not included in the list"
                )
            if len(media_ids) > MAX_MEDIA:
                raise MastodonError(422, f"Cannot attach more than {MAX_MEDIA} files")
            if quote_policy is not None and quote_policy not in QUOTE_POLICIES:
                raise MastodonError(422, "Validation failed: Quote approval policy is not included in the list")
            # PostStatusService takes the account's own, unattached media and ignores the rest.
            media = [
                self.media[i]
                for i in media_ids
                if i in self.media
                and self.media[i]["account_id"] == account["id"]
                and not self.media[i]["status_id"]
            ]
            if not text.strip() and not media:
                raise MastodonError(422, "Validation failed: Text can't be blank")
            # StatusLengthValidator counts the content warning with the text
            if text_length(text) + len(regex.findall(r"\X", spoiler_text)) > self.max_characters:
                raise MastodonError(
                    422,
                    f"Validation failed: Text character limit of {self.max_characters} exceeded",
                )
            parent = (self.public.get(in_reply_to) or self.statuses.get(in_reply_to)) if in_reply_to else None
            if in_reply_to and parent is None:
                raise MastodonError(404, "Record not found")
            sid = self._snowflake()
            record = {
                "id": sid,
                "account": account,
                "in_reply_to": in_reply_to,
                "in_reply_to_account": parent["account"]["id"] if parent else None,
                "text": text,
                "content": render_html(text, base),
                "created": now,
                "visibility": visibility,
                "language": language,
                "spoiler_text": spoiler_text,
                "media": media,
                # 4.5: who may quote it; a status without one is quotable by all (the default)
                "quote_approval_policy": quote_policy or "public",
            }
            for item in media:
                item["status_id"] = sid
            self.statuses[sid] = record
            self.by_account.setdefault(account["id"], []).append(sid)
            for tag in {t.lower() for t in _HASHTAG.findall(text)}:  # our statuses show in tag timelines too
                self.by_tag.setdefault(tag, []).append(sid)
            if key:
                self.idempotency[(account["id"], key)] = (sid, now)
        return self._status_json(record, base)

    def _get(self, sid: str) -> dict[str, Any]:
        with self.sandbox.lock:
            record = self.statuses.get(sid)
        if record is None:
            raise MastodonError(404, "Record not found")
        return record

    def _many(self, req: Request, base: str) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(req.query.get("id[]") or req.query.get("id") or []))
        if len(ids) > MAX_IDS:
            raise MastodonError(422, "Mastodon::ValidationError")
        with self.sandbox.lock:
            found = [self.statuses[i] for i in ids if i in self.statuses]
        return [self._status_json(r, base) for r in found]

    def _delete(self, sid: str, account: dict[str, Any], base: str) -> dict[str, Any]:
        with self.sandbox.lock:
            record = self.statuses.get(sid)
            if record is None or record["account"]["id"] != account["id"]:
                raise MastodonError(404, "Record not found")
            del self.statuses[sid]
            self.by_account[account["id"]].remove(sid)
        body = self._status_json(record, base)
        body["text"] = record["text"]
        return body

    def _account_statuses(self, req: Request, account_id: str, base: str) -> list[dict[str, Any]]:
        def number(name: str) -> int | None:
            value = req.arg(name)
            return int(value) if value else None

        limit = max(1, min(number("limit") or 20, MAX_PAGE))
        max_id, since_id, min_id = number("max_id"), number("since_id"), number("min_id")
        with self.sandbox.lock:
            ids = [int(i) for i in self.by_account.get(account_id, [])]
        ids = [
            i for i in ids if (max_id is None or i < max_id) and (since_id is None or i > since_id)
        ]
        # min_id asks for the page just after it (still shown newest first); else the newest page.
        chosen = [i for i in ids if i > min_id][:limit] if min_id is not None else ids[-limit:]
        with self.sandbox.lock:
            records = [self.statuses[str(i)] for i in reversed(chosen) if str(i) in self.statuses]
        return [self._status_json(r, base) for r in records]

    def _status_json(self, record: dict[str, Any], base: str) -> dict[str, Any]:
        figures = self.sandbox.metrics_for(self.platform, record["id"], record["created"])
        u = record["account"]["username"]
        return {
            "id": record["id"],
            "created_at": _iso(record["created"]),
            "in_reply_to_id": record.get("in_reply_to"),
            "in_reply_to_account_id": record.get("in_reply_to_account"),
            # PostStatusService marks a status with a content warning sensitive
            "sensitive": bool(record.get("spoiler_text")),
            "spoiler_text": record.get("spoiler_text") or "",
            "visibility": record["visibility"],
            "language": record["language"],
            "uri": f"{base}/users/{u}/statuses/{record['id']}",
            "url": f"{base}/@{u}/{record['id']}",
            "replies_count": figures["replies"],
            "reblogs_count": figures["shares"],
            "favourites_count": figures["likes"],
            "quotes_count": figures["quotes"],
            "edited_at": None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "pinned": False,
            "content": record["content"],
            "filtered": [],
            "reblog": None,
            "application": {"name": "Porte-voix", "website": None},
            "account": self._account_json(record["account"], base),
            "media_attachments": [self._media_json(m, base) for m in record["media"]],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
            "quote": None,
        }

    # -- the public: tag timelines and notifications --------------------------------------------

    def public_post(self, *, tag: str | None = None, kind: str = "original", answers: str | None = None,
                    author: int = 0, at: float | None = None, text: str | None = None) -> str:
        """One status by a member of the public: ``kind`` original, photo, reply (to our status
        ``answers``), quote (of ``answers``) or repost (a boost of ``answers``). Replies, quotes and
        boosts of our statuses notify our account. Returns the status id (or, for a boost, the
        notification id)."""
        now = self.sandbox.now() if at is None else at
        name = PUBLIC_NAMES[author % len(PUBLIC_NAMES)]
        person = {"id": str(900000 + author % len(PUBLIC_NAMES)), "username": name}
        with self.sandbox.lock:
            ours = self.statuses.get(answers or "") if answers else None
            if kind in ("reply", "quote", "repost", "mention") and ours is None:
                raise KeyError(f"no status of ours {answers!r} to answer")
            sid = self._snowflake() if at is None else str((int(now * 1000) << 16) | (self.sandbox.next_id() & 0xFFFF))
            if kind == "repost":
                assert ours is not None
                return self._notify(ours, "reblog", sid, now, person, status=ours)
            words = text or ("Solidarité" + (f" #{tag}" if tag else ""))
            if kind == "mention" and ours is not None:
                words = f"@{ours['account']['username']} {words}"
            media = []
            if kind == "photo":
                media = [{"id": sid + "1", "account_id": person["id"], "status_id": sid, "description": "",
                          "filename": "carte.jpg", "content_type": "image/jpeg", "size": 1000}]
            record = {"id": sid, "account": person, "text": words, "content": render_html(words, "http://sandbox"),
                      "created": now, "visibility": "public", "language": "fr", "media": media,
                      "in_reply_to": ours["id"] if ours and kind == "reply" else None,
                      "in_reply_to_account": ours["account"]["id"] if ours and kind == "reply" else None,
                      "quote_of": ours["id"] if ours and kind == "quote" else None}
            self.public[sid] = record
            if tag:
                self.by_tag.setdefault(tag.lower(), []).append(sid)
                self.by_tag[tag.lower()].sort(key=int)
            if ours is not None:
                self._notify(ours, "mention" if kind in ("reply", "mention") else "quote", sid, now, person,
                             status=record)
        return sid

    def inject_public(self, term: str | None = None, n: int = 1, *, hashtag: bool = True,
                      kinds: tuple[str, ...] | list[str] = ("original",), answers: str | None = None,
                      spread: float = 0.0, texts: tuple[str, ...] | list[str] = ()) -> list[str]:
        """The simulated public posts ``n`` times, as the other emulators' ``inject_public`` (and
        ``POST /_sandbox/public/mastodon``): kinds in turn from ``kinds``, carrying ``#term`` (or
        the keyword in the text), replies, quotes and boosts answering our status ``answers``.
        Times spread over the last ``spread`` seconds, oldest first, each after every public post
        already made (ids follow times, as Mastodon's). Returns the ids made (a boost's is its
        notification's)."""
        n = max(0, min(int(n), 200_000))
        made: list[str] = []
        words = f"#{term}" if term and hashtag else (term or "")
        with self.sandbox.lock:
            now = self.sandbox.now()
            last = self.last_public
            tagged: list[str] = []
            for i in range(n):
                kind = kinds[i % len(kinds)]
                at = max(now - spread * (n - 1 - i) / max(1, n), last + 0.001)
                last = at
                sid = self.public_post(kind=kind, answers=answers, author=i, at=at,
                                       text=texts[i % len(texts)] if texts else f"Solidarité {words} ({i})".strip())
                made.append(sid)
                if term and hashtag and kind != "repost":
                    tagged.append(sid)
            self.last_public = last
            if tagged:
                assert term is not None
                ids = self.by_tag.setdefault(term.lower(), [])
                ids.extend(tagged)
                ids.sort(key=int)
        return made

    def _notify(self, ours: dict[str, Any], ntype: str, sid: str, now: float, person: dict[str, Any],
                *, status: dict[str, Any]) -> str:
        nid = str((int(now * 1000) << 16) | (self.sandbox.next_id() & 0xFFFF))
        items = self.notifications.setdefault(ours["account"]["id"], [])
        items.append({"id": nid, "type": ntype, "created": now, "person": person, "status_id": status["id"]})
        items.sort(key=lambda n: int(n["id"]))
        return nid

    def _public_json(self, record: dict[str, Any], base: str) -> dict[str, Any]:
        body = self._status_json(record, base)
        body["in_reply_to_id"] = record.get("in_reply_to")
        body["in_reply_to_account_id"] = record.get("in_reply_to_account")
        body["tags"] = [{"name": t.lower(), "url": f"{base}/tags/{t.lower()}"} for t in _HASHTAG.findall(record["text"])]
        if record.get("quote_of"):
            quoted = self.statuses.get(record["quote_of"])
            body["quote"] = {"state": "accepted",
                             "quoted_status": self._status_json(quoted, base) if quoted else None}
        return body

    def _simulate_tag(self, tag: str) -> None:
        """The public of the demo: one post per ``public_every`` simulated seconds per tag."""
        now = self.sandbox.now()
        with self.sandbox.lock:
            start = self.tag_started.setdefault(tag, now - 6 * self.public_every / max(self.sandbox.speed, 1e-9))
            have = sum(1 for i in self.by_tag.get(tag, []) if i in self.public)
            due = min(self.public_max, int((now - start) * self.sandbox.speed // self.public_every))
        for n in range(have, due):
            seed = int(hashlib.sha256(f"{self.sandbox.seed}:{tag}:{n}".encode()).hexdigest()[:8], 16)
            kind = "photo" if seed % 4 == 0 else "original"
            self.public_post(tag=tag, kind=kind, author=seed, at=start + (n + 1) * self.public_every / max(self.sandbox.speed, 1e-9))

    def _simulate_answers(self, account_id: str) -> None:
        """A few replies, boosts and quotes per status of ours, decided by the seed, once each."""
        with self.sandbox.lock:
            mine = [self.statuses[i] for i in self.by_account.get(account_id, []) if i in self.statuses]
        for record in mine:
            if record["id"] in self.answered:
                continue
            self.answered.add(record["id"])
            seed = int(hashlib.sha256(f"{self.sandbox.seed}:{record['id']}".encode()).hexdigest()[:8], 16)
            for n, kind in enumerate(("reply", "repost", "quote", "reply")[: seed % 5]):
                self.public_post(kind=kind, answers=record["id"], author=seed + n,
                                 text=ANSWER_TEXTS[(seed + n) % len(ANSWER_TEXTS)] if kind == "reply" else None)
            if seed % 5:  # with its answers, a status naming the account (the inbox's mentions)
                self.public_post(kind="mention", answers=record["id"], author=seed + 7,
                                 text=ANSWER_TEXTS[seed % len(ANSWER_TEXTS)])

    def _tag_timeline(self, req: Request, tag: str, base: str) -> _Paged:
        from urllib.parse import unquote

        tag = unquote(tag).lower()
        if self.auto_public:
            self._simulate_tag(tag)
        with self.sandbox.lock:
            ids = [int(i) for i in self.by_tag.get(tag, [])]
            chosen = _page(ids, req, 20, MAX_PAGE)
            body = [self._public_json(self.public[str(i)], base) if str(i) in self.public
                    else self._status_json(self.statuses[str(i)], base)
                    for i in chosen if str(i) in self.public or str(i) in self.statuses]
        return _Paged(body, _link(f"{base}/api/v1/timelines/tag/{tag}", chosen))

    def _notifications(self, req: Request, account: dict[str, Any], base: str) -> _Paged:
        if self.auto_public:
            self._simulate_answers(account["id"])
        types = set(req.query.get("types[]") or req.query.get("types") or [])
        with self.sandbox.lock:
            items = [n for n in self.notifications.get(account["id"], []) if not types or n["type"] in types]
            by_id = {int(n["id"]): n for n in items}
            chosen = _page(sorted(by_id), req, 40, MAX_NOTIFICATIONS)
            body = []
            for i in chosen:
                n = by_id[i]
                status = self.public.get(n["status_id"]) or self.statuses.get(n["status_id"])
                status_json = None
                if status is not None:
                    status_json = (self._public_json(status, base) if n["status_id"] in self.public
                                   else self._status_json(status, base))
                body.append({"id": n["id"], "type": n["type"], "created_at": _iso(n["created"]),
                             "group_key": f"ungrouped-{n['id']}",
                             "account": self._account_json(n["person"], base), "status": status_json})
        extra = "".join(f"types[]={t}&" for t in sorted(types))
        return _Paged(body, _link(f"{base}/api/v1/notifications", chosen, extra))

    # -- media --------------------------------------------------------------------------------

    def _upload(self, req: Request, account: dict[str, Any], base: str) -> dict[str, Any]:
        fields, files = req.form()
        upload = files.get("file")
        if upload is None:
            raise MastodonError(422, "Validation failed: File can't be blank")
        description = (fields.get("description") or [""])[0]
        if upload.content_type not in IMAGE_TYPES:
            raise MastodonError(
                422,
                "Validation failed: File content type is invalid, File file type is not supported",
            )
        if len(upload.data) > IMAGE_LIMIT:
            raise MastodonError(422, "Validation failed: File file size must be less than 16 MB")
        if len(description) > DESCRIPTION_LIMIT:
            raise MastodonError(
                422,
                f"Validation failed: Description is too long (maximum is {DESCRIPTION_LIMIT} characters)",
            )
        mid = self._snowflake()
        item = {
            "id": mid,
            "account_id": account["id"],
            "status_id": None,
            "description": description,
            "filename": upload.filename,
            "content_type": upload.content_type,
            "size": len(upload.data),
        }
        with self.sandbox.lock:
            self.media[mid] = item
        # Images are processed synchronously, so the v2 answer is 200 with its url (not 202).
        return self._media_json(item, base)

    @staticmethod
    def _media_json(item: dict[str, Any], base: str) -> dict[str, Any]:
        ext = item["content_type"].split("/")[-1]
        return {
            "id": item["id"],
            "type": "image",
            "url": f"{base}/system/media_attachments/files/{item['id']}/original.{ext}",
            "preview_url": f"{base}/system/media_attachments/files/{item['id']}/small.{ext}",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {},
            "description": item["description"] or None,
            "blurhash": None,
        }

    # -- instance -----------------------------------------------------------------------------

    def _configuration(self) -> dict[str, Any]:
        return {
            "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
            "statuses": {
                "max_characters": self.max_characters,
                "max_media_attachments": MAX_MEDIA,
                "characters_reserved_per_url": URL_CHARACTERS,
            },
            "media_attachments": {
                "supported_mime_types": [*IMAGE_TYPES, "video/mp4", "audio/mpeg"],
                "description_limit": DESCRIPTION_LIMIT,
                "image_size_limit": IMAGE_LIMIT,
                "image_matrix_limit": 33177600,
                "video_size_limit": 103809024,
                "video_frame_rate_limit": 120,
                "video_matrix_limit": 8294400,
            },
            "polls": {
                "max_options": 4,
                "max_characters_per_option": 50,
                "min_expiration": 300,
                "max_expiration": 2629746,
            },
        }

    def _instance_v1(self, base: str) -> dict[str, Any]:
        host = base.split("://", 1)[1]
        return {
            "uri": host,
            "title": "Porte-voix sandbox",
            "short_description": "Bac à sable",
            "description": "",
            "email": "sandbox@example.org",
            "version": VERSION,
            "urls": {"streaming_api": f"ws://{host}"},
            "stats": {"user_count": 1, "status_count": len(self.statuses), "domain_count": 1},
            "languages": ["fr", "en"],
            "registrations": False,
            "approval_required": False,
            "invites_enabled": False,
            "configuration": self._configuration(),
            "rules": [],
        }

    def _instance_v2(self, base: str) -> dict[str, Any]:
        host = base.split("://", 1)[1]
        return {
            "domain": host,
            "title": "Porte-voix sandbox",
            "version": VERSION,
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "Bac à sable",
            "usage": {"users": {"active_month": 1}},
            "languages": ["fr", "en"],
            "api_versions": {"mastodon": 2},
            "configuration": {"urls": {"streaming": f"ws://{host}"}, **self._configuration()},
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "contact": {"email": "sandbox@example.org", "account": None},
            "rules": [],
        }

    # -- inspection ---------------------------------------------------------------------------

    def posts(self) -> list[dict[str, Any]]:
        with self.sandbox.lock:
            records = list(self.statuses.values())
        return [
            {
                "id": r["id"],
                "text": r["text"],
                "created": r["created"],
                "account": r["account"]["username"],
                "visibility": r["visibility"],
                "language": r["language"],
                "spoiler_text": r.get("spoiler_text") or "",
                "sensitive": bool(r.get("spoiler_text")),
                "in_reply_to": r.get("in_reply_to"),
                "quote_approval_policy": r.get("quote_approval_policy") or "public",
                "alts": [m["description"] for m in r["media"]],
                "media": [
                    {"id": m["id"], "type": m["content_type"], "alt": m["description"]}
                    for m in r["media"]
                ],
            }
            for r in records
        ]
