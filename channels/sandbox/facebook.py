"""A stateful emulator of the Facebook Graph API (Pages), good enough for the unchanged facebook-sdk.

What it serves, under any ``/vNN.N/`` version prefix (Meta routes every live version the same way
for these calls):

- ``POST /{page}/feed``: text and link posts, and posts whose ``attached_media[i]`` are photos
  uploaded unpublished first (https://developers.facebook.com/docs/pages-api/posts).
- ``POST /{page}/photos``: multipart ``source`` upload; ``published=false`` returns only the photo
  id, otherwise a photo post is created (https://developers.facebook.com/docs/graph-api/reference/page/photos/).
- ``GET /{post-id}``, ``GET /?ids=a,b`` (at most 50 ids), ``GET /{page}/feed`` (newest first,
  ``since``/``until``/``limit`` and cursor paging), ``GET /me``, ``GET /{page-id}``,
  ``DELETE /{post-id}``.
- listening: ``GET /{page}/tagged`` and ``GET /{page}/visitor_posts`` (newest first, ``since``,
  ``limit`` ≤ 100, stable ``after`` cursors; code 10 for a Page in ``listen_denied``),
  ``GET /{post-id}/comments`` and the ``comments.order(reverse_chronological).limit(N)`` field on
  feed reads. The public's posts come from :meth:`FacebookEmulator.inject_public` (tests,
  ``POST /_sandbox/public/facebook``) and from the live public of channels/sandbox/public.py.

Errors use Graph's JSON error object (always ``application/json``, which facebook-sdk needs to
raise ``GraphAPIError``) with the codes of
https://developers.facebook.com/docs/graph-api/guides/error-handling.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import json
import re
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode

from channels.sandbox.core import Emulator, Request, Response, json_response
from channels.sandbox.public import ANSWER_TEXTS, KINDS, LivePublic

VERSION_PREFIX = re.compile(r"^/(v\d+\.\d+)/")
MAX_MESSAGE = 63_206
MAX_IDS = 50  # documented maximum for ?ids= lookups
MAX_ATTACHED = 10
MAX_PHOTO_BYTES = 4 * 1024 * 1024
DUPLICATE_WINDOW = 24 * 3600.0  # Meta does not publish the window; a day is what users report
#: Pages BUC budget: 4800 calls x engaged users per 24 h; the sandbox pretends 100 engaged users.
BUC_CAPACITY = 4800 * 100
REGAIN_MINUTES = 5  # what the sandbox's rate-limit answer tells clients to wait

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def _time_str(epoch: float) -> str:
    # Graph's own format, e.g. 2025-10-08T14:03:00+0000
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _parse_time(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


PUBLIC_EDGES = ("tagged", "visitor_posts")


def _encode_key(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]!r}|{key[1]}".encode()).decode()


def _decode_key(cursor: str) -> tuple[float, str] | None:
    try:
        created, object_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(created), object_id
    except ValueError:
        return None


class GraphError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 400,
        subcode: int | None = None,
        type_: str = "OAuthException",
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.subcode, self.type, self.transient = subcode, type_, transient


class FacebookEmulator(Emulator):
    platform = "facebook"
    prefixes = ("/v",)  # narrowed by owns(): only /vNN.N/ paths

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.auto_public = False  # the demo's live public (channels/sandbox/public.py)
        self.reset()

    def owns(self, path: str) -> bool:
        return VERSION_PREFIX.match(path) is not None

    def reset(self) -> None:
        with self.sandbox.lock:
            self._posts: dict[str, dict[str, Any]] = {}
            self._photos: dict[str, dict[str, Any]] = {}
            self._feeds: dict[
                str, list[tuple[float, str]]
            ] = {}  # page -> [(created, id)] ascending
            self._recent: dict[tuple[str, str], float] = {}  # (page, message) -> created
            self._usage: dict[str, tuple[int, int]] = {}  # page -> (day bucket, calls)
            self._token_pages: dict[str, str] = {}
            # the public: page -> edge ("tagged", "visitor_posts") -> [(created, id)] ascending
            self._public: dict[str, dict[str, list[tuple[float, str]]]] = {}
            self._comments: dict[str, list[tuple[float, str]]] = {}  # post -> comments, ascending
            self._comment_bodies: dict[str, dict[str, Any]] = {}
            self.listen_denied: set[str] = set()  # pages without pages_read_user_content
            self.new_pages: set[str] = set()  # New Pages Experience: no /visitor_posts
            self.last_public = 0.0
            self.live = LivePublic(self)

    # -- errors in Graph's shape ------------------------------------------------------------------

    def _error(self, err: GraphError, headers: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {
            "message": err.message,
            "type": err.type,
            "code": err.code,
            "fbtrace_id": f"Sbx{self.sandbox.next_id():08d}",
        }
        if err.subcode is not None:
            body["error_subcode"] = err.subcode
        if err.transient:
            body["is_transient"] = True
        return json_response({"error": body}, err.status, **(headers or {}))

    def rate_limited(self, req: Request) -> Response:
        # Page access tokens fall under Business Use Case limits; Graph answers 400 with a
        # throttling code and the usage headers, never 429
        # (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/).
        page = self._page_of(req) or "0"
        usage = {"call_count": 100, "total_cputime": 40, "total_time": 60}
        buc = {
            page: [{"type": "pages", **usage, "estimated_time_to_regain_access": REGAIN_MINUTES}]
        }
        return self._error(
            GraphError(32, "(#32) Page request limit reached", transient=True),
            {"X-Business-Use-Case-Usage": json.dumps(buc), "X-Page-Usage": json.dumps(usage)},
        )

    def bad_token(self, req: Request) -> Response:
        message = (
            "Error validating access token: The session has been invalidated because the user "
            "changed their password or Facebook has changed the session for security reasons."
        )
        return self._error(
            GraphError(190, message, subcode=460),
            {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'},
        )

    # -- dispatch ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        match = VERSION_PREFIX.match(req.path)
        assert match is not None
        version, rest = match.group(1), req.path[match.end() :].strip("/")
        fields, files = self._fields(req)
        token = fields.get("access_token") or req.bearer()
        if not token:
            return self._error(
                GraphError(104, "An access token is required to request this resource.")
            )
        if token in self.sandbox.revoked:
            return self.bad_token(req)
        parts = rest.split("/") if rest else []
        route: Callable[[], Any]
        if req.method == "GET" and not parts:
            route = partial(self._read_many, fields)
        elif req.method == "GET" and parts == ["me"]:
            route = partial(self._me, token)
        elif req.method == "GET" and len(parts) == 1:
            route = partial(self._read_one, parts[0], fields)
        elif req.method == "DELETE" and len(parts) == 1:
            route = partial(self._delete, parts[0])
        elif len(parts) == 2 and req.method == "POST" and parts[1] == "feed":
            route = partial(self._create_post, parts[0], token, fields)
        elif len(parts) == 2 and req.method == "POST" and parts[1] == "photos":
            route = partial(self._upload_photo, parts[0], token, fields, files)
        elif len(parts) == 2 and req.method == "GET" and parts[1] in PUBLIC_EDGES:
            route = partial(self._read_public, version, parts[0], parts[1], fields)
        elif len(parts) == 2 and req.method == "POST" and parts[1] == "comments":
            route = partial(self._comment_on, parts[0], token, fields)
        elif len(parts) == 1 and req.method == "POST":
            route = partial(self._update, parts[0], fields)
        elif len(parts) == 2 and req.method == "GET" and parts[1] == "comments":
            route = partial(self._read_comments, version, parts[0], fields)
        elif (
            len(parts) == 2
            and req.method == "GET"
            and parts[1] in ("feed", "posts", "published_posts")
        ):
            route = partial(self._read_feed, version, parts[0], parts[1], token, fields)
        else:
            return self._error(
                GraphError(100, f"Unsupported {req.method.lower()} request.", subcode=33)
            )
        try:
            with self.sandbox.lock:
                body = route()
                headers = self._usage_headers(self._page_of(req))
        except GraphError as err:
            return self._error(err)
        return json_response(body, 200, **headers)

    @staticmethod
    def _fields(req: Request) -> tuple[dict[str, str], dict[str, Any]]:
        merged = {k: v[0] for k, v in req.query.items() if v}
        files: dict[str, Any] = {}
        if req.body:
            form, files = req.form()
            merged.update({k: v[0] for k, v in form.items() if v})
        return merged, files

    def _page_of(self, req: Request) -> str | None:
        match = VERSION_PREFIX.match(req.path)
        rest = req.path[match.end() :] if match else req.path
        first = rest.split("/")[0] or (req.arg("ids") or "").split(",")[0]
        return first.split("_")[0] if first and first != "me" else None

    def _usage_headers(self, page: str | None) -> dict[str, str]:
        if page is None:
            return {}
        day = int(self.sandbox.now() // 86400)
        bucket, calls = self._usage.get(page, (day, 0))
        calls = calls + 1 if bucket == day else 1
        self._usage[page] = (day, calls)
        pct = min(100, calls * 100 // BUC_CAPACITY)
        entry = {
            "type": "pages",
            "call_count": pct,
            "total_cputime": pct // 2,
            "total_time": pct // 2,
            "estimated_time_to_regain_access": 0,
        }
        return {"X-Business-Use-Case-Usage": json.dumps({page: [entry]})}

    # -- writes -----------------------------------------------------------------------------------

    def _bind(self, token: str, page: str) -> None:
        self._token_pages[token] = page

    def _new_post(self, page: str, message: str, **extra: Any) -> dict[str, Any]:
        n = self.sandbox.next_id()
        post = {
            "id": f"{page}_{n}",
            "page_id": page,
            "n": n,
            "message": message,
            "created": self.sandbox.now(),
            "link": None,
            "photos": [],
            **extra,
        }
        self._posts[post["id"]] = post
        self._feeds.setdefault(page, []).append((post["created"], post["id"]))
        return post

    def _check_message(self, message: str) -> None:
        if len(message) > MAX_MESSAGE:
            raise GraphError(
                100, f"(#100) Param message must be at most {MAX_MESSAGE} characters long."
            )

    def _create_post(self, page: str, token: str, fields: dict[str, str]) -> dict[str, Any]:
        self._bind(token, page)
        message, link = fields.get("message", ""), fields.get("link")
        self._check_message(message)
        media_ids = []
        for i in range(len(fields)):
            raw = fields.get(f"attached_media[{i}]")
            if raw is None:
                break
            try:
                media_ids.append(str(json.loads(raw)["media_fbid"]))
            except (ValueError, KeyError, TypeError):
                raise GraphError(
                    100, f"(#100) param attached_media[{i}] must be an object with media_fbid"
                ) from None
        if len(media_ids) > MAX_ATTACHED:
            raise GraphError(100, f"(#100) At most {MAX_ATTACHED} attached_media are allowed.")
        for i, media_id in enumerate(media_ids):
            photo = self._photos.get(media_id)
            if photo is None or photo["page_id"] != page or photo["post_id"] is not None:
                raise GraphError(
                    100,
                    f"(#100) param attached_media[{i}] must be a valid unpublished photo of this Page.",
                )
        if not message.strip() and not link and not media_ids:
            raise GraphError(100, "(#100) Missing message or attachment.")
        if link and media_ids:
            raise GraphError(100, "(#100) A post cannot have both a link and attached_media.")
        now = self.sandbox.now()
        if message.strip():
            seen = self._recent.get((page, message))
            if seen is not None and now - seen < DUPLICATE_WINDOW:
                raise GraphError(506, "(#506) Duplicate status message")
            self._recent[(page, message)] = now
        post = self._new_post(page, message, link=link)
        for media_id in media_ids:
            self._photos[media_id]["post_id"] = post["id"]
            post["photos"].append(media_id)
        return {"id": post["id"]}

    def _upload_photo(
        self, page: str, token: str, fields: dict[str, str], files: dict[str, Any]
    ) -> dict[str, Any]:
        self._bind(token, page)
        source = files.get("source")
        if source is None:
            raise GraphError(324, "(#324) Requires upload file")
        mime = next((m for magic, m in _MAGIC if source.data.startswith(magic)), None)
        if mime is None:
            raise GraphError(324, "(#324) Missing or invalid image file")
        if len(source.data) > MAX_PHOTO_BYTES:
            raise GraphError(100, "(#100) The photo is larger than the 4 MB limit.")
        message = fields.get("message") or fields.get("caption") or ""
        self._check_message(message)
        photo_id = str(self.sandbox.next_id())
        photo = {
            "id": photo_id,
            "page_id": page,
            "mime": mime,
            "size": len(source.data),
            "alt": fields.get("alt_text_custom"),
            "post_id": None,
        }
        self._photos[photo_id] = photo
        if fields.get("published", "true").lower() in ("false", "0"):
            return {"id": photo_id}
        post = self._new_post(page, message, photos=[photo_id])
        photo["post_id"] = post["id"]
        return {"id": photo_id, "post_id": post["id"]}

    def _delete(self, object_id: str) -> dict[str, Any]:
        """``DELETE /{post-or-comment-id}``: a comment leaves its post's (or comment's) list; a
        post takes its comments with it, as on Facebook."""
        if object_id in self._comment_bodies:
            body = self._comment_bodies.pop(object_id)
            under = str(body.get("parent") or body.get("post") or "")
            self._comments[under] = [c for c in self._comments.get(under, []) if c[1] != object_id]
            return {"success": True}
        post = self._post(object_id)
        del self._posts[object_id]
        feed = self._feeds[post["page_id"]]
        feed.remove((post["created"], object_id))
        for _, comment_id in self._comments.pop(object_id, []):
            self._comment_bodies.pop(comment_id, None)
        return {"success": True}

    # -- reads ------------------------------------------------------------------------------------

    def _post(self, object_id: str) -> dict[str, Any]:
        post = self._posts.get(object_id)
        if post is None:
            raise GraphError(
                100,
                f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                subcode=33,
                type_="GraphMethodException",
            )
        return post

    def _render(self, post: dict[str, Any], fields: str | None) -> dict[str, Any]:
        wanted = fields or "id,message,created_time"
        out: dict[str, Any] = {"id": post["id"]}
        if "created_time" in wanted:
            out["created_time"] = _time_str(post["created"])
        if re.search(r"(^|,)message", wanted) and post["message"]:
            out["message"] = post["message"]  # Graph omits an empty message
        if "permalink_url" in wanted:
            out["permalink_url"] = f"https://www.facebook.com/{post['page_id']}/posts/{post['n']}"
        if any(f in wanted for f in ("shares", "reactions", "comments")):
            figures = self.sandbox.metrics_for(self.platform, post["id"], post["created"])
            if "shares" in wanted and figures["shares"] > 0:
                out["shares"] = {"count": figures["shares"]}  # absent when nobody shared
            if "reactions" in wanted:
                out["reactions"] = {
                    "data": [],
                    "summary": {"total_count": figures["likes"], "viewer_reaction": "NONE"},
                }
            if "comments" in wanted:
                out["comments"] = self._comments_field(post, wanted, figures["replies"])
        if "parent_id" in wanted and post.get("parent_id"):
            out["parent_id"] = post["parent_id"]
        if "attachments" in wanted and post.get("public_photo"):
            out["attachments"] = {"data": [{"media_type": "photo", "type": "photo"}]}
        if re.search(r"(^|,)from", wanted) and post.get("from"):
            out["from"] = dict(post["from"])
        return out

    def _comments_field(self, post: dict[str, Any], wanted: str, replies: int) -> dict[str, Any]:
        """``comments.order(reverse_chronological).limit(N).summary(true){id,created_time}``:
        the newest N comments, a next link when there are more, the summary."""
        spec = re.search(r"comments((?:\.\w+\([^)]*\))*)", wanted)
        limit_match = re.search(r"\.limit\((\d+)\)", spec.group(1) if spec else "")
        limit = min(100, int(limit_match.group(1))) if limit_match else 25
        stored = self._comments.get(post["id"], [])
        sub = re.search(r"comments(?:\.\w+\([^)]*\))*\{([^}]*)\}", wanted)
        field: dict[str, Any] = {"data": []}
        if limit and stored:
            field = self._comment_page(post["id"], stored, limit, None, "v24.0", sub.group(1) if sub else "")
        field["summary"] = {
            "order": "chronological" if "reverse" not in wanted else "reverse_chronological",
            "total_count": replies + len(stored),
            "can_comment": True,
        }
        return field

    def _comment_page(
        self,
        post_id: str,
        stored: list[tuple[float, str]],
        limit: int,
        after: str | None,
        version: str,
        wanted: str = "",
    ) -> dict[str, Any]:
        high = _decode_key(after) if after else None
        hi = bisect.bisect_left(stored, high) if high else len(stored)
        chunk = stored[max(0, hi - limit) : hi][::-1]
        data = [self._comment_json(cid, created, wanted) for created, cid in chunk]
        body: dict[str, Any] = {"data": data}
        if chunk:
            last = _encode_key(chunk[-1])
            body["paging"] = {"cursors": {"before": _encode_key(chunk[0]), "after": last}}
            if hi - limit > 0:
                query = urlencode({"limit": limit, "after": last, "order": "reverse_chronological"})
                body["paging"]["next"] = (
                    f"https://graph.facebook.com/{version}/{post_id}/comments?{query}"
                )
        return body

    def _comment_json(self, comment_id: str, created: float, wanted: str) -> dict[str, Any]:
        """A comment as Graph gives it: id and time, and what ``{...}`` asks for (message,
        from (the Page's token holds the MODERATE task), permalink_url, is_hidden, parent)."""
        out: dict[str, Any] = {"id": comment_id, "created_time": _time_str(created)}
        body = self._comment_bodies.get(comment_id) or {}
        asked = {f.strip() for f in wanted.split(",") if f.strip()}
        if "message" in asked:
            out["message"] = body.get("message", "")
        if "from" in asked and body.get("from"):
            out["from"] = dict(body["from"])
        if "permalink_url" in asked:
            out["permalink_url"] = f"https://www.facebook.com/{comment_id}"
        if "is_hidden" in asked:
            out["is_hidden"] = bool(body.get("hidden"))
        if "parent" in asked and body.get("parent"):
            out["parent"] = {"id": body["parent"]}
        return out

    def _comment_on(self, object_id: str, token: str, fields: dict[str, str]) -> dict[str, Any]:
        """``POST /{post-or-comment-id}/comments message=``: a comment as the Page (a reply in a
        comment's thread when the object is a comment)."""
        message = fields.get("message", "")
        if not message.strip():
            raise GraphError(100, "(#100) Missing message or attachment")
        self._check_message(message)
        parent = self._comment_bodies.get(object_id)
        post_id = parent["post"] if parent else self._post(object_id)["id"]
        page = self._token_pages.get(token) or self._posts[post_id]["page_id"]
        self._bind(token, page)
        comment_id = f"{self._posts[post_id]['n']}_{self.sandbox.next_id()}"
        created = max(self.sandbox.now(), self.last_public + 0.1)
        self.last_public = created
        self._comment_bodies[comment_id] = {"message": message, "from": {"id": page, "name": f"Page sandbox {page}"},
                                            "post": post_id, "parent": object_id if parent else None}
        # a reply in a comment's thread is listed under that comment (GET /{comment-id}/comments)
        bisect.insort(self._comments.setdefault(object_id if parent else post_id, []), (created, comment_id))
        return {"id": comment_id}

    def _update(self, object_id: str, fields: dict[str, str]) -> dict[str, Any]:
        """``POST /{comment-id}?is_hidden=true|false``: only a comment on one of the Page's posts."""
        body = self._comment_bodies.get(object_id)
        if body is None or "is_hidden" not in fields:
            raise GraphError(100, f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot "
                             "be loaded due to missing permissions, or does not support this operation.", subcode=33,
                             type_="GraphMethodException")
        if (body.get("from") or {}).get("id") == self._posts.get(body.get("post") or "", {}).get("page_id"):
            raise GraphError(100, "(#100) The Page's own comments cannot be hidden")
        body["hidden"] = fields["is_hidden"].lower() == "true"
        return {"success": True}

    def comments(self) -> dict[str, dict[str, Any]]:
        """Every comment by id: message, author, the post it is under, its parent comment, hidden."""
        with self.sandbox.lock:
            return {cid: {"message": b.get("message", ""), "from": dict(b.get("from") or {}), "post": b.get("post"),
                          "parent": b.get("parent"), "hidden": bool(b.get("hidden"))}
                    for cid, b in self._comment_bodies.items()}

    def _read_one(self, object_id: str, fields: dict[str, str]) -> dict[str, Any]:
        if "_" in object_id:
            return self._render(self._post(object_id), fields.get("fields"))
        if object_id in self._photos:
            photo = self._photos[object_id]
            return {"id": photo["id"], "alt_text_custom": photo["alt"]}
        return {"id": object_id, "name": f"Page sandbox {object_id}"}

    def _read_many(self, fields: dict[str, str]) -> dict[str, Any]:
        ids = [i for i in (fields.get("ids") or "").split(",") if i]
        if not ids:
            raise GraphError(100, "(#100) The parameter ids is required")
        if len(ids) > MAX_IDS:
            raise GraphError(100, f"(#100) Too many IDs. Maximum: {MAX_IDS}.")
        missing = [i for i in ids if i not in self._posts]
        if missing:
            # Graph fails the whole lookup when one alias is unknown (code 803).
            raise GraphError(
                803, f"(#803) Some of the aliases you requested do not exist: {','.join(missing)}"
            )
        return {i: self._render(self._posts[i], fields.get("fields")) for i in ids}

    def _me(self, token: str) -> dict[str, Any]:
        page = self._token_pages.get(token) or str(1_000_000 + sum(token.encode()) % 1_000_000)
        return {"id": page, "name": f"Page sandbox {page}"}

    def _read_feed(
        self, version: str, page: str, edge: str, token: str, fields: dict[str, str]
    ) -> dict[str, Any]:
        self._bind(token, page)
        feed = self._feeds.get(page, [])
        try:
            limit = max(1, min(100, int(fields.get("limit", "25"))))
        except ValueError:
            raise GraphError(100, "(#100) Param limit must be an integer") from None
        since = _parse_time(fields["since"]) if "since" in fields else None
        until = _parse_time(fields["until"]) if "until" in fields else None
        lo = bisect.bisect_left(feed, (since, "")) if since is not None else 0
        hi = bisect.bisect_right(feed, (until, "\uffff")) if until is not None else len(feed)
        # the cursor is the position (from the newest end) of the next post to give
        start = int(fields.get("after", "0") or 0)
        window = feed[lo:hi][::-1]
        chunk = window[start : start + limit]
        data = [self._render(self._posts[pid], fields.get("fields")) for _, pid in chunk]
        body: dict[str, Any] = {"data": data}
        if chunk:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
            if start + len(chunk) < len(window):
                query = {k: v for k, v in fields.items() if k != "after"}
                query["after"] = str(start + len(chunk))
                body["paging"]["next"] = (
                    f"https://graph.facebook.com/{version}/{page}/{edge}?{urlencode(query)}"
                )
        return body

    # -- the public and listening ----------------------------------------------------------------

    def inject_public(
        self,
        term: str | None = None,
        n: int = 1,
        *,
        hashtag: bool = True,
        kinds: tuple[str, ...] | list[str] = ("original",),
        answers: str | None = None,
        spread: float = 0.0,
        page: str | None = None,
        edge: str = "tagged",
        texts: tuple[str, ...] | list[str] = (),
    ) -> list[str]:
        """The simulated public, deterministically. Kinds in turn from ``kinds``: ``original`` and
        ``photo`` are posts on the Page's ``edge`` (tagged or visitor_posts) carrying ``#term`` (or
        the keyword); ``quote``/``repost`` are shares of the post ``answers`` (with or without a
        message) tagging the Page; ``reply`` is a comment on ``answers``. Times spread over the last
        ``spread`` seconds, after every public post already made. ``texts``, when given, are the
        comments' words in turn (a question, thanks, an abusive reply). Returns the ids made."""
        n = max(0, min(int(n), 200_000))
        made: list[str] = []
        with self.sandbox.lock:
            now = self.sandbox.now()
            target = self._posts.get(answers) if answers else None
            page = page or (target["page_id"] if target else None) or next(iter(self._feeds), None)
            if page is None:
                raise ValueError("inject_public needs a page (or a post of a page)")
            for i in range(n):
                kind = kinds[i % len(kinds)]
                # after every public post already made, at most 10 a second (Graph times are
                # in whole seconds)
                created = max(now - spread * (n - 1 - i) / max(1, n), self.last_public + 0.1)
                self.last_public = created
                number = self.sandbox.next_id()
                author = {
                    "id": str(7_000_000 + i % 97),
                    "name": f"Soutien {self.sandbox.seed}-{i % 97}",
                }
                words = f"#{term}" if term and hashtag else (term or "")
                message = f"Solidarité {words} ({i})".strip()
                if kind == "reply":
                    if target is None:
                        raise ValueError("a reply needs the post it answers")
                    comment_id = f"{target['n']}_{number}"
                    bisect.insort(
                        self._comments.setdefault(target["id"], []), (created, comment_id)
                    )
                    self._comment_bodies[comment_id] = {"message": texts[i % len(texts)] if texts else message,
                                                        "from": author, "post": target["id"]}
                    made.append(comment_id)
                    continue
                # a visitor post lives on the Page, a tagging post on its author's timeline
                owner = page if edge == "visitor_posts" else author["id"]
                post_id = f"{owner}_{number}"
                post: dict[str, Any] = {
                    "id": post_id,
                    "page_id": page,
                    "n": number,
                    "message": "" if kind == "repost" else message,
                    "created": created,
                    "link": None,
                    "photos": [],
                    "public_photo": kind == "photo",
                    "parent_id": target["id"] if target and kind in ("quote", "repost") else None,
                    "from": author,
                }
                self._posts[post_id] = post
                edges = self._public.setdefault(page, {})
                bisect.insort(edges.setdefault(edge, []), (created, post_id))
                made.append(post_id)
        return made

    def _grow(self, page: str, edge: str) -> None:
        """The live public (see channels.sandbox.public): on /tagged, posts with the hashtags of
        the Page's latest post and shares of it; on /visitor_posts, the same on the Page; and
        comments on that post, since the edge was last read."""
        n, spread = self.live.due(f"{page}/{edge}")
        feed = self._feeds.get(page, [])
        if not n or not feed:
            return
        latest = self._posts[feed[-1][1]]
        tags = re.findall(r"(?<![\w&])#(\w+)", latest["message"] or "")
        if tags:
            self.inject_public(
                tags[0], n, kinds=KINDS, answers=latest["id"], spread=spread, page=page, edge=edge
            )
        elif edge == "tagged":
            self.inject_public(None, n, kinds=("reply",), answers=latest["id"], spread=spread, texts=ANSWER_TEXTS)

    def _read_public(
        self, version: str, page: str, edge: str, fields: dict[str, str]
    ) -> dict[str, Any]:
        """``/{page}/tagged`` and ``/{page}/visitor_posts``: newest first, ``since`` (inclusive) /
        ``until``, ``limit`` ≤ 100, cursors stable as posts arrive. Needs the Page's
        pages_read_user_content permission; ``from`` only when asked (Graph hides it for people)."""
        if page in self.listen_denied:
            raise GraphError(
                10,
                f"(#10) This endpoint requires the 'pages_read_user_content' permission to read "
                f"/{edge} of the Page.",
                type_="OAuthException",
            )
        if edge == "visitor_posts" and page in self.new_pages:
            # https://developers.facebook.com/docs/graph-api/reference/page/visitor_posts/:
            # "not supported for New Pages Experience"
            raise GraphError(
                100,
                "(#100) Tried accessing nonexisting field (visitor_posts) on node type (Page)",
                type_="OAuthException",
            )
        self._grow(page, edge)
        stored = self._public.get(page, {}).get(edge, [])
        try:
            limit = max(1, min(100, int(fields.get("limit", "25"))))
        except ValueError:
            raise GraphError(100, "(#100) Param limit must be an integer") from None
        since = _parse_time(fields["since"]) if "since" in fields else None
        until = _parse_time(fields["until"]) if "until" in fields else None
        lo = bisect.bisect_left(stored, (since, "")) if since is not None else 0
        hi = bisect.bisect_left(stored, (until, "")) if until is not None else len(stored)
        if fields.get("after"):
            key = _decode_key(fields["after"])
            if key is None:
                raise GraphError(100, "(#100) The after cursor is not valid")
            hi = min(hi, bisect.bisect_left(stored, key))
        chunk = stored[max(lo, hi - limit) : hi][::-1]
        data = [self._render(self._posts[pid], fields.get("fields")) for _, pid in chunk]
        body: dict[str, Any] = {"data": data}
        if chunk:
            last = _encode_key(chunk[-1])
            body["paging"] = {"cursors": {"before": _encode_key(chunk[0]), "after": last}}
            if hi - limit > lo:
                query = {k: v for k, v in fields.items() if k not in ("after", "access_token")}
                query["after"] = last
                body["paging"]["next"] = (
                    f"https://graph.facebook.com/{version}/{page}/{edge}?{urlencode(query)}"
                )
        return body

    def _read_comments(self, version: str, post_id: str, fields: dict[str, str]) -> dict[str, Any]:
        if post_id not in self._comment_bodies:  # a post's comments, or a comment's replies
            self._post(post_id)
        try:
            limit = max(1, min(100, int(fields.get("limit", "25"))))
        except ValueError:
            raise GraphError(100, "(#100) Param limit must be an integer") from None
        stored = self._comments.get(post_id, [])
        return self._comment_page(post_id, stored, limit, fields.get("after"), version, fields.get("fields", ""))

    # -- inspection -------------------------------------------------------------------------------

    def posts(self) -> list[dict[str, Any]]:
        with self.sandbox.lock:
            return [
                {
                    "id": p["id"],
                    "text": p["message"],
                    "created": p["created"],
                    "page_id": p["page_id"],
                    "link": p["link"],
                    "photos": list(p["photos"]),
                    "alts": [self._photos[m]["alt"] for m in p["photos"]],
                    "url": f"https://www.facebook.com/{p['page_id']}/posts/{p['n']}",
                    "comments": [
                        {"id": cid, "text": self._comment_bodies.get(cid, {}).get("message", ""),
                         "from": (self._comment_bodies.get(cid, {}).get("from") or {}).get("id")}
                        for _, cid in self._comments.get(p["id"], [])
                    ],
                }
                for p in self._posts.values()
            ]
