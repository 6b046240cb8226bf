"""Facebook Pages, through facebook-sdk 3.1.0 (``facebook.GraphAPI``) and the Graph API.

facebook-sdk is a thin ``requests`` wrapper, unmaintained since 2018: its constructor only accepts
Graph versions up to 3.1, so the version is set on the instance from configuration, and it drops
HTTP status and headers, so a session hook keeps the last response for the error mapping and the
usage headers. Reference: /work/shared/reference/platforms.md §2.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import facebook
import requests
from urllib3.exceptions import NewConnectionError

from channels.base import (
    AccountConfig,
    AmbiguousError,
    AuthError,
    Channel,
    ChannelError,
    DuplicateRefused,
    Found,
    Image,
    Metrics,
    PermanentError,
    Published,
    PublishRequest,
    RateInfo,
    RateLimited,
    TransientError,
    Validation,
    check_images,
    chunked,
    empty_text,
    too_long,
)
from channels.http import redirected_session

GRAPH_HOST = "graph.facebook.com"
#: Meta retires each Graph version about two years after release; override per account with the
#: ``graph_version`` option (https://developers.facebook.com/docs/graph-api/changelog/versions/).
DEFAULT_GRAPH_VERSION = "24.0"
MAX_MESSAGE = 63_206  # widely cited post limit; Meta does not document it (platforms.md §5)
MAX_IMAGES = 10
# Photo limits: https://developers.facebook.com/docs/graph-api/reference/page/photos/
MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff")
METRIC_FIELDS = (
    "shares,reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0)"
)
FEED_PAGE_SIZE = 100  # the largest page /{page}/feed serves
MAX_FEED_PAGES = 30  # reconcile reads at most 3,000 posts back before giving up
CLOCK_SKEW = dt.timedelta(minutes=2)  # our clock against Meta's, when asking the feed ``since``
#: When a throttled answer gives no estimate: Platform limits roll over one hour, so usage drops
#: gradually; a quarter of it is a reasonable first wait.
RATE_LIMIT_FALLBACK = dt.timedelta(minutes=15)
USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage")

# Error codes, https://developers.facebook.com/docs/graph-api/guides/error-handling and
# https://developers.facebook.com/docs/graph-api/overview/rate-limiting/
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, 80001})
AUTH_CODES = frozenset({10, 102, 104, 190})  # plus the permission range 200-299
SERVER_CODES = frozenset({1, 2})  # "API Unknown" / "API Service": temporary, Meta says retry


class FacebookChannel(Channel):
    kind = "facebook"
    label = "Facebook"
    metrics_batch_size = 50  # documented maximum of ids per ?ids= lookup
    # Page tokens fall under Business Use Case limits: 4,800 calls x engaged users per 24 h
    # (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/). With a single
    # engaged user that is 200 calls an hour, split here between the three kinds of call.
    rate_limits = {"publish": (50, 3600), "metrics": (100, 3600), "read": (50, 3600)}

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        self.page_id = str(account.credentials.get("page_id") or "").strip()
        token = str(account.credentials.get("page_token") or "").strip()
        if not self.page_id or not token:
            raise AuthError(
                "Facebook needs both page_id and page_token.",
                message_fr="Facebook demande l'identifiant de la Page (page_id) et son jeton (page_token).",
            )
        self.graph_version = graph_version(account)
        http = redirected_session(account.base_url, (GRAPH_HOST,), session)
        http.hooks["response"].append(self._on_response)
        # The constructor rejects every modern version ("#.#" regex): set it on the instance.
        self.graph = facebook.GraphAPI(access_token=token, timeout=timeout, session=http)
        self.graph.version = "v" + self.graph_version
        self._seen = threading.local()

    # -- validate ---------------------------------------------------------------------------------

    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        limit = int(self.account.options.get("max_message_length", MAX_MESSAGE))
        length = len(text)  # Meta counts characters; code points are what its limit is quoted in
        problems = []
        if not text.strip() and not images:
            problems.append(empty_text(self.label))
        if length > limit:
            problems.append(too_long(self.label, length, limit, "caractères", "characters"))
        problems += check_images(
            images,
            max_count=MAX_IMAGES,
            max_bytes=MAX_IMAGE_BYTES,
            mime_types=IMAGE_TYPES,
            platform=self.label,
        )
        return Validation(self.kind, length, limit, tuple(problems))

    # -- publish ----------------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        # Facebook has no idempotency key: an uncertain outcome is settled by find().
        message = compose(request)
        page = self.page_id
        if not request.images:
            # https://developers.facebook.com/docs/pages-api/posts#publish-posts
            args = {"message": message, **({"link": request.link} if request.link else {})}
            result = self._call(self.graph.put_object, page, "feed", may_have_posted=True, **args)
            post_id = str(result["id"])
        elif len(request.images) == 1:
            image = request.images[0]
            result = self._call(
                self.graph.put_photo,
                image=_upload(image),
                album_path=f"{page}/photos",
                message=message,
                alt_text_custom=image.alt,
                may_have_posted=True,
            )
            post_id = str(result.get("post_id") or result["id"])
        else:
            # Several photos: upload each unpublished, then one feed post that attaches them.
            # Unpublished photos never show on the Page, so a failed upload has published
            # nothing and counts as a read (https://developers.facebook.com/docs/pages-api/posts).
            media = []
            for image in request.images:
                staged = self._call(
                    self.graph.put_photo,
                    image=_upload(image),
                    album_path=f"{page}/photos",
                    published="false",
                    alt_text_custom=image.alt,
                    may_have_posted=False,
                )
                media.append(str(staged["id"]))
            attached = {
                f"attached_media[{i}]": json.dumps({"media_fbid": m}) for i, m in enumerate(media)
            }
            text = {"message": message} if message else {}
            result = self._call(
                self.graph.put_object, page, "feed", may_have_posted=True, **text, **attached
            )
            post_id = str(result["id"])
        return Published(post_id, permalink(post_id), dt.datetime.now(dt.UTC))

    # -- metrics ----------------------------------------------------------------------------------

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Figures for each post still on the Page; deleted posts are left out of the result."""
        found: list[Metrics] = []
        for batch in chunked(list(platform_ids), self.metrics_batch_size):
            found += self._metrics_batch(list(batch))
        return found

    def _metrics_batch(self, ids: list[str]) -> list[Metrics]:
        try:
            data = self._call(
                self.graph.get_objects, ids, fields=METRIC_FIELDS, may_have_posted=False
            )
        except PermanentError as exc:
            # One unknown id fails the whole lookup (#803 "Some of the aliases you requested do
            # not exist: a,b"): ask again once without the ids Graph named.
            named = re.search(r"do not exist: ([\w,]+)", str(exc))
            missing = set(named.group(1).split(",")) if named else set()
            rest = [i for i in ids if i not in missing]
            if exc.platform_code != 803 or len(rest) == len(ids):
                raise
            if not rest:
                return []
            data = self._call(
                self.graph.get_objects, rest, fields=METRIC_FIELDS, may_have_posted=False
            )
        return [_metrics(pid, data[pid]) for pid in ids if isinstance(data.get(pid), dict)]

    # -- reconcile --------------------------------------------------------------------------------

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        """Read the Page feed from ``since`` on and look for the exact message."""
        if since.tzinfo is None:
            raise ValueError("find() needs an aware datetime for since")
        wanted = _normal(compose(request))
        if not wanted:
            return Found(
                reason="Publication sans texte : impossible de la reconnaître dans le fil de la Page."
            )
        floor = since - CLOCK_SKEW
        args: dict[str, Any] = {
            "fields": "id,message,created_time",
            "since": int(floor.timestamp()),
            "limit": FEED_PAGE_SIZE,
        }
        for _ in range(MAX_FEED_PAGES):
            page = self._call(
                self.graph.get_connections, self.page_id, "feed", may_have_posted=False, **args
            )
            for item in page.get("data", []):
                created = _graph_time(item.get("created_time"))
                if created is not None and created < floor:
                    return Found(absent=True)  # newest first: the whole window has been read
                if _normal(item.get("message", "")) == wanted:
                    return Found(
                        published=Published(str(item["id"]), permalink(str(item["id"])), created)
                    )
            next_url = page.get("paging", {}).get("next")
            if not next_url:
                return Found(absent=True)
            args = {
                k: v[0]
                for k, v in parse_qs(urlsplit(next_url).query).items()
                if k != "access_token"
            }
        return Found(
            reason=f"Plus de {MAX_FEED_PAGES * FEED_PAGE_SIZE} publications depuis {since:%Y-%m-%d %H:%M} : lecture arrêtée."
        )

    # -- whoami -----------------------------------------------------------------------------------

    def whoami(self) -> str:
        try:
            page = self._call(
                self.graph.get_object, self.page_id, fields="id,name", may_have_posted=False
            )
        except PermanentError as exc:  # an unknown page id is a credential problem here
            raise AuthError(
                exc.message_en, message_fr=exc.message_fr, platform_code=exc.platform_code
            ) from exc
        return str(page.get("name") or page["id"])

    # -- HTTP plumbing ----------------------------------------------------------------------------

    def _call(
        self, fn: Callable[..., Any], *args: Any, may_have_posted: bool, **kwargs: Any
    ) -> Any:
        self.graph.timeout = self.timeout
        self._seen.response = None
        try:
            return fn(*args, **kwargs)
        except (facebook.GraphAPIError, requests.RequestException, KeyError, ValueError) as exc:
            # KeyError/ValueError: facebook-sdk reads headers["content-type"] and .json() blindly
            raise self._translate(exc, may_have_posted=may_have_posted) from exc

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._seen.response = response
        usage = _usage(response.headers)
        if usage is not None:
            method, url = response.request.method, response.request.url or ""
            endpoint = "publish" if method != "GET" else "metrics" if "ids=" in url else "read"
            used, regain = usage
            reset = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=regain) if regain else None
            # Graph reports usage in percent of the budget: limit 100, remaining what is left.
            self.note_rate(RateInfo(endpoint, max(0, 100 - used), 100, reset))

    def _translate(self, exc: Exception, *, may_have_posted: bool) -> ChannelError:
        """The one place where facebook-sdk and requests failures become our error kinds."""
        response: requests.Response | None = getattr(self._seen, "response", None)
        status = response.status_code if response is not None else None
        unsure = AmbiguousError if may_have_posted else TransientError

        if isinstance(exc, requests.RequestException) and not isinstance(
            exc, requests.JSONDecodeError
        ):
            # Refused, DNS or connect timeout: nothing was sent, retrying is safe
            # (https://requests.readthedocs.io/en/latest/api/#exceptions: ConnectTimeout "is safe
            # to retry"; a NewConnectionError means no connection was ever made).
            if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
                return TransientError(
                    f"Graph API unreachable: {_redact(exc)}",
                    message_fr="Facebook est injoignable (rien n'a été envoyé).",
                )
            # Read timeout, reset after sending, truncated answer: the request left, Meta may
            # have acted on it (ReadTimeout: "The server did not send any data in the allotted
            # amount of time", same page). Only a read can be retried blindly.
            return unsure(
                f"No complete answer from the Graph API: {_redact(exc)}",
                message_fr="Facebook n'a pas répondu jusqu'au bout : la publication a peut-être eu lieu.",
            )

        error = (
            exc.result.get("error")
            if isinstance(exc, facebook.GraphAPIError) and isinstance(exc.result, dict)
            else None
        )
        error = error if isinstance(error, dict) else {}
        code = _int(error.get("code"))
        message = str(error.get("message") or exc)

        # Throttling answers carry codes 4/17/32/613 (Platform), 80001 (Pages BUC) or 341
        # (posting limit) with HTTP 400/403, not 429:
        # https://developers.facebook.com/docs/graph-api/overview/rate-limiting/
        if code in RATE_LIMIT_CODES or status == 429:
            return RateLimited(
                f"Facebook rate limit ({code}): {message}",
                reset_at=_reset_at(response),
                platform_code=code,
            )
        # 190 invalid/expired token, 102 session, 104 no token, 10 and 200-299 missing permission:
        # a person must renew the token or re-grant permissions
        # (https://developers.facebook.com/docs/graph-api/guides/error-handling#errorcodes).
        if code in AUTH_CODES or (code is not None and 200 <= code < 300) or status == 401:
            return AuthError(
                f"Facebook refused the Page token ({code}): {message}",
                message_fr=f"Facebook refuse le jeton de la Page ({code}) : renouvelez-le ou accordez à nouveau les autorisations. Détail : {message}",
                platform_code=code,
            )
        # 5xx, codes 1/2, is_transient, or an answer facebook-sdk could not read: Meta's side
        # failed and says "retry" (same error-handling page); after a write the post may exist.
        if (
            (status is not None and status >= 500)
            or code in SERVER_CODES
            or error.get("is_transient")
            or (code is None and (status is None or status < 400))
        ):
            return unsure(
                f"Graph API server error ({status}, {code}): {message}",
                message_fr=f"Erreur du côté de Facebook ({status}) : la publication a peut-être eu lieu si c'était un envoi.",
                platform_code=code,
            )
        # Everything else (100, 324, 368, 506, 1609005, other 4xx): the content or the request is
        # refused; retrying the same thing cannot succeed (same error-handling page).
        return _refusal(code, message)


