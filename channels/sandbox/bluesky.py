"""A Bluesky PDS + AppView, close enough that the unchanged ``atproto`` client talks to it.

Served under ``/xrpc/``. Wire formats follow the lexicons (github.com/bluesky-social/atproto,
``lexicons/``) and the reference PDS:

- sessions: ``com.atproto.server.createSession`` / ``refreshSession`` / ``getSession``. Tokens are
  unsigned but parseable JWTs (the client decodes ``exp`` to decide when to refresh, and refreshes
  15 min before it). No ``didDoc`` is returned, so the client stays on the sandbox URL.
- records: ``com.atproto.repo.createRecord`` / ``getRecord`` / ``deleteRecord`` / ``uploadBlob``,
  validating ``app.bsky.feed.post`` as the PDS does (300 graphemes, 3000 bytes, ≤ 4 images with
  alt, blobs ≤ 1,000,000 bytes; a link card's thumb likewise).
- views: ``app.bsky.feed.getPosts`` (≤ 25 URIs), ``app.bsky.feed.getAuthorFeed``,
  ``app.bsky.actor.getProfile``, with engagement from ``sandbox.metrics_for``.
- listening: ``app.bsky.feed.searchPosts`` (``q``, ``tag``, ``sort=latest``, ``since``/``until``,
  ``limit`` ≤ 100, cursor) and ``app.bsky.notification.listNotifications`` (``reasons``, ``limit``,
  cursor); ``search_unavailable`` answers 501 as a PDS without search. The public's posts come from
  :meth:`BlueskyEmulator.inject_public` (tests, ``POST /_sandbox/public/bluesky``) and from the live
  public of channels/sandbox/public.py (demo).

Tokens are checked against the real clock (``time.time()``), not the sandbox clock: the client
decides when to refresh from the real clock, so advancing the sandbox clock must not expire them.
"""

from __future__ import annotations

import base64
import bisect
import dataclasses
import datetime as dt
import hashlib
import json
import time
from typing import Any

import regex

from channels.sandbox.core import Emulator, Request, Response, json_response
from channels.sandbox.public import ANSWER_KINDS, ANSWER_TEXTS, KINDS, MENTION_EVERY, LivePublic

POST = "app.bsky.feed.post"
THREADGATE = "app.bsky.feed.threadgate"
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
TID_RE = regex.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")

# https://docs.bsky.app/docs/advanced-guides/rate-limits (policy header is "limit;w=window")
POLICIES = {
    "createSession": (30, 300),
    "createRecord": (5000, 3600),  # write points per DID per hour; a create costs 3
    "global": (3000, 300),  # per IP
}


