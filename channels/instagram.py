"""Instagram professional accounts, through facebook-sdk 3.1.0 (``facebook.GraphAPI``) and the
Instagram Graph API's content publishing (Facebook Login: the account is linked to a Page).

Photo posts and carousels of up to ten images, published in two steps (container, then
``media_publish``) by :mod:`channels.containers`, which keeps the promise of never publishing
twice. Instagram fetches each image itself from a public address (``Image.url``, served signed
and expiring under ``PORTEVOIX_MEDIA_BASE_URL``): it never receives the bytes from us.

facebook-sdk is used as the Facebook channel uses it (version set on the instance, a session hook
keeps the last response for the error mapping). Reference: /work/shared/reference/platforms-next.md §1.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import facebook
import requests

from channels.base import (
    AccountConfig,
    AuthError,
    ChannelError,
    CredentialField,
    Image,
    Metrics,
    PermanentError,
    Problem,
    PublishRequest,
    Validation,
    chunked,
    empty_text,
    number,
    too_long,
)
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
from channels.facebook import graph_version
from channels.http import redirected_session

GRAPH_HOST = "graph.facebook.com"
MAX_CAPTION = 2_200
MAX_HASHTAGS = 5  # the app shows five since December 2025: a warning above, not a refusal
API_MAX_HASHTAGS = 30  # what the API refuses above
MAX_MENTIONS = 20
MAX_IMAGES = 10
MAX_ALT = 1_000
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_TYPES = ("image/jpeg",)
MIN_RATIO, MAX_RATIO = 4 / 5, 1.91  # width / height
INSIGHTS = ("reach", "likes", "comments", "saved", "shares")
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w])@[\w.]+")


class InstagramChannel(ContainerChannel):
    kind = "instagram"
    label = "Instagram"
    platform_name = "Instagram"
    credential_fields = (
        CredentialField(
            "ig_user_id", "identifiant du compte Instagram", "Instagram account ID", secret=False,
            prompt="Instagram account ID (ig-user-id)",
            help_fr="L'identifiant du compte professionnel Instagram relié à la Page : dans l'Explorateur "
                    "de l'API Graph, GET /{id-de-la-Page}?fields=instagram_business_account.",
            help_en="The ID of the professional Instagram account linked to the Page: in the Graph API "
                    "Explorer, GET /{page-id}?fields=instagram_business_account."),
        CredentialField(
            "access_token", "jeton d'accès", "access token", prompt="Page access token",
            label_fr="Jeton d'accès de la Page reliée", label_en="Linked Page's access token",
            help_fr="Le jeton de la Page reliée (de préférence celui d'un utilisateur système de Meta "
                    "Business Suite) avec instagram_basic, instagram_content_publish et pages_read_engagement.",
            help_en="The linked Page's token (preferably a Meta Business Suite system user's) with "
                    "instagram_basic, instagram_content_publish and pages_read_engagement."),
    )
    credential_groups = (("ig_user_id", "access_token"),)
    sandbox_credentials = {"ig_user_id": "17841400000000001", "access_token": "sandbox-ig-token"}
    public_hosts = frozenset({"instagram.com", "www.instagram.com"})
    profile_url_pattern = "https://www.instagram.com/{user}/"
    #: ``{id}`` is the post's short code (the end of its permalink); the media id is not public.
    post_url_pattern = "https://www.instagram.com/p/{id}/"
    limit_option = "max_caption_length"
    account_options = ("graph_version",)
    account_option_help = {"graph_version": ("version de l'API Graph, ex. 24.0", "Graph API version, e.g. 24.0")}
    client_distribution = "facebook-sdk"

    @classmethod
    def account_option(cls, name: str, value: str) -> str:
        return value.strip().removeprefix("v") if name == "graph_version" else value
    offline_credentials = {"ig_user_id": "0", "access_token": "offline"}
    can_alt_text = True  # alt_text on image containers (since 2025-03-24)
    metrics_batch_size = 50  # Graph batch requests carry at most 50 calls
    # 50 posts per rolling 24 h (content_publishing_limit); reads under the BUC limits, split as
    # Facebook's are.
    rate_limits = {"publish": (50, 86400), "metrics": (100, 3600), "read": (50, 3600)}

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        self.user_id, token = self.required_credentials("ig_user_id", "access_token")
        self.graph_version = graph_version(account)
        http = redirected_session(account.base_url, (GRAPH_HOST,), session)
        http.hooks["response"].append(self._on_response)
        self.graph = facebook.GraphAPI(access_token=token, timeout=timeout, session=http)
        self.graph.version = "v" + self.graph_version
        self._seen = threading.local()

    @property
    def account_key(self) -> str:
        return self.user_id

    # -- validate ---------------------------------------------------------------------------------

    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        limit = int(self.account.options.get("max_caption_length", MAX_CAPTION))
        length = len(text)
        problems: list[Problem] = []
        if length > limit:
            problems.append(too_long(self.label, length, limit, "caractères", "characters"))
        tags = _HASHTAG.findall(text)
        warnings: list[Problem] = []
        if len(tags) > API_MAX_HASHTAGS:
            problems.append(Problem(
                "too_many_hashtags",
                f"La légende a {len(tags)} mots-clics ; Instagram en refuse plus de {API_MAX_HASHTAGS}.",
                f"The caption has {len(tags)} hashtags; Instagram refuses more than {API_MAX_HASHTAGS}.",
            ))
        elif len(tags) > MAX_HASHTAGS:  # accepted, but the app shows only the first five
            warnings.append(Problem(
                "too_many_hashtags",
                f"La légende a {len(tags)} mots-clics ; Instagram n'en montre que {MAX_HASHTAGS} depuis "
                f"décembre 2025 : gardez les {MAX_HASHTAGS} plus importants.",
                f"The caption has {len(tags)} hashtags; Instagram shows only {MAX_HASHTAGS} since "
                f"December 2025: keep the {MAX_HASHTAGS} that matter most.",
            ))
        mentions = _MENTION.findall(text)
        if len(mentions) > MAX_MENTIONS:
            problems.append(Problem(
                "too_many_mentions",
                f"La légende mentionne {len(mentions)} comptes ; Instagram en accepte {MAX_MENTIONS} au plus.",
                f"The caption mentions {len(mentions)} accounts; Instagram accepts at most {MAX_MENTIONS}.",
            ))
        if not images:
            problems.append(Problem(
                "image_required",
                "Instagram ne publie pas de texte seul : ajoutez au moins une image.",
                "Instagram does not publish text alone: add at least one image.",
            ) if text.strip() else empty_text(self.label))
        problems += check_images(images, self.label)
        # no check of ``image.url`` here: images get their public address from the worker, just
        # before publishing (approval sees them without); publish refuses an image without one
        return Validation(self.kind, length, limit, tuple(problems), tuple(warnings))

    # -- the container calls ----------------------------------------------------------------------

    def _item_params(self, image: Image, *, in_carousel: bool) -> dict[str, str]:
        params = {"image_url": str(image.url), "alt_text": image.alt[:MAX_ALT]}
        if in_carousel:
            params["is_carousel_item"] = "true"
        return params

    def _single_params(self, request: PublishRequest) -> dict[str, str]:
        if not request.images:
            raise PermanentError(
                "Instagram does not publish text alone.",
                message_fr="Instagram ne publie pas de texte seul : ajoutez au moins une image.",
                platform_code="image_required",
            )
        return {**self._item_params(request.images[0], in_carousel=False), "caption": compose(request)}

    def _carousel_params(self, request: PublishRequest, children: list[str]) -> dict[str, str]:
        return {"media_type": "CAROUSEL", "children": ",".join(children), "caption": compose(request)}

    def _create(self, params: dict[str, str]) -> str:
        result = self._call(self.graph.put_object, self.user_id, "media", may_have_posted=False, **params)
        return str(result["id"])

    def _status(self, container: str) -> tuple[str, str]:
        result = self._call(self.graph.get_object, container, fields="status_code,status", may_have_posted=False)
        return str(result.get("status_code") or ""), str(result.get("status") or "")

    def _publish_container(self, container: str) -> str:
        result = self._call(
            self.graph.put_object, self.user_id, "media_publish", may_have_posted=True, creation_id=container
        )
        return str(result["id"])

    def _quota(self, *, reply: bool = False) -> Quota | None:
        result = self._call(
            self.graph.get_connections, self.user_id, "content_publishing_limit",
            fields="quota_usage,config", may_have_posted=False,
        )
        data = (result.get("data") or [{}])[0]
        config = data.get("config") or {}
        usage, total = as_int(data.get("quota_usage")), as_int(config.get("quota_total"))
        if usage is None or total is None:
            return None
        return Quota(usage, total, as_int(config.get("quota_duration")) or 86400)

    def _recent(self, since: dt.datetime) -> Iterator[list[Recent]]:
        args: dict[str, Any] = {"fields": "id,caption,timestamp,permalink", "limit": RECENT_PAGE_SIZE,
                                "since": int(since.timestamp())}
        while True:
            page = self._call(self.graph.get_connections, self.user_id, "media", may_have_posted=False, **args)
            yield [
                Recent(str(m["id"]), str(m.get("caption") or ""), graph_time(m.get("timestamp")), m.get("permalink"))
                for m in page.get("data", [])
            ]
            after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (page.get("paging") or {}).get("next"):
                return
            args = {**args, "after": after}

    def _permalink(self, platform_id: str) -> tuple[str | None, dt.datetime | None]:
        try:
            media = self._call(self.graph.get_object, platform_id, fields="permalink,timestamp", may_have_posted=False)
        except ChannelError:
            return None, None  # the post is out: only its address is missing
        return media.get("permalink"), graph_time(media.get("timestamp"))

    # -- metrics ----------------------------------------------------------------------------------

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Reach, likes, comments and shares of each post, 50 posts per Graph batch request.
        ``saved`` is given as saves; reach as views.
        A deleted post is left out; a metric Instagram leaves out (no data yet) is None."""
        found: list[Metrics] = []
        for batch in chunked(list(platform_ids), self.metrics_batch_size):
            calls = [{"method": "GET", "relative_url": f"{pid}/insights?metric={','.join(INSIGHTS)}"} for pid in batch]
            answers = self._call(
                self.graph.request, f"{self.graph.version}/", post_args={"batch": json.dumps(calls)},
                method="POST", may_have_posted=False,
            )
            if not isinstance(answers, list):
                raise PermanentError("Instagram gave an unreadable batch answer.",
                                     message_fr="Instagram a donné une réponse groupée illisible.")
            for pid, answer in zip(batch, answers, strict=False):
                if not isinstance(answer, dict) or answer.get("code") != 200:
                    continue  # deleted, or a carousel child: no figures
                try:
                    body = json.loads(answer.get("body") or "{}")
                except ValueError:
                    continue
                values = {
                    d.get("name"): as_int(((d.get("values") or [{}])[0]).get("value"))
                    for d in body.get("data", [])
                }
                found.append(Metrics(
                    pid, likes=values.get("likes"), shares=values.get("shares"),
                    replies=values.get("comments"), quotes=None, views=values.get("reach"),
                    saves=values.get("saved"),
                ))
        return found

    # -- whoami -----------------------------------------------------------------------------------

    def whoami(self) -> str:
        try:
            user = self._call(self.graph.get_object, self.user_id, fields="id,username", may_have_posted=False)
        except PermanentError as exc:  # an unknown account id is a credential problem here
            raise AuthError(exc.message_en, message_fr=exc.message_fr, platform_code=exc.platform_code) from exc
        return "@" + str(user.get("username") or user["id"])

    # -- HTTP plumbing ----------------------------------------------------------------------------

    def _call(self, fn: Callable[..., Any], *args: Any, may_have_posted: bool, **kwargs: Any) -> Any:
        self.graph.timeout = self.timeout
        self._seen.response = None
        try:
            return fn(*args, **kwargs)
        except facebook.GraphAPIError as exc:
            response = getattr(self._seen, "response", None)
            error = exc.result.get("error") if isinstance(exc.result, dict) else None
            if not isinstance(error, dict):
                error = {"message": str(exc)}
            refusal = GraphRefusal(error, response.status_code if response is not None else None)
            raise self.map_error(refusal, write=may_have_posted) from exc
        except requests.RequestException as exc:
            raise self.map_error(exc, write=may_have_posted) from exc
        except (KeyError, ValueError) as exc:  # facebook-sdk reads headers and .json() blindly
            response = getattr(self._seen, "response", None)
            status = response.status_code if response is not None else None
            refusal = GraphRefusal({"message": f"unreadable answer: {exc}"}, status or 500)
            raise self.map_error(refusal, write=may_have_posted) from exc

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._seen.response = response