# ---------------------------------------------------------------------------------------------
# Helpers


def graph_version(account: AccountConfig) -> str:
    raw = (
        account.options.get("graph_version")
        or account.credentials.get("graph_version")
        or DEFAULT_GRAPH_VERSION
    )
    version = str(raw).strip().removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+", version):
        raise PermanentError(
            f"graph_version must look like 24.0, not {raw!r}.",
            message_fr=f"graph_version doit ressembler à 24.0, pas à « {raw} ».",
        )
    return version


def compose(request: PublishRequest) -> str:
    """The message as posted: the text, then the link when the text does not already carry it."""
    text = request.text.rstrip()
    if request.link and request.link not in text:
        return f"{text}\n\n{request.link}" if text else request.link
    return text


def permalink(post_id: str) -> str:
    page, _, number = post_id.partition("_")
    return (
        f"https://www.facebook.com/{page}/posts/{number}"
        if number
        else f"https://www.facebook.com/{post_id}"
    )


def _upload(image: Image) -> tuple[str, bytes, str]:
    return (image.filename, image.data, image.mime_type)


def _metrics(platform_id: str, obj: dict[str, Any]) -> Metrics:
    shares = obj.get("shares")
    return Metrics(
        platform_id,
        likes=_total(obj.get("reactions")),
        # Graph omits ``shares`` when nobody shared; the object came back, so that means 0.
        shares=(_int(shares.get("count")) or 0) if isinstance(shares, dict) else 0,
        replies=_total(obj.get("comments")),
        quotes=None,  # Facebook has no quote posts
        views=None,  # impressions need read_insights on /insights, not object fields
    )