def cid_for(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32, like the PDS returns: codec 0x55 raw (blobs), 0x71 dag-cbor."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def did_for(handle: str) -> str:
    """A stable did:plc per handle, so a session string survives an emulator reset."""
    digest = hashlib.sha256(handle.lower().encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def iso(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def make_jwt(claims: dict[str, Any]) -> str:
    return f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64(claims)}.c2FuZGJveA"


def read_jwt(token: str) -> dict[str, Any] | None:
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def xrpc_error(status: int, error: str, message: str, **headers: str) -> Response:
    return json_response({"error": error, "message": message}, status, **headers)


def invalid_post(detail: str) -> Response:
    # The PDS wraps lexicon errors this way (pds/src/repo/prepare.ts, assertValidRecord).
    return xrpc_error(400, "InvalidRequest", f"Invalid app.bsky.feed.post record: {detail}")


@dataclasses.dataclass
class StoredPost:
    uri: str
    cid: str
    did: str
    handle: str
    rkey: str
    record: dict[str, Any]
    created: float  # sandbox clock


class BlueskyEmulator(Emulator):
    platform = "bluesky"
    prefixes = ("/xrpc/",)

    max_graphemes = 300
    max_bytes = 3000
    max_images = 4
    max_image_bytes = 1_000_000  # lexicons/app/bsky/embed/images.json "maxSize"
    max_blob_bytes = 5 * 1024 * 1024  # PDS_BLOB_UPLOAD_LIMIT default of the reference PDS
    refused_passwords = frozenset({"wrong"})
    default_handle = "sandbox.bsky.social"

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.auto_public = False  # the demo's live public (channels/sandbox/public.py)
        self.reset()

    def reset(self) -> None:
        with self.sandbox.lock:
            self.records: dict[str, dict[str, StoredPost]] = {}  # did -> rkey -> post
            self.blobs: dict[str, dict[str, Any]] = {}  # cid -> {"mimeType", "size"}
            self.handles: dict[str, str] = {}  # did -> handle
            self.sessions_created = 0
            self.usage: dict[tuple[str, str, int], int] = {}  # (policy, who, window) -> points
            self.timeline: list[tuple[float, str]] = []  # (sort time, uri) of every post, sorted
            self.by_tag: dict[str, list[tuple[float, str]]] = {}  # lower-case tag -> same
            self.notifications: dict[str, list[dict[str, Any]]] = {}  # did -> oldest first
            self.gates: dict[tuple[str, str], dict[str, Any]] = {}  # (did, rkey) -> thread-gate
            self.last_public = 0.0  # time of the newest public post made
            self.search_unavailable = False  # True: answer searchPosts as a PDS without search
            self.live = LivePublic(self)

    # -- the platform's errors ---------------------------------------------------------------

    def _rate_headers(self, policy: str, used: int) -> dict[str, str]:
        limit, window = POLICIES[policy]
        start = int(self.sandbox.now()) // window * window
        return {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - used)),
            "RateLimit-Reset": str(start + window),
            "RateLimit-Policy": f"{limit};w={window}",
        }

    def _policy(self, req: Request) -> str:
        nsid = req.path.removeprefix("/xrpc/")
        return (
            nsid.rsplit(".", 1)[-1]
            if nsid.endswith((".createSession", ".createRecord"))
            else "global"
        )

    def rate_limited(self, req: Request) -> Response:
        policy = self._policy(req)
        return xrpc_error(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            **self._rate_headers(policy, POLICIES[policy][0]),
        )

    def bad_token(self, req: Request) -> Response:
        return xrpc_error(401, "InvalidToken", "Token could not be verified")

    def _count(self, policy: str, who: str, points: int = 1) -> dict[str, str]:
        limit, window = POLICIES[policy]
        key = (policy, who, int(self.sandbox.now()) // window)
        with self.sandbox.lock:
            self.usage[key] = self.usage.get(key, 0) + points
            return self._rate_headers(policy, self.usage[key])

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        nsid = req.path.removeprefix("/xrpc/").rstrip("/")
        handler = getattr(self, "x_" + nsid.replace(".", "_"), None)
        if handler is None:
            return xrpc_error(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")
        resp: Response = handler(req)
        if resp.status < 400 and not any(h.lower() == "ratelimit-limit" for h in resp.headers):
            resp.headers.update(self._count("global", "127.0.0.1"))
        return resp

    def _requester(self, req: Request, scope: str = "access") -> tuple[str, str] | Response:
        """(did, handle) of the token's owner, or the PDS's auth error."""
        token = req.bearer()
        if not token:
            return xrpc_error(401, "AuthenticationRequired", "Authentication Required")
        if token in self.sandbox.revoked:
            return self.bad_token(req)
        claims = read_jwt(token)
        if claims is None:  # an opaque sandbox token: accepted, as the sandbox convention says
            return did_for(self.default_handle), self.default_handle
        if claims.get("exp") and claims["exp"] < time.time():
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        is_refresh = claims.get("scope") == "com.atproto.refresh"
        if is_refresh != (scope == "refresh"):
            return xrpc_error(400, "InvalidToken", "Bad token scope")
        did = str(claims.get("sub") or did_for(self.default_handle))
        handle = str(claims.get("handle") or self.handles.get(did) or self.default_handle)
        return did, handle

    def _session(self, did: str, handle: str) -> dict[str, Any]:
        now = int(time.time())
        with self.sandbox.lock:
            self.handles[did] = handle
            serial = self.sandbox.next_id()
        common = {"sub": did, "handle": handle, "aud": "did:web:sandbox.invalid", "iat": now}
        return {
            "did": did,
            "handle": handle,
            "active": True,
            "accessJwt": make_jwt(
                {**common, "scope": "com.atproto.appPass", "exp": now + 7200, "jti": f"a{serial}"}
            ),
            "refreshJwt": make_jwt(
                {
                    **common,
                    "scope": "com.atproto.refresh",
                    "exp": now + 90 * 86400,
                    "jti": f"r{serial}",
                }
            ),
        }

    def _handle_of(self, actor: str) -> tuple[str, str]:
        if actor.startswith("did:"):
            return actor, self.handles.get(actor, self.default_handle)
        return did_for(actor), actor

    # -- com.atproto.server -------------------------------------------------------------------

    def x_com_atproto_server_createSession(self, req: Request) -> Response:
        body = req.json()
        identifier = str(body.get("identifier") or "")
        password = str(body.get("password") or "")
        if (
            not identifier
            or not password
            or password in self.refused_passwords
            or password in self.sandbox.revoked
            or identifier in self.sandbox.revoked
        ):
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        if identifier.startswith("did:"):
            did, handle = self._handle_of(identifier)
        else:
            handle = identifier.split("@")[0] + ".bsky.social" if "@" in identifier else identifier
            did = did_for(handle)
        with self.sandbox.lock:
            self.sessions_created += 1
        headers = self._count("createSession", handle)
        return Response(body=self._session(did, handle), headers=headers)

    def x_com_atproto_server_refreshSession(self, req: Request) -> Response:
        who = self._requester(req, scope="refresh")
        if isinstance(who, Response):
            return who
        return json_response(self._session(*who))

    def x_com_atproto_server_getSession(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        return json_response({"did": who[0], "handle": who[1], "active": True})

    # -- app.bsky.actor -----------------------------------------------------------------------

    def x_app_bsky_actor_getProfile(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        did, handle = self._handle_of(req.arg("actor") or who[1])
        with self.sandbox.lock:
            count = len(self.records.get(did, {}))
        return json_response(
            {"did": did, "handle": handle, "displayName": handle.split(".")[0], "postsCount": count}
        )

    # -- com.atproto.repo ---------------------------------------------------------------------

    def x_com_atproto_repo_uploadBlob(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        if len(req.body) > self.max_blob_bytes:
            return xrpc_error(413, "PayloadTooLarge", "request entity too large")
        mime = req.headers.get("content-type", "").split(";")[0].strip()
        if not mime or "*" in mime:
            mime = sniff_mime(req.body)
        cid = cid_for(req.body, 0x55)
        with self.sandbox.lock:
            self.blobs[cid] = {"mimeType": mime, "size": len(req.body)}
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(req.body)}
        return json_response({"blob": blob})

    def x_com_atproto_repo_createRecord(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        did, handle = who
        body = req.json()
        if body.get("repo") not in (did, handle):
            return xrpc_error(401, "AuthenticationRequired", "Input/repo must be the requester")
        if body.get("collection") != POST:
            return xrpc_error(400, "InvalidRequest", "The sandbox only keeps app.bsky.feed.post")
        record = body.get("record")
        if not isinstance(record, dict):
            return invalid_post("Record must be an object")
        rkey = str(body.get("rkey") or self._next_tid())
        if not TID_RE.match(rkey):  # the post lexicon says "key": "tid"
            return xrpc_error(400, "InvalidRequest", f"Invalid record key for {POST}: {rkey}")
        problem = self._check_post(record)
        if problem is not None:
            return problem
        record = {**record, "$type": POST}
        uri = f"at://{did}/{POST}/{rkey}"
        cid = cid_for(json.dumps(record, sort_keys=True).encode(), 0x71)
        with self.sandbox.lock:
            reply = record.get("reply")
            if reply is not None:
                parent = self._post_at(str((reply.get("parent") or {}).get("uri") or ""))
                if parent is None or parent.cid != (reply.get("parent") or {}).get("cid"):
                    return invalid_post("Record/reply/parent must be a strong ref to an existing post")
            repo = self.records.setdefault(did, {})
            if rkey in repo:
                # The reference PDS has no "exists" check: the MST insert throws "There is already
                # a value at key" (packages/repo/src/mst/mst.ts) and xrpc-server answers a bare 500.
                return xrpc_error(500, "InternalServerError", "Internal Server Error")
            repo[rkey] = StoredPost(uri, cid, did, handle, rkey, record, self.sandbox.now())
            self.handles.setdefault(did, handle)
            self._index(repo[rkey])
        headers = self._count("createRecord", did, 3)
        commit = {"cid": cid_for(uri.encode(), 0x71), "rev": self._next_tid()}
        body = {"uri": uri, "cid": cid, "commit": commit, "validationStatus": "valid"}
        return Response(body=body, headers=headers)

    def x_com_atproto_repo_getRecord(self, req: Request) -> Response:
        did, _ = self._handle_of(req.arg("repo") or "")
        rkey = req.arg("rkey") or ""
        if req.arg("collection") == THREADGATE:
            with self.sandbox.lock:
                gate = self.gates.get((did, rkey))
            if gate is None:
                return xrpc_error(400, "RecordNotFound", f"Could not locate record: at://{did}/{THREADGATE}/{rkey}")
            return json_response({"uri": f"at://{did}/{THREADGATE}/{rkey}",
                                  "cid": cid_for(json.dumps(gate, sort_keys=True).encode(), 0x71), "value": gate})
        with self.sandbox.lock:
            post = self.records.get(did, {}).get(rkey) if req.arg("collection") == POST else None
        if post is None:
            uri = f"at://{did}/{req.arg('collection')}/{rkey}"
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return json_response({"uri": post.uri, "cid": post.cid, "value": post.record})

    def x_com_atproto_repo_putRecord(self, req: Request) -> Response:
        """Only thread-gates (``app.bsky.feed.threadgate``, rkey = the root post's): what hides
        replies (``hiddenReplies`` ≤ 300) and limits who may reply (``allow``)."""
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        did, _ = who
        body = req.json()
        if body.get("repo") not in who:
            return xrpc_error(401, "AuthenticationRequired", "Input/repo must be the requester")
        if body.get("collection") != THREADGATE:
            return xrpc_error(400, "InvalidRequest", "The sandbox only puts app.bsky.feed.threadgate")
        record = body.get("record") or {}
        rkey = str(body.get("rkey") or "")
        hidden = record.get("hiddenReplies") or []
        if not isinstance(hidden, list) or len(hidden) > 300:
            return invalid_post("Record/hiddenReplies must not have more than 300 elements")
        with self.sandbox.lock:
            root = self.records.get(did, {}).get(rkey)
            if root is None or record.get("post") != root.uri:
                return invalid_post("Record/post must be the post at the same rkey")
            self.gates[(did, rkey)] = {**record, "$type": THREADGATE}
        uri = f"at://{did}/{THREADGATE}/{rkey}"
        return json_response({"uri": uri, "cid": cid_for(json.dumps(record, sort_keys=True).encode(), 0x71)})

    def gate_of(self, post_uri: str) -> dict[str, Any] | None:
        """The thread-gate of one of the sandbox's posts (tests look at its hiddenReplies)."""
        parts = post_uri.removeprefix("at://").split("/")
        with self.sandbox.lock:
            gate = self.gates.get((parts[0], parts[-1]))
            return dict(gate) if gate else None

    def x_com_atproto_repo_deleteRecord(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        body = req.json()
        with self.sandbox.lock:
            self.records.get(who[0], {}).pop(str(body.get("rkey")), None)
        return json_response({})

    # -- app.bsky.feed ------------------------------------------------------------------------

    def x_app_bsky_feed_getPosts(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        uris = req.query.get("uris", [])
        if len(uris) > 25:
            return xrpc_error(
                400, "InvalidRequest", "Error: uris must not have more than 25 elements"
            )
        views = []
        with self.sandbox.lock:
            for uri in uris:
                parts = uri.removeprefix("at://").split("/")
                if len(parts) == 3 and parts[1] == POST:
                    post = self.records.get(parts[0], {}).get(parts[2])
                    if post is not None:  # the AppView leaves unknown or deleted posts out
                        views.append(self._view(post))
        return json_response({"posts": views})

    def x_app_bsky_feed_getAuthorFeed(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        did, _ = self._handle_of(req.arg("actor") or who[0])
        limit = min(100, max(1, int(req.arg("limit") or 50)))
        offset = int(req.arg("cursor") or 0)
        with self.sandbox.lock:
            posts = sorted(
                self.records.get(did, {}).values(), key=lambda p: p.created, reverse=True
            )
            page = [{"post": self._view(p)} for p in posts[offset : offset + limit]]
        body: dict[str, Any] = {"feed": page}
        if offset + limit < len(posts):
            body["cursor"] = str(offset + limit)
        return json_response(body)

    # -- the public and listening -------------------------------------------------------------

    def _index(self, post: StoredPost) -> None:
        """Make a post searchable (lock held): by time, and by each of its hashtags."""
        key = (post.created, post.uri)
        bisect.insort(self.timeline, key)
        for tag in post_tags(post.record):
            bisect.insort(self.by_tag.setdefault(tag.lower(), []), key)

    def _post_at(self, uri: str) -> StoredPost | None:
        parts = uri.removeprefix("at://").split("/")
        if len(parts) != 3 or parts[1] != POST:
            return None
        return self.records.get(parts[0], {}).get(parts[2])

    def inject_public(
        self,
        term: str | None = None,
        n: int = 1,
        *,
        hashtag: bool = True,
        kinds: tuple[str, ...] | list[str] = ("original",),
        answers: str | None = None,
        spread: float = 0.0,
        lag: float = 0.0,
        texts: tuple[str, ...] | list[str] = (),
    ) -> list[str]:
        """The simulated public posts ``n`` times, deterministically: kinds in turn from ``kinds``
        (original, photo, reply, quote, repost), with ``#term`` as a tag facet (or the keyword in
        the text), replies, quotes and reposts answering the post ``answers`` (an at:// URI of
        ours) with the notification its author gets. Times spread over the last ``spread``
        seconds, oldest first; ``lag`` seconds between a post's ``createdAt`` (its sort time) and its
        indexing, as when the AppView sees a post late. Returns the URIs made (a repost's is its
        repost record). ``mention`` as a kind is a post of its own naming the author of
        ``answers`` (a mention facet, and a "mention" notification); ``texts``, when given, are
        the posts' words in turn (a question, thanks, an abusive reply)."""
        n = max(0, min(int(n), 200_000))
        made: list[str] = []
        with self.sandbox.lock:
            now = self.sandbox.now()
            target = self._post_at(answers) if answers else None
            for i in range(n):
                kind = kinds[i % len(kinds)]
                handle = f"soutien-{self.sandbox.seed}-{i % 97}.bsky.social"
                did = did_for(handle)
                # after every post already made, a millisecond apart at least: the AppView's
                # times have millisecond precision and searchPosts' ``since`` is on them
                created = max(now - spread * (n - 1 - i) / max(1, n), self.last_public + 0.001)
                self.last_public = created
                created -= max(0.0, lag)
                rkey = self._next_tid()
                words = f"#{term}" if term and hashtag else (term or "")
                text = texts[i % len(texts)] if texts else f"Solidarité {words} ({i})".strip()
                record: dict[str, Any] = {
                    "$type": POST,
                    "text": text,
                    "createdAt": iso(created),
                    "langs": ["fr"],
                }
                if kind == "mention" and target is not None:
                    at = f"@{target.handle} "
                    record["text"] = at + text
                    record["facets"] = [{
                        "index": {"byteStart": 0, "byteEnd": len(at.encode()) - 1},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": target.did}],
                    }]
                    uri = f"at://{did}/{POST}/{rkey}"
                    post = StoredPost(uri, cid_for(json.dumps(record, sort_keys=True).encode(), 0x71), did, handle,
                                      rkey, record, created)
                    self.records.setdefault(did, {})[rkey] = post
                    self.handles.setdefault(did, handle)
                    self._index(post)
                    self._notify(target, uri, did, handle, "mention", record, created)
                    made.append(uri)
                    continue
                if term and hashtag:
                    start = len("Solidarité ".encode())
                    record["facets"] = [
                        {
                            "index": {"byteStart": start, "byteEnd": start + len(words.encode())},
                            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": term}],
                        }
                    ]
                ref = {"uri": target.uri, "cid": target.cid} if target else None
                if kind == "repost":
                    uri = f"at://{did}/app.bsky.feed.repost/{rkey}"
                    if target is not None:
                        repost = {
                            "$type": "app.bsky.feed.repost",
                            "subject": ref,
                            "createdAt": iso(created),
                        }
                        self._notify(target, uri, did, handle, "repost", repost, created)
                    made.append(uri)
                    continue
                if kind == "reply" and ref is not None:
                    root = (target.record.get("reply") or {}).get("root") if target else None
                    record["reply"] = {"root": root or ref, "parent": ref}
                elif kind == "quote" and ref is not None:
                    record["embed"] = {"$type": "app.bsky.embed.record", "record": ref}
                elif kind == "photo":
                    cid = cid_for(f"photo:{rkey}".encode(), 0x55)
                    self.blobs[cid] = {"mimeType": "image/jpeg", "size": 1000}
                    blob = {
                        "$type": "blob",
                        "ref": {"$link": cid},
                        "mimeType": "image/jpeg",
                        "size": 1000,
                    }
                    record["embed"] = {
                        "$type": "app.bsky.embed.images",
                        "images": [{"alt": "", "image": blob}],
                    }
                uri = f"at://{did}/{POST}/{rkey}"
                cid = cid_for(json.dumps(record, sort_keys=True).encode(), 0x71)
                post = StoredPost(uri, cid, did, handle, rkey, record, created)
                self.records.setdefault(did, {})[rkey] = post
                self.handles.setdefault(did, handle)
                self._index(post)
                if target is not None and kind in ("reply", "quote"):
                    self._notify(target, uri, did, handle, kind, record, created)
                made.append(uri)
        return made

    def _grow(self, did: str, tag: str | None) -> None:
        """The live public (see channels.sandbox.public): posts with ``#tag`` since the last
        search for it, answering the account's latest post that carries it; or answers to the
        account's latest post since its notifications were last read."""
        n, spread = self.live.due(f"#{tag.lower()}" if tag else f"@{did}")
        if not n:
            return
        with self.sandbox.lock:
            ours = sorted(
                (
                    p
                    for p in self.records.get(did, {}).values()
                    if tag is None or tag.lower() in {t.lower() for t in post_tags(p.record)}
                ),
                key=lambda p: p.created,
            )
            latest = ours[-1].uri if ours else None
        if tag is not None:
            kinds = KINDS if latest else ("original", "photo")
            self.inject_public(tag, n, kinds=kinds, answers=latest, spread=spread)
        elif latest is not None:
            self.inject_public(None, n, kinds=ANSWER_KINDS, answers=latest, spread=spread, texts=ANSWER_TEXTS)
            if n >= MENTION_EVERY:  # and a few posts naming the account (the inbox's mentions)
                self.inject_public(None, n // MENTION_EVERY, kinds=("mention",), answers=latest, spread=spread,
                                   texts=ANSWER_TEXTS[::-1])

    def _notify(
        self,
        target: StoredPost,
        uri: str,
        did: str,
        handle: str,
        reason: str,
        record: dict[str, Any],
        created: float,
    ) -> None:
        items = self.notifications.setdefault(target.did, [])
        item = {
            "uri": uri,
            "cid": cid_for(uri.encode(), 0x71),
            "author": {"did": did, "handle": handle},
            "reason": reason,
            "reasonSubject": target.uri,
            "record": record,
            "isRead": False,
            "indexedAt": iso(created),
            "_at": created,
        }
        bisect.insort(items, item, key=lambda x: (x["_at"], x["uri"]))

    def x_app_bsky_feed_searchPosts(self, req: Request) -> Response:
        """Newest first (``sort=latest``); ``q`` required; ``tag`` (AND, no "#"), ``since``
        (inclusive) / ``until`` (exclusive) on the post's time; ``limit`` 1-100 (25);
        the cursor is the position after the last post given, stable as posts arrive."""
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        if self.search_unavailable:
            return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")
        q = (req.arg("q") or "").strip()
        if not q:
            return xrpc_error(400, "InvalidRequest", 'Error: Params must have the property "q"')
        try:
            limit = int(req.arg("limit") or 25)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return xrpc_error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        tags = [t.lower() for t in req.query.get("tag", [])]
        since = parse_iso(req.arg("since"))
        until = parse_iso(req.arg("until"))
        high = decode_position(req.arg("cursor"))
        words = q.lower().split()
        first_tag = tags[0] if tags else next((w[1:] for w in words if w.startswith("#")), None)
        self._grow(who[0], first_tag)
        with self.sandbox.lock:
            pool = self.by_tag.get(tags[0], []) if tags else self.timeline
            position = bisect.bisect_left(pool, high) if high else len(pool)
            chosen: list[StoredPost] = []
            more = False
            taken = 0
            last: tuple[float, str] | None = None
            while position > 0:
                position -= 1
                created, uri = pool[position]
                if since is not None and created < since:
                    break
                if until is not None and created >= until:
                    continue
                post = self._post_at(uri)
                if post is not None and not self._matches(post, words, tags):
                    continue
                if taken == limit:
                    more = True
                    break
                # A deleted post still takes its place in the page, as the AppView drops
                # removed posts after the page is cut: a short page with a cursor is not the end.
                taken += 1
                last = (created, uri)
                if post is not None:
                    chosen.append(post)
            views = [self._view(p) for p in chosen]
        body: dict[str, Any] = {"posts": views}
        if more and last is not None:
            body["cursor"] = encode_position(*last)
        return json_response(body)

    @staticmethod
    def _matches(post: StoredPost, words: list[str], tags: list[str]) -> bool:
        own = {t.lower() for t in post_tags(post.record)}
        if any(t not in own for t in tags):
            return False
        text = str(post.record.get("text", "")).lower()
        for word in words:
            if word.startswith("#"):
                if word[1:] not in own:
                    return False
            elif word not in text:
                return False
        return True

    def x_app_bsky_notification_listNotifications(self, req: Request) -> Response:
        who = self._requester(req)
        if isinstance(who, Response):
            return who
        try:
            limit = int(req.arg("limit") or 50)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return xrpc_error(400, "InvalidRequest", "Error: limit must be between 1 and 100")
        reasons = set(req.query.get("reasons", []))
        self._grow(who[0], None)
        high = decode_position(req.arg("cursor"))
        with self.sandbox.lock:
            items = self.notifications.get(who[0], [])
            keys = [(x["_at"], x["uri"]) for x in items]
            position = bisect.bisect_left(keys, high) if high else len(items)
            chosen: list[dict[str, Any]] = []
            more = False
            while position > 0:
                position -= 1
                item = items[position]
                if reasons and item["reason"] not in reasons:
                    continue
                if len(chosen) == limit:
                    more = True
                    break
                chosen.append(item)
        body: dict[str, Any] = {
            "notifications": [{k: v for k, v in x.items() if not k.startswith("_")} for x in chosen]
        }
        if more:
            body["cursor"] = encode_position(chosen[-1]["_at"], chosen[-1]["uri"])
        return json_response(body)

    # -- helpers ------------------------------------------------------------------------------

    def _stored(self, uri: str) -> StoredPost | None:
        parts = uri.removeprefix("at://").split("/")
        if len(parts) != 3 or parts[1] != POST:
            return None
        with self.sandbox.lock:
            return self.records.get(parts[0], {}).get(parts[2])

    def _view(self, post: StoredPost) -> dict[str, Any]:
        figures = self.sandbox.metrics_for(self.platform, post.uri, post.created)
        return {
            "uri": post.uri,
            "cid": post.cid,
            "author": {"did": post.did, "handle": post.handle},
            "record": post.record,
            "indexedAt": iso(post.created),
            "likeCount": figures["likes"],
            "repostCount": figures["shares"],
            "replyCount": figures["replies"],
            "quoteCount": figures["quotes"],
            "bookmarkCount": 0,
        }

    def _next_tid(self) -> str:
        value = (int(self.sandbox.now() * 1_000_000) << 10) | (self.sandbox.next_id() & 0x3FF)
        return "".join(TID_CHARS[(value >> (60 - 5 * i)) & 31] for i in range(13))

    def _check_post(self, record: dict[str, Any]) -> Response | None:
        """The lexicon checks the PDS applies to app.bsky.feed.post (lexicons/app/bsky/feed/post.json)."""
        text = record.get("text")
        if not isinstance(text, str):
            return invalid_post('Record must have the property "text"')
        if not isinstance(record.get("createdAt"), str):
            return invalid_post('Record must have the property "createdAt"')
        if len(text.encode("utf-8")) > self.max_bytes:
            return invalid_post(f"Record/text must not be longer than {self.max_bytes} characters")
        if len(regex.findall(r"\X", text)) > self.max_graphemes:
            return invalid_post(
                f"Record/text must not be longer than {self.max_graphemes} graphemes"
            )
        if len(record.get("langs") or []) > 3:
            return invalid_post("Record/langs must not have more than 3 elements")
        labels = record.get("labels")
        if labels is not None:  # the post lexicon's "labels": a union of com.atproto.label.defs#selfLabels
            if not isinstance(labels, dict) or labels.get("$type") != "com.atproto.label.defs#selfLabels":
                return invalid_post("Record/labels must be an object of type com.atproto.label.defs#selfLabels")
            values = labels.get("values")
            if not isinstance(values, list) or len(values) > 10:
                return invalid_post('Record/labels must have the property "values" (at most 10 elements)')
            for value in values:
                if not isinstance(value, dict) or not isinstance(value.get("val"), str) \
                        or not 0 < len(value["val"]) <= 128:
                    return invalid_post("Record/labels/values/val must be a string of 1 to 128 characters")
        reply = record.get("reply")
        if reply is not None:  # app.bsky.feed.post#replyRef: root and parent, strong refs
            if not isinstance(reply, dict):
                return invalid_post("Record/reply must be an object")
            for field in ("root", "parent"):
                ref = reply.get(field)
                if not isinstance(ref, dict) or not isinstance(ref.get("uri"), str) \
                        or not isinstance(ref.get("cid"), str):
                    return invalid_post(f'Record/reply must have the property "{field}" (uri and cid)')
                if not ref["uri"].startswith("at://"):
                    return invalid_post(f"Record/reply/{field}/uri must be a valid at-uri")
            parent = self._stored(reply["parent"]["uri"])
            if parent is None or parent.cid != reply["parent"]["cid"]:
                return invalid_post("Record/reply/parent does not name an existing post at that cid")
            wanted_root = (parent.record.get("reply") or {}).get("root") or {"uri": parent.uri, "cid": parent.cid}
            if reply["root"].get("uri") != wanted_root.get("uri"):
                return invalid_post("Record/reply/root must be the root of the parent's thread")
        embed = record.get("embed")
        if not embed:
            return None
        kind = embed.get("$type")
        if kind == "app.bsky.embed.external":
            external = embed.get("external") or {}
            for field in ("uri", "title", "description"):
                if not isinstance(external.get(field), str):
                    return invalid_post(f'Record/embed/external must have the property "{field}"')
            thumb = external.get("thumb")
            if thumb is not None:  # lexicons/app/bsky/embed/external.json: image/*, maxSize 1000000
                ref = (thumb.get("ref") or {}) if isinstance(thumb, dict) else {}
                blob = self.blobs.get(ref.get("$link", "") if isinstance(ref, dict) else str(ref))
                if blob is None:
                    return xrpc_error(400, "InvalidRequest", f"Could not find blob: {ref}")
                if not blob["mimeType"].startswith("image/"):
                    return invalid_post(f"Record/embed/external/thumb mimeType is not accepted: {blob['mimeType']}")
                if blob["size"] > self.max_image_bytes:
                    return invalid_post(
                        f"Record/embed/external/thumb file too big (max {self.max_image_bytes} bytes)")
            return None
        if kind != "app.bsky.embed.images":
            return None
        images = embed.get("images") or []
        if len(images) > self.max_images:
            return invalid_post(
                f"Record/embed/images must not have more than {self.max_images} elements"
            )
        for i, image in enumerate(images):
            if not isinstance(image.get("alt"), str):
                return invalid_post(f'Record/embed/images/{i} must have the property "alt"')
            ref = (image.get("image") or {}).get("ref") or {}
            blob = self.blobs.get(ref.get("$link", "") if isinstance(ref, dict) else str(ref))
            if blob is None:
                return xrpc_error(400, "InvalidRequest", f"Could not find blob: {ref}")
            if not blob["mimeType"].startswith("image/"):
                return invalid_post(
                    f"Record/embed/images/{i}/image mimeType is not accepted: {blob['mimeType']}"
                )
            if blob["size"] > self.max_image_bytes:
                return invalid_post(
                    f"Record/embed/images/{i}/image file too big (max {self.max_image_bytes} bytes)"
                )
        return None

    def posts(self) -> list[dict[str, Any]]:
        with self.sandbox.lock:
            everything = [p for repo in self.records.values() for p in repo.values()]
        return [
            {
                "id": p.uri,
                "rkey": p.rkey,
                "did": p.did,
                "handle": p.handle,
                "text": p.record.get("text", ""),
                "created": p.created,
                "langs": p.record.get("langs") or [],
                "labels": [v.get("val") for v in (p.record.get("labels") or {}).get("values") or []],
                "record": p.record,
                "facets": p.record.get("facets") or [],
                "embed": (p.record.get("embed") or {}).get("$type"),
                "link": ((p.record.get("embed") or {}).get("external") or {}).get("uri"),
                "card": (p.record.get("embed") or {}).get("external"),
                "alts": [i.get("alt") for i in (p.record.get("embed") or {}).get("images") or []],
                "cid": p.cid,
                "reply_parent": ((p.record.get("reply") or {}).get("parent") or {}).get("uri"),
                "reply_root": ((p.record.get("reply") or {}).get("root") or {}).get("uri"),
                "reply": p.record.get("reply"),
            }
            for p in sorted(everything, key=lambda p: p.created)
        ]


def post_tags(record: dict[str, Any]) -> list[str]:
    """A post's hashtags: its tag facets and its ``tags`` field (lexicon app.bsky.feed.post)."""
    tags = [str(t) for t in record.get("tags") or []]
    for facet in record.get("facets") or []:
        for feature in facet.get("features") or []:
            if feature.get("$type") == "app.bsky.richtext.facet#tag" and feature.get("tag"):
                tags.append(str(feature["tag"]))
    return tags


def parse_iso(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def encode_position(created: float, uri: str) -> str:
    return base64.urlsafe_b64encode(f"{created!r}|{uri}".encode()).decode()


def decode_position(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    try:
        created, uri = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(created), uri
    except ValueError:
        return None


def sniff_mime(data: bytes) -> str:
    """The PDS sniffs the type of uploaded blobs when the client sends none."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"
