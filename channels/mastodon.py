"""Mastodon, through Mastodon.py 2.3.3 (https://mastodonpy.readthedocs.io/).

Publishing uses Mastodon's own idempotency: ``status_post`` carries an ``Idempotency-Key`` header
derived from the delivery key, and the server answers a repeated key with the status it already
created instead of a new one, for one hour
(https://docs.joinmastodon.org/methods/statuses/#create). Hence :attr:`MastodonChannel.retry_is_safe`.

Instance limits (characters, images) differ per server: they come from the account's options
(filled by :meth:`MastodonChannel.load_instance_limits` during ``account test``) or from Mastodon's
defaults, so :meth:`MastodonChannel.validate` never needs the network.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import html
import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

import regex
import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonIllegalArgumentError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)
from twitter_text.extract_urls import extract_urls_with_indices
from urllib3.exceptions import NewConnectionError

from channels import reply_limits, thread
from channels.base import (
    AccountConfig,
    AmbiguousError,
    AuthError,
    Channel,
    ChannelError,
    CredentialField,
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
    no_platform_code,
    number,
    too_long,
)

# ---------------------------------------------------------------------------------------------
# Instance limits


@dataclasses.dataclass(frozen=True)
class InstanceLimits:
    """What one Mastodon server accepts. Defaults are upstream Mastodon's
    (``/api/v2/instance`` → ``configuration``, https://docs.joinmastodon.org/entities/Instance/)."""

    max_characters: int = 500
    characters_reserved_per_url: int = 23
    max_media_attachments: int = 4
    image_size_limit: int = 16 * 1024 * 1024  # MediaAttachment::IMAGE_LIMIT
    image_mime_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/gif", "image/webp")
    description_limit: int = 1500  # alt text, MediaAttachment::MAX_DESCRIPTION_LENGTH
    version: str | None = None  # the server's version, e.g. "4.3.0" (None: ask it when needed)

    OPTION_KEYS: ClassVar[tuple[str, ...]] = (
        "max_characters",
        "characters_reserved_per_url",
        "max_media_attachments",
        "image_size_limit",
        "image_mime_types",
        "description_limit",
    )

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> InstanceLimits:
        values: dict[str, Any] = {
            k: options[k] for k in cls.OPTION_KEYS if options.get(k) is not None
        }
        if "image_mime_types" in values:
            values["image_mime_types"] = tuple(values["image_mime_types"])
        version = options.get("mastodon_version")
        return cls(**values, version=str(version) if version else None)

    @classmethod
    def from_instance(cls, instance: dict[str, Any]) -> InstanceLimits:
        conf = instance.get("configuration") or {}
        statuses = conf.get("statuses") or {}
        media = conf.get("media_attachments") or {}
        d = cls()
        images = tuple(m for m in media.get("supported_mime_types") or () if m.startswith("image/"))
        return cls(
            max_characters=int(statuses.get("max_characters") or d.max_characters),
            characters_reserved_per_url=int(
                statuses.get("characters_reserved_per_url") or d.characters_reserved_per_url
            ),
            max_media_attachments=int(
                statuses.get("max_media_attachments") or d.max_media_attachments
            ),
            image_size_limit=int(media.get("image_size_limit") or d.image_size_limit),
            image_mime_types=images or d.image_mime_types,
            description_limit=int(media.get("description_limit") or d.description_limit),
            version=str(instance.get("version") or "") or None,
        )

    def as_options(self) -> dict[str, Any]:
        """The form stored in ``AccountConfig.options`` so later validation stays offline."""
        out: dict[str, Any] = {k: getattr(self, k) for k in self.OPTION_KEYS}
        out["image_mime_types"] = list(self.image_mime_types)
        if self.version:
            out["mastodon_version"] = self.version
        return out


# ---------------------------------------------------------------------------------------------
# Counting the way Mastodon counts (app/validators/status_length_validator.rb): grapheme clusters
# of the text where every URL with a protocol is 23 characters and ``@user@domain`` counts as
# ``@user``. URLs are found with twitter-text's extractor, the library Mastodon's own Extractor
# extends (Mastodon accepts a few more path characters, so we can only over-count, never under).

# Account::USERNAME_RE and Account::MENTION_RE (app/models/account.rb); [[:word:]] is \w.
_MENTION = regex.compile(
    r"(?<![=/\w])@(([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@[\w.-]+\w)?)", regex.IGNORECASE
)
# twitter-text's end_mention_match: a mention followed by @, a Latin accent or :// is not one.
_END_MENTION = regex.compile(
    r"(?:[@＠]|[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0100-\u024f\u0253\u0254\u0256\u0257"
    r"\u0259\u025b\u0263\u0268\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff]|://)"
)
_MAX_DOMAIN_LENGTH = 253  # Extractor::MAX_DOMAIN_LENGTH


def status_length(text: str, url_length: int = 23) -> int:
    """How many characters ``text`` counts for Mastodon's limit."""
    if not text.strip():
        return 0
    entities: list[tuple[int, int, str]] = []
    for url in extract_urls_with_indices(text, extract_urls_without_protocol=False):
        start, end = url["indices"]
        entities.append((start, end, "x" * url_length))
    for match in _MENTION.finditer(text):
        if _END_MENTION.match(text, match.end()):
            continue
        _, _, domain = match.group(1).partition("@")
        if len(domain) > _MAX_DOMAIN_LENGTH:
            continue
        entities.append((match.start(), match.end(), "@" + match.group(2)))
    entities.sort()
    pieces: list[str] = []
    cursor = 0
    for start, end, replacement in entities:
        if start < cursor:  # Extractor.remove_overlapping_entities keeps the first one
            continue
        pieces.append(text[cursor:start])
        pieces.append(replacement)
        cursor = end
    pieces.append(text[cursor:])
    return len(regex.findall(r"\X", "".join(pieces)))


def compose(text: str, link: str | None) -> str:
    """The status text: the link goes last, on its own paragraph, unless the text already has it."""
    if link and link not in text:
        return f"{text.rstrip()}\n\n{link}" if text.strip() else link
    return text


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_REMOTE_MENTION = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)@[\w.-]+\w", regex.IGNORECASE
)