def _total(edge: Any) -> int | None:
    if isinstance(edge, dict) and isinstance(edge.get("summary"), dict):
        return _int(edge["summary"].get("total_count"))
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _graph_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None


def _never_connected(exc: requests.RequestException) -> bool:
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    # NameResolutionError subclasses NewConnectionError (urllib3 2.x); SSL fails before sending.
    return isinstance(reason, NewConnectionError) or isinstance(exc, requests.exceptions.SSLError)


def _redact(exc: Exception) -> str:
    # requests names the URL in its messages, and GET URLs carry the token (facebook-sdk puts
    # access_token in the query string): never let it reach a stored error.
    return re.sub(r"access_token=[^&\s'\"]+", "access_token=***", str(exc))


def _usage(headers: Any) -> tuple[int, int] | None:
    """(highest percentage used, minutes to regain access) from Graph's usage headers."""
    used, regain, seen = 0, 0, False
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        # X-App-Usage/X-Page-Usage are one object; X-Business-Use-Case-Usage maps ids to lists.
        entries = [parsed] if "call_count" in parsed else [e for v in parsed.values() for e in v]
        for entry in entries:
            seen = True
            used = max(
                used,
                *(_int(entry.get(k)) or 0 for k in ("call_count", "total_time", "total_cputime")),
            )
            regain = max(regain, _int(entry.get("estimated_time_to_regain_access")) or 0)
    return (used, regain) if seen else None


