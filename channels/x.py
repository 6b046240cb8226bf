"""X (Twitter) through tweepy 4.17's v2 ``Client``, plus our own small v2 media upload.

Credentials (``AccountConfig.credentials``), either:

- OAuth 1.0a user context: ``consumer_key``, ``consumer_secret``, ``access_token``,
  ``access_token_secret`` (every call signed, ``user_auth=True``); or
- an OAuth 2.0 user access token: ``bearer_token`` (every call, writes included, with
  ``user_auth=False``, so tweepy sends ``Authorization: Bearer``).

tweepy hard-codes ``https://api.twitter.com`` (client.py ``BaseClient.request``), so a sandbox or
proxy is reached by mounting an adapter on ``client.session``; OAuth 1.0a signatures stay computed
over the real URL. tweepy has no v2 media upload (tweepy/tweepy#2217): :meth:`_upload` posts to
``/2/media/upload`` and ``/2/media/metadata`` on the same session, signed the same way.

X has no idempotency key: after an ambiguous outcome, :meth:`find` reads the account's timeline.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar
from urllib.parse import urlsplit

import regex
import requests
import tweepy
import twitter_text
from requests.adapters import HTTPAdapter
from twitter_text.config import config as twitter_text_config
from twitter_text.has_invalid_characters import has_invalid_characters
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from channels import reply_limits, thread
from channels.base import (
    AccountConfig,
    AmbiguousError,
    AuthError,
    Channel,
    ChannelError,
    CredentialField,
    DuplicateRefused,
    ErrorFacts,
    ErrorRule,
    Found,
    HideRefused,
    Image,
    InboxEntry,
    InboxPage,
    ListeningUnavailable,
    ListenPage,
    Metrics,
    PermanentError,
    Problem,
    PublicPost,
    Published,
    PublishRequest,
    RateInfo,
    RateLimited,
    TransientError,
    Validation,
    check_images,
    chunked,
    empty_text,
    number,
    too_long,
)
from channels.http import RedirectAdapter
from channels.thread import ReplyRefused

API = "https://api.twitter.com"  # the host tweepy uses; production accepts it and api.x.com
HOSTS = ("api.twitter.com", "api.x.com", "upload.twitter.com")
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
#: Problem types of a 403 that mean "these credentials cannot do this", not "this content":
#: https://docs.x.com/x-api/fundamentals/response-codes-and-errors
AUTH_PROBLEMS = (
    "client-forbidden",
    "oauth1-permissions",
    "unsupported-authentication",
    "not-authorized-for-resource",
)
CLOCK_SLACK = dt.timedelta(minutes=2)  # X's clock and ours may differ; read a little earlier
MAX_TIMELINE_PAGES = 32  # the user timeline serves the 3,200 most recent posts, 100 a page


_COUNTING = twitter_text_config["defaults"]  # twitter-text v3: the rules X itself uses


def _char_weight(char: str) -> int:
    code = ord(char)
    for span in _COUNTING["ranges"]:
        if span["start"] <= code <= span["end"]:
            return int(span["weight"])
    return int(_COUNTING["default_weight"])


def weighted_length(text: str) -> int:
    """X's weighted length, equal to ``twitter_text.parse_tweet(text).weightedLength``.

    parse_tweet always runs its emoji scan, ~2.5 ms a call, which a 10,000-post run feels. Every
    emoji sequence holds a code point at or above U+2000 or is © / ®; for other texts the same
    count (links 23, the rest by code point ranges) is done here without the scan. The test module
    checks both agree on random texts.
    """
    normalized = re.sub(r"\r\n|\r|\n", "\n", unicodedata.normalize("NFC", text))
    if any(ord(c) >= 0x2000 or c in "\u00a9\u00ae" for c in normalized):
        return twitter_text.parse_tweet(text).weightedLength
    total, cursor = 0, 0
    for url in twitter_text.extract_urls_with_indices(normalized):
        start, end = url["indices"]
        total += sum(map(_char_weight, normalized[cursor:start]))
        total += int(_COUNTING["transformed_url_length"]) * int(_COUNTING["scale"])
        cursor = end
    total += sum(map(_char_weight, normalized[cursor:]))
    return int(total / int(_COUNTING["scale"]))


class _TimeoutAdapter(HTTPAdapter):
    """tweepy never passes ``timeout``; give every request on its hosts ours."""

    def __init__(self, timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)


class _RedirectTimeoutAdapter(RedirectAdapter):
    def __init__(self, target: str, timeout: float, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self.default_timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)  # type: ignore[no-any-return]


def _endpoint(method: str, url: str) -> str | None:
    """Our budget name for an X route (see ``XChannel.rate_limits``)."""
    path = urlsplit(url).path.rstrip("/")
    if method == "POST" and path.endswith("/2/tweets"):
        return "publish"
    if method == "DELETE" and re.search(r"/2/tweets/\w+$", path):
        return "delete"
    if method == "GET" and path.endswith("/2/tweets"):
        return "metrics"
    if method == "GET" and re.search(r"/2/users/\d+/tweets$", path):
        return "read"
    if method == "GET" and path.endswith("/2/tweets/search/recent"):
        return "search"
    if method == "GET" and path.endswith("/2/tweets/counts/recent"):
        return "counts"
    if method == "GET" and re.search(r"/2/users/\d+/mentions$", path):
        return "mentions"
    return None


def _canonical(text: str) -> str:
    """Text as compared by :meth:`XChannel.find`: X stores NFC, escapes &<> and may add a
    scheme to bare links; whitespace may be trimmed."""
    text = html.unescape(unicodedata.normalize("NFC", text))
    text = re.sub(r"https?://", "", text)
    return " ".join(text.split())


def _restore_links(text: str, entities: dict[str, Any] | None) -> str:
    """Undo X's t.co rewriting with ``entities.urls``; drop the link X appends for media."""
    for url in (entities or {}).get("urls", []):
        short = url.get("url")
        if not short:
            continue
        is_media = "media_key" in url or re.search(
            r"/status/\d+/(photo|video)/\d+$", url.get("expanded_url", "")
        )
        text = text.replace(short, "" if is_media else url.get("expanded_url", short))
    return text


