"""Threads profiles, through the Threads API (``graph.threads.net``, version ``v1.0``).

Why not facebook-sdk here: its ``GraphAPI.request`` builds every address from the module
constant ``FACEBOOK_GRAPH_URL`` (``https://graph.facebook.com/``), so reaching
``graph.threads.net`` would mean rewriting a module global shared with the Facebook and Instagram
channels (racy across threads); and its version check refuses ``1.0`` written as Threads does.
What Threads needs is small: form-encoded GET/POST/DELETE with the token, JSON answers, and
Graph's error object. :class:`ThreadsClient` does that on the same ``requests`` session
machinery as the other channels (``channels.http.redirected_session``, so the sandbox and proxies
work alike), typed, and raises :class:`ThreadsAPIError` with the status and the error object.

Text, image and carousel posts (2 to 20 images) and reply threads (``reply_to_id``), published in
two steps by :mod:`channels.containers` (never twice). Threads fetches images itself from
``Image.url`` (served under ``PORTEVOIX_MEDIA_BASE_URL``). Reference:
/work/shared/reference/platforms-next.md §2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any

import requests

from channels import reply_limits, thread
from channels.base import (
    AccountConfig,
    AuthError,
    ChannelError,
    CredentialField,
    Found,
    Image,
    Metrics,
    PermanentError,
    Problem,
    Published,
    PublishRequest,
    Validation,
    empty_text,
    number,
    too_long,
)
from channels.base import check_images as common_image_checks
from channels.containers import (
    RECENT_PAGE_SIZE,
    ContainerChannel,
    GraphRefusal,
    Quota,
    Recent,
    as_int,
    compose,
    graph_time,
    image_size,
)
from channels.http import redirected_session

THREADS_HOST = "graph.threads.net"
API_VERSION = "v1.0"
MAX_TEXT = 500
MAX_LINKS = 5  # unique links per post (more fails with THREADS_API__LINK_LIMIT_EXCEEDED)
MAX_IMAGES = 20
MAX_ALT = 1_000
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png")
MAX_RATIO = 10.0
INSIGHTS = ("views", "likes", "replies", "reposts", "quotes")
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


@dataclasses.dataclass
class ThreadsAPIError(Exception):
    status: int | None
    error: dict[str, Any]


class ThreadsClient:
    """The few calls Porte-voix makes to the Threads API, on a ``requests`` session."""

    def __init__(self, token: str, session: requests.Session, *, timeout: float) -> None:
        self.token = token
        self.session = session
        self.timeout = timeout

    def _url(self, path: str) -> str:
        return f"https://{THREADS_HOST}/{API_VERSION}/{path.lstrip('/')}"

    def request(self, method: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        args = {k: str(v) for k, v in (params or {}).items()}
        args["access_token"] = self.token
        if method == "POST":
            response = self.session.post(self._url(path), data=args, timeout=self.timeout)
        else:
            response = self.session.request(method, self._url(path), params=args, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ThreadsAPIError(response.status_code, {"message": f"unreadable answer ({response.status_code})"})
        error = body.get("error")
        if error is not None or response.status_code >= 400:
            raise ThreadsAPIError(response.status_code, error if isinstance(error, dict) else {"message": str(error)})
        return body

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("GET", path, params)

    def post(self, path: str, **params: Any) -> dict[str, Any]:
        return self.request("POST", path, params)

    def delete(self, path: str) -> dict[str, Any]:
        return self.request("DELETE", path)


class ThreadsChannel(ContainerChannel):
    kind = "threads"
    label = "Threads"
    platform_name = "Threads"
    credential_fields = (
        CredentialField(
            "user_id", "identifiant du profil Threads", "Threads user ID", secret=False,
            prompt="Threads user ID",
            help_fr="L'identifiant numérique du profil : GET https://graph.threads.net/v1.0/me?fields=id,username "
                    "avec le jeton.",
            help_en="The profile's numeric ID: GET https://graph.threads.net/v1.0/me?fields=id,username with "
                    "the token."),
        CredentialField(
            "access_token", "jeton d'accès Threads", "Threads access token", prompt="Threads user access token",
            help_fr="Un jeton d'utilisateur Threads de longue durée (60 jours, à renouveler) avec threads_basic, "
                    "threads_content_publish, threads_manage_insights et threads_delete.",
            help_en="A long-lived Threads user token (60 days, to be refreshed) with threads_basic, "
                    "threads_content_publish, threads_manage_insights and threads_delete."),
    )
    credential_groups = (("user_id", "access_token"),)
    client_distribution = "requests"  # no SDK reaches graph.threads.net: a typed client on requests
    sandbox_credentials = {"user_id": "25900000000000001", "access_token": "sandbox-threads-token"}
    public_hosts = frozenset({"threads.net", "www.threads.net", "threads.com", "www.threads.com"})
    profile_url_pattern = "https://www.threads.net/@{user}"
    #: ``{id}`` is the post's short code (the end of its permalink).
    post_url_pattern = "https://www.threads.net/@{user}/post/{id}"
    limit_option = "max_text_length"
    offline_credentials = {"user_id": "0", "access_token": "offline"}
    can_thread = True  # reply_to_id: each part answers the previous one
    limits_replies = "replies"  # reply_control on the first part's container
    can_delete = True  # DELETE /{media-id} (threads_delete)
    can_alt_text = True
    metrics_batch_size = 1  # /{media}/insights answers for one post; Threads has no batch call
    # 250 posts per rolling 24 h (threads_publishing_limit); calls: 4,800 x impressions per 24 h.
    # deletions: 100 per 24 h (platforms-next.md §2)
    rate_limits = {"publish": (250, 86400), "metrics": (200, 3600), "read": (100, 3600), "delete": (100, 86400)}

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        self.user_id, token = self.required_credentials("user_id", "access_token")
        http = redirected_session(account.base_url, (THREADS_HOST,), session)
        self.client = ThreadsClient(token, http, timeout=timeout)

    @property
    def account_key(self) -> str:
        return self.user_id

    # -- validate ---------------------------------------------------------------------------------

    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        limit = int(self.account.options.get("max_text_length", MAX_TEXT))
        length = threads_length(text)
        problems: list[Problem] = []
        if not text.strip() and not images:
            problems.append(empty_text(self.label))
        if length > limit:
            problems.append(too_long(self.label, length, limit, "caractères", "characters"))
        links = unique_links(text)
        if len(links) > MAX_LINKS:
            problems.append(Problem(
                "too_many_links",
                f"Le texte a {len(links)} liens différents ; Threads en accepte {MAX_LINKS} au plus.",
                f"The text has {len(links)} different links; Threads accepts at most {MAX_LINKS}.",
            ))
        problems += common_image_checks(images, max_count=MAX_IMAGES, max_bytes=MAX_IMAGE_BYTES,
                                        mime_types=IMAGE_TYPES, platform=self.label)
        for i, image in enumerate(images, start=1):
            if len(image.alt) > MAX_ALT:
                problems.append(Problem(
                    "alt_too_long",
                    f"Le texte alternatif de l'image {i} compte {number(len(image.alt), 'fr')} caractères ; "
                    f"Threads en accepte {number(MAX_ALT, 'fr')} au plus.",
                    f"Image {i}'s alt text has {number(len(image.alt), 'en')} characters; Threads accepts at "
                    f"most {number(MAX_ALT, 'en')}.",
                ))
            size = image_size(image.data)
            if size and min(size) and max(size) / min(size) > MAX_RATIO:
                problems.append(Problem(
                    "image_ratio",
                    f"L'image {i} mesure {size[0]} × {size[1]} : Threads refuse les images plus de 10 fois "
                    "plus longues que larges. Recadrez-la.",
                    f"Image {i} is {size[0]} × {size[1]}: Threads refuses images more than 10 times longer "
                    "than wide. Crop it.",
                ))
        # no check of ``image.url`` here: images get their public address from the worker, just
        # before publishing (approval sees them without); publish refuses an image without one
        return Validation(self.kind, length, limit, tuple(problems))

    # -- threads of replies and deletion ----------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        """One post, or a thread whose parts each reply to the one before (``reply_to_id``,
        each part its own container under its own key: ``channels/thread``); with
        ``reply_to``, the first part answers that post."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.publish(self, request, first=first, find_first=self._find_post)

    def post_part(self, request: PublishRequest, target: thread.Target | None) -> Published:
        extra = {"reply_to_id": target.parent} if target is not None else {}
        if control := reply_limits.value_for(reply_limits.THREADS, request.reply_limit):
            extra["reply_control"] = control  # who may reply: the first part only carries a limit
        return self._publish_request(request, extra)

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.find(self, request, since=since, find_first=self._find_post, first=first)

    def _find_post(self, request: PublishRequest, since: dt.datetime) -> Found:
        return super().find(request, since=since)

    def find_part(self, request: PublishRequest, target: thread.Target, *, since: dt.datetime) -> Found:
        """A part, by its own container (its status says whether it was published) or its text
        among the account's recent posts."""
        return super().find(request, since=since)

    def publish_reply(self, request: PublishRequest, reply_to: str) -> Published:
        """Publish ``request`` as a reply to the post ``reply_to`` (ours): one part of a thread."""
        return self._publish_request(request, {"reply_to_id": reply_to})

    def publish_thread(self, requests_: Sequence[PublishRequest]) -> list[Published]:
        """Publish the parts in order, each replying to the previous one. Each part is its own
        publish under its own request key (resumed, never duplicated, like any other); a thread
        cut short is continued with :meth:`publish_reply` from the last part that went out."""
        out: list[Published] = []
        for request in requests_:
            out.append(self.publish_reply(request, out[-1].platform_id) if out else self.publish(request))
        return out

    def delete(self, platform_id: str) -> None:
        """``DELETE /{media-id}`` (``threads_delete``); a post already gone (Graph's "does not
        exist", code 100 subcode 33, or a 404) counts as deleted."""
        try:
            result = self._call("DELETE", platform_id, may_have_posted=True)
        except PermanentError as exc:
            cause = exc.__cause__
            if isinstance(cause, ThreadsAPIError) and (
                    cause.status == 404 or (cause.error.get("code") == 100 and cause.error.get("error_subcode") == 33)):
                return
            raise
        if not result.get("success"):
            raise PermanentError(f"Threads did not delete {platform_id}.",
                                 message_fr=f"Threads n'a pas supprimé la publication {platform_id}.")

    # -- the container calls ----------------------------------------------------------------------

    def _item_params(self, image: Image, *, in_carousel: bool) -> dict[str, str]:
        params = {"media_type": "IMAGE", "image_url": str(image.url), "alt_text": image.alt[:MAX_ALT]}
        if in_carousel:
            params["is_carousel_item"] = "true"
        return params

    def _single_params(self, request: PublishRequest) -> dict[str, str]:
        text = compose(request)
        if not request.images:
            return {"media_type": "TEXT", "text": text}
        return {**self._item_params(request.images[0], in_carousel=False), "text": text}

    def _carousel_params(self, request: PublishRequest, children: list[str]) -> dict[str, str]:
        return {"media_type": "CAROUSEL", "children": ",".join(children), "text": compose(request)}

    def _create(self, params: dict[str, str]) -> str:
        return str(self._call("POST", f"{self.user_id}/threads", may_have_posted=False, **params)["id"])

    def _status(self, container: str) -> tuple[str, str]:
        result = self._call("GET", container, may_have_posted=False, fields="status,error_message")
        return str(result.get("status") or ""), str(result.get("error_message") or "")

    def _publish_container(self, container: str) -> str:
        result = self._call("POST", f"{self.user_id}/threads_publish", may_have_posted=True, creation_id=container)
        return str(result["id"])

    def _quota(self, *, reply: bool = False) -> Quota | None:
        result = self._call("GET", f"{self.user_id}/threads_publishing_limit", may_have_posted=False,
                            fields="quota_usage,config,reply_quota_usage,reply_config")
        data = (result.get("data") or [{}])[0]
        usage_key, config_key = ("reply_quota_usage", "reply_config") if reply else ("quota_usage", "config")
        config = data.get(config_key) or {}
        usage, total = as_int(data.get(usage_key)), as_int(config.get("quota_total"))
        if usage is None or total is None:
            return None
        return Quota(usage, total, as_int(config.get("quota_duration")) or 86400)

    def _recent(self, since: dt.datetime) -> Iterator[list[Recent]]:
        args: dict[str, Any] = {"fields": "id,text,timestamp,permalink", "limit": RECENT_PAGE_SIZE,
                                "since": int(since.timestamp())}
        while True:
            page = self._call("GET", f"{self.user_id}/threads", may_have_posted=False, **args)
            yield [Recent(str(m["id"]), str(m.get("text") or ""), graph_time(m.get("timestamp")), m.get("permalink"))
                   for m in page.get("data", [])]
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not after or not paging.get("next"):
                return
            args = {**args, "after": after}

    def _permalink(self, platform_id: str) -> tuple[str | None, dt.datetime | None]:
        try:
            media = self._call("GET", platform_id, may_have_posted=False, fields="permalink,timestamp")
        except ChannelError:
            return None, None
        return media.get("permalink"), graph_time(media.get("timestamp"))

    # -- metrics ----------------------------------------------------------------------------------

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Views, likes, replies, reposts (as shares) and quotes, one call per post; a deleted
        post is left out."""
        found: list[Metrics] = []
        for pid in platform_ids:
            try:
                body = self._call("GET", f"{pid}/insights", may_have_posted=False, metric=",".join(INSIGHTS))
            except PermanentError:
                continue  # deleted or unknown
            values = {d.get("name"): as_int(((d.get("values") or [{}])[0]).get("value"))
                      for d in body.get("data", [])}
            found.append(Metrics(pid, likes=values.get("likes"), shares=values.get("reposts"),
                                 replies=values.get("replies"), quotes=values.get("quotes"),
                                 views=values.get("views")))
        return found

    # -- whoami -----------------------------------------------------------------------------------

    def whoami(self) -> str:
        try:
            user = self._call("GET", self.user_id, may_have_posted=False, fields="id,username")
        except PermanentError as exc:
            raise AuthError(exc.message_en, message_fr=exc.message_fr, platform_code=exc.platform_code) from exc
        return "@" + str(user.get("username") or user["id"])

    # -- HTTP plumbing ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, may_have_posted: bool, **params: Any) -> dict[str, Any]:
        self.client.timeout = self.timeout
        try:
            return self.client.request(method, path, params)
        except ThreadsAPIError as exc:
            raise self.map_error(GraphRefusal(exc.error, exc.status), write=may_have_posted) from exc
        except requests.RequestException as exc:
            raise self.map_error(exc, write=may_have_posted) from exc


def threads_length(text: str) -> int:
    """Characters as Threads counts them: links in full, and an emoji as its UTF-8 bytes."""
    return sum(len(ch.encode("utf-8")) if _is_emoji(ch) else 1 for ch in text)


def _is_emoji(ch: str) -> bool:
    return ord(ch) >= 0x1F000 or unicodedata.category(ch) == "So" or 0xFE00 <= ord(ch) <= 0xFE0F or ch == "\u200d"


def unique_links(text: str) -> set[str]:
    return {m.group(0).rstrip(".,;:!?)»").lower() for m in _LINK.finditer(text)}