def _reset_at(response: requests.Response | None) -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    usage = _usage(response.headers) if response is not None else None
    if usage and usage[1] > 0:
        return now + dt.timedelta(minutes=usage[1])
    retry_after = _int(response.headers.get("retry-after")) if response is not None else None
    return now + (dt.timedelta(seconds=retry_after) if retry_after else RATE_LIMIT_FALLBACK)


#: Plain words for the refusals a person can act on (codes from the error-handling page).
REFUSALS: dict[int | None, tuple[str, str]] = {
    506: (
        "Facebook refuses a post identical to a recent one on this Page.",
        "Facebook refuse une publication identique à une publication récente de cette Page : modifiez le texte.",
    ),
    368: (
        "Facebook has temporarily blocked posting from this Page for a policy reason.",
        "Facebook bloque temporairement les publications de cette Page (règles de la plateforme) : vérifiez la Page dans Meta Business Suite.",
    ),
    324: (
        "Facebook could not read an image.",
        "Facebook n'a pas pu lire une image : vérifiez son format (JPEG, PNG, GIF, BMP, TIFF) et sa taille (4 Mo au plus).",
    ),
    1609005: (
        "Facebook could not fetch the link.",
        "Facebook n'a pas pu lire le lien : vérifiez qu'il s'ouvre publiquement.",
    ),
    100: (
        "Facebook refused a parameter of the post.",
        "Facebook refuse un élément de la publication (texte trop long, image ou lien invalide).",
    ),
    None: ("Facebook refused the request.", "Facebook refuse la demande."),
}


def _refusal(code: int | None, message: str) -> PermanentError:
    en, fr = REFUSALS.get(code, REFUSALS[None])
    refusal = DuplicateRefused if code == 506 else PermanentError
    return refusal(
        f"{en} ({code}: {message})",
        message_fr=f"{fr} (code {code} : {message})",
        platform_code=code,
    )