def check_images(images: Sequence[Image], platform: str) -> list[Problem]:
    """Instagram's image rules: ten at most, alt text (≤ 1,000), JPEG only, 8 MB, 4:5 to 1.91:1."""
    from channels.base import check_images as common

    problems = common(images, max_count=MAX_IMAGES, max_bytes=MAX_IMAGE_BYTES, mime_types=IMAGE_TYPES,
                      platform=platform)
    for i, image in enumerate(images, start=1):
        if len(image.alt) > MAX_ALT:
            problems.append(Problem(
                "alt_too_long",
                f"Le texte alternatif de l'image {i} compte {number(len(image.alt), 'fr')} caractères ; "
                f"{platform} en accepte {number(MAX_ALT, 'fr')} au plus.",
                f"Image {i}'s alt text has {number(len(image.alt), 'en')} characters; {platform} accepts "
                f"at most {number(MAX_ALT, 'en')}.",
            ))
        size = image_size(image.data)
        if size is None:
            if image.mime_type in IMAGE_TYPES:
                problems.append(Problem(
                    "image_unreadable",
                    f"L'image {i} n'est pas un JPEG lisible.",
                    f"Image {i} is not a readable JPEG.",
                ))
            continue
        width, height = size
        ratio = width / height if height else 0
        if not MIN_RATIO <= round(ratio, 3) <= MAX_RATIO:
            problems.append(Problem(
                "image_ratio",
                f"L'image {i} mesure {width} × {height} : {platform} accepte des proportions entre 4:5 "
                "(portrait) et 1,91:1 (paysage). Recadrez-la.",
                f"Image {i} is {width} × {height}: {platform} accepts proportions between 4:5 (portrait) "
                "and 1.91:1 (landscape). Crop it.",
            ))
    return problems