def comparable(text: str) -> str:
    """Plain text reduced so that what we sent and what Mastodon renders compare equal:
    whitespace collapsed and remote mentions shortened (Mastodon shows ``@user@domain`` as ``@user``)."""
    return " ".join(_REMOTE_MENTION.sub(r"@\1", text).split())


def html_to_text(content: str) -> str:
    """Mastodon's status ``content`` (``<p>``, ``<br />``, ``<a>`` with invisible spans) as text."""
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


def _idempotency_key(delivery_key: str) -> str:
    # Stable across retries of one delivery; hashed so any key becomes a short ASCII header value.
    return "porte-voix-" + hashlib.sha256(delivery_key.encode("utf-8")).hexdigest()[:40]


def _parse_reset(value: str | None) -> dt.datetime | None:
    """``X-RateLimit-Reset`` is ISO-8601 on Mastodon (https://docs.joinmastodon.org/api/rate-limits/),
    epoch seconds on some other servers."""
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _aware(value: Any) -> dt.datetime | None:
    # Mastodon.py turns timestamps into local time; we keep UTC.
    if not isinstance(value, dt.datetime):
        return None
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


class _ObservedSession:
    """Hands every request to the real session with our response hook attached per request, so a
    session shared by several accounts never reports one account's headers to another."""

    def __init__(self, session: requests.Session, hook: Any) -> None:
        self._session = session
        self._hook = hook

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs["hooks"] = {"response": [self._hook]}
        return self._session.request(method, url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


# ---------------------------------------------------------------------------------------------
# The channel


def _unknown_outcome(exc_class: type[BaseException], **match: Any) -> tuple[ErrorRule, ErrorRule]:
    """An answer that could not be understood: after a write the post may exist."""
    return (
        ErrorRule(AmbiguousError, "Mastodon's answer could not be understood ({exc}): the post may have been "
                  "published.",
                  "La réponse de Mastodon est incompréhensible : la publication a peut-être eu lieu.",
                  exceptions=(exc_class,), on_write=True, platform_code=no_platform_code, **match),
        ErrorRule(TransientError, "Mastodon's answer could not be understood ({exc}).",
                  "La réponse de Mastodon est incompréhensible ; nouvel essai plus tard.",
                  exceptions=(exc_class,), platform_code=no_platform_code, **match),
    )


def _connect_failed(exc: BaseException, facts: ErrorFacts) -> bool:
    """Nothing was sent: DNS failure, connection refused, connect timeout, TLS handshake."""
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, requests.ConnectTimeout | requests.exceptions.SSLError) or (
        isinstance(cause, requests.ConnectionError)
        and isinstance(getattr(cause.args[0] if cause.args else None, "reason", None), NewConnectionError)
    )


