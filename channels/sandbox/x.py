"""A stateful emulator of the X API v2, good enough for the unchanged tweepy ``Client``.

What it serves (https://docs.x.com/x-api/introduction):

- ``POST /2/tweets``: text, ``media.media_ids``; links are shortened to ``https://t.co/…`` in the
  stored text as X does, duplicates from one account are refused with X's real 403 problem body.
- ``GET /2/tweets?ids=…`` (at most 100 ids) and ``GET /2/tweets/:id`` with ``tweet.fields``
  (``public_metrics``, ``created_at``, ``author_id``, ``entities``, ``attachments``).
- ``GET /2/users/me`` and ``GET /2/users/:id/tweets`` (newest first, ``start_time``/``end_time``,
  ``since_id``/``until_id``, ``max_results`` 5–100, ``pagination_token``).
- ``POST /2/media/upload`` (multipart ``media``, or JSON base64) and ``POST /2/media/metadata``
  (alt text).
- ``GET /2/tweets/search/recent`` (``#tag``, keywords, ``quotes_of_tweet_id:``, ``OR``,
  ``-from:``, ``-is:retweet``; ``since_id``/``until_id``, ``max_results`` 10–100, ``next_token``,
  ``referenced_tweets``, ``conversation_id``, ``attachments.media_keys`` → ``includes.media``),
  ``GET /2/tweets/counts/recent`` and ``GET /2/users/:id/mentions``. A token in
  ``search_denied`` or starting with ``nosearch`` gets X's 403 ``client-not-enrolled`` on search
  and counts. The public's posts come from :meth:`XEmulator.inject_public` (tests, and
  ``POST /_sandbox/public/x``) and from the live public of channels/sandbox/public.py (demo).

Every answer carries ``x-rate-limit-limit/remaining/reset`` (epoch seconds) per user and endpoint,
as https://docs.x.com/x-api/fundamentals/rate-limits describes; a 429 always carries the reset
(tweepy 4.17 retries at once without it). The per-user budgets are enforced unless
``XEmulator.enforce_limits`` is False or ``PORTEVOIX_SANDBOX_X_LIMITS=off`` (benchmarks push
10,000 posts through one account).

OAuth 1.0a signatures are not verified (the sandbox does not know consumer secrets); the header
must be complete and its token not revoked. Bearer tokens: any non-empty, non-revoked token.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as dt
import hashlib
import html
import os
import re
import unicodedata
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import unquote

import twitter_text

from channels.sandbox.core import Emulator, Request, Response, json_response
from channels.sandbox.public import ANSWER_KINDS, ANSWER_TEXTS, KINDS, MENTION_EVERY, LivePublic
from channels.x import weighted_length

TEXT_LIMIT = 280
MAX_IDS = 100  # GET /2/tweets: "Up to 100 are allowed in a single request"
MAX_MEDIA = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # https://docs.x.com/x-api/media: "Image: 5 MB"
MAX_ALT = 1000  # media metadata: alt text "Must be <= 1000 chars"
DUPLICATE_WINDOW = 24 * 3600.0  # X does not publish the window; a day is what people report
ID_BASE = 1_900_000_000_000_000_000  # snowflake-sized ids, newest is largest
WINDOW = 15 * 60

#: (method, route) -> per-user requests per 15 minutes, from the rate-limit tables. Media figures
#: are not in the published Posts table; 500 is the sandbox's own choice.
LIMITS: dict[str, int] = {
    "POST /2/tweets": 100,
    "PUT /2/tweets/:id/hidden": 50,
    "GET /2/tweets": 5000,
    "GET /2/tweets/:id": 900,
    "DELETE /2/tweets/:id": 50,  # platforms-next.md §3: delete, user 50 per 15 minutes
    "GET /2/users/me": 75,
    "GET /2/users/:id/tweets": 900,
    "POST /2/media/upload": 500,
    "POST /2/media/metadata": 500,
    "GET /2/tweets/search/recent": 300,
    "GET /2/tweets/counts/recent": 300,
    "GET /2/users/:id/mentions": 300,
}
SEARCH_WINDOW = 7 * 86400  # recent search and counts cover the last seven days
#: Tokens that start with this have no search access (X answers "client-not-enrolled").
NO_SEARCH_PREFIX = "nosearch"
_HASHTAG = re.compile(r"(?<![\w&])#(\w+)", re.UNICODE)

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _iso(epoch: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _parse_iso(value: str) -> float | None:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.timestamp()


def _sniff(data: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


#: Which API replies the emulator accepts (``XEmulator.reply_policy``).
REPLY_POLICIES = frozenset({"open", "summoned", "none"})
#: X's answer to a reply it does not accept (403): the parent's author has not mentioned or
#: otherwise engaged the account (the words X gives for a restricted conversation).
#: POST /2/tweets ``reply_settings`` (https://docs.x.com/x-api/posts/create-post).
REPLY_SETTINGS = ("following", "mentionedUsers", "subscribers", "verified")
REPLY_REFUSED = ("Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                 "engaged by the author of the post you are replying to.")


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> Response:
    """X's RFC 7807 problem body (https://docs.x.com/x-api/fundamentals/response-codes-and-errors)."""
    return json_response(
        {"title": title, "detail": detail, "type": type_, "status": status}, status
    )


