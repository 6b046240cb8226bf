"""A stateful emulator of the Threads API (``graph.threads.net/v1.0``).

Threads' paths look like Graph's (``/v1.0/…``), so this emulator claims the requests meant for
the Threads host (the ``X-Original-Host`` header every redirected client sends) before the
Facebook emulator sees them. What it serves:

- ``POST /{user-id}/threads``: ``media_type`` TEXT, IMAGE (``image_url`` downloaded, JPEG or
  PNG, ratio at most 10:1) or CAROUSEL (``children``: 2 to 20 finished items), ``text`` (500
  characters, emoji counted as their UTF-8 bytes, at most 5 unique links), ``alt_text``,
  ``is_carousel_item``, ``reply_to_id`` (a post that exists);
- ``GET /{container-id}?fields=status,error_message``; ``POST /{user-id}/threads_publish``;
- ``GET /{user-id}/threads`` (recent posts), ``GET /{user-id}/threads_publishing_limit``
  (250 posts and 1,000 replies per rolling 24 h), ``GET /{user-id}?fields=id,username``,
  ``GET /{media-id}``, ``DELETE /{media-id}`` (``{success, deleted_id}``);
- ``GET /{media-id}/insights?metric=views,likes,replies,reposts,quotes,shares``.

The common behaviour is in channels/sandbox/containers.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from channels.sandbox.containers import DAY, ContainerEmulator, GraphError
from channels.sandbox.core import Request

MAX_TEXT = 500
MAX_LINKS = 5
MAX_REPLIES = 1_000
#: ``reply_control`` of a post (developers.facebook.com/docs/threads/reply-management).
REPLY_CONTROLS = ("everyone", "accounts_you_follow", "mentioned_only", "parent_post_author_only", "followers_only")
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


class ThreadsEmulator(ContainerEmulator):
    platform = "threads"
    create_edge = "threads"
    publish_edge = "threads_publish"
    list_edge = "threads"
    limit_edge = "threads_publishing_limit"
    status_field = "status"
    text_field = "text"
    quota_total = 250
    max_children = 20
    image_types = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}
    permalink_base = "https://www.threads.net/@"
    host = "graph.threads.net"

    def claims(self, req: Request) -> bool:
        return req.headers.get("x-original-host", "").split(":")[0] in ("graph.threads.net", "graph.threads.com")

    def container_id(self, n: int) -> str:
        return f"1800{n:013d}"

    def media_id(self, n: int) -> str:
        return f"1801{n:013d}"

    def _bad_format(self) -> GraphError:
        return GraphError(100, "The image format is not supported. Supported formats are: JPEG, PNG.",
                          subcode=2207005)

    def _check_ratio(self, width: int, height: int) -> None:
        if min(width, height) == 0 or max(width, height) / min(width, height) > 10:
            raise GraphError(100, "(#100) The image's aspect ratio must not exceed 10:1.", subcode=2207009)

    def _check_text_only(self, fields: dict[str, str]) -> None:
        media_type = (fields.get("media_type") or "").upper()
        if media_type != "TEXT":
            raise GraphError(100, "(#100) The parameter image_url is required for media_type IMAGE.")
        if not (fields.get("text") or "").strip():
            raise GraphError(100, "(#100) The parameter text is required for media_type TEXT.")

    def _check_text(self, text: str, fields: dict[str, str]) -> None:
        length = sum(len(ch.encode("utf-8")) if ord(ch) >= 0x1F000 else 1 for ch in text)
        if length > MAX_TEXT:
            raise GraphError(100, f"(#100) Param text must be at most {MAX_TEXT} characters long.")
        links = {m.group(0).rstrip(".,;:!?)»").lower() for m in _LINK.finditer(text)}
        if len(links) > MAX_LINKS:
            raise GraphError(100, "THREADS_API__LINK_LIMIT_EXCEEDED: a post may carry at most 5 unique links.",
                             user_msg="The post has more than 5 links.")
        control = fields.get("reply_control")
        if control and control not in REPLY_CONTROLS:
            raise GraphError(100, f"(#100) Param reply_control must be one of {{{', '.join(REPLY_CONTROLS)}}}")
        reply_to = fields.get("reply_to_id")
        if reply_to and reply_to not in self.media:
            raise GraphError(100, f"(#100) The reply_to_id '{reply_to}' does not exist.", subcode=33)

    def _error_detail(self) -> dict[str, Any]:
        return {"error_message": "FAILED_PROCESSING_IMAGE"}

    def _read_user(self, user: str, wanted: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": user}
        if "username" in wanted:
            out["username"] = self.username(user)
        return out

    @staticmethod
    def username(user: str) -> str:
        return f"ecrire.sandbox.{user[-4:]}"

    def permalink(self, media: dict[str, Any]) -> str:
        code = super().permalink(media).removeprefix(self.permalink_base)
        return f"{self.permalink_base}{self.username(media['user'])}/post/{code.rstrip('/')}"

    def _quota_of(self, user: str, replies: bool) -> int:
        return MAX_REPLIES if replies else self._total(user)

    def _limit(self, user: str, fields: dict[str, str]) -> dict[str, Any]:
        data = super()._limit(user, fields)
        data["data"][0].update({"reply_quota_usage": self._used(user, replies=True),
                                "reply_config": {"quota_total": MAX_REPLIES, "quota_duration": int(DAY)}})
        return data

    def _route(self, req: Request, parts: list[str], fields: dict[str, str]) -> Callable[[], Any] | None:
        if req.method == "DELETE" and len(parts) == 1:
            return lambda: self._delete(parts[0])
        return super()._route(req, parts, fields)

    def _delete(self, media_id: str) -> dict[str, Any]:
        media = self.media.pop(media_id, None)
        if media is None:
            raise GraphError(100, f"Unsupported delete request. Object with ID '{media_id}' does not exist.",
                             subcode=33, type_="GraphMethodException")
        timeline = self.timeline.get(media["user"], [])
        timeline.remove((media["created"], media_id))
        return {"success": True, "deleted_id": media_id}

    def figures(self, media: dict[str, Any]) -> dict[str, int]:
        base = self.sandbox.metrics_for(self.platform, media["id"], media["created"])
        return {"views": base["views"], "likes": base["likes"], "replies": base["replies"],
                "reposts": base["shares"], "quotes": base["quotes"], "shares": base["shares"] // 2}
