"""A stateful emulator of the Instagram Graph API's content publishing, for the unchanged
facebook-sdk (Facebook Login host ``graph.facebook.com``, any ``/vNN.N/`` version).

Instagram shares its host and paths with Facebook; it answers the requests about its own ids
(17-digit ids starting 178 or 179, as Instagram's are) and Graph batch requests about them,
before the Facebook emulator sees them (``narrow``). What it serves:

- ``POST /{ig-user-id}/media``: ``image_url`` (downloaded), ``caption``, ``alt_text``,
  ``is_carousel_item``; ``media_type=CAROUSEL`` with ``children`` (2 to 10 finished items);
- ``GET /{container-id}?fields=status_code,status``; ``POST /{ig-user-id}/media_publish``;
- ``GET /{ig-user-id}/media`` (recent media, newest first), ``GET /{ig-user-id}/content_publishing_limit``
  (50 posts per rolling 24 h), ``GET /{ig-user-id}?fields=username``, ``GET /{media-id}``;
- ``GET /{media-id}/insights?metric=reach,likes,comments,saved,shares,views,total_interactions``
  and ``POST /vNN.N/`` batch requests of those (at most 50).

The common behaviour (containers, quota, errors) is in channels/sandbox/containers.py.
Error codes: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes
"""

from __future__ import annotations

import json
import re
from typing import Any

from channels.sandbox.containers import VERSION_PREFIX, ContainerEmulator, GraphError, batch_calls
from channels.sandbox.core import Request, Response, json_response

IG_ID = re.compile(r"^17[89]\d{14}$")
MAX_CAPTION = 2_200
MAX_HASHTAGS = 30  # the API's documented limit (the app shows 5; the API is not known to refuse more)
MAX_MENTIONS = 20
MAX_ALT = 1_000
MAX_BATCH = 50
MIN_RATIO, MAX_RATIO = 4 / 5, 1.91


def _first_segment(path: str) -> str:
    match = VERSION_PREFIX.match(path)
    return path[match.end():].split("/")[0] if match else ""


class InstagramEmulator(ContainerEmulator):
    platform = "instagram"
    create_edge = "media"
    publish_edge = "media_publish"
    list_edge = "media"
    limit_edge = "content_publishing_limit"
    status_field = "status_code"
    text_field = "caption"
    quota_total = 50
    max_children = 10
    permalink_base = "https://www.instagram.com/p/"

    def claims(self, req: Request) -> bool:
        if not VERSION_PREFIX.match(req.path):
            return False
        first = _first_segment(req.path)
        if first:
            return IG_ID.match(first) is not None
        calls = batch_calls(req)
        if not calls:
            return False
        return IG_ID.match(str(calls[0].get("relative_url", "")).lstrip("/").split("/")[0]) is not None

    def container_id(self, n: int) -> str:
        return f"1789{n:013d}"

    def media_id(self, n: int) -> str:
        return f"1790{n:013d}"

    def _check_user(self, user: str) -> None:
        if not user.startswith("17841"):
            raise GraphError(100, f"Unsupported request. Object with ID '{user}' is not an Instagram user.",
                             subcode=33, type_="GraphMethodException")

    def _check_ratio(self, width: int, height: int) -> None:
        ratio = width / height if height else 0
        if not MIN_RATIO <= round(ratio, 3) <= MAX_RATIO:
            raise GraphError(36003, "The aspect ratio is not supported.", subcode=2207009,
                             user_msg=f"The submitted image with aspect ratio ('{width}/{height}') cannot be "
                                      "published. Please submit an image with a valid aspect ratio.")

    def _check_text(self, text: str, fields: dict[str, str]) -> None:
        alt = fields.get("alt_text") or ""
        if len(alt) > MAX_ALT:
            raise GraphError(100, f"(#100) Param alt_text must be at most {MAX_ALT} characters long.")
        too_long = len(text) > MAX_CAPTION
        if (too_long or len(re.findall(r"(?<![\w&])#\w+", text)) > MAX_HASHTAGS
                or len(re.findall(r"(?<!\w)@[\w.]+", text)) > MAX_MENTIONS):
            raise GraphError(100, "(#100) The caption is too long or has too many hashtags or mentions.",
                             subcode=2207010, user_msg="The caption is longer than 2,200 characters, or has more "
                             "than 30 hashtags or 20 mentions.")

    def _error_detail(self) -> dict[str, Any]:
        return {"status": "Error: We could not process the media (2207001)."}

    def _read_user(self, user: str, wanted: list[str]) -> dict[str, Any]:
        self._check_user(user)
        out: dict[str, Any] = {"id": user}
        if "username" in wanted:
            out["username"] = f"ecrire_sandbox_{user[-4:]}"
        return out

    def figures(self, media: dict[str, Any]) -> dict[str, int]:
        base = self.sandbox.metrics_for(self.platform, media["id"], media["created"])
        return {"reach": base["views"], "views": base["views"] + base["views"] // 3, "likes": base["likes"],
                "comments": base["replies"], "saved": base["likes"] // 4, "shares": base["shares"],
                "total_interactions": base["likes"] + base["replies"] + base["shares"] + base["likes"] // 4}

    def handle(self, req: Request) -> Response:
        if _first_segment(req.path):
            return super().handle(req)
        # a Graph batch request: each call answered in turn, as {code, headers, body}
        calls = batch_calls(req) or []
        if len(calls) > MAX_BATCH:
            return self._error(GraphError(1, f"(#1) Batch requests are limited to {MAX_BATCH} calls."))
        token = req.arg("access_token") or self._fields(req).get("access_token")
        answers = []
        for call in calls:
            url = str(call.get("relative_url", "")).lstrip("/")
            path, _, query = url.partition("?")
            inner = Request(str(call.get("method", "GET")).upper(), "/v24.0/" + path,
                            {k: [v] for k, v in (p.split("=", 1) for p in query.split("&") if "=" in p)}
                            | {"access_token": [token or ""]}, {}, b"")
            answer = super().handle(inner)
            answers.append({"code": answer.status, "headers": [{"name": "Content-Type",
                            "value": "application/json; charset=UTF-8"}], "body": json.dumps(answer.body)})
        return json_response(answers)