def _nothing_sent(exc: BaseException) -> bool:
    """True when the connection was never made (refused, DNS, connect timeout)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (NewConnectionError, ConnectTimeoutError, requests.ConnectTimeout)):
            return True
        if isinstance(item, BaseException):
            stack.extend(
                [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
            )
    return False


#: Failures after the request may have been received (read timeout, reset, unreadable answer).
_NO_ANSWER = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ValueError,
    KeyError,
)


def _reply_refused(facts: ErrorFacts) -> bool:
    detail = facts.detail.lower()
    return "reply to this conversation is not allowed" in detail or "not been mentioned" in detail


def _auth_problem(exc: BaseException, facts: ErrorFacts) -> bool:
    return any(p in str(facts.words.get("problem", "")) for p in AUTH_PROBLEMS)


class XChannel(Channel):
    kind = "x"
    label = "X (Twitter)"
    platform_name = "X"
    credential_fields = (
        CredentialField(
            "consumer_key", "clé d'API", "API Key", prompt="API Key (consumer key)",
            label_fr="Clé d'API (API Key)", label_en="API Key",
            help_fr="Portail développeur de X, application, onglet « Keys and tokens » : « API Key ». À donner avec "
                    "les trois champs suivants (méthode recommandée), ou bien seulement le jeton OAuth 2.",
            help_en="X developer portal, your app, “Keys and tokens” tab: “API Key”. Give it with the next three "
                    "fields (recommended), or only the OAuth 2 token."),
        CredentialField(
            "consumer_secret", "secret de la clé d'API", "API Key Secret", prompt="API Key Secret (consumer secret)",
            label_fr="Secret de la clé d'API (API Key Secret)", label_en="API Key Secret",
            help_fr="Affiché avec la clé d'API, dans « Keys and tokens ».",
            help_en="Shown with the API Key, under “Keys and tokens”."),
        CredentialField(
            "access_token", "jeton d'accès", "access token", prompt="Access Token",
            label_fr="Jeton d'accès du compte (Access Token)", label_en="Access Token",
            help_fr="Généré pour le compte de la campagne après avoir réglé l'application en « Read and write » ; "
                    "un jeton créé avant ce réglage ne peut pas publier.",
            help_en="Generated for the campaign account after setting the app to “Read and write”; a token made "
                    "before that cannot post."),
        CredentialField(
            "access_token_secret", "secret du jeton d'accès", "Access Token Secret", prompt="Access Token Secret",
            label_fr="Secret du jeton d'accès (Access Token Secret)", label_en="Access Token Secret",
            help_fr="Affiché avec le jeton d'accès.", help_en="Shown with the Access Token."),
        CredentialField(
            "bearer_token", "jeton OAuth 2", "OAuth 2 token", prompt="Bearer token (OAuth 2)",
            label_fr="Ou : jeton OAuth 2 d'utilisateur", label_en="Or: OAuth 2 user token",
            help_fr="À la place des quatre champs précédents. Il expire au bout de deux heures : pour un essai "
                    "seulement. Le « Bearer Token » de l'application ne peut pas publier.",
            help_en="Instead of the four fields above. It expires after two hours: for a test only. The app's "
                    "“Bearer Token” cannot post."),
    )
    credential_groups = (("bearer_token",), ("consumer_key", "consumer_secret", "access_token", "access_token_secret"))
    sandbox_credentials = {"bearer_token": "sandbox-x-token"}
    client_distribution = "tweepy"
    public_hosts = frozenset({"x.com", "www.x.com", "twitter.com", "www.twitter.com", "mobile.twitter.com",
                              "mobile.x.com"})
    profile_url_pattern = "https://x.com/{handle}"
    post_url_pattern = "https://x.com/i/web/status/{id}"  # resolves without knowing the handle
    limit_option = "text_limit"
    can_search = True  # recent search, where the account's access level includes it
    can_delete = True  # DELETE /2/tweets/:id (delete_tweet)
    can_alt_text = True
    can_thread = True  # each part replies to the one before (X may refuse replies: ReplyRefused)
    #: Since 23 February 2026 X takes an API reply only where the replied-to author summoned the
    #: account; whether one's own post counts is not documented (platforms-next.md §3).
    thread_caveat = Problem(
        "x_thread_may_be_single",
        "Sur X, le fil peut partir comme une seule publication : depuis le 23 février 2026, X n'accepte une réponse "
        "par l'API que si l'auteur du message visé a mentionné le compte, et X ne dit pas si une réponse à sa propre "
        "publication fait exception. Si X refuse, seule la première partie est publiée, le reste n'est pas envoyé, "
        "et l'envoi le signale.",
        "On X the thread may go out as a single post: since 23 February 2026 X accepts an API reply only if the "
        "author of the post replied to mentioned the account, and X does not say whether a reply to one's own post "
        "is exempt. If X refuses, only the first part is published, the rest is not sent, and the delivery says so.")
    can_hide_reply = True  # PUT /2/tweets/:id/hidden, in our own conversations
    limits_replies = "replies"  # create_tweet's reply_settings (channels/reply_limits.py)
    reply_limit_caveats = {"followers": (
        "X : réponses limitées aux comptes que nous suivons (X n'offre pas « nos abonnés »).",
        "X: replies limited to accounts we follow (X offers no 'our followers').")}
    inbox_endpoint = "mentions"
    metrics_batch_size = 100  # GET /2/tweets: "Up to 100 are allowed in a single request"
    #: Per-user budgets, https://docs.x.com/x-api/fundamentals/rate-limits (per 15 minutes).
    rate_limits: ClassVar[dict[str, tuple[int, int]]] = {
        "publish": (100, 900),  # POST /2/tweets
        "metrics": (5000, 900),  # GET /2/tweets
        "read": (900, 900),  # GET /2/users/:id/tweets
        "search": (300, 900),  # GET /2/tweets/search/recent (user context; counts: 300 per app)
        "mentions": (300, 900),  # GET /2/users/:id/mentions
        "counts": (300, 900),  # GET /2/tweets/counts/recent (app auth: 300 per 15 min)
        "delete": (50, 900),  # DELETE /2/tweets/:id (platforms-next.md §3: user 50)
    }
    listen_endpoint = "search"
    listen_answers_endpoint = "mentions"
    listen_count_endpoint = "counts"
    listen_counts = True
    listen_page_size = 100  # recent search and mentions: max_results 10-100 (mentions 5-100)
    #: Pay-per-use prices (platforms-next.md §3): a post read, a recent-counts request.
    listen_cost_per_post = 0.005
    listen_cost_per_count = 0.005
    #: Pay-per-use price of creating a post, and of one that carries a URL (platforms-next.md §3,
    #: X's pricing page 2026-08): US dollars.
    post_cost = 0.015
    post_with_url_cost = 0.20
    text_limit = 280  # https://docs.x.com/fundamentals/counting-characters
    max_images = 4
    max_image_bytes = 5 * 1024 * 1024  # https://docs.x.com/x-api/media: "Image: 5 MB"
    #: The simple v2 upload takes still images; GIF needs the chunked upload, not implemented.
    image_types = ("image/jpeg", "image/png", "image/webp")
    max_alt = 1000  # media metadata: alt text "Must be <= 1000 chars"

    #: Every failure of a call to X, as exactly one error of the taxonomy
    #: (https://docs.x.com/x-api/fundamentals/response-codes-and-errors). ``write`` is True only for
    #: ``POST /2/tweets``: a media upload publishes nothing.
    error_table = (
        # 429 until x-rate-limit-reset.
        ErrorRule(RateLimited, "X rate limit reached: {detail}",
                  "X limite le nombre d'appels ; nouvel essai après la remise à zéro.",
                  exceptions=(tweepy.TooManyRequests,)),
        # 401 = missing, invalid or revoked token; these 403 problem types = the app or token lacks
        # the permission (e.g. "Read" only), fixed only by regenerating credentials.
        ErrorRule(AuthError, "X refused the credentials: {detail}",
                  "X refuse les identifiants du compte (jeton révoqué, expiré ou sans droit d'écriture) : {detail}",
                  exceptions=(tweepy.Unauthorized,)),
        ErrorRule(AuthError, "X refused the credentials: {detail}",
                  "X refuse les identifiants du compte (jeton révoqué, expiré ou sans droit d'écriture) : {detail}",
                  exceptions=(tweepy.Forbidden,), when=_auth_problem),
        # Pay-per-use accounts out of credits get 402 (https://docs.x.com/x-api/getting-started/pricing):
        # every post on this account would fail the same way, so hold its queue.
        ErrorRule(AuthError, "X refused for billing: {detail}",
                  "X refuse pour une raison de facturation (crédits épuisés ?) : {detail}",
                  exceptions=(tweepy.HTTPException,), statuses=(402,)),
        # 5xx: on a write X may have created the post before failing (503 "over capacity").
        ErrorRule(AmbiguousError, "X answered {status} after the post was sent; it may exist.",
                  "X a répondu {status} après l'envoi : la publication existe peut-être ; vérification avant tout "
                  "nouvel essai.", exceptions=(tweepy.TwitterServerError,), on_write=True),
        ErrorRule(TransientError, "X answered {status}; nothing was published.",
                  "X a répondu {status} ; rien n'a été publié, nouvel essai plus tard.",
                  exceptions=(tweepy.TwitterServerError,)),
        # A duplicate-content 403 after an ambiguous first attempt may mean that attempt went through:
        # the orchestrator reconciles (find) before any retry, so it never reaches here blindly.
        ErrorRule(DuplicateRefused, "X refused the post: {detail}",
                  "X refuse un texte identique à une publication récente du même compte : modifiez le texte.",
                  exceptions=(tweepy.HTTPException,), when=lambda exc, facts: "duplicate content" in facts.detail,
                  platform_code="duplicate"),
        # Since 2026-02-23 X accepts an API reply only if the parent's author summoned the account
        # (platforms-next.md §3); whether a reply to one's own post (a thread) is exempt is not
        # documented. A refused reply: the thread ends with the parts already out (channels/thread).
        ErrorRule(ReplyRefused, "X refused the reply: {detail}",
                  "X refuse la réponse (depuis février 2026, X n'accepte une réponse par l'API que si l'auteur "
                  "du message visé a mentionné le compte) : {detail}",
                  exceptions=(tweepy.Forbidden,), when=lambda exc, facts: _reply_refused(facts),
                  platform_code="reply_refused"),
        # 400/403/404 and other 4xx: the request or content is refused as it stands.
        ErrorRule(PermanentError, "X refused the post: {detail}", "X refuse la demande : {detail}",
                  exceptions=(tweepy.HTTPException,)),
        # Connection refused, DNS failure or connect timeout: the request never left.
        ErrorRule(TransientError, "X could not be reached: {detail}",
                  "Impossible de joindre X (réseau) ; rien n'a été envoyé.",
                  exceptions=(requests.RequestException,), when=lambda exc, facts: _nothing_sent(exc)),
        # Read timeout, reset after sending, or an unreadable answer: on a write the post may exist
        # (https://docs.x.com/x-api/posts/manage-tweets/integrate: no idempotency key).
        ErrorRule(AmbiguousError, "No usable answer from X ({exc_name}) after the post was sent; it may exist.",
                  "X n'a pas répondu à temps après l'envoi : la publication existe peut-être ; vérification avant "
                  "tout nouvel essai.", exceptions=_NO_ANSWER, on_write=True),
        ErrorRule(TransientError, "No usable answer from X ({exc_name}); nothing was published.",
                  "X n'a pas répondu à temps ; rien n'a été publié, nouvel essai plus tard.", exceptions=_NO_ANSWER),
        # Anything else (malformed credentials, bad base URL): a person must fix the account.
        ErrorRule(PermanentError, "X call could not be made: {detail}",
                  "L'appel à X est impossible en l'état (configuration du compte ?) : {detail}"),
    )

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        creds = account.credentials
        self.user_auth = all(creds.get(k) for k in OAUTH1_KEYS)
        self.text_limit = int(account.options.get("text_limit", self.text_limit))
        self.client = tweepy.Client(
            bearer_token=creds.get("bearer_token"),
            **{k: creds.get(k) for k in OAUTH1_KEYS},
            wait_on_rate_limit=False,  # the orchestrator owns waiting; see RateLimited.reset_at
        )
        http = session or requests.Session()
        for host in HOSTS:
            adapter: HTTPAdapter = (
                _RedirectTimeoutAdapter(account.base_url, timeout, pool_maxsize=32)
                if account.base_url
                else _TimeoutAdapter(timeout, pool_maxsize=32)
            )
            http.mount(f"https://{host}/", adapter)
        # tweepy's Response drops headers: read the budgets off every answer here.
        http.hooks["response"].append(self._note_headers)
        self.client.session = http
        self._user: dict[str, str] | None = None

    # -- validation ---------------------------------------------------------------------------

    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        length = weighted_length(text)
        problems: list[Problem] = []
        if not text.strip() and not images:
            problems.append(empty_text("X"))
        if length > self.text_limit:
            problems.append(
                too_long(
                    "X",
                    length,
                    self.text_limit,
                    "caractères au sens de X (un lien compte 23, un emoji ou un caractère chinois, japonais ou coréen 2)",
                    "characters as X counts them (a link counts 23, an emoji or a Chinese, Japanese or Korean character 2)",
                )
            )
        if has_invalid_characters(text):
            problems.append(
                Problem(
                    "invalid_characters",
                    "Le texte contient un caractère invisible que X refuse (souvent copié depuis un traitement de texte) : retapez le passage.",
                    "The text holds an invisible character X refuses (often pasted from a word processor): retype that passage.",
                )
            )
        problems += check_images(
            images,
            max_count=self.max_images,
            max_bytes=self.max_image_bytes,
            mime_types=self.image_types,
            platform="X",
        )
        for i, img in enumerate(images, start=1):
            if len(img.alt) > self.max_alt:
                problems.append(
                    Problem(
                        "alt_too_long",
                        f"Le texte alternatif de l'image {i} compte {number(len(img.alt), 'fr')} caractères ; "
                        f"X en accepte au plus {number(self.max_alt, 'fr')}.",
                        f"The alt text of image {i} has {number(len(img.alt), 'en')} characters; "
                        f"X accepts at most {number(self.max_alt, 'en')}.",
                    )
                )
        return Validation(
            kind=self.kind, length=length, limit=self.text_limit, problems=tuple(problems)
        )

    @classmethod
    def publish_cost(cls, text: str, link: str | None = None) -> float | None:
        """A post with a URL (one X would link, a bare « amnistie.ca » included, or the post's
        link, added at the end) costs ``post_with_url_cost``; another ``post_cost``."""
        return cls.post_with_url_cost if (link or twitter_text.extract_urls(text)) else cls.post_cost

    # -- publishing ---------------------------------------------------------------------------

    @staticmethod
    def compose(request: PublishRequest) -> str:
        """The text sent: the link goes last, after a blank line, unless the text already has it."""
        if request.link and request.link not in request.text:
            return f"{request.text}\n\n{request.link}" if request.text.strip() else request.link
        return request.text

    def publish(self, request: PublishRequest) -> Published:
        """One post, or a thread (each part a reply to the one before: ``channels/thread``);
        with ``reply_to``, the first part answers that post."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.publish(self, request, first=first, find_first=self._find_post)

    def post_part(self, request: PublishRequest, target: thread.Target | None) -> Published:
        text = self.compose(request)
        check = self.validate(text, request.images)
        if not check.valid:
            raise PermanentError(
                " ".join(p.en for p in check.problems),
                message_fr=" ".join(p.fr for p in check.problems),
                platform_code=check.problems[0].code,
            )
        # Media first: a failed upload leaves no post behind, so it is never ambiguous.
        media_ids = [self._upload(image) for image in request.images]
        with self._mapped(write=True):
            response = self.client.create_tweet(
                text=text or None, media_ids=media_ids or None, user_auth=self.user_auth,
                in_reply_to_tweet_id=target.parent if target is not None else None,
                reply_settings=reply_limits.value_for(reply_limits.X, request.reply_limit),
            )
            post_id = str((response.data or {})["id"])  # KeyError -> ambiguous, like any bad answer
        return Published(post_id, self._url(post_id), dt.datetime.now(dt.UTC))

    def delete(self, platform_id: str) -> None:
        """``DELETE /2/tweets/:id`` through tweepy's ``delete_tweet``; a post already gone (404)
        counts as deleted."""
        with self._mapped(write=True):
            try:
                response = self.client.delete_tweet(platform_id, user_auth=self.user_auth)
            except tweepy.NotFound:
                return  # deleted by hand, or by an earlier try whose answer was lost
            if not (response.data or {}).get("deleted"):
                raise PermanentError(f"X did not delete post {platform_id}.",
                                     message_fr=f"X n'a pas supprimé la publication {platform_id}.",
                                     platform_code="not_deleted")

    def _upload(self, image: Image) -> str:
        """Upload one image and set its alt text (https://docs.x.com/x-api/media/upload-media,
        https://docs.x.com/x-api/media/create-media-metadata)."""
        with self._mapped(write=False):
            answer = self._send(
                "POST",
                "/2/media/upload",
                files={"media": (image.filename, image.data, image.mime_type)},
                data={"media_category": "tweet_image", "media_type": image.mime_type},
            )
            media_id = str(answer.json()["data"]["id"])
            self._send(
                "POST",
                "/2/media/metadata",
                json={"id": media_id, "metadata": {"alt_text": {"text": image.alt}}},
            )
        return media_id

    def _send(self, method: str, route: str, **kwargs: Any) -> requests.Response:
        """One call outside tweepy, authenticated and checked exactly as ``BaseClient.request``."""
        headers = {"User-Agent": self.client.user_agent}
        auth = None
        if self.user_auth:
            auth = tweepy.OAuth1UserHandler(
                self.client.consumer_key,
                self.client.consumer_secret,
                self.client.access_token,
                self.client.access_token_secret,
            ).apply_auth()
        else:
            headers["Authorization"] = f"Bearer {self.client.bearer_token}"
        response = self.client.session.request(
            method, API + route, headers=headers, auth=auth, timeout=self.timeout, **kwargs
        )
        status = response.status_code
        errors: dict[int, type[tweepy.HTTPException]] = {
            400: tweepy.BadRequest,
            401: tweepy.Unauthorized,
            403: tweepy.Forbidden,
            404: tweepy.NotFound,
        }
        if status == 429:
            reset = response.headers.get("x-rate-limit-reset")
            raise tweepy.TooManyRequests(response, reset_time=int(reset) if reset else None)
        if status in errors:
            raise errors[status](response)
        if status >= 500:
            raise tweepy.TwitterServerError(response)
        if not 200 <= status < 300:
            raise tweepy.HTTPException(response)
        return response

    # -- metrics ------------------------------------------------------------------------------

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """``public_metrics`` works with any user token (docs.x.com/x-api/fundamentals/metrics).
        Deleted or unknown posts come back in ``errors`` and are left out."""
        results: list[Metrics] = []
        for batch in chunked(list(platform_ids), self.metrics_batch_size):
            with self._mapped(write=False):
                response = self.client.get_tweets(
                    ids=list(batch),
                    tweet_fields=["public_metrics", "created_at"],
                    user_auth=self.user_auth,
                )
            for tweet in response.data or []:
                figures = tweet.public_metrics or {}
                results.append(
                    Metrics(
                        platform_id=str(tweet.id),
                        likes=figures.get("like_count"),
                        shares=figures.get("retweet_count"),
                        replies=figures.get("reply_count"),
                        quotes=figures.get("quote_count"),
                        views=figures.get("impression_count"),
                    )
                )
        return results

    # -- reconciling --------------------------------------------------------------------------

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        """A single post by :meth:`_find_post`; a thread by its notes, each part looked for as a
        reply of the one before (``channels/thread``)."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.find(self, request, since=since, find_first=self._find_post, first=first)

    def _find_post(self, request: PublishRequest, since: dt.datetime) -> Found:
        return self._find_in_timeline(request, since=since, parent=None)

    def find_part(self, request: PublishRequest, target: thread.Target, *, since: dt.datetime) -> Found:
        """A part of a thread: a post of ours with its text, replying to ``target.parent``."""
        return self._find_in_timeline(request, since=since, parent=target.parent)

    def _find_in_timeline(self, request: PublishRequest, *, since: dt.datetime, parent: str | None) -> Found:
        """Read the account's posts since ``since`` and match the text (links restored from
        ``entities``, whitespace and HTML escapes normalised) and, for a reply, its parent.

        Rate limits and refused credentials are raised (the orchestrator acts on them); any
        other failure is undecidable. X's timeline can lag a few seconds behind a write: call
        this some time after the attempt, not at once.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        wanted = _canonical(self.compose(request))
        token: str | None = None
        fields = ["created_at", "entities"] + (["referenced_tweets"] if parent else [])
        try:
            user_id = self._me()["id"]
            for _page in range(MAX_TIMELINE_PAGES):
                with self._mapped(write=False):
                    response = self.client.get_users_tweets(
                        user_id,
                        start_time=since - CLOCK_SLACK,
                        max_results=100,
                        pagination_token=token,
                        tweet_fields=fields,
                        user_auth=self.user_auth,
                    )
                for tweet in response.data or []:
                    if parent and not any(ref.type == "replied_to" and str(ref.id) == parent
                                          for ref in tweet.referenced_tweets or []):
                        continue
                    if _canonical(_restore_links(tweet.text, tweet.entities)) == wanted:
                        return Found(
                            published=Published(
                                str(tweet.id), self._url(str(tweet.id)), tweet.created_at
                            )
                        )
                token = (response.meta or {}).get("next_token")
                if not token:
                    return Found(absent=True)
        except (AuthError, RateLimited):
            raise
        except ChannelError as exc:
            return Found(reason=f"X timeline could not be read: {exc.message_en}")
        return Found(
            reason=f"more than {MAX_TIMELINE_PAGES * 100} posts since {since.isoformat()}; not all read"
        )

    # -- listening ----------------------------------------------------------------------------
    #
    # Recent search and the mentions timeline both answer newest first and page backwards with a
    # token. A pass therefore starts at the newest post and walks back to ``since_id`` (the newest
    # post of the previous pass); the cursor carries the pass's ``since_id``, its next page token
    # and the newest id it saw, so a pass cut short resumes at the page after the last one recorded,
    # and the next pass starts above the newest post of this one. Posts arriving during a pass are
    # above its newest id: the next pass reads them. Calls are exactly one per page.

    def validate_term(self, term: str, *, hashtag: bool) -> Problem | None:
        return x_term_problem(term, hashtag=hashtag)

    def listen(
        self, term: str, *, hashtag: bool, cursor: str | None, limit: int | None = None
    ) -> ListenPage:
        problem = self.validate_term(term, hashtag=hashtag)
        if problem is not None:
            raise PermanentError(problem.en, message_fr=problem.fr, platform_code=problem.code)
        state = decode_cursor(cursor)
        calls_before = self._calls_for_me()
        query = self._query(term, hashtag=hashtag)
        kwargs: dict[str, Any] = {
            "query": query,
            "max_results": _page_size(limit, lowest=10),
            **self._listen_fields(),
            "user_auth": self.user_auth,
        }
        if state.get("since"):
            kwargs["since_id"] = state["since"]
        elif state.get("start"):  # a first poll that found nothing: from its time on
            kwargs["start_time"] = dt.datetime.fromisoformat(state["start"])
        if state.get("next"):
            kwargs["next_token"] = state["next"]
        with self._reading():
            response = self.client.search_recent_tweets(**kwargs)
        return self._listen_page(response, state, calls=1 + calls_before)

    def listen_start(
        self, term: str, *, hashtag: bool, limit: int | None = None
    ) -> ListenPage:
        """X bills every post read: a term's first poll does not read the seven-day window back,
        it reads one smallest page (10 posts, one call) and starts from its newest post. What
        came before is counted, not read (:meth:`count_term`, priced per request)."""
        started = dt.datetime.now(dt.UTC).replace(microsecond=0) - CLOCK_SLACK
        page = self.listen(term, hashtag=hashtag, cursor=None, limit=10)
        state = decode_cursor(page.cursor)
        floor = state.get("newest") or state.get("since")
        if floor:
            return ListenPage(page.posts, encode_cursor(since=floor), more=False, calls=page.calls)
        start = started.isoformat().replace("=", "")
        return ListenPage(page.posts, encode_cursor(start=start), more=False, calls=page.calls)

    def listen_calls_ahead(self) -> int:
        return 1 + self._calls_for_me()

    def listen_answers(self, *, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Replies and quotes that name this account (X's mentions timeline: replies always do,
        quotes when they mention us), each crediting the post it answers. A quote that names
        nobody is found by :meth:`listen_quotes` (and by the term search when it carries a term). X offers no
        list of the reposts of every post in one call: reposts are counted through metrics."""
        state = decode_cursor(cursor)
        calls_before = self._calls_for_me()
        kwargs: dict[str, Any] = {
            "max_results": _page_size(limit, lowest=5),
            **self._listen_fields(),
            "user_auth": self.user_auth,
        }
        if state.get("since"):
            kwargs["since_id"] = state["since"]
        if state.get("next"):
            kwargs["pagination_token"] = state["next"]
        with self._reading():
            response = self.client.get_users_mentions(self._user_id(), **kwargs)
        page = self._listen_page(response, state, calls=1 + calls_before)
        answering = tuple(p for p in page.posts if p.answers)
        return ListenPage(answering, page.cursor, page.more, page.calls)

    def inbox(self, *, cursor: str | None, limit: int | None = None) -> InboxPage:
        """Replies and mentions from X's mentions timeline (a reply always names the author it
        answers), with their text, language and author's username (``expansions=author_id``),
        forward from the newest seen (``since_id``), paging within a pass (``pagination_token``)."""
        state = decode_cursor(cursor)
        calls_before = self._calls_for_me()
        kwargs: dict[str, Any] = {
            "max_results": _page_size(limit, lowest=5),
            "tweet_fields": ["created_at", "referenced_tweets", "conversation_id", "lang"],
            "expansions": ["author_id"],
            "user_fields": ["username"],
            "user_auth": self.user_auth,
        }
        if state.get("since"):
            kwargs["since_id"] = state["since"]
        if state.get("next"):
            kwargs["pagination_token"] = state["next"]
        with self._reading():
            response = self.client.get_users_mentions(self._user_id(), **kwargs)
        users = {str(u.id): str(u.username) for u in (response.includes or {}).get("users", [])}
        entries = []
        for tweet in response.data or []:
            refs = {str(r.type): str(r.id) for r in tweet.referenced_tweets or []}
            if "retweeted" in refs:
                continue
            reply = "replied_to" in refs
            entries.append(InboxEntry(
                platform_id=str(tweet.id), kind="reply" if reply else "mention",
                created_at=tweet.created_at or dt.datetime.now(dt.UTC), text=str(tweet.text or ""),
                author=users.get(str(tweet.author_id), ""),
                answers=str(tweet.conversation_id or refs["replied_to"]) if reply else None,
                language=str(getattr(tweet, "lang", None) or ""), url=self._url(str(tweet.id))))
        page = self._listen_page(response, state, calls=1 + calls_before)
        return InboxPage(tuple(entries), page.cursor, page.more, page.calls)

    def hide_reply(self, platform_id: str, *, root: str | None = None) -> None:
        """X's hidden replies (``PUT /2/tweets/:id/hidden``): only replies in our conversations."""
        try:
            with self._mapped(write=False):
                self.client.hide_reply(platform_id, user_auth=self.user_auth)
        except PermanentError as err:
            raise HideRefused(
                f"X refused to hide this reply: {err.message_en}",
                message_fr=f"X refuse de masquer cette réponse : {err.message_fr}",
                platform_code=err.platform_code,
            ) from err

    listen_quotes_of = True
    #: Our posts whose quotes are searched in one query (recent search's query is 512 characters
    #: at most: 10 ``quotes_of_tweet_id:`` alternatives and ``-from:`` fit).
    QUOTED_POSTS = 10

    def listen_quotes(
        self, ours: list[str], *, cursor: str | None, limit: int | None = None
    ) -> ListenPage:
        """Quotes of our latest posts (at most ``QUOTED_POSTS``, one recent-search query with
        ``quotes_of_tweet_id:``), including those that name no one and so never reach the
        mentions. A quote is newer than the post it quotes: the first poll starts just below our
        oldest post given, then above the newest quote seen. Billed per quote read, like search."""
        ids = [i for i in ours if str(i).isdigit()][: self.QUOTED_POSTS]
        if not ids:
            return ListenPage((), cursor, calls=0)
        state = decode_cursor(cursor)
        calls_before = self._calls_for_me()
        query = " OR ".join(f"quotes_of_tweet_id:{i}" for i in ids)
        kwargs: dict[str, Any] = {
            "query": f"({query}) -from:{self._user_id()}",
            "max_results": _page_size(limit, lowest=10),
            **self._listen_fields(),
            "user_auth": self.user_auth,
            "since_id": state.get("since") or str(min(int(i) for i in ids) - 1),
        }
        if state.get("next"):
            kwargs["next_token"] = state["next"]
        with self._reading():
            response = self.client.search_recent_tweets(**kwargs)
        page = self._listen_page(response, {**state, "since": kwargs["since_id"]}, calls=1 + calls_before)
        quotes = tuple(p for p in page.posts if p.answers and p.kind == "quote")
        return ListenPage(quotes, page.cursor, page.more, page.calls)

    def count_term(self, term: str, *, hashtag: bool, since: dt.datetime) -> int | None:
        """X's recent counts (one request, billed per request, not per post): the number of posts
        carrying ``term`` since ``since`` (at most the last seven days). ``None`` without an
        OAuth 2.0 token: the counts endpoint takes no OAuth 1.0a signature."""
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        if not self.account.credentials.get("bearer_token"):
            return None
        oldest = dt.datetime.now(dt.UTC) - dt.timedelta(days=7) + dt.timedelta(minutes=1)
        with self._reading():
            response = self.client.get_recent_tweets_count(
                self._query(term, hashtag=hashtag),
                granularity="day",
                start_time=max(since, oldest).replace(microsecond=0),
            )
        return int((response.meta or {}).get("total_tweet_count", 0))

    def _query(self, term: str, *, hashtag: bool) -> str:
        words = term.strip().lstrip("#")
        core = f"#{words}" if hashtag else (f'"{words}"' if " " in words else words)
        return f"{core} -from:{self._user_id()}"  # our own posts are not the public's

    @staticmethod
    def _listen_fields() -> dict[str, Any]:
        # Enough to tell the kind; never author_id, username or other user fields.
        return {
            "tweet_fields": ["created_at", "referenced_tweets", "attachments", "conversation_id"],
            "expansions": ["attachments.media_keys"],
            "media_fields": ["type"],
        }

    def _listen_page(self, response: Any, state: dict[str, str], *, calls: int) -> ListenPage:
        photos = {
            str(m.media_key)
            for m in (response.includes or {}).get("media", [])
            if getattr(m, "type", None) == "photo"
        }
        posts = tuple(_public_post(tweet, photos) for tweet in response.data or [])
        meta = response.meta or {}
        # The first page of a pass holds its newest post: the floor of the next pass.
        newest = state.get("newest") or meta.get("newest_id") or state.get("since")
        token = meta.get("next_token")
        if token:
            cursor = encode_cursor(since=state.get("since"), next=token, newest=newest)
        else:
            cursor = encode_cursor(since=newest)
        return ListenPage(posts, cursor, more=bool(token), calls=calls)

    def _user_id(self) -> str:
        token = self.account.credentials.get("access_token") or ""
        head, sep, _ = token.partition("-")
        if self.user_auth and sep and head.isdigit():
            return head  # an OAuth 1.0a access token starts with its user's id
        return self._me()["id"]

    def _calls_for_me(self) -> int:
        """1 when finding our user id will cost a call (once per channel), else 0."""
        token = self.account.credentials.get("access_token") or ""
        known = self._user is not None or (self.user_auth and token.split("-")[0].isdigit())
        return 0 if known else 1

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Errors of a listening call; a 403 saying the App is not enrolled for the endpoint is
        the account's access level, not its credentials: the account can still publish."""
        try:
            with self._mapped(write=False):
                yield
        except (AuthError, PermanentError) as err:
            cause = err.__cause__
            if isinstance(cause, tweepy.Forbidden) and _not_enrolled(cause.response):
                raise ListeningUnavailable(
                    "This X account's access level does not include searching the public's posts "
                    "(recent search). Publishing still works; listening on X is paused until the "
                    "access changes and the account is tested again.",
                    message_fr="L'accès de ce compte X ne comprend pas la recherche des publications "
                    "du public. La publication fonctionne toujours ; l'écoute sur X est suspendue "
                    "jusqu'à ce que l'accès change et que le compte soit testé de nouveau.",
                    platform_code="client-not-enrolled",
                ) from cause
            raise

    # -- identity -----------------------------------------------------------------------------

    def _me(self) -> dict[str, str]:
        if self._user is None:
            with self._mapped(write=False):
                data = self.client.get_me(user_auth=self.user_auth).data
            if data is None:
                raise AuthError(
                    "X did not say which account these credentials belong to.",
                    message_fr="X n'a pas indiqué à quel compte appartiennent ces identifiants.",
                )
            self._user = {"id": str(data.id), "username": str(data.username)}
        return self._user

    def whoami(self) -> str:
        self._user = None  # re-test the credentials every time
        return "@" + self._me()["username"]

    @staticmethod
    def _url(post_id: str) -> str:
        return f"https://x.com/i/web/status/{post_id}"  # resolves without knowing the handle

    def _note_headers(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        endpoint = _endpoint(response.request.method or "", response.request.url or "")
        headers = response.headers
        if endpoint is None or "x-rate-limit-remaining" not in headers:
            return
        reset = headers.get("x-rate-limit-reset")
        limit = headers.get("x-rate-limit-limit")
        self.note_rate(
            RateInfo(
                endpoint=endpoint,
                remaining=int(headers["x-rate-limit-remaining"]),
                limit=int(limit) if limit else None,
                reset_at=dt.datetime.fromtimestamp(int(reset), dt.UTC) if reset else None,
            )
        )

    # -- errors -------------------------------------------------------------------------------

    @contextmanager
    def _mapped(self, *, write: bool) -> Iterator[None]:
        if not self.user_auth and not self.account.credentials.get("bearer_token"):
            raise AuthError(
                "The X account has no credentials: give the four OAuth 1.0a keys or an OAuth 2.0 user token.",
                message_fr="Le compte X n'a pas d'identifiants : donnez les quatre clés OAuth 1.0a ou un jeton OAuth 2.0.",
            )
        try:
            yield
        except ChannelError:
            raise
        except (tweepy.TweepyException, requests.RequestException, ValueError, KeyError) as exc:
            raise self.map_error(exc, write=write) from exc

    @classmethod
    def error_facts(cls, exc: BaseException) -> ErrorFacts:
        """What X said: the status, its messages (``detail``), its problem type (``words``: the
        ``type`` of the answer) and, on a 429, when the window resets (``x-rate-limit-reset``,
        epoch seconds; X sends no Retry-After, https://docs.x.com/x-api/fundamentals/rate-limits)."""
        if not isinstance(exc, tweepy.HTTPException):
            return ErrorFacts(detail=str(exc), words={"problem": "", "exc_name": type(exc).__name__})
        response = exc.response
        status = getattr(response, "status_code", 0)
        try:
            problem = str(response.json().get("type", ""))
        except ValueError:
            problem = ""
        reset = exc.reset_time if isinstance(exc, tweepy.TooManyRequests) else None
        return ErrorFacts(status=status, detail="; ".join(str(m) for m in exc.api_messages) or f"HTTP {status}",
                          reset_at=dt.datetime.fromtimestamp(reset, dt.UTC) if reset else None,
                          words={"problem": problem, "exc_name": type(exc).__name__})


# ---------------------------------------------------------------------------------------------
# Listening helpers

#: https://docs.x.com/x-api/posts/search/integrate/build-a-query: "#" matches a hashtag; a
#: hashtag is letters, digits and underscores (twitter-text's rule), not only digits.
MAX_HASHTAG = 100  # X does not publish a figure; twitter-text keeps hashtags well under it
MAX_QUERY = 512  # recent search: "query" up to 512 characters
_X_HASHTAG = regex.compile(r"[\p{L}\p{M}\p{N}_]+")


def x_term_problem(term: str, *, hashtag: bool) -> Problem | None:
    words = term.strip()
    if hashtag:
        tag = words.removeprefix("#")
        if not tag:
            return Problem("empty_term", "Le mot-clic est vide.", "The hashtag is empty.")
        if not _X_HASHTAG.fullmatch(tag) or tag.isdigit():
            return Problem(
                "hashtag_characters",
                f"« #{tag} » n'est pas un mot-clic valide sur X : lettres, chiffres et tiret bas "
                "seulement, sans espace ni ponctuation, et pas uniquement des chiffres.",
                f'"#{tag}" is not a valid hashtag on X: letters, digits and underscores only, '
                "no spaces or punctuation, and not only digits.",
            )
        if len(tag) > MAX_HASHTAG:
            return Problem(
                "hashtag_too_long",
                f"Le mot-clic compte {number(len(tag), 'fr')} caractères ; X en accepte au plus "
                f"{number(MAX_HASHTAG, 'fr')}.",
                f"The hashtag has {number(len(tag), 'en')} characters; X accepts at most "
                f"{number(MAX_HASHTAG, 'en')}.",
            )
        return None
    if not words:
        return Problem("empty_term", "Le mot-clé est vide.", "The keyword is empty.")
    room = MAX_QUERY - len(" -from:") - 20  # our own posts are left out with -from:<user id>
    if len(words) + 2 > room:
        return Problem(
            "keyword_too_long",
            f"Le mot-clé compte {number(len(words), 'fr')} caractères ; une recherche X en accepte "
            f"au plus {number(room - 2, 'fr')}.",
            f"The keyword has {number(len(words), 'en')} characters; an X search accepts at most "
            f"{number(room - 2, 'en')}.",
        )
    if '"' in words:
        return Problem(
            "keyword_quotes",
            "Le mot-clé ne doit pas contenir de guillemets droits (\").",
            'The keyword must not contain straight quotes (").',
        )
    return None


def encode_cursor(**parts: str | None) -> str:
    """``x1:since=…;next=…;newest=…`` with only the parts that are set."""
    return "x1:" + ";".join(f"{k}={v}" for k, v in parts.items() if v)


def decode_cursor(cursor: str | None) -> dict[str, str]:
    if not cursor or not cursor.startswith("x1:"):
        return {}
    pairs = (item.split("=", 1) for item in cursor[3:].split(";") if "=" in item)
    return {k: v for k, v in pairs if v}


def _page_size(limit: int | None, *, lowest: int) -> int:
    return max(lowest, min(100, limit or 100))


def _not_enrolled(response: Any) -> bool:
    try:
        body = response.json()
    except (ValueError, AttributeError):
        return False
    return isinstance(body, dict) and body.get("reason") == "client-not-enrolled"


def _public_post(tweet: Any, photos: set[str]) -> PublicPost:
    """Kind and the post answered, from the referenced posts and the attached media only."""
    refs = {str(r.type): str(r.id) for r in tweet.referenced_tweets or []}
    answers: str | None = None
    if "retweeted" in refs:
        kind, answers = "repost", refs["retweeted"]
    elif "quoted" in refs:
        kind, answers = "quote", refs["quoted"]
    elif "replied_to" in refs:
        # The conversation's first post: ours when the reply is anywhere in our thread.
        kind, answers = "reply", str(tweet.conversation_id or refs["replied_to"])
    elif any(k in photos for k in (tweet.attachments or {}).get("media_keys", [])):
        kind = "photo"
    else:
        kind = "original"
    created = tweet.created_at or dt.datetime.now(dt.UTC)
    return PublicPost(platform_id=str(tweet.id), kind=kind, created_at=created, answers=answers)
