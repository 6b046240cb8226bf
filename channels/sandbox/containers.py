"""What Meta's container APIs share, emulated once: Instagram (channels/sandbox/instagram.py) and
Threads (channels/sandbox/threads.py) subclass :class:`ContainerEmulator`.

- Creating a container really downloads its ``image_url`` (bounded in time and size, outside
  the sandbox's lock), as Meta does: an address that cannot be fetched, or bytes that are not an
  accepted format, are refused in Graph's error shape. Images are checked for size and ratio.
- A new container answers ``IN_PROGRESS`` to its first ``pending_polls`` status reads (the "not
  ready yet" state), then ``FINISHED``; ``fail_containers`` makes the next containers end in
  ``ERROR``; a container unpublished for 24 hours (sandbox clock) is ``EXPIRED``; a published one
  is ``PUBLISHED``. Publishing a container that is not ready is refused; publishing one twice
  never makes a second post.
- The publishing quota counts posts over a rolling 24 hours (a carousel counts once), served by
  the platform's ``*_publishing_limit`` edge and enforced on publish.
- Recent posts, newest first, with ``since``/``until``/``limit`` and ``after`` cursors;
  insights from the simulated public (:func:`channels.sandbox.core.engagement`).
- Faults (``POST /_sandbox/faults``) apply as on every emulator; errors carry ``code``,
  ``error_subcode``, ``type`` and ``fbtrace_id``.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import io
import json
import re
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import parse_qs

import requests

from channels.sandbox.core import Emulator, Request, Response, json_response

VERSION_PREFIX = re.compile(r"^/(v\d+\.\d+)/")
DAY = 86400.0
FETCH_TIMEOUT = 5.0
MAX_FETCH_BYTES = 8 * 1024 * 1024


class GraphError(Exception):
    def __init__(self, code: int, message: str, *, subcode: int | None = None, status: int = 400,
                 user_msg: str | None = None, transient: bool = False, type_: str = "OAuthException") -> None:
        super().__init__(message)
        self.code, self.message, self.subcode, self.status = code, message, subcode, status
        self.user_msg, self.transient, self.type = user_msg, transient, type_


def time_str(epoch: float) -> str:
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
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


def _cursor(key: tuple[float, str]) -> str:
    return base64.urlsafe_b64encode(f"{key[0]!r}|{key[1]}".encode()).decode()


def _uncursor(cursor: str) -> tuple[float, str] | None:
    try:
        created, pid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return float(created), pid
    except ValueError:
        return None


class ContainerEmulator(Emulator):
    """Graph-shaped container publishing. Subclasses name their edges and rules."""

    prefixes = ("/v",)
    narrow = True
    #: the edges: containers are made on ``create_edge`` and published on ``publish_edge``;
    #: posts are listed on ``list_edge``; the quota is read on ``limit_edge``
    create_edge: ClassVar[str]
    publish_edge: ClassVar[str]
    list_edge: ClassVar[str]
    limit_edge: ClassVar[str]
    status_field: ClassVar[str]  # status_code (Instagram) or status (Threads)
    text_field: ClassVar[str]  # caption or text
    quota_total: ClassVar[int]
    max_children: ClassVar[int]
    min_children: ClassVar[int] = 2
    image_types: ClassVar[dict[bytes, str]] = {b"\xff\xd8\xff": "image/jpeg"}
    permalink_base: ClassVar[str]

    def __init__(self, sandbox: Any) -> None:
        super().__init__(sandbox)
        self.reset()

    def reset(self) -> None:
        with self.sandbox.lock:
            self.containers: dict[str, dict[str, Any]] = {}
            self.media: dict[str, dict[str, Any]] = {}
            self.timeline: dict[str, list[tuple[float, str]]] = {}  # user -> [(created, id)] ascending
            self.pending_polls = 1  # status reads answered IN_PROGRESS for each new container
            self.fail_containers = 0  # the next N containers end in ERROR
            self.quota: dict[str, int] = {}  # per-user quota override
            self.fetches: list[str] = []  # image addresses downloaded, in order

    def configure(self, *, pending_polls: int | None = None, fail_containers: int | None = None,
                  quota: dict[str, int] | None = None) -> dict[str, Any]:
        """``POST /_sandbox/settings/{platform}``: the "not ready yet" status reads of each new
        container, how many of the next containers end in ERROR, and per-user quotas."""
        with self.sandbox.lock:
            if pending_polls is not None:
                self.pending_polls = max(0, int(pending_polls))
            if fail_containers is not None:
                self.fail_containers = max(0, int(fail_containers))
            if quota is not None:
                self.quota.update({str(k): int(v) for k, v in quota.items()})
            return {"pending_polls": self.pending_polls, "fail_containers": self.fail_containers,
                    "quota": dict(self.quota)}

    # -- ids --------------------------------------------------------------------------------------

    def container_id(self, n: int) -> str:  # pragma: no cover - subclasses
        raise NotImplementedError

    def media_id(self, n: int) -> str:  # pragma: no cover - subclasses
        raise NotImplementedError

    # -- errors -----------------------------------------------------------------------------------

    def _error(self, err: GraphError, headers: dict[str, str] | None = None) -> Response:
        body: dict[str, Any] = {"message": err.message, "type": err.type, "code": err.code,
                                "fbtrace_id": f"Sbx{self.sandbox.next_id():08d}"}
        if err.subcode is not None:
            body["error_subcode"] = err.subcode
        body["is_transient"] = err.transient
        if err.user_msg:
            body["error_user_msg"] = err.user_msg
        return json_response({"error": body}, err.status, **(headers or {}))

    def rate_limited(self, req: Request) -> Response:
        usage = {"call_count": 100, "total_cputime": 30, "total_time": 40}
        return self._error(GraphError(4, "(#4) Application request limit reached", transient=True),
                           {"X-App-Usage": json.dumps(usage)})

    def bad_token(self, req: Request) -> Response:
        return self._error(GraphError(190, "Error validating access token: Session has expired.", subcode=463))

    # -- dispatch ---------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        match = VERSION_PREFIX.match(req.path)
        assert match is not None
        rest = req.path[match.end():].strip("/")
        fields = self._fields(req)
        token = fields.get("access_token") or req.bearer()
        if not token:
            return self._error(GraphError(190, "An access token is required to request this resource."))
        if token in self.sandbox.revoked:
            return self.bad_token(req)
        parts = rest.split("/") if rest else []
        try:
            if req.method == "POST" and len(parts) == 2 and parts[1] == self.create_edge:
                prepared = self._prepare(parts[0], fields)  # downloads: outside the lock
                with self.sandbox.lock:
                    return json_response(self._create(parts[0], fields, prepared))
            route = self._route(req, parts, fields)
            if route is None:
                raise GraphError(100, f"Unsupported {req.method.lower()} request.", subcode=33,
                                 type_="GraphMethodException")
            with self.sandbox.lock:
                return json_response(route())
        except GraphError as err:
            return self._error(err)

    def _route(self, req: Request, parts: list[str], fields: dict[str, str]) -> Callable[[], Any] | None:
        if req.method == "GET" and len(parts) == 1:
            return lambda: self._read(parts[0], fields)
        if req.method == "POST" and len(parts) == 2 and parts[1] == self.publish_edge:
            return lambda: self._publish(parts[0], fields)
        if req.method == "GET" and len(parts) == 2 and parts[1] == self.list_edge:
            return lambda: self._list(req, parts[0], fields)
        if req.method == "GET" and len(parts) == 2 and parts[1] == self.limit_edge:
            return lambda: self._limit(parts[0], fields)
        if req.method == "GET" and len(parts) == 2 and parts[1] == "insights":
            return lambda: self._insights(parts[0], fields)
        return None

    @staticmethod
    def _fields(req: Request) -> dict[str, str]:
        merged = {k: v[0] for k, v in req.query.items() if v}
        if req.body:
            form, _files = req.form()
            merged.update({k: v[0] for k, v in form.items() if v})
        return merged

    # -- containers -------------------------------------------------------------------------------

    def _prepare(self, user: str, fields: dict[str, str]) -> dict[str, Any]:
        """What must be done outside the lock: downloading the image, as Meta does."""
        url = fields.get("image_url")
        if not url:
            return {}
        try:
            with requests.Session() as http:
                http.trust_env = False  # the sandbox reaches its addresses directly
                answer = http.get(url, timeout=FETCH_TIMEOUT, stream=True)
                data = answer.raw.read(MAX_FETCH_BYTES + 1, decode_content=True)
                status = answer.status_code
        except requests.Timeout:
            raise GraphError(-2, "It takes too long to download the media.", subcode=2207003,
                             user_msg="It takes too long to download the media.", transient=True) from None
        except requests.RequestException:
            raise self._unfetchable() from None
        with self.sandbox.lock:
            self.fetches.append(url)
        if status != 200:
            raise self._unfetchable()
        if len(data) > MAX_FETCH_BYTES:
            raise GraphError(36000, "The image size is too large.", subcode=2207004,
                             user_msg="The image is too large to download. It should be less than 8 MiB.")
        mime = next((m for magic, m in self.image_types.items() if data.startswith(magic)), None)
        if mime is None:
            raise self._bad_format()
        size = _dimensions(data)
        if size is None:
            raise self._bad_format()
        self._check_ratio(*size)
        return {"mime": mime, "size": size, "bytes": len(data)}

    def _unfetchable(self) -> GraphError:
        return GraphError(9004, "The media could not be fetched from this uri.", subcode=2207052,
                          user_msg="Media download has failed. The media URI doesn't meet our requirements.")

    def _bad_format(self) -> GraphError:
        return GraphError(36001, "The image format is not supported.", subcode=2207005,
                          user_msg="The image format is not supported. Supported formats are: JPEG")

    def _check_ratio(self, width: int, height: int) -> None:
        """Instagram's ratio rule (Threads overrides it)."""

    def _create(self, user: str, fields: dict[str, str], prepared: dict[str, Any]) -> dict[str, Any]:
        self._check_user(user)
        children = [c for c in (fields.get("children") or "").split(",") if c]
        is_item = fields.get("is_carousel_item", "").lower() == "true"
        media_type = (fields.get("media_type") or "").upper()
        text = fields.get(self.text_field, "")
        if children or media_type == "CAROUSEL":
            if not self.min_children <= len(children) <= self.max_children:
                raise GraphError(100, f"(#100) A carousel needs {self.min_children} to {self.max_children} "
                                      "children.", subcode=2207028)
            for child in children:
                item = self.containers.get(child)
                if item is None or item["user"] != user or not item["item"]:
                    raise GraphError(24, "The requested resource does not exist", subcode=2207006)
                if self._state(item, poll=False) != "FINISHED":
                    raise GraphError(9007, "Media ID is not available", subcode=2207027,
                                     user_msg="The media is not ready for publishing, please wait for a moment")
        elif not prepared:
            self._check_text_only(fields)
        if is_item and text:
            raise GraphError(100, "(#100) A carousel item cannot have a caption.")
        self._check_text(text, fields)
        n = self.sandbox.next_id()
        failing = self.fail_containers > 0
        self.fail_containers -= 1 if failing else 0
        container: dict[str, Any] = {
            "id": self.container_id(n), "user": user, "created": self.sandbox.now(), "item": is_item,
            "children": children, "text": text, "alt": fields.get("alt_text"), "image": fields.get("image_url"),
            "polls_left": self.pending_polls, "error": failing, "published": None,
            "reply_to": fields.get("reply_to_id"), "media_type": media_type or ("IMAGE" if prepared else "TEXT"),
            "reply_control": fields.get("reply_control") or None,
        }
        self.containers[container["id"]] = container
        return {"id": container["id"]}

    def _check_user(self, user: str) -> None:
        """Subclasses refuse ids that are not users of theirs."""

    def _check_text_only(self, fields: dict[str, str]) -> None:
        raise GraphError(100, "(#100) The parameter image_url is required.")

    def _check_text(self, text: str, fields: dict[str, str]) -> None:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _state(self, container: dict[str, Any], *, poll: bool) -> str:
        if container["published"]:
            return "PUBLISHED"
        if self.sandbox.now() - container["created"] > DAY:
            return "EXPIRED"
        if container["polls_left"] > 0:
            if poll:
                container["polls_left"] -= 1
            return "IN_PROGRESS"
        return "ERROR" if container["error"] else "FINISHED"

    def _read(self, object_id: str, fields: dict[str, str]) -> dict[str, Any]:
        wanted = (fields.get("fields") or "id").split(",")
        if object_id in self.containers:
            container = self.containers[object_id]
            state = self._state(container, poll=True)
            out: dict[str, Any] = {"id": object_id, self.status_field: state}
            if state == "ERROR":
                out.update(self._error_detail())
            elif "status" in wanted and self.status_field != "status":
                out["status"] = {"IN_PROGRESS": "In Progress", "FINISHED": "Finished: Media has been uploaded and "
                                 "it is ready to be published.", "PUBLISHED": "Published",
                                 "EXPIRED": "Expired"}.get(state, state)
            return out
        if object_id in self.media:
            return self._render(self.media[object_id], wanted)
        return self._read_user(object_id, wanted)

    def _error_detail(self) -> dict[str, Any]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _read_user(self, user: str, wanted: list[str]) -> dict[str, Any]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _render(self, media: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": media["id"]}
        if self.text_field in wanted and media["text"]:
            out[self.text_field] = media["text"]  # Graph omits an empty caption
        if "timestamp" in wanted:
            out["timestamp"] = time_str(media["created"])
        if "permalink" in wanted:
            out["permalink"] = media["permalink"]
        if "media_type" in wanted:
            out["media_type"] = media["media_type"]
        return out

    def _used(self, user: str, replies: bool = False) -> int:
        now = self.sandbox.now()
        return sum(1 for created, pid in self.timeline.get(user, [])
                   if now - created < DAY and bool(self.media[pid].get("reply_to")) == replies)

    def _total(self, user: str) -> int:
        return self.quota.get(user, self.quota_total)

    def _publish(self, user: str, fields: dict[str, str]) -> dict[str, Any]:
        self._check_user(user)
        creation = fields.get("creation_id") or ""
        container = self.containers.get(creation)
        if container is None or container["user"] != user or container["item"]:
            raise GraphError(24, "The requested resource does not exist", subcode=2207008,
                             user_msg="Media builder not found")
        state = self._state(container, poll=False)
        if state == "PUBLISHED":
            raise GraphError(100, "(#100) This media has already been published.", subcode=2207006)
        if state == "EXPIRED":
            raise GraphError(-2, "The media you are trying to access has expired.", subcode=2207020,
                             user_msg="The media you are trying to access has expired. Please try to upload again.")
        if state != "FINISHED":
            raise GraphError(9007, "Media ID is not available", subcode=2207027,
                             user_msg="The media is not ready for publishing, please wait for a moment")
        replies = bool(container.get("reply_to"))
        if self._used(user, replies) >= self._quota_of(user, replies):
            raise GraphError(9, "Application request limit reached", subcode=2207042,
                             user_msg="You reached maximum number of posts that is allowed to be published "
                                      "by Content Publish API")
        n = self.sandbox.next_id()
        media = {
            "id": self.media_id(n), "user": user, "n": n, "created": self.sandbox.now(),
            "text": container["text"], "container": creation, "media_type": container["media_type"],
            "children": list(container["children"]),
            "alts": [self.containers[c]["alt"] for c in container["children"]] or [container["alt"]],
            "images": [self.containers[c]["image"] for c in container["children"]] or [container["image"]],
            "reply_to": container.get("reply_to"),
            "reply_control": container.get("reply_control"),
        }
        media["permalink"] = self.permalink(media)
        container["published"] = media["id"]
        self.media[media["id"]] = media
        bisect.insort(self.timeline.setdefault(user, []), (media["created"], media["id"]))
        return {"id": media["id"]}

    def _quota_of(self, user: str, replies: bool) -> int:
        return self._total(user)

    def permalink(self, media: dict[str, Any]) -> str:
        code = base64.urlsafe_b64encode(media["n"].to_bytes(6, "big")).decode().rstrip("=")
        return f"{self.permalink_base}{code}/"

    def _list(self, req: Request, user: str, fields: dict[str, str]) -> dict[str, Any]:
        self._check_user(user)
        stored = self.timeline.get(user, [])
        try:
            limit = max(1, min(100, int(fields.get("limit", "25"))))
        except ValueError:
            raise GraphError(100, "(#100) Param limit must be an integer") from None
        since = _parse_time(fields["since"]) if fields.get("since") else None
        until = _parse_time(fields["until"]) if fields.get("until") else None
        lo = bisect.bisect_left(stored, (since, "")) if since is not None else 0
        hi = bisect.bisect_right(stored, (until, "\uffff")) if until is not None else len(stored)
        if fields.get("after"):
            key = _uncursor(fields["after"])
            if key is None:
                raise GraphError(100, "(#100) The after cursor is not valid")
            hi = min(hi, bisect.bisect_left(stored, key))
        chunk = stored[max(lo, hi - limit):hi][::-1]
        wanted = (fields.get("fields") or "id").split(",")
        body: dict[str, Any] = {"data": [self._render(self.media[pid], wanted) for _, pid in chunk]}
        if chunk:
            body["paging"] = {"cursors": {"before": _cursor(chunk[0]), "after": _cursor(chunk[-1])}}
            if hi - limit > lo:
                query = {k: v for k, v in fields.items() if k not in ("after", "access_token")}
                query["after"] = _cursor(chunk[-1])
                body["paging"]["next"] = f"https://{self.host}{req.path}?" + "&".join(
                    f"{k}={v}" for k, v in query.items())
        return body

    host: ClassVar[str] = "graph.facebook.com"

    def _limit(self, user: str, fields: dict[str, str]) -> dict[str, Any]:
        self._check_user(user)
        return {"data": [{"quota_usage": self._used(user), "config": {"quota_total": self._total(user),
                                                                      "quota_duration": int(DAY)}}]}

    def _insights(self, media_id: str, fields: dict[str, str]) -> dict[str, Any]:
        media = self.media.get(media_id)
        if media is None:
            raise GraphError(100, f"Unsupported get request. Object with ID '{media_id}' does not exist, "
                             "cannot be loaded due to missing permissions, or does not support this operation.",
                             subcode=33, type_="GraphMethodException")
        wanted = [m for m in (fields.get("metric") or "").split(",") if m]
        if not wanted:
            raise GraphError(100, "(#100) The value must be a valid insights metric")
        figures = self.figures(media)
        unknown = [m for m in wanted if m not in figures]
        if unknown:
            raise GraphError(100, f"(#100) metric[0] must be one of the following values: {', '.join(figures)}")
        return {"data": [
            {"name": m, "period": "lifetime", "values": [{"value": figures[m]}], "title": m,
             "id": f"{media_id}/insights/{m}/lifetime"} for m in wanted
        ]}

    def figures(self, media: dict[str, Any]) -> dict[str, int]:  # pragma: no cover - subclasses
        raise NotImplementedError

    # -- inspection -------------------------------------------------------------------------------

    def posts(self) -> list[dict[str, Any]]:
        with self.sandbox.lock:
            return [
                {"id": m["id"], "text": m["text"], "created": m["created"], "user": m["user"],
                 "container": m["container"], "children": list(m["children"]), "alts": list(m["alts"]),
                 "images": list(m["images"]), "url": m["permalink"], "reply_to": m.get("reply_to"),
                 "media_type": m["media_type"], "reply_control": m.get("reply_control")}
                for m in self.media.values()
            ]


def _dimensions(data: bytes) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def batch_calls(req: Request) -> list[dict[str, Any]] | None:
    """The calls of a Graph batch request (``POST /vNN.N/`` with ``batch``), or None."""
    if req.method != "POST":
        return None
    raw = req.arg("batch")
    if raw is None and req.body:
        raw = next(iter(parse_qs(req.body.decode("utf-8", "replace")).get("batch") or []), None)
    try:
        calls = json.loads(raw) if raw else None
    except ValueError:
        return None
    return calls if isinstance(calls, list) else None