def invalid_request(message: str, parameters: dict[str, list[str]] | None = None) -> Response:
    body: dict[str, Any] = {
        "errors": [{"parameters": parameters or {}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    return json_response(body, 400)


_READING_ROUTES = ("GET /2/tweets/search/recent", "GET /2/tweets/counts/recent")


def not_enrolled() -> Response:
    """X's 403 for an App whose access does not include an endpoint (recent search, counts):
    https://docs.x.com/x-api/fundamentals/response-codes-and-errors ("client-not-enrolled")."""
    return json_response(
        {
            "client_id": "sandbox",
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use "
            "keys and tokens from a Twitter developer App that is attached to a Project. You can "
            "create a project via the developer portal.",
            "registration_url": "https://developer.x.com/en/docs/projects/overview",
            "title": "Client Forbidden",
            "required_enrollment": "Appropriate Level of API Access",
            "reason": "client-not-enrolled",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
        },
        403,
    )


def _not_found(tweet_id: str) -> dict[str, Any]:
    return {
        "value": tweet_id,
        "detail": f"Could not find tweet with id: [{tweet_id}].",
        "title": "Not Found Error",
        "resource_type": "tweet",
        "parameter": "id",
        "resource_id": tweet_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


class XEmulator(Emulator):
    platform = "x"
    prefixes = ("/2/",)

    #: True/False to force; None follows PORTEVOIX_SANDBOX_X_LIMITS (on unless "off"/"0"/"false").
    #: When off, budgets are still counted in the headers but 429 comes only from fault injection.
    enforce_limits: bool | None = None
    limits: ClassVar[dict[str, int]] = LIMITS

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.auto_public = False  # the demo's live public (channels/sandbox/public.py)
        self.reset()

    # -- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.sandbox.lock:
            self._posts: dict[str, dict[str, Any]] = {}
            self._timelines: dict[str, list[dict[str, Any]]] = {}  # author id -> oldest first
            self._recent_texts: dict[tuple[str, str], float] = {}  # (author, text) -> created
            self._media: dict[str, dict[str, Any]] = {}
            self._windows: dict[tuple[str, str], list[float]] = {}  # (user, route) -> [start, used]
            self._order: list[int] = []  # every post id, ascending (ids grow with time)
            self._by_tag: dict[str, list[int]] = {}  # lower-case hashtag -> ids, ascending
            self._mentions: dict[str, list[int]] = {}  # user id -> ids of posts answering them
            self.search_denied: set[str] = set()  # tokens configured without search access
            #: Which API replies X accepts (since 2026-02-23 a reply needs the parent's author to
            #: have summoned the account; whether a reply to one's own post is exempt is not
            #: documented): "open" accepts every reply, "summoned" refuses replies to another
            #: author who did not mention the account (self-threads pass), "none" refuses every
            #: reply, self-threads too.
            self.reply_policy = "open"
            self.live = LivePublic(self)

    def posts(self) -> list[dict[str, Any]]:
        with self.sandbox.lock:
            return [
                {
                    "id": p["id"],
                    "text": p["text"],
                    "display_text": p["display_text"],
                    "author_id": p["author_id"],
                    "username": p["username"],
                    "created": p["created"],
                    "created_at": _iso(p["created"]),
                    "media": [dict(m) for m in p["media"]],
                    "alts": [m["alt"] for m in p["media"]],
                    "in_reply_to": next((r["id"] for r in p.get("referenced") or []
                                         if r["type"] == "replied_to"), None),
                    "conversation_id": p.get("conversation_id", p["id"]),
                    "hidden": bool(p.get("hidden")),
                    "reply_settings": p.get("reply_settings"),
                }
                for p in self._posts.values()
            ]

    def configure(self, *, reply_policy: str | None = None) -> dict[str, Any]:
        """The emulator's knobs (``POST /_sandbox/settings/x``): which replies X accepts."""
        if reply_policy is not None:
            if reply_policy not in REPLY_POLICIES:
                raise ValueError(f"reply_policy must be one of {sorted(REPLY_POLICIES)}")
            self.reply_policy = reply_policy
        return {"reply_policy": self.reply_policy}

    def _reply_refused(self, parent: dict[str, Any], user: dict[str, str]) -> bool:
        if self.reply_policy == "none":
            return True
        # the conversation's first post says who may reply (its reply_settings); its author always
        # may. The sandbox's accounts follow nobody, have no subscribers and are not verified.
        root = self._posts.get(parent.get("conversation_id") or parent["id"]) or parent
        settings = root.get("reply_settings")
        if settings and root["author_id"] != user["id"]:
            return settings != "mentionedUsers" or f"@{user['username']}".lower() not in root["text"].lower()
        if self.reply_policy == "summoned" and parent["author_id"] != user["id"]:
            return f"@{user['username']}".lower() not in parent["text"].lower()
        return False

    # -- identity -----------------------------------------------------------------------------

    def _token(self, req: Request) -> str | None:
        """The user token of a request: Bearer, or OAuth 1.0a ``oauth_token``."""
        bearer = req.bearer()
        if bearer is not None:
            return bearer or None
        auth = req.headers.get("authorization", "")
        if not auth.startswith("OAuth "):
            return None
        params = {k: unquote(v) for k, v in _OAUTH_PARAM.findall(auth)}
        if not all(params.get(k) for k in ("oauth_consumer_key", "oauth_token", "oauth_signature")):
            return None
        if params["oauth_consumer_key"] in self.sandbox.revoked:
            return None
        return params["oauth_token"]

    @staticmethod
    def user_for(token: str) -> dict[str, str]:
        """A stable account per token; OAuth 1.0a tokens start with the user id, as on X."""
        head, sep, _ = token.partition("-")
        if sep and head.isdigit():
            user_id = head
        else:
            user_id = str(int(hashlib.sha256(token.encode()).hexdigest()[:12], 16))
        username = re.sub(r"[^A-Za-z0-9_]", "_", token)[:15] or "sandbox"
        return {"id": user_id, "name": f"Sandbox {username}", "username": username}

    # -- rate limits --------------------------------------------------------------------------

    def _spend(self, user: str, route: str) -> tuple[dict[str, str], bool]:
        """Charge one request; return the headers to send and whether the budget was exceeded."""
        limit = self.limits.get(route, 900)
        now = self.sandbox.now()
        with self.sandbox.lock:
            window = self._windows.get((user, route))
            if window is None or now >= window[0] + WINDOW:
                window = self._windows[(user, route)] = [now, 0]
            window[1] += 1
            used = int(window[1])
            reset = int(window[0] + WINDOW)
        over = self._enforcing() and used > limit
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - used)),
            "x-rate-limit-reset": str(reset),
        }
        return headers, over

    def _enforcing(self) -> bool:
        if self.enforce_limits is not None:
            return self.enforce_limits
        return os.environ.get("PORTEVOIX_SANDBOX_X_LIMITS", "on").lower() not in {
            "off",
            "0",
            "false",
            "no",
        }

    def rate_limited(self, req: Request) -> Response:
        route = self._route(req)[0]
        token = self._token(req)
        reset = int(self.sandbox.now()) + WINDOW
        if token is not None:
            with self.sandbox.lock:
                window = self._windows.get((self.user_for(token)["id"], route))
                if window is not None and window[0] + WINDOW > self.sandbox.now():
                    reset = int(window[0] + WINDOW)
        resp = problem(429, "Too Many Requests", "Too Many Requests")
        resp.headers.update(
            {
                "x-rate-limit-limit": str(self.limits.get(route, 900)),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            }
        )
        return resp

    def bad_token(self, req: Request) -> Response:
        return problem(401, "Unauthorized", "Unauthorized")

    # -- routing ------------------------------------------------------------------------------

    @staticmethod
    def _route(req: Request) -> tuple[str, dict[str, str]]:
        path = req.path.rstrip("/")
        if path in ("/2/tweets/search/recent", "/2/tweets/counts/recent"):
            return f"{req.method} {path}", {}
        if m := re.fullmatch(r"/2/users/(\d+)/mentions", path):
            return f"{req.method} /2/users/:id/mentions", {"id": m.group(1)}
        if m := re.fullmatch(r"/2/tweets/(\w+)/hidden", path):
            return f"{req.method} /2/tweets/:id/hidden", {"id": m.group(1)}
        if m := re.fullmatch(r"/2/tweets/(\w+)", path):
            return f"{req.method} /2/tweets/:id", {"id": m.group(1)}
        if m := re.fullmatch(r"/2/users/(\d+)/tweets", path):
            return f"{req.method} /2/users/:id/tweets", {"id": m.group(1)}
        return f"{req.method} {path}", {}

    def handle(self, req: Request) -> Response:
        route, args = self._route(req)
        routes: dict[str, Callable[..., Response]] = {
            "POST /2/tweets": self._create_tweet,
            "GET /2/tweets": self._lookup,
            "GET /2/tweets/:id": self._lookup_one,
            "DELETE /2/tweets/:id": self._delete,
            "GET /2/users/me": self._me,
            "GET /2/users/:id/tweets": self._timeline,
            "GET /2/tweets/search/recent": self._search,
            "GET /2/tweets/counts/recent": self._counts,
            "GET /2/users/:id/mentions": self._mentions_of,
            "PUT /2/tweets/:id/hidden": self._hide,
            "POST /2/media/upload": self._upload,
            "POST /2/media/metadata": self._metadata,
        }
        handler = routes.get(route)
        if handler is None:
            return problem(404, "Not Found Error", f"Sorry, that page does not exist: {req.path}")
        token = self._token(req)
        if token is None or token in self.sandbox.revoked:
            return self.bad_token(req)
        user = self.user_for(token)
        if route in _READING_ROUTES and (
            token in self.search_denied or token.startswith(NO_SEARCH_PREFIX)
        ):
            return not_enrolled()
        headers, over = self._spend(user["id"], route)
        resp = self.rate_limited(req) if over else handler(req, user, **args)
        resp.headers.update(headers)
        return resp

    # -- posts --------------------------------------------------------------------------------

    def _create_tweet(self, req: Request, user: dict[str, str]) -> Response:
        try:
            body = req.json()
        except ValueError:
            return invalid_request("Request body is not valid JSON")
        text = unicodedata.normalize("NFC", str(body.get("text") or ""))
        media_ids = [str(m) for m in (body.get("media") or {}).get("media_ids", [])]
        parent_id = str((body.get("reply") or {}).get("in_reply_to_tweet_id") or "") or None
        reply_settings = body.get("reply_settings")
        if reply_settings is not None and reply_settings not in REPLY_SETTINGS:
            return invalid_request(f"{reply_settings!r} is not one of {list(REPLY_SETTINGS)}",
                                   {"reply_settings": [str(reply_settings)]})
        if not text.strip() and not media_ids:
            return invalid_request(
                "Post text is required when no media is attached", {"text": [text]}
            )
        if weighted_length(text) > TEXT_LIMIT:
            return invalid_request(
                "Your Tweet text is too long. For more information on how X determines text "
                "length see https://github.com/twitter/twitter-text.",
                {"text": [text]},
            )
        if len(media_ids) > MAX_MEDIA:
            return invalid_request(
                f"Up to {MAX_MEDIA} media ids are allowed", {"media.media_ids": media_ids}
            )
        with self.sandbox.lock:
            media = []
            for media_id in media_ids:
                item = self._media.get(media_id)
                if item is None or item["owner"] != user["id"]:
                    return invalid_request(
                        f"Your media IDs are invalid: [{media_id}]", {"media.media_ids": media_ids}
                    )
                media.append(item)
            reply_to = str((body.get("reply") or {}).get("in_reply_to_tweet_id") or "")
            parent = self._posts.get(reply_to) if reply_to else None
            if reply_to and parent is None:
                return invalid_request(
                    f"The `reply.in_reply_to_tweet_id` value [{reply_to}] does not exist",
                    {"reply.in_reply_to_tweet_id": [reply_to]})
            if parent is not None and self._reply_refused(parent, user):
                return problem(403, "Forbidden", REPLY_REFUSED)
            now = self.sandbox.now()
            last = self._recent_texts.get((user["id"], text))
            if text and last is not None and now - last < DUPLICATE_WINDOW:
                return problem(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                )
            parent = self._posts.get(parent_id) if parent_id else None
            if parent_id and parent is None:
                return invalid_request(
                    "The post you are replying to has been deleted or is not visible to you.",
                    {"reply.in_reply_to_tweet_id": [parent_id]},
                )
            post_id = str(ID_BASE + self.sandbox.next_id())
            display, urls = self._shorten(post_id, text, user["username"], bool(media))
            post = {
                "id": post_id,
                "text": text,
                "display_text": display,
                "urls": urls,
                "author_id": user["id"],
                "username": user["username"],
                "created": now,
                "media": [
                    {"media_key": m["media_key"], "alt": m["alt"], "mime_type": m["mime_type"]}
                    for m in media
                ],
            }
            if reply_settings:
                post["reply_settings"] = reply_settings
            if parent is not None:
                post["in_reply_to"] = parent["id"]
                post["referenced"] = [{"type": "replied_to", "id": parent["id"]}]
                post["conversation_id"] = parent.get("conversation_id", parent["id"])
                post["in_reply_to_user_id"] = parent["author_id"]
                if parent["author_id"] != user["id"]:
                    post["answers_users"] = [parent["author_id"]]
            self._keep(post)
            self._timelines.setdefault(user["id"], []).append(post)
            if text:
                self._recent_texts[(user["id"], text)] = now
        data = {"id": post_id, "text": display, "edit_history_tweet_ids": [post_id]}
        return json_response({"data": data}, 201)

    @staticmethod
    def _shorten(
        post_id: str, text: str, username: str, has_media: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        """X rewrites every link to t.co, escapes &<> and appends a t.co link for attached media
        (https://docs.x.com/x-api/fundamentals/data-dictionary, ``entities.urls``)."""
        pieces: list[str] = []
        urls: list[dict[str, Any]] = []
        cursor = 0

        def tco(n: int) -> str:
            return "https://t.co/" + hashlib.sha256(f"{post_id}:{n}".encode()).hexdigest()[:10]

        def add_url(short: str, entity: dict[str, Any]) -> None:
            start = len("".join(pieces))
            pieces.append(short)
            urls.append({"start": start, "end": start + len(short), "url": short, **entity})

        for n, found in enumerate(twitter_text.extract_urls_with_indices(text)):
            start, end = found["indices"]
            pieces.append(html.escape(text[cursor:start], quote=False))
            expanded = found["url"] if "://" in found["url"] else "http://" + found["url"]
            add_url(
                tco(n),
                {"expanded_url": expanded, "display_url": found["url"].split("://")[-1][:25]},
            )
            cursor = end
        pieces.append(html.escape(text[cursor:], quote=False))
        if has_media:
            so_far = "".join(pieces)
            if so_far and not so_far[-1].isspace():
                pieces.append(" ")
            add_url(
                tco(99),
                {
                    "expanded_url": f"https://x.com/{username}/status/{post_id}/photo/1",
                    "display_url": "pic.x.com/" + post_id[-10:],
                    "media_key": "3_" + post_id,
                },
            )
        return "".join(pieces), urls

    def _render(self, post: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": post["id"],
            "text": post["display_text"],
            "edit_history_tweet_ids": [post["id"]],
        }
        if "created_at" in fields:
            out["created_at"] = _iso(post["created"])
        if "author_id" in fields:
            out["author_id"] = post["author_id"]
        if "entities" in fields and post["urls"]:
            out["entities"] = {"urls": [dict(u) for u in post["urls"]]}
        if "attachments" in fields and post["media"]:
            out["attachments"] = {"media_keys": [m["media_key"] for m in post["media"]]}
        if "referenced_tweets" in fields and post.get("referenced"):
            out["referenced_tweets"] = [dict(r) for r in post["referenced"]]
        if "conversation_id" in fields:
            out["conversation_id"] = post.get("conversation_id", post["id"])
        if "lang" in fields:
            out["lang"] = post.get("lang", "fr")
        if "public_metrics" in fields:
            figures = self.sandbox.metrics_for("x", post["id"], post["created"])
            out["public_metrics"] = {
                "retweet_count": figures["shares"],
                "reply_count": figures["replies"],
                "like_count": figures["likes"],
                "quote_count": figures["quotes"],
                "bookmark_count": figures["likes"] // 8,
                "impression_count": figures["views"],
            }
        return out

    @staticmethod
    def _fields(req: Request) -> set[str]:
        return {f for f in (req.arg("tweet.fields") or "").split(",") if f}

    def _lookup(self, req: Request, user: dict[str, str]) -> Response:
        ids = [i for i in (req.arg("ids") or "").split(",") if i]
        if not ids:
            return invalid_request("The `ids` query parameter can not be empty", {"ids": []})
        if len(ids) > MAX_IDS:
            return invalid_request(
                f"The `ids` query parameter value [{len(ids)}] is not between 1 and {MAX_IDS}",
                {"ids": ids},
            )
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            return invalid_request(
                f"The `ids` query parameter value [{bad[0]}] is not valid", {"ids": bad}
            )
        fields = self._fields(req)
        body: dict[str, Any] = {}
        with self.sandbox.lock:
            data = [self._render(self._posts[i], fields) for i in ids if i in self._posts]
            errors = [dict(_not_found(i), parameter="ids") for i in ids if i not in self._posts]
        if data:
            body["data"] = data
        if errors:
            body["errors"] = errors
        return json_response(body)

    def _lookup_one(self, req: Request, user: dict[str, str], id: str) -> Response:  # noqa: A002
        if not id.isdigit():
            return invalid_request(
                f"The `id` query parameter value [{id}] is not valid", {"id": [id]}
            )
        with self.sandbox.lock:
            post = self._posts.get(id)
            if post is None:
                return json_response({"errors": [_not_found(id)]})
            return json_response({"data": self._render(post, self._fields(req))})

    def _delete(self, req: Request, user: dict[str, str], id: str) -> Response:  # noqa: A002
        """``DELETE /2/tweets/:id``: the post leaves its page, the timeline and search. An unknown
        id answers X's "resource not found" problem (404); another author's post, 403."""
        with self.sandbox.lock:
            post = self._posts.get(id)
            if post is None:
                return problem(404, "Not Found Error", f"Could not find tweet with id: [{id}].")
            if post["author_id"] != user["id"]:
                return problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
            del self._posts[id]
            timeline = self._timelines.get(post["author_id"], [])
            if post in timeline:
                timeline.remove(post)
        return json_response({"data": {"deleted": True}})

    def _me(self, req: Request, user: dict[str, str]) -> Response:
        return json_response({"data": dict(user)})

    def _timeline(self, req: Request, user: dict[str, str], id: str) -> Response:  # noqa: A002
        try:
            max_results = int(req.arg("max_results") or 10)
        except ValueError:
            max_results = 0
        if not 5 <= max_results <= 100:
            return invalid_request(
                f"The `max_results` query parameter value [{req.arg('max_results')}] is not between 5 and 100"
            )
        bounds: dict[str, float | None] = {}
        for name in ("start_time", "end_time"):
            value = req.arg(name)
            bounds[name] = _parse_iso(value) if value else None
            if value and bounds[name] is None:
                return invalid_request(
                    f"Invalid '{name}':'{value}'. '{name}' must be a valid ISO 8601 timestamp"
                )
        since, until = req.arg("since_id") or "0", req.arg("until_id") or "0"
        if not (since.isdigit() and until.isdigit()):
            return invalid_request(
                "The `since_id` and `until_id` query parameters must be post ids"
            )
        since_id, until_id = int(since), int(until)
        token = req.arg("pagination_token")
        before = int(token, 16) if token and re.fullmatch(r"[0-9a-f]+", token) else None
        fields = self._fields(req)
        with self.sandbox.lock:
            selected: list[dict[str, Any]] = []
            more = False
            for post in reversed(self._timelines.get(id, [])):  # newest first
                pid = int(post["id"])
                start, end = bounds["start_time"], bounds["end_time"]
                if before is not None and pid >= before:
                    continue
                if until_id and pid >= until_id:
                    continue
                if end is not None and post["created"] >= end:
                    continue
                # X's start_time is inclusive at the second the client sent
                if (start is not None and post["created"] < start) or pid <= since_id:
                    break
                if len(selected) == max_results:
                    more = True
                    break
                selected.append(self._render(post, fields))
        meta: dict[str, Any] = {"result_count": len(selected)}
        if selected:
            meta["newest_id"], meta["oldest_id"] = selected[0]["id"], selected[-1]["id"]
        if more:
            meta["next_token"] = format(int(selected[-1]["id"]), "x")
        body: dict[str, Any] = {"meta": meta}
        if selected:
            body["data"] = selected
        return json_response(body)

    # -- media --------------------------------------------------------------------------------

    def _upload(self, req: Request, user: dict[str, str]) -> Response:
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            fields, files = req.form()
            upload = files.get("media")
            data = upload.data if upload else None
            if data is None and fields.get("media"):  # a part sent without a filename
                data = fields["media"][0].encode("latin-1")
            category = (fields.get("media_category") or ["tweet_image"])[0]
        else:
            try:
                payload = req.json()
                data = base64.b64decode(payload.get("media") or "", validate=True) or None
            except (ValueError, binascii.Error):
                return invalid_request("The `media` field must be base64-encoded in a JSON body")
            category = str(payload.get("media_category") or "tweet_image")
        if not data:
            return invalid_request("The `media` field is required", {"media": []})
        mime = _sniff(data)
        if mime is None:
            return invalid_request(
                "Unsupported media type: the file is not a JPEG, PNG, GIF or WEBP image"
            )
        if len(data) > MAX_IMAGE_BYTES:
            return invalid_request(
                f"File size exceeds {MAX_IMAGE_BYTES} bytes.", {"media": [str(len(data))]}
            )
        media_id = str(ID_BASE + self.sandbox.next_id())
        item = {
            "id": media_id,
            "media_key": "3_" + media_id,
            "owner": user["id"],
            "mime_type": mime,
            "size": len(data),
            "category": category,
            "alt": "",
        }
        with self.sandbox.lock:
            self._media[media_id] = item
        data_out = {
            "id": media_id,
            "media_key": item["media_key"],
            "size": len(data),
            "expires_after_secs": 86400,
            "image": {"image_type": mime},
        }
        return json_response({"data": data_out})

    def _metadata(self, req: Request, user: dict[str, str]) -> Response:
        try:
            body = req.json()
        except ValueError:
            return invalid_request("Request body is not valid JSON")
        media_id = str(body.get("id") or "")
        alt = str(((body.get("metadata") or {}).get("alt_text") or {}).get("text") or "")
        if len(alt) > MAX_ALT:
            return invalid_request(
                f"Alt text must be at most {MAX_ALT} characters", {"alt_text": [str(len(alt))]}
            )
        with self.sandbox.lock:
            item = self._media.get(media_id)
            if item is None or item["owner"] != user["id"]:
                return invalid_request(
                    f"Your media ID is invalid: [{media_id}]", {"id": [media_id]}
                )
            item["alt"] = alt
        return json_response(
            {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}}
        )

    # -- the public and listening -------------------------------------------------------------

    def _keep(self, post: dict[str, Any]) -> None:
        """Store a post and index it for search (lock held by the caller)."""
        self._posts[post["id"]] = post
        pid = int(post["id"])
        self._order.append(pid)
        for tag in {t.lower() for t in _HASHTAG.findall(post["text"])}:
            self._by_tag.setdefault(tag, []).append(pid)
        for user_id in post.get("answers_users", ()):
            self._mentions.setdefault(user_id, []).append(pid)

    def inject_public(
        self,
        term: str | None = None,
        n: int = 1,
        *,
        hashtag: bool = True,
        kinds: tuple[str, ...] | list[str] = ("original",),
        answers: str | None = None,
        spread: float = 0.0,
        mention: bool = True,
        texts: tuple[str, ...] | list[str] = (),
    ) -> list[str]:
        """Make the simulated public post ``n`` times, deterministically: kinds taken in turn from
        ``kinds`` (original, photo, reply, quote, repost), each carrying ``#term`` (or the keyword)
        when given, replies, quotes and reposts answering ``answers`` (one of our posts) when given.
        A quote names our account (and so reaches its mentions) unless ``mention`` is False, as
        a quote whose author wrote no @name. ``mention`` as a kind is a post of its own naming
        the author of ``answers`` (reaching their mentions). ``texts``, when given, are the posts'
        words in turn (a question, thanks, an abusive reply) instead of the generated ones.
        Creation times are spread evenly over the last ``spread`` seconds, oldest first. Returns the
        new post ids."""
        n = max(0, min(int(n), 200_000))
        ids: list[str] = []
        with self.sandbox.lock:
            now = self.sandbox.now()
            target = self._posts.get(answers) if answers else None
            for i in range(n):
                kind = kinds[i % len(kinds)]
                handle = f"soutien_{self.sandbox.seed}_{i % 97}"
                author = str(9_000_000 + i % 97)
                words = f"#{term}" if term and hashtag else (term or "")
                post_id = str(ID_BASE + self.sandbox.next_id())
                referenced: list[dict[str, str]] = []
                answers_users: list[str] = []
                text = texts[i % len(texts)] if texts else f"Solidarité {words} ({i})".strip()
                conversation = post_id
                if kind == "mention" and target is not None:
                    answers_users = [target["author_id"]]
                    text = f"@{target['username']} {text}"
                if kind in ("reply", "quote", "repost"):
                    ref_id = answers or str(ID_BASE)
                    ref_type = {"reply": "replied_to", "quote": "quoted", "repost": "retweeted"}[
                        kind
                    ]
                    referenced = [{"type": ref_type, "id": ref_id}]
                    if target is not None:
                        # replies and quotes name the author (and so reach their mentions);
                        # a repost does not (X lists those apart, in reposts_of_me)
                        silent = kind == "quote" and not mention
                        answers_users = (
                            [target["author_id"]] if kind != "repost" and not silent else []
                        )
                        at = "@" + target["username"]
                        text = (
                            f"RT {at}: {target['display_text']}"
                            if kind == "repost"
                            else text
                            if silent
                            else f"{at} {text}"
                        )
                        if kind == "reply":
                            conversation = target.get("conversation_id", target["id"])
                media = []
                if kind == "photo":
                    media = [{"media_key": "3_" + post_id, "alt": "", "mime_type": "image/jpeg"}]
                created = now - spread * (n - 1 - i) / max(1, n)
                post = {
                    "id": post_id,
                    "text": text,
                    "display_text": text,
                    "urls": [],
                    "author_id": author,
                    "username": handle,
                    "created": created,
                    "media": media,
                    "referenced": referenced,
                    "conversation_id": conversation,
                    "answers_users": answers_users,
                    "public": True,
                }
                self._keep(post)
                ids.append(post_id)
        return ids

    def _grow(self, user_id: str, tag: str | None) -> None:
        """The live public (see channels.sandbox.public): posts with ``#tag`` since the last
        search for it, answering the account's latest post that carries it; or answers to the
        account's latest post since its mentions were last read."""
        n, spread = self.live.due(f"#{tag.lower()}" if tag else f"@{user_id}")
        if not n:
            return
        with self.sandbox.lock:
            ours = [
                p
                for p in self._timelines.get(user_id, [])
                if tag is None or f"#{tag.lower()}" in p["text"].lower()
            ]
            latest = ours[-1]["id"] if ours else None
        if tag is not None:
            kinds = KINDS if latest else ("original", "photo")
            self.inject_public(tag, n, kinds=kinds, answers=latest, spread=spread)
        elif latest is not None:
            self.inject_public(None, n, kinds=ANSWER_KINDS, answers=latest, spread=spread, texts=ANSWER_TEXTS)
            if n >= MENTION_EVERY:  # and a few posts naming the account (the inbox's mentions)
                self.inject_public(None, n // MENTION_EVERY, kinds=("mention",), answers=latest, spread=spread,
                                   texts=ANSWER_TEXTS[::-1])

    def _matching(self, query: str) -> tuple[list[int], Callable[[dict[str, Any]], bool]]:
        """Candidate ids (ascending) and a test for a query of the forms we serve: ``#tag``, a
        keyword or quoted phrase, ``quotes_of_tweet_id:N``, alternatives joined by ``OR``, each
        optionally followed by ``-from:user`` and ``-is:retweet``."""
        excluded = set(re.findall(r"-from:(\w+)", query))
        no_retweets = "-is:retweet" in query
        core = re.sub(r"-from:\w+|-is:retweet", " ", query).strip().strip("()").strip()
        alternatives = [a.strip().strip('"') for a in re.split(r"\s+OR\s+", core) if a.strip()]
        tags = [a[1:].lower() for a in alternatives if a.startswith("#")]
        quoted = [a.split(":", 1)[1] for a in alternatives if a.startswith("quotes_of_tweet_id:")]
        words = [a.lower() for a in alternatives if not a.startswith(("#", "quotes_of_tweet_id:"))]
        if len(tags) == 1 and not words and not quoted:
            candidates = self._by_tag.get(tags[0], [])  # already ascending
        elif tags and not words and not quoted:
            candidates = sorted({i for t in tags for i in self._by_tag.get(t, [])})
        else:
            candidates = self._order

        def test(post: dict[str, Any]) -> bool:
            if post["author_id"] in excluded or post["username"] in excluded:
                return False
            refs = post.get("referenced") or []
            is_rt = any(r["type"] == "retweeted" for r in refs)
            if is_rt and (no_retweets or words):  # keyword search leaves reposts out
                return False
            text = post["text"].lower()
            if any(t in {h.lower() for h in _HASHTAG.findall(post["text"])} for t in tags):
                return True
            if any(w in text for w in words):
                return True
            return any(r["type"] == "quoted" and r["id"] in quoted for r in refs)

        return candidates, test

    def _page(
        self,
        req: Request,
        candidates: list[int],
        test: Callable[[dict[str, Any]], bool],
        *,
        token_name: str,
        low: int,
        high: int,
    ) -> Response:
        """Newest first, ``max_results`` (10-100; 5-100 for mentions) per page, the next page's
        token being the last id given (in hex); ids in ``(low, high)`` only."""
        try:
            max_results = int(req.arg("max_results") or 10)
        except ValueError:
            max_results = 0
        lowest = 5 if token_name == "pagination_token" else 10
        if not lowest <= max_results <= 100:
            return invalid_request(
                f"The `max_results` query parameter value [{req.arg('max_results')}] is not between {lowest} and 100"
            )
        token = req.arg(token_name)
        if token is not None:
            if not re.fullmatch(r"[0-9a-f]+", token):
                return invalid_request(
                    f"The `{token_name}` query parameter value [{token}] is not valid"
                )
            high = min(high, int(token, 16))
        fields = self._fields(req)
        media_wanted = "attachments.media_keys" in (req.arg("expansions") or "")
        authors_wanted = "author_id" in (req.arg("expansions") or "").split(",")
        if authors_wanted:
            fields = fields | {"author_id"}
        users: dict[str, dict[str, str]] = {}
        start_cut = self.sandbox.now() - SEARCH_WINDOW
        start_time = _parse_iso(req.arg("start_time") or "") if req.arg("start_time") else None
        selected: list[dict[str, Any]] = []
        media: list[dict[str, Any]] = []
        more = False
        with self.sandbox.lock:
            position = bisect.bisect_left(candidates, high) - 1
            while position >= 0:
                pid = candidates[position]
                position -= 1
                if pid <= low:
                    break
                post = self._posts.get(str(pid))
                if post is None or not test(post):
                    continue
                if post["created"] < start_cut or (start_time and post["created"] < start_time):
                    continue
                if len(selected) == max_results:
                    more = True
                    break
                selected.append(self._render(post, fields))
                if authors_wanted:
                    users[post["author_id"]] = {"id": post["author_id"], "name": post["username"],
                                                "username": post["username"]}
                if media_wanted:
                    media += [{"media_key": m["media_key"], "type": "photo"} for m in post["media"]]
        meta: dict[str, Any] = {"result_count": len(selected)}
        if selected:
            meta["newest_id"], meta["oldest_id"] = selected[0]["id"], selected[-1]["id"]
        if more:
            meta["next_token"] = format(int(selected[-1]["id"]), "x")
        body: dict[str, Any] = {"meta": meta}
        if selected:
            body["data"] = selected
        if media:
            body["includes"] = {"media": media}
        if users:
            body.setdefault("includes", {})["users"] = list(users.values())
        return json_response(body)

    @staticmethod
    def _id_bounds(req: Request) -> tuple[int, int] | Response:
        since, until = req.arg("since_id") or "0", req.arg("until_id") or "0"
        if not (since.isdigit() and until.isdigit()):
            return invalid_request(
                "The `since_id` and `until_id` query parameters must be post ids"
            )
        return int(since), int(until) or 2**63

    def _search(self, req: Request, user: dict[str, str]) -> Response:
        query = req.arg("query") or ""
        if not query.strip() or len(query) > 512:
            return invalid_request(
                f"The `query` query parameter value [{query[:40]}] must be between 1 and 512 characters"
            )
        bounds = self._id_bounds(req)
        if isinstance(bounds, Response):
            return bounds
        tag = re.search(r"(?<![\w&])#(\w+)", query)
        self._grow(user["id"], tag.group(1) if tag else None)
        with self.sandbox.lock:
            candidates, test = self._matching(query)
        return self._page(
            req, candidates, test, token_name="next_token", low=bounds[0], high=bounds[1]
        )

    def _mentions_of(self, req: Request, user: dict[str, str], id: str) -> Response:  # noqa: A002
        bounds = self._id_bounds(req)
        if isinstance(bounds, Response):
            return bounds
        self._grow(id, None)
        with self.sandbox.lock:
            candidates = list(self._mentions.get(id, []))
        return self._page(
            req,
            candidates,
            lambda _p: True,
            token_name="pagination_token",
            low=bounds[0],
            high=bounds[1],
        )

    def _hide(self, req: Request, user: dict[str, str], id: str) -> Response:  # noqa: A002
        """``PUT /2/tweets/:id/hidden``: only a reply in a conversation the user started."""
        try:
            hidden = bool(req.json().get("hidden"))
        except ValueError:
            return invalid_request("Request body is not valid JSON")
        with self.sandbox.lock:
            post = self._posts.get(id)
            if post is None:
                return problem(404, "Not Found Error", f"Could not find tweet with id: [{id}].")
            root = self._posts.get(post.get("conversation_id", post["id"]))
            if not post.get("referenced") or root is None or root["author_id"] != user["id"] \
                    or post["id"] == root["id"]:
                return problem(403, "Forbidden", "You cannot hide or unhide replies to conversations you did not start.")
            post["hidden"] = hidden
        return json_response({"data": {"hidden": hidden}})

    def _counts(self, req: Request, user: dict[str, str]) -> Response:
        query = req.arg("query") or ""
        granularity = req.arg("granularity") or "hour"
        if granularity not in ("minute", "hour", "day") or not query.strip():
            return invalid_request(
                "The `granularity` must be minute, hour or day and `query` given"
            )
        step = {"minute": 60, "hour": 3600, "day": 86400}[granularity]
        now = self.sandbox.now()
        start = _parse_iso(req.arg("start_time") or "") or now - SEARCH_WINDOW
        start = max(start, now - SEARCH_WINDOW)
        bounds = self._id_bounds(req)
        if isinstance(bounds, Response):
            return bounds
        buckets: dict[int, int] = {}
        with self.sandbox.lock:
            candidates, test = self._matching(query)
            for pid in reversed(candidates):
                post = self._posts.get(str(pid))
                if post is None or pid <= bounds[0] or pid >= bounds[1]:
                    continue
                if post["created"] < start:
                    continue
                if test(post):
                    bucket = int((post["created"] - start) // step)
                    buckets[bucket] = buckets.get(bucket, 0) + 1
        data = [
            {"end": _iso(start + (b + 1) * step), "start": _iso(start + b * step), "tweet_count": c}
            for b, c in sorted(buckets.items())
        ]
        return json_response({"data": data, "meta": {"total_tweet_count": sum(buckets.values())}})