class MastodonChannel(Channel):
    """One Mastodon account on one instance.

    Credentials: ``access_token``. Instance: ``AccountConfig.base_url``, else
    ``credentials["instance_url"]`` or ``options["instance_url"]``.

    ``retry_is_safe = True``: publishing again with the same :class:`PublishRequest` key sends the
    same ``Idempotency-Key``; within one hour of the first attempt Mastodon returns the status it
    already created instead of posting twice. After an hour, reconcile with :meth:`find` first.
    """

    kind = "mastodon"
    label = "Mastodon"
    platform_name = "Mastodon"
    credential_fields = (
        CredentialField(
            "access_token", "jeton d'accès", "access token", prompt="Access Token",
            help_fr="Sur l'instance : Préférences → Développement → Nouvelle application, puis « Votre jeton "
                    "d'accès ». L'adresse de l'instance va dans « Adresse du serveur ».",
            help_en="On the instance: Preferences → Development → New application, then “Your access token”. "
                    "The instance's address goes in “Server address”."),
    )
    credential_groups = (("access_token",),)
    sandbox_credentials = {"access_token": "sandbox-mastodon-token"}
    client_distribution = "Mastodon.py"
    public_hosts = frozenset()  # only the account's own instance
    profile_url_pattern = "{base}/@{user}"
    post_url_pattern = "{base}/@{user}/{id}"
    needs_server = True
    limit_option = "max_characters"
    can_search = True  # hashtag timelines and notifications
    can_search_keywords = False
    can_delete = True  # DELETE /api/v1/statuses/:id (status_delete)
    can_alt_text = True
    can_thread = True  # in_reply_to_id, each part with its own Idempotency-Key
    # GET /api/v1/statuses refuses more than 20 ids (Api::BaseController::DEFAULT_STATUSES_LIMIT,
    # https://docs.joinmastodon.org/methods/statuses/#index).
    metrics_batch_size = 20
    # https://docs.joinmastodon.org/api/rate-limits/ : 300 requests / 5 min per account for every
    # call; statuses created are also limited to 300 / 3 h (RateLimiter family :statuses) and media
    # uploads to 30 / 30 min.
    rate_limits: ClassVar[dict[str, tuple[int, int]]] = {
        "publish": (300, 3 * 3600),
        "media": (30, 30 * 60),
        "metrics": (300, 300),
        "read": (300, 300),
        # deleting and unreblogging: 30 per 30 minutes together (platforms-next.md §4)
        "delete": (30, 30 * 60),
    }
    #: Mastodon's 300 calls per 5 minutes cover every call of the account: listening spends the
    #: same "read" budget as reconciling, and the orchestrator keeps a reserve of it.
    listen_endpoint: ClassVar[str] = "read"
    listen_page_size: ClassVar[int] = 40  # GET /api/v1/timelines/tag/:hashtag, limit max 40
    retry_is_safe: ClassVar[bool] = True
    idempotency_window: ClassVar[dt.timedelta] = dt.timedelta(hours=1)
    #: How far back of ``since`` :meth:`find` looks, for clock skew between us and the server.
    find_margin: ClassVar[dt.timedelta] = dt.timedelta(minutes=2)
    # The documented maximum of GET /api/v1/accounts/:id/statuses.
    find_page_size: ClassVar[int] = 40
    find_max_pages: ClassVar[int] = 10

    #: How Mastodon.py's exceptions become the taxonomy (https://docs.joinmastodon.org/api/guidelines/#errors).
    error_table = (
        # 429: Mastodon answers with X-RateLimit-Reset (ISO-8601) on every throttled call,
        # https://docs.joinmastodon.org/api/rate-limits/ . Mastodon.py also raises this class when
        # it cannot parse a Reset header on a *successful* answer: then it is not a 429.
        ErrorRule(RateLimited, "Mastodon rate limit reached; retry after the reset time.",
                  exceptions=(MastodonRatelimitError,), statuses=(429,)),
        *_unknown_outcome(MastodonRatelimitError),
        # 401: token invalid, revoked or expired.
        ErrorRule(AuthError, "Mastodon refused the access token (invalid or revoked): create a new one.",
                  "Mastodon refuse le jeton d'accès (invalide ou révoqué) : créez-en un nouveau.",
                  exceptions=(MastodonUnauthorizedError,), platform_code=401),
        # Transport failures (Mastodon.py keeps the requests exception as __context__). Nothing
        # was sent: DNS failure, connection refused, connect timeout, TLS handshake.
        ErrorRule(TransientError, "Could not reach the Mastodon instance {base_url}: {cause}",
                  "Impossible de joindre l'instance Mastodon {base_url} ; nouvel essai plus tard.",
                  exceptions=(MastodonNetworkError,), when=_connect_failed),
        # Read timeout or connection reset after the request left: on a write, it may have posted.
        ErrorRule(AmbiguousError, "The connection to Mastodon failed after the post was sent ({cause}): it may "
                  "have been published.",
                  "La connexion à Mastodon a échoué après l'envoi : la publication a peut-être eu lieu.",
                  exceptions=(MastodonNetworkError,), on_write=True),
        ErrorRule(TransientError, "The connection to Mastodon failed ({cause}); try again later.",
                  "La connexion à Mastodon a échoué ; nouvel essai plus tard.", exceptions=(MastodonNetworkError,)),
        # 5xx: the server may have created the status before failing.
        ErrorRule(AmbiguousError, "Mastodon answered {status} after receiving the post: it may have been "
                  "published.",
                  "Mastodon a répondu {status} après avoir reçu la publication : elle a peut-être été publiée.",
                  exceptions=(MastodonServerError,), on_write=True),
        ErrorRule(TransientError, "Mastodon is unavailable ({status}); try again later.",
                  "Mastodon est indisponible ({status}) ; nouvel essai plus tard.", exceptions=(MastodonServerError,)),
        # A 2xx whose body was not JSON: the outcome is unknown.
        *_unknown_outcome(MastodonAPIError, when=lambda exc, facts: facts.status is None),
        # 403: the token lacks the write:statuses/read scope, or the account is disabled,
        # https://docs.joinmastodon.org/api/oauth-scopes/ — the account needs a person.
        ErrorRule(AuthError, "Mastodon forbids this action for this token: {detail}. Check the token's scopes "
                  "(read, write).",
                  "Mastodon interdit cette action à ce jeton : {detail}. Vérifiez ses autorisations (read, write).",
                  exceptions=(MastodonAPIError,), statuses=(403,)),
        # 422 for media still being processed: nothing was posted, try again shortly
        # (https://docs.joinmastodon.org/methods/statuses/#create, media_ids).
        ErrorRule(TransientError, "Mastodon is still processing the images: {detail}",
                  "Mastodon traite encore les images ; nouvel essai dans un moment.",
                  exceptions=(MastodonAPIError,), statuses=(422,),
                  when=lambda exc, facts: "processing" in facts.detail.lower()),
        # 404, 410, 413, 422 and other 4xx: the request itself is refused,
        # https://docs.joinmastodon.org/methods/statuses/#create (422 Validation failed).
        ErrorRule(PermanentError, "Mastodon refused the request ({status}): {detail}",
                  "Mastodon a refusé la demande ({status}) : {detail_fr}", exceptions=(MastodonAPIError,)),
        # Bad arguments or an unsupported server version: our request cannot succeed as is.
        ErrorRule(PermanentError, "Mastodon.py refused the request: {exc}", "La demande à Mastodon est invalide : {exc}",
                  exceptions=(MastodonIllegalArgumentError, MastodonVersionError)),
        *_unknown_outcome(BaseException),
    )

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        creds, options = account.credentials, account.options
        self.base_url = (
            account.base_url or creds.get("instance_url") or options.get("instance_url") or ""
        ).rstrip("/")
        if not self.base_url:
            raise PermanentError(
                "No Mastodon instance URL for this account (e.g. https://mastodon.social).",
                message_fr="Aucune adresse d'instance Mastodon pour ce compte (ex. https://mastodon.social).",
            )
        self.limits = InstanceLimits.from_options(options)
        self._last_status = 0
        self._last_reset: str | None = None
        self._me_id: str | None = None
        self._version_known = False
        self.client = Mastodon(
            access_token=creds.get("access_token"),
            api_base_url=self.base_url,
            ratelimit_method="throw",  # backoff belongs to the orchestrator
            request_timeout=self.timeout,
            session=_ObservedSession(session or requests.Session(), self._on_response),  # type: ignore[arg-type]
            version_check_mode="none",
        )

    # -- validate -----------------------------------------------------------------------------

    #: ``spoiler_text`` and ``visibility`` on the status; the warning shares the text's limit.
    can_content_warning = True
    has_language_field = True  # the status's ``language``
    limits_replies = "quotes"  # 4.5's quote_approval_policy; replies cannot be limited

    def validate(self, text: str, images: Sequence[Image] = (), *, spoiler_text: str = "") -> Validation:
        """``spoiler_text``, the content warning, counts with the text toward the limit, each of
        its characters as written (Mastodon shortens addresses in the text only)."""
        limits = self.limits
        text_length = status_length(text, limits.characters_reserved_per_url)
        warning_length = len(regex.findall(r"\X", spoiler_text))
        length = text_length + warning_length
        problems: list[Problem] = []
        if text_length == 0 and not images:
            problems.append(empty_text(self.label))
        if length > limits.max_characters:
            problem = too_long(self.label, length, limits.max_characters, "caractères", "characters")
            if warning_length:
                problem = dataclasses.replace(
                    problem,
                    fr=f"{problem.fr} (l'avertissement en compte {number(warning_length, 'fr')})",
                    en=f"{problem.en} (the content warning counts {number(warning_length, 'en')})",
                )
            problems.append(problem)
        problems += check_images(
            images,
            max_count=limits.max_media_attachments,
            max_bytes=limits.image_size_limit,
            mime_types=limits.image_mime_types,
            platform=self.label,
        )
        for i, img in enumerate(images, start=1):
            if len(img.alt) > limits.description_limit:
                problems.append(
                    Problem(
                        "alt_too_long",
                        f"Le texte alternatif de l'image {i} compte {number(len(img.alt), 'fr')} caractères ; "
                        f"{self.label} en accepte au plus {number(limits.description_limit, 'fr')}.",
                        f"The alt text of image {i} has {number(len(img.alt), 'en')} characters; "
                        f"{self.label} accepts at most {number(limits.description_limit, 'en')}.",
                    )
                )
        return Validation(self.kind, length, limits.max_characters, tuple(problems))

    # -- publish ------------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        """One status, or a thread (each part ``in_reply_to_id`` the one before, with its own
        Idempotency-Key: ``channels/thread``); with ``reply_to``, the first part answers it."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.publish(self, request, first=first, find_first=self._find_status)

    def post_part(self, request: PublishRequest, target: thread.Target | None) -> Published:
        text = compose(request.text, request.link)
        check = self.validate(text, request.images, spoiler_text=request.content_warning)
        if not check.valid:
            raise PermanentError(
                " ".join(p.en for p in check.problems),
                message_fr=" ".join(p.fr for p in check.problems),
                platform_code="validation",
            )
        media_ids = []
        if request.images:
            self._ensure_version()  # so Mastodon.py picks /api/v2/media, see platforms.md §3
        for img in request.images:
            # An uploaded but unattached attachment is not public and Mastodon removes it later, so
            # a failed upload is never "may have posted": write=False.
            with self._errors(write=False):
                media = self.client.media_post(
                    img.data, mime_type=img.mime_type, description=img.alt, file_name=img.filename
                )
            media_ids.append(media["id"])
        with self._errors(write=True):
            status = self.client.status_post(
                text,
                in_reply_to_id=target.parent if target is not None else None,
                media_ids=media_ids or None,
                language=request.language,
                idempotency_key=_idempotency_key(request.key),  # per part: thread.part_key
                visibility=request.visibility or "public",
                spoiler_text=request.content_warning or None,
                quote_approval_policy=reply_limits.value_for(reply_limits.MASTODON, request.reply_limit),
            )
        return self._published(status)

    def _published(self, status: Any) -> Published:
        return Published(
            str(status["id"]),
            status.get("url") or status.get("uri"),
            _aware(status.get("created_at")),
        )

    # -- deletion -----------------------------------------------------------------------------

    def delete(self, platform_id: str) -> None:
        """``DELETE /api/v1/statuses/:id`` through Mastodon.py's ``status_delete``; a status
        already gone (404 "Record not found") counts as deleted."""
        with self._errors(write=True):
            try:
                self.client.status_delete(platform_id)
            except MastodonNotFoundError:
                return

    # -- metrics ------------------------------------------------------------------------------

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Figures per status. Deleted or unknown statuses are left out of the answer."""
        ids = list(dict.fromkeys(str(i) for i in platform_ids))
        if not ids:
            return []
        found: list[Any] = []
        if self._supports_batch():
            for batch in chunked(ids, self.metrics_batch_size):
                with self._errors(write=False):
                    found.extend(self.client.statuses(list(batch)))
        else:  # before 4.3 there is only GET /api/v1/statuses/:id
            for status_id in ids:
                try:
                    with self._errors(write=False):
                        found.append(self.client.status(status_id))
                except PermanentError as exc:
                    if exc.platform_code != 404:
                        raise
        return [self._metrics(s) for s in found if s is not None]

    @staticmethod
    def _metrics(status: Any) -> Metrics:
        # https://docs.joinmastodon.org/entities/Status/ : quotes_count exists from 4.5; Mastodon
        # has no view counts at all.
        return Metrics(
            platform_id=str(status["id"]),
            likes=_int(status.get("favourites_count")),
            shares=_int(status.get("reblogs_count")),
            replies=_int(status.get("replies_count")),
            quotes=_int(status.get("quotes_count")),
            views=None,
        )

    def _supports_batch(self) -> bool:
        if not self.limits.version:
            self._ensure_version()
            return bool(self.client.verify_minimum_version("4.3.0", cached=True))
        return _version_tuple(self.limits.version) >= (4, 3, 0)

    def _ensure_version(self) -> None:
        """Ask the instance its version once (GET /api/v1/instance and /api/v2/instance)."""
        if self._version_known:
            return
        with self._errors(write=False):
            version = self.client.retrieve_mastodon_version(fail_hard=True)
        self._version_known = True
        if not self.limits.version:
            self.limits = dataclasses.replace(self.limits, version=version)

    def load_instance_limits(self) -> InstanceLimits:
        """Read the instance's real limits (for ``account test``); store ``as_options()`` on the
        account so that later validation is offline and right for that server."""
        with self._errors(write=False):
            instance = self.client.instance_v2()
        self.limits = InstanceLimits.from_instance(dict(instance))
        return self.limits

    # -- reconcile ----------------------------------------------------------------------------

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        """A single status by :meth:`_find_status`; a thread by its notes, each part looked for
        as a reply of the one before (``channels/thread``)."""
        first = thread.Target(request.reply_to, request.reply_to) if request.reply_to else None
        return thread.find(self, request, since=since, find_first=self._find_status, first=first)

    def _find_status(self, request: PublishRequest, since: dt.datetime) -> Found:
        return self._find_own(request, since=since, parent=None)

    def find_part(self, request: PublishRequest, target: thread.Target, *, since: dt.datetime) -> Found:
        """A part of a thread: a status of ours with its text, ``in_reply_to_id`` the parent."""
        return self._find_own(request, since=since, parent=target.parent)

    def _find_own(self, request: PublishRequest, *, since: dt.datetime, parent: str | None) -> Found:
        """Read the account's own statuses newer than ``since`` and match the text (and, for a
        part of a thread, its parent).

        Mastodon renders ``content`` as HTML, so both sides are reduced to comparable plain text.
        Proves absence when every status since ``since`` (minus :attr:`find_margin`) was read.
        Re-posting with the same idempotency key is *not* used here: it would publish if absent.
        """
        if since.tzinfo is None:
            raise ValueError("find() needs an aware datetime")
        expected = comparable(compose(request.text, request.link))
        me = self._me()
        lower = since - self.find_margin
        max_id = None
        for _ in range(self.find_max_pages):
            with self._errors(write=False):
                page = self.client.account_statuses(
                    me,
                    since_id=lower,
                    max_id=max_id,
                    limit=self.find_page_size,
                    exclude_reblogs=True,
                )
            for status in page:
                if parent is not None and str(status.get("in_reply_to_id") or "") != parent:
                    continue
                if comparable(html_to_text(status.get("content") or "")) == expected:
                    return Found(published=self._published(status))
            if len(page) < self.find_page_size:
                return Found(absent=True)
            max_id = page[-1]["id"]
        return Found(
            reason=f"More than {self.find_max_pages * self.find_page_size} statuses since {since.isoformat()}; "
            "not all were read."
        )

    def _me(self) -> str:
        if self._me_id is None:
            with self._errors(write=False):
                self._me_id = str(self.client.account_verify_credentials()["id"])
        return self._me_id

    def whoami(self) -> str:
        with self._errors(write=False):
            me = self.client.account_verify_credentials()
        self._me_id = str(me["id"])
        host = urlsplit(self.base_url).netloc
        return f"@{me['acct']}@{host}" if "@" not in me["acct"] else f"@{me['acct']}"

    # -- listening ----------------------------------------------------------------------------

    def validate_term(self, term: str, *, hashtag: bool) -> Problem | None:
        """Mastodon's hashtags (Tag::HASHTAG_NAME_RE): letters, digits and underscores, not only
        digits. Keywords are accepted here (other platforms search them) and simply not listened
        for on Mastodon, which offers no search of the public's words (:meth:`listen` says so)."""
        if not hashtag:
            return None
        if not _HASHTAG_NAME.fullmatch(term):
            return Problem(
                "hashtag_invalid",
                f"« #{term} » n'est pas un mot-clic Mastodon : seulement des lettres, des chiffres et « _ », "
                "sans espace ni ponctuation.",
                f'"#{term}" is not a Mastodon hashtag: only letters, digits and "_", no spaces or punctuation.',
            )
        if term.isdigit():
            return Problem("hashtag_digits", f"« #{term} » : un mot-clic Mastodon ne peut pas être fait que de chiffres.",
                           f'"#{term}": a Mastodon hashtag cannot be digits only.')
        return None

    def listen(self, term: str, *, hashtag: bool, cursor: str | None, limit: int | None = None) -> ListenPage:
        """The tag timeline after ``cursor`` (a status id), oldest page first (``min_id``), so a
        catch-up walks forward in time and each page's cursor is where the next one starts.
        Without a cursor: the newest page, Mastodon's recent window."""
        if not hashtag:
            raise ListeningUnavailable(
                "Mastodon offers no search of keywords in public posts: only hashtags are listened to.",
                message_fr="Mastodon ne permet pas de chercher des mots-clés dans les publications du public : "
                "seuls les mots-clics y sont écoutés.",
            )
        problem = self.validate_term(term, hashtag=True)
        if problem is not None:
            raise PermanentError(problem.en, message_fr=problem.fr)
        size = max(1, min(limit or self.listen_page_size, self.listen_page_size))
        me = self._me()
        with self._errors(write=False):
            page = self.client.timeline_hashtag(term, min_id=cursor, limit=size)
        posts = []
        for status in page:
            if str((status.get("account") or {}).get("id")) == me or status.get("reblog"):
                continue  # our own statuses are not the public's
            posts.append(_public_post(status))
        return self._page(page, posts, cursor, size)

    def listen_answers(self, *, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Replies to, boosts and quotes of this account's statuses, from its notifications
        (``types[]`` mention, reblog, quote), oldest page first after ``cursor``."""
        size = max(1, min(limit or self.listen_page_size, 80))
        me = self._me()
        with self._errors(write=False):
            page = self.client.notifications(types=["mention", "reblog", "quote"], min_id=cursor, limit=size)
        posts = []
        for note in page:
            status = note.get("status") or {}
            created = _aware(note.get("created_at")) or dt.datetime.now(dt.UTC)
            if note.get("type") == "reblog" and status:
                # The boost itself has no id in the notification: who boosted which status is the
                # boost's identity (hashed by the orchestrator, never kept).
                booster = str((note.get("account") or {}).get("id"))
                posts.append(PublicPost(f"reblog:{booster}:{status['id']}", "repost", created, str(status["id"])))
            elif note.get("type") == "quote" and status:
                quoted = ((status.get("quote") or {}).get("quoted_status") or {}).get("id")
                if quoted:
                    posts.append(PublicPost(str(status["id"]), "quote", _aware(status.get("created_at")) or created,
                                            str(quoted)))
            elif note.get("type") == "mention" and status:
                if status.get("in_reply_to_id") and str(status.get("in_reply_to_account_id")) == me:
                    posts.append(PublicPost(str(status["id"]), "reply", _aware(status.get("created_at")) or created,
                                            str(status["in_reply_to_id"])))
        return self._page(page, posts, cursor, size)

    def inbox(self, *, cursor: str | None, limit: int | None = None) -> InboxPage:
        """Replies and mentions from the account's notifications (``types[]=mention``: a reply to
        us is a mention too), oldest page first after ``cursor`` (``min_id``), with the status's
        text (its HTML made plain), language and author's ``acct``. The first pass reads from the
        oldest notification the server keeps (``min_id=0``), then on from the newest seen."""
        size = max(1, min(limit or self.listen_page_size, 80))
        me = self._me()
        with self._errors(write=False):
            page = self.client.notifications(types=["mention"], min_id=cursor or "0", limit=size)
        entries = []
        for note in page:
            status = note.get("status") or {}
            if note.get("type") != "mention" or not status:
                continue
            reply = bool(status.get("in_reply_to_id")) and str(status.get("in_reply_to_account_id")) == me
            entries.append(InboxEntry(
                platform_id=str(status["id"]), kind="reply" if reply else "mention",
                created_at=_aware(status.get("created_at")) or _aware(note.get("created_at")) or dt.datetime.now(dt.UTC),
                text=plain_text(str(status.get("content") or "")),
                author=str((status.get("account") or note.get("account") or {}).get("acct") or ""),
                answers=str(status["in_reply_to_id"]) if reply else None,
                language=str(status.get("language") or ""), url=status.get("url") or status.get("uri")))
        listened = self._page(page, [], cursor or "0", size)
        return InboxPage(tuple(entries), listened.cursor, listened.more)

    def hide_reply(self, platform_id: str, *, root: str | None = None) -> None:
        """Mastodon has no hiding of a reply by the author of the post: report it to the instance."""
        raise HideRefused(
            "Mastodon does not let an account hide a reply under its post. Report the reply to its "
            "instance's moderators (the platform's « Report » button), or mute or block its author.",
            message_fr="Mastodon ne permet pas de masquer une réponse sous sa publication. Signalez-la "
            "aux modérateurs de son instance (bouton « Signaler » de la plateforme), ou masquez ou "
            "bloquez son auteur.",
            platform_code="no_hide",
        )

    @staticmethod
    def _page(page: Sequence[Any], posts: list[PublicPost], cursor: str | None, size: int) -> ListenPage:
        ids = [int(item["id"]) for item in page]
        newest = str(max(ids)) if ids else cursor
        # With a cursor, a full page means more may follow; without one, only the recent window.
        return ListenPage(posts=tuple(posts), cursor=newest, more=cursor is not None and len(page) >= size)

    # -- HTTP observation ---------------------------------------------------------------------

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last_status = response.status_code
        headers = response.headers
        self._last_reset = headers.get("X-RateLimit-Reset")
        if "X-RateLimit-Limit" not in headers and "X-RateLimit-Remaining" not in headers:
            return
        self.note_rate(
            RateInfo(
                endpoint=_endpoint(
                    response.request.method or "GET", urlsplit(response.request.url or "").path
                ),
                remaining=_int_or_none(headers.get("X-RateLimit-Remaining")),
                limit=_int_or_none(headers.get("X-RateLimit-Limit")),
                reset_at=_parse_reset(self._last_reset),
            )
        )

    # -- errors -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _errors(self, *, write: bool) -> Iterator[None]:
        self._last_status = 0
        try:
            yield
        except MastodonError as exc:
            raise self.translate(exc, write=write) from exc

    def translate(self, exc: MastodonError, *, write: bool) -> ChannelError:
        """The one place where a Mastodon.py exception becomes a taxonomy error, by the table:
        the status and the reset time are those of the last answer seen (Mastodon.py keeps
        neither on the exception it raises for a 429).

        ``write`` is True only for the call that creates the public status.
        """
        # retrieve_mastodon_version(fail_hard=True) wraps the real failure: judge that one.
        if isinstance(exc, MastodonVersionError) and isinstance(exc.__cause__, MastodonError):
            return self.translate(exc.__cause__, write=write)
        status = (self._last_status if isinstance(exc, MastodonRatelimitError)
                  else _status_of(exc) if isinstance(exc, MastodonAPIError) else None)
        reason = _reason_of(exc) if isinstance(exc, MastodonAPIError) else str(exc)
        return self.map_error(exc, write=write, facts=ErrorFacts(
            status=status, detail=reason, detail_fr=_reason_fr(reason), reset_at=_parse_reset(self._last_reset),
            words={"base_url": self.base_url, "cause": exc.__cause__ or exc.__context__, "exc": exc}))


# ---------------------------------------------------------------------------------------------
# Small helpers


# Tag::HASHTAG_NAME_RE without the rare middle dot and ZWNJ: word characters only.
_HASHTAG_NAME = regex.compile(r"[\p{L}\p{M}\p{N}_]{1,100}")


def _public_post(status: Any) -> PublicPost:
    """A status of the tag timeline reduced to what counting needs."""
    created = _aware(status.get("created_at")) or dt.datetime.now(dt.UTC)
    quoted = ((status.get("quote") or {}).get("quoted_status") or {}).get("id")
    if quoted:
        return PublicPost(str(status["id"]), "quote", created, str(quoted))
    if status.get("in_reply_to_id"):
        return PublicPost(str(status["id"]), "reply", created, str(status["in_reply_to_id"]))
    kind = "photo" if status.get("media_attachments") else "original"
    return PublicPost(str(status["id"]), kind, created)


def _status_of(exc: MastodonAPIError) -> int | None:
    # Mastodon.py raises ex_type('Mastodon API returned error', status, reason, error_msg).
    args = exc.args
    if len(args) >= 2 and isinstance(args[1], int):
        return args[1]
    if isinstance(exc, MastodonNotFoundError):
        return 404
    return None


def _reason_of(exc: MastodonAPIError) -> str:
    args = exc.args
    if len(args) >= 4 and args[3]:
        return str(args[3])
    if len(args) >= 3 and args[2]:
        return str(args[2])
    return str(exc)


_REASONS_FR: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"character limit of (\d+) exceeded", re.I),
        r"le texte dépasse la limite de \1 caractères",
    ),
    (re.compile(r"Text can't be blank", re.I), "le texte est vide"),
    (re.compile(r"Record not found", re.I), "publication introuvable"),
    (
        re.compile(r"Cannot attach more than (\d+) files", re.I),
        r"pas plus de \1 fichiers par publication",
    ),
    (re.compile(r"file type", re.I), "type de fichier refusé"),
    (re.compile(r"file size", re.I), "fichier trop lourd"),
    (re.compile(r"Description is too long", re.I), "texte alternatif trop long"),
)


def _reason_fr(reason: str) -> str:
    for pattern, french in _REASONS_FR:
        match = pattern.search(reason)
        if match:
            return match.expand(french)
    return reason


def _endpoint(method: str, path: str) -> str:
    if method == "POST" and path == "/api/v1/statuses":
        return "publish"
    if method == "POST" and path.rstrip("/").endswith("/media"):
        return "media"
    if method == "GET" and re.fullmatch(r"/api/v1/statuses(/\d+)?", path):
        return "metrics"
    return "read"


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _version_tuple(version: str) -> tuple[int, int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple((numbers + [0, 0, 0])[:3])  # type: ignore[return-value]


def plain_text(content: str) -> str:
    """A status's HTML as the words people read: line breaks kept, tags dropped, entities read."""
    text = re.sub(r"<br\s*/?>|</p>\s*<p[^>]*>", "\n", content)
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
