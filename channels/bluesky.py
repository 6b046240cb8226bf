"""Bluesky (AT Protocol) through the ``atproto`` client (0.0.73, pinned: the API is still 0.0.x).

What is particular to this channel:

- **Sessions are reused.** ``createSession`` is limited to 30 per 5 min and 300 per day per handle
  (https://docs.bsky.app/docs/advanced-guides/rate-limits). The channel logs in lazily, exposes the
  session as :attr:`BlueskyChannel.session_string` (kept current through
  ``Client.on_session_change``; the client refreshes the token itself 15 min before expiry), and
  starts from a stored one (``options["session_string"]`` or ``credentials["session_string"]``)
  without any ``createSession`` call.
- **Publishing is idempotent.** The post is created with a record key derived from
  ``PublishRequest.key`` (:func:`record_key_for`), so a second ``createRecord`` for the same delivery
  can only fail: it never makes a duplicate. Retrying after an :class:`AmbiguousError` is therefore
  safe (:attr:`BlueskyChannel.publish_is_idempotent`), and :meth:`BlueskyChannel.find` is exact.
- Links and hashtags become facets (UTF-8 byte offsets, https://docs.bsky.app/docs/advanced-guides/post-richtext);
  a link given apart from the text is appended shortened, like the Bluesky app does, and shown as a
  link card (no thumbnail: the channel fetches nothing from the web).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import ssl
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx
import regex
import requests
from atproto import Client, Request, Session, SessionEvent, models
from atproto_client import exceptions as at_exc
from atproto_client.models.common import XrpcError
from atproto_client.utils.facet_detection import detect_facets
from atproto_core.exceptions import AtProtocolError

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
    read_cursor,
    too_long,
)

T = TypeVar("T")
POST = "app.bsky.feed.post"
THREADGATE = "app.bsky.feed.threadgate"
#: lexicons/app/bsky/feed/threadgate.json: hiddenReplies maxLength 300.
MAX_HIDDEN_REPLIES = 300
INBOX_REASONS = ("reply", "mention")
DEFAULT_SERVICE = "https://bsky.social"
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_TID_START_US = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z
_TID_SPAN_US = 2**46  # about 2.2 years: every derived key lies in 2023-2025, in the past
# Errors the PDS answers with status 400 that are about the token, not the request
# (https://docs.bsky.app/docs/advanced-guides/auth, xrpc-server auth verifier).
_TOKEN_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AccountTakedown"}


def record_key_for(key: str) -> str:
    """A valid TID (https://atproto.com/specs/tid) derived from a delivery key, always the same.

    ``app.bsky.feed.post`` records need a TID record key: 64 bits, top bit 0, 53 bits of
    microseconds and 10 bits of clock id, in sortable base32 (13 characters). The microseconds are
    taken from a hash of the key inside a window in the past, so the key looks like any TID and two
    deliveries collide with odds of about 2**-56.
    """
    n = int.from_bytes(hashlib.sha256(f"porte-voix:{key}".encode()).digest()[:8], "big")
    micros = _TID_START_US + (n >> 10) % _TID_SPAN_US
    value = (micros << 10) | (n & 0x3FF)
    return "".join(_TID_CHARS[(value >> (60 - 5 * i)) & 31] for i in range(13))


@functools.cache
def _tls() -> ssl.SSLContext:
    # httpx builds a new context (reading the CA bundle, ~0.2 s) for every client otherwise.
    return httpx.create_ssl_context()


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def short_url(url: str, limit: int = 30) -> str:
    """What the Bluesky app shows for a link: no scheme, no "www.", cut with an ellipsis."""
    parts = urlsplit(url)
    shown = parts.netloc.removeprefix("www.") + parts.path.rstrip("/")
    if parts.query:
        shown += "?" + parts.query
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


_URL = regex.compile(r"https?://[^\s<>\"]+")


def _link_facet(uri: str, start: int, end: int) -> models.AppBskyRichtextFacet.Main:
    return models.AppBskyRichtextFacet.Main(
        features=[models.AppBskyRichtextFacet.Link(uri=uri)],
        index=models.AppBskyRichtextFacet.ByteSlice(byte_start=start, byte_end=end),
    )


def _get_posts(uris: list[str]) -> Callable[[Client], list[Any]]:
    return lambda client: list(client.get_posts(uris).posts)


def _xrpc(exc: at_exc.RequestErrorBase) -> tuple[int, str, str]:
    """(status, error name, message) of an XRPC error response."""
    assert exc.response is not None
    content = exc.response.content
    if isinstance(content, XrpcError):
        return exc.response.status_code, content.error or "", content.message or ""
    return exc.response.status_code, "", str(content or "")[:200]


_FRENCH = {  # the PDS's lexicon messages a campaign worker may meet, in plain French
    "graphemes": "le texte dépasse la limite de graphèmes de Bluesky",
    "characters": "le texte dépasse 3000 octets",
    "file too big": "une image dépasse la taille acceptée par Bluesky",
    "must not have more than 4": "Bluesky accepte au plus 4 images",
    "PayloadTooLarge": "un fichier est trop lourd pour Bluesky",
}


def _cause(exc: BaseException) -> BaseException | None:
    """The failure to judge: atproto wraps httpx timeouts as InvokeTimeoutError and network errors
    as NetworkError (request.py _handle_request_errors); protocol errors pass through raw."""
    return exc.__cause__ if isinstance(exc, at_exc.NetworkError) else exc


def _cause_is(*classes: type[BaseException]) -> Callable[[BaseException, ErrorFacts], bool]:
    return lambda exc, facts: isinstance(_cause(exc), classes)


def _answered(exc: BaseException, facts: ErrorFacts) -> bool:
    return facts.status is not None


class BlueskyChannel(Channel):
    kind = "bluesky"
    label = "Bluesky"
    platform_name = "Bluesky"
    credential_fields = (
        CredentialField(
            "handle", "identifiant", "handle", secret=False, prompt="Handle",
            label_fr="Identifiant Bluesky", label_en="Bluesky handle",
            help_fr="Par exemple ecrire.bsky.social, sans « @ ».",
            help_en="For example ecrire.bsky.social, without “@”."),
        CredentialField(
            "app_password", "mot de passe d'application", "app password", prompt="App password",
            help_fr="Paramètres → Confidentialité et sécurité → Mots de passe d'application. Jamais le mot de "
                    "passe du compte.",
            help_en="Settings → Privacy and security → App passwords. Never the account's own password."),
    )
    credential_groups = (("handle", "app_password"),)
    sandbox_credentials = {"handle": "ecrire.sandbox.bsky", "app_password": "sandbox-app-password"}
    client_distribution = "atproto"
    public_hosts = frozenset({"bsky.app"})
    profile_url_pattern = "https://bsky.app/profile/{handle}"
    post_url_pattern = "https://bsky.app/profile/{handle}/post/{id}"
    limit_option = "max_graphemes"
    uses_requests_session = False  # atproto speaks httpx
    can_search = True  # searchPosts and notifications
    can_delete = True  # com.atproto.repo.deleteRecord (delete_post)
    can_alt_text = True
    can_thread = True  # ReplyRef (root, parent), a record key per part
    #: The lexicon sets no limit on ``alt``; the Bluesky app shows and edits 2,000 characters
    #: (social-app, src/lib/constants.ts, MAX_ALT_TEXT).
    alt_text_read_limit = 2000
    can_hide_reply = True  # the thread-gate's hiddenReplies, on our own threads
    limits_replies = "replies"  # the thread-gate's ``allow`` rules, on the root post
    can_self_label = True  # the record's ``labels`` (com.atproto.label.defs#selfLabels)
    shows_link_card = True  # app.bsky.embed.external: the card is built by the poster
    has_language_field = True  # the record's ``langs``
    metrics_batch_size = 25  # app.bsky.feed.getPosts: "uris" maxLength 25
    # https://docs.bsky.app/docs/advanced-guides/rate-limits: 5,000 write points per hour with a
    # create costing 3 (≈ 1,666 posts/h), 3,000 requests per 5 min per IP, createSession 30/5 min.
    rate_limits: ClassVar[dict[str, tuple[int, int]]] = {
        "publish": (1666, 3600),
        "metrics": (3000, 300),
        "read": (3000, 300),
        "login": (30, 300),
        # a delete costs 1 write point of the 5,000 per hour (a create costs 3)
        "delete": (5000, 3600),
    }
    listen_endpoint = "read"  # searchPosts and listNotifications share the per-IP budget
    listen_page_size = 100  # searchPosts and listNotifications: limit 1-100
    #: A retry of ``publish`` with the same ``PublishRequest.key`` can never make a second post.
    publish_is_idempotent: ClassVar[bool] = True

    max_graphemes = 300  # lexicons/app/bsky/feed/post.json: text maxGraphemes
    max_bytes = 3000  # ... and maxLength, counted in UTF-8 bytes
    max_images = 4  # lexicons/app/bsky/embed/images.json: images maxLength
    # image blob maxSize in the lexicon; some generated docs now say "up to 2 MB, formerly 1 MB":
    # keep the lexicon's figure unless options["max_image_bytes"] says otherwise.
    max_image_bytes = 1_000_000
    image_types = ("image/jpeg", "image/png", "image/webp", "image/gif")

    #: How atproto/httpx failures become the channel's error kinds.
    error_table = (
        # 429: every response of the PDS carries RateLimit-* headers; ratelimit-reset is epoch
        # seconds (https://docs.bsky.app/docs/advanced-guides/rate-limits). atproto reads it for us.
        ErrorRule(RateLimited, "Bluesky rate limit reached (policy {policy}); retry after {reset_at}.",
                  "Bluesky limite le débit (politique {policy}) ; nouvel essai après {reset_at}.",
                  exceptions=(at_exc.RateLimitExceededError,), platform_code=429),
        # An answer arrived: decide on its status and XRPC error name
        # (https://atproto.com/specs/xrpc#error-responses). Bad, expired or revoked tokens and
        # wrong app passwords; ExpiredToken comes as 400.
        ErrorRule(AuthError, "Bluesky refused the account's credentials ({detail}). Create a new app password "
                  "and test the account again.",
                  "Bluesky refuse les identifiants du compte ({detail}). Créez un nouveau mot de passe "
                  "d'application et testez de nouveau le compte.",
                  exceptions=(at_exc.RequestErrorBase,), statuses=(401, 403), codes=_TOKEN_ERRORS),
        # A 5xx on a write: the PDS may have committed the record before failing. On a read
        # nothing changed, so it is worth retrying.
        ErrorRule(AmbiguousError, "Bluesky answered {detail}. The post may be online.",
                  "Bluesky a répondu {detail}. La publication est peut-être en ligne.",
                  exceptions=(at_exc.RequestErrorBase,), statuses=range(500, 600), on_write=True,
                  platform_code=lambda facts: facts.status),
        ErrorRule(TransientError, "Bluesky answered {detail}.", "Bluesky a répondu {detail}.",
                  exceptions=(at_exc.RequestErrorBase,), statuses=range(500, 600),
                  platform_code=lambda facts: facts.status),
        # Other 4xx (400 InvalidRequest from lexicon validation, 404, 409, 413 blob too large):
        # the request itself is refused; a person must change it.
        ErrorRule(PermanentError, "Bluesky refused the request: {said}",
                  "Bluesky a refusé la demande : {detail_fr} ({said}).",
                  exceptions=(at_exc.RequestErrorBase,), when=_answered),
        # No answer, and nothing left the machine: safe to retry.
        ErrorRule(TransientError, "Could not reach Bluesky, nothing was sent: {cause!r}",
                  "Impossible de joindre Bluesky, rien n'a été envoyé : {cause!r}",
                  when=_cause_is(httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)),
        ErrorRule(PermanentError, "The account's Bluesky address is wrong: {cause}",
                  "L'adresse Bluesky du compte est erronée : {cause}",
                  when=_cause_is(httpx.UnsupportedProtocol, httpx.InvalidURL)),
        # Read/write timeout, reset or closed connection after the request left: a write may have
        # been applied. Retrying is still safe here (fixed record key, see publish()).
        ErrorRule(AmbiguousError, "Bluesky did not confirm the post ({cause!r}); it may be online. A retry "
                  "cannot duplicate it: its record key is fixed.",
                  "Bluesky n'a pas confirmé la publication ({cause!r}) ; elle est peut-être en ligne. Un nouvel "
                  "essai ne peut pas la dupliquer : sa clé d'enregistrement est fixe.",
                  when=_cause_is(httpx.TransportError, at_exc.NetworkError), on_write=True),
        ErrorRule(TransientError, "Bluesky did not answer: {cause!r}", "Bluesky n'a pas répondu : {cause!r}",
                  when=_cause_is(httpx.TransportError, at_exc.NetworkError)),
        # No session, or a stored session string whose tokens cannot be decoded.
        ErrorRule(AuthError, "No usable Bluesky session: {detail}", "Aucune session Bluesky utilisable : {detail}",
                  when=lambda exc, facts: isinstance(exc, at_exc.LoginRequiredError)
                  or type(exc).__module__.startswith("atproto_server")),
        # The client could not build the request or parse the answer (atproto ModelError,
        # pydantic). After a write the answer was lost, not the post.
        ErrorRule((AmbiguousError, PermanentError), "The Bluesky client failed: {exc!r}",
                  "Le client Bluesky a échoué : {exc!r}"),
    )

    @classmethod
    def error_facts(cls, exc: BaseException) -> ErrorFacts:
        """The XRPC answer's status and error name when one came (``detail_fr``: the PDS's
        lexicon message in plain French), when a throttle ends, and the failure judged."""
        if isinstance(exc, at_exc.RateLimitExceededError):
            reset_at = exc.reset_at
            if reset_at is None and exc.retry_after is not None:
                reset_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=exc.retry_after)
            return ErrorFacts(status=429, reset_at=reset_at, detail=str(exc),
                              words={"policy": exc.policy or "?", "reset_at": reset_at, "cause": exc, "exc": exc})
        if isinstance(exc, at_exc.RequestErrorBase) and exc.response is not None:
            status, name, message = _xrpc(exc)
            detail = f"{status} {name}: {message}".strip()
            french = next((fr for hint, fr in _FRENCH.items() if hint in detail), "demande refusée")
            return ErrorFacts(status=status, code=name or None, detail=detail, detail_fr=french,
                              words={"said": message or detail, "cause": exc, "exc": exc})
        return ErrorFacts(detail=str(exc), words={"cause": _cause(exc), "exc": exc})

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,  # unused: atproto speaks httpx
        timeout: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(account, session=session, timeout=timeout)
        self.transport = transport
        opts = account.options
        self.max_graphemes = int(opts.get("max_graphemes", self.max_graphemes))
        self.max_image_bytes = int(opts.get("max_image_bytes", self.max_image_bytes))
        self.session_string: str | None = opts.get("session_string") or account.credentials.get(
            "session_string"
        )
        self.did: str | None = None
        self.handle: str | None = None
        self._client: Client | None = None
        self._password_logins = 0

    # -- session ------------------------------------------------------------------------------

    def _new_client(self) -> Client:
        hooks = {"response": [self._note_headers]}
        request = Request(
            timeout=self.timeout, transport=self.transport, event_hooks=hooks, verify=_tls()
        )
        client = Client(self.account.base_url or DEFAULT_SERVICE, request=request)
        client.on_session_change(self._session_changed)
        return client

    def _session_changed(self, event: SessionEvent, session: Session) -> None:
        self.session_string = session.export()
        self.did, self.handle = session.did, session.handle

    def _stored_session(self, session_string: str) -> str:
        """The stored session, checked. It keeps its PDS address, except that an explicit
        non-default base URL wins (sandbox, self-hosted PDS): a session saved against one sandbox
        port still works on the next."""
        try:
            session = Session.decode(session_string)
        except ValueError as exc:  # a damaged stored session: same as a refused token
            raise AuthError(
                f"The stored Bluesky session is damaged: {exc}",
                message_fr=f"La session Bluesky enregistrée est abîmée : {exc}",
            ) from exc
        base = (self.account.base_url or "").rstrip("/")
        if base and base.removesuffix("/xrpc") != DEFAULT_SERVICE:
            session.pds_endpoint = base
        return session.export()

    def _connect(self, *, fresh: bool = False) -> Client:
        if self._client is not None and not fresh:
            return self._client
        if self._client is not None:
            self._client.request.close()
        client = self._new_client()
        handle = self.account.credentials.get("handle")
        password = self.account.credentials.get("app_password")
        try:
            if self.session_string and not fresh:
                stored = self._stored_session(self.session_string)
                client.login(session_string=stored, fetch_bsky_profile=False)
            elif handle and password:
                self._password_logins += 1
                client.login(handle, password, fetch_bsky_profile=False)
            else:
                raise AuthError(
                    "The Bluesky account needs a handle and an app password.",
                    message_fr="Le compte Bluesky a besoin d'un identifiant et d'un mot de passe "
                    "d'application.",
                )
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            raise self.map_error(exc, write=False) from exc
        self._client = client
        return client

    def _call(self, fn: Callable[[Client], T], *, write: bool) -> T:
        """Run one client call, mapping its failure; on a refused stored token, log in again once."""
        logins = self._password_logins
        try:
            return fn(self._connect())
        except AuthError:
            if not self._may_relogin(logins):
                raise
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            err = self.map_error(exc, write=write)
            if not (isinstance(err, AuthError) and self._may_relogin(logins)):
                raise err from exc
        # The token was refused before anything was written: a new session, then one retry.
        client = self._connect(fresh=True)
        try:
            return fn(client)
        except (AtProtocolError, httpx.HTTPError, ValueError) as exc:
            raise self.map_error(exc, write=write) from exc

    def _may_relogin(self, logins_before: int) -> bool:
        # Not when the password itself was just refused: createSession is scarce (30 / 5 min).
        password = self.account.credentials.get("app_password")
        return bool(password) and self._password_logins == logins_before

    def _note_headers(self, response: httpx.Response) -> None:
        remaining = response.headers.get("ratelimit-remaining", "")
        limit = response.headers.get("ratelimit-limit", "")
        reset = response.headers.get("ratelimit-reset", "")
        if not remaining.isdigit():
            return
        nsid = response.request.url.path.rsplit("/", 1)[-1]
        # createRecord answers with the account's write points (a create costs 3); "publish" in
        # rate_limits counts posts, so convert. Everything else shares the per-IP budget.
        cost = 3 if nsid == "com.atproto.repo.createRecord" else 1
        endpoint = {
            "com.atproto.repo.createRecord": "publish",
            "app.bsky.feed.getPosts": "metrics",
            "com.atproto.server.createSession": "login",
        }.get(nsid, "read")
        self.note_rate(
            RateInfo(
                endpoint=endpoint,
                remaining=int(remaining) // cost,
                limit=int(limit) // cost if limit.isdigit() else None,
                reset_at=dt.datetime.fromtimestamp(int(reset), dt.UTC) if reset.isdigit() else None,
            )
        )

    # -- validate -----------------------------------------------------------------------------

    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        """Counted on the text as posted: links shown in their short form, like the app does."""
        text = self.compose(PublishRequest(key="validate", text=text))[0] if text else text
        length = graphemes(text)
        problems: list[Problem] = []
        if not text.strip() and not images:
            problems.append(empty_text(self.label))
        if length > self.max_graphemes:
            problems.append(
                too_long(self.label, length, self.max_graphemes, "graphèmes", "graphemes")
            )
        size = len(text.encode("utf-8"))
        if size > self.max_bytes:
            problems.append(too_long(self.label, size, self.max_bytes, "octets", "bytes"))
        problems += check_images(
            images,
            max_count=self.max_images,
            max_bytes=self.max_image_bytes,
            mime_types=self.image_types,
            platform=self.label,
        )
        return Validation(self.kind, length, self.max_graphemes, tuple(problems))

    def validate_request(self, request: PublishRequest) -> Validation:
        """Validate what :meth:`publish` will post: the text with its appended link."""
        return self.validate(self.compose(request)[0], request.images)

    def compose(
        self, request: PublishRequest
    ) -> tuple[str, list[models.AppBskyRichtextFacet.Main]]:
        """The text as it will be posted, with its link and hashtag facets.

        A ``request.link`` not already in the text is appended in its short form (as the Bluesky
        app shows links), the facet pointing at the full address; validate this text, not the raw one.
        """
        text, facets = self._shorten_links(request.text)
        if request.link and request.link not in request.text:
            shown = short_url(request.link)
            text = f"{text.rstrip()}\n\n{shown}" if text.strip() else shown
            end = len(text.encode("utf-8"))
            facets.append(_link_facet(request.link, end - len(shown.encode("utf-8")), end))
        return text, facets

    @staticmethod
    def _shorten_links(text: str) -> tuple[str, list[models.AppBskyRichtextFacet.Main]]:
        """Every web address in the text shown short, its facet carrying the full address (with
        its tracking fields): a long campaign link would otherwise eat the 300 graphemes."""
        out: list[str] = []
        facets: list[models.AppBskyRichtextFacet.Main] = []
        position = 0
        size = 0
        for match in _URL.finditer(text):
            url = match.group(0).rstrip(".,;:!?)»\"'")
            before = text[position : match.start()]
            out.append(before)
            size += len(before.encode("utf-8"))
            shown = short_url(url)
            out.append(shown)
            facets.append(_link_facet(url, size, size + len(shown.encode("utf-8"))))
            size += len(shown.encode("utf-8"))
            position = match.start() + len(url)
        out.append(text[position:])
        shortened = "".join(out)
        # hashtags (and nothing else) from the library's offline detector
        for facet in detect_facets(shortened) or []:
            if any(isinstance(f, models.AppBskyRichtextFacet.Tag) for f in facet.features):
                facets.append(facet)
        facets.sort(key=lambda f: f.index.byte_start)
        return shortened, facets

    # -- publish ------------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        """One post, or a thread (``channels/thread``): each part a reply (``ReplyRef`` with the
        thread's root and the part before as parent) at its own record key, derived from the
        request's key and the part's place; with ``reply_to``, the first part answers that post."""
        first = self._reply_target(request.reply_to) if request.reply_to else None
        published = thread.publish(self, request, first=first, find_first=self._find_post)
        if request.reply_limit and first is None:
            self._gate(published.platform_id, request.reply_limit)
        return published

    def _gate(self, root: str, limit: str) -> None:
        """Limit who may reply to our new post ``root``: its thread-gate (rkey = the root's)
        gets the ``allow`` rules of ``limit`` (``channels/reply_limits.py``; ``[]``: nobody).
        Written with ``putRecord`` at that fixed key, so a retry rewrites the same record and
        never fails on it nor makes a second one; replies already hidden stay hidden."""
        if self.did is None:
            self._call(_connected, write=False)
        rkey = root.rsplit("/", 1)[-1]

        def current(client: Client) -> Any:
            return client.com.atproto.repo.get_record(
                models.ComAtprotoRepoGetRecord.Params(repo=self.did, collection=THREADGATE, rkey=rkey))

        hidden: list[str] = []
        created = _stamp(dt.datetime.now(dt.UTC))
        try:
            got = self._call(current, write=False)
            value = got.value if isinstance(got.value, dict) else got.value.model_dump(by_alias=True,
                                                                                       exclude_none=True)
            hidden = list(value.get("hiddenReplies") or [])
            created = value.get("createdAt") or created
        except PermanentError as err:
            if err.platform_code != "RecordNotFound":
                raise
        rules: dict[str, Any] = {"app.bsky.feed.threadgate#followerRule": models.AppBskyFeedThreadgate.FollowerRule,
                                 "app.bsky.feed.threadgate#mentionRule": models.AppBskyFeedThreadgate.MentionRule}
        allow = [rules[name]() for name in reply_limits.BLUESKY.get(limit, ())]
        record = models.AppBskyFeedThreadgate.Record(post=root, created_at=created, allow=allow,
                                                     hidden_replies=hidden or None)

        def put(client: Client) -> Any:
            return client.com.atproto.repo.put_record(models.ComAtprotoRepoPutRecord.Data(
                repo=self.did, collection=THREADGATE, rkey=rkey, record=record))

        self._call(put, write=False)

    def _reply_target(self, uri: str) -> thread.Target:
        """Where a reply to ``uri`` goes: its cid, and its thread's root (the parent's own
        ``reply.root``, or the parent itself), read with getPosts."""
        [view] = self._call(_get_posts([uri]), write=False) or [None]
        if view is None:
            raise PermanentError(f"The Bluesky post {uri} to answer was not found.",
                                 message_fr=f"La publication Bluesky {uri} à laquelle répondre est introuvable.",
                                 platform_code="NotFound")
        root = getattr(getattr(view.record, "reply", None), "root", None)
        return thread.Target(parent=view.uri, parent_ref=view.cid, root=root.uri if root else view.uri,
                             root_ref=root.cid if root else view.cid)

    def post_part(self, request: PublishRequest, target: thread.Target | None) -> Published:
        """Create the post at its fixed record key; never a duplicate, whatever happened before.

        A ``createRecord`` at a key already used fails: with a 500 on the reference PDS (its MST
        insert throws) or a 400 "already exists" elsewhere. Both, and any 5xx, are settled by
        reading the record back: if it is there, the delivery is done.
        """
        text, facets = self.compose(request)
        check = self.validate(text, request.images)  # == validate_request(request)
        if not check.valid:
            raise PermanentError(
                " ".join(p.en for p in check.problems),
                message_fr=" ".join(p.fr for p in check.problems),
                platform_code="validation",
            )
        rkey = record_key_for(request.key)
        embed: Any = None
        if request.images:
            embed = models.AppBskyEmbedImages.Main(
                images=[
                    models.AppBskyEmbedImages.Image(alt=img.alt, image=self._upload(img))
                    for img in request.images
                ]
            )
        elif request.link and request.card is not None:
            # A record has one embed: a post with images shows its images, and its link stays a
            # link in the text (its facet). Without a card (the page could not be read) the link
            # is plain too, rather than a card saying nothing but the domain.
            card = request.card
            embed = models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=request.link,
                    title=card.title,
                    description=card.description,
                    thumb=self._upload(card.thumb) if card.thumb is not None else None,
                )
            )
        now = dt.datetime.now(dt.UTC)
        record = post_record(text, now, facets=facets, embed=embed, language=request.language,
                             labels=request.self_labels, reply=target)

        def create(client: Client) -> Any:
            data = models.ComAtprotoRepoCreateRecord.Data(
                repo=self.did, collection=POST, rkey=rkey, record=record
            )
            return client.com.atproto.repo.create_record(data)

        try:
            created = self._call(create, write=True)
        except (AmbiguousError, PermanentError) as err:
            taken = isinstance(err, PermanentError) and "already exist" in err.message_en.lower()
            if not (taken or isinstance(err.platform_code, int) and err.platform_code >= 500):
                raise
            try:
                found = self._get(rkey)
            except ChannelError:
                raise err from None
            if found is None:
                raise
            return found
        return Published(created.uri, self._web_url(rkey), now, ref=created.cid)

    def _upload(self, image: Image) -> Any:
        def upload(client: Client) -> Any:
            # The Content-Type is the image's own: the client would send "*/*".
            return client.com.atproto.repo.upload_blob(
                image.data, headers={"Content-Type": image.mime_type}
            ).blob

        # An upload creates nothing visible (an unreferenced blob is garbage-collected), so a
        # failed one is never ambiguous.
        return self._call(upload, write=False)

    def _web_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self.handle or self.did}/post/{rkey}"

    def _get(self, rkey: str) -> Published | None:
        """The post at ``rkey`` in this account's repository, or None when the PDS says it is absent."""

        def get(client: Client) -> Any:
            params = models.ComAtprotoRepoGetRecord.Params(
                repo=self.did, collection=POST, rkey=rkey
            )
            return client.com.atproto.repo.get_record(params)

        try:
            got = self._call(get, write=False)
        except PermanentError as err:
            if err.platform_code == "RecordNotFound":
                return None
            raise
        created = getattr(got.value, "created_at", None)
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None
        return Published(got.uri, self._web_url(rkey), when, ref=str(got.cid or ""))

    # -- listening ----------------------------------------------------------------------------
    #
    # searchPosts (sort=latest) and listNotifications answer newest first and page backwards with
    # an opaque cursor; searchPosts also takes ``since`` (inclusive, on the post's sort time),
    # listNotifications nothing of the kind. A pass starts at the newest post and walks back to the
    # mark left by the previous pass: its newest time and the URIs seen at exactly that time (which
    # ``since`` being inclusive would give again). The cursor (``b1:`` + JSON) carries the mark, the
    # platform's cursor of the page in progress and the pass's own newest time, so a pass cut short
    # resumes after the last page recorded, posts arriving meanwhile wait for the next pass, and
    # nothing is given twice. One call per page; a notifications pass may need one more call to
    # see that the next page is already known.

    def validate_term(self, term: str, *, hashtag: bool) -> Problem | None:
        return bluesky_term_problem(term, hashtag=hashtag)

    def listen(
        self, term: str, *, hashtag: bool, cursor: str | None, limit: int | None = None
    ) -> ListenPage:
        problem = self.validate_term(term, hashtag=hashtag)
        if problem is not None:
            raise PermanentError(problem.en, message_fr=problem.fr, platform_code=problem.code)
        state = _decode(cursor)
        words = term.strip().lstrip("#") if hashtag else term.strip()
        size = max(1, min(self.listen_page_size, limit or self.listen_page_size))
        params: dict[str, Any] = {"q": f"#{words}" if hashtag else words, "sort": "latest"}
        params["limit"] = size
        if hashtag:
            params["tag"] = [words]
        overlap = self._overlap()
        if state.get("mark"):
            params["since"] = _stamp(_when(state["mark"]) - overlap)
        if state.get("api"):
            params["cursor"] = state["api"]

        def search(client: Client) -> Any:
            return client.app.bsky.feed.search_posts(models.AppBskyFeedSearchPosts.Params(**params))

        answer = self._listening(search)
        items = [(_sort_time(v), v.uri, v) for v in answer.posts]
        posts = tuple(
            _post_of(view, when)
            for when, uri, view in items
            if not _at_mark(state, when, uri, overlap) and view.author.did != self.did
        )
        # A short page with a cursor is not the end: the AppView may drop posts from a page
        # (moderation, deletions) and stopping there would leave a gap behind the next mark.
        more = bool(answer.cursor) and bool(answer.posts)
        cursor_out = _next_cursor(state, items, answer.cursor if more else None, overlap)
        return ListenPage(posts, cursor_out, more)

    def _overlap(self) -> dt.timedelta:
        """How far before the mark a pass reads again: a post indexed late keeps its earlier
        ``createdAt`` as its sort time and would otherwise fall behind the mark. The posts read
        again are recognised (a short hash of their URI in the cursor), not given twice."""
        seconds = float(self.account.options.get("listen_overlap_seconds", LISTEN_OVERLAP_SECONDS))
        return dt.timedelta(seconds=max(0.0, seconds))

    def _notifications(self, cursor: str | None, reasons: Any, limit: int | None) -> tuple[dict[str, Any], Any]:
        """One page of the account's notifications of these ``reasons``, from the cursor's own
        state (shared by listening's answers and the inbox): (that state, the page)."""
        state = _decode(cursor)
        size = max(1, min(self.listen_page_size, limit or self.listen_page_size))
        params: dict[str, Any] = {"reasons": list(reasons), "limit": size}
        if state.get("api"):
            params["cursor"] = state["api"]

        def notifications(client: Client) -> Any:
            return client.app.bsky.notification.list_notifications(
                models.AppBskyNotificationListNotifications.Params(**params)
            )

        return state, self._listening(notifications)

    def listen_answers(self, *, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Replies, quotes and reposts of our posts, from the account's notifications; each
        ``answers`` the URI of our post (what :meth:`publish` returned)."""
        state, answer = self._notifications(cursor, ANSWER_REASONS, limit)
        items = [(_when(n.indexed_at), n.uri, n) for n in answer.notifications]
        mark = _when(state["mark"]) if state.get("mark") else None
        reached = mark is not None and any(when < mark for when, _, _ in items)
        posts = tuple(
            post
            for when, uri, note in items
            if not (mark is not None and when < mark)
            and not _at_mark(state, when, uri, dt.timedelta(0))
            and note.reason in ANSWER_REASONS
            and (post := self._answer_of(note, when)) is not None
        )
        more = bool(answer.cursor) and bool(items) and not reached
        cursor_out = _next_cursor(state, items, answer.cursor if more else None, dt.timedelta(0))
        return ListenPage(posts, cursor_out, more)

    def inbox(self, *, cursor: str | None, limit: int | None = None) -> InboxPage:
        """Replies and mentions from the account's notifications (``reasons`` reply, mention),
        with the post's text, language and author's handle. Notifications come newest first and
        their cursor goes backwards: a pass pages down until it reaches the previous pass's
        newest time (its mark), which it then moves up to its own newest."""
        state, answer = self._notifications(cursor, INBOX_REASONS, limit)
        items = [(_when(n.indexed_at), n) for n in answer.notifications]
        mark = _when(state["mark"]) if state.get("mark") else None
        entries = []
        seen = set(state.get("seen") or [])
        for when, note in items:
            if mark is not None and (when < mark or when == mark and _short(note.uri) in seen) \
                    or note.reason not in INBOX_REASONS:
                continue
            record = note.record
            answers = None
            if note.reason == "reply":
                root = _field(_field(_field(record, "reply"), "root"), "uri")
                answers = root if isinstance(root, str) and self.did and root.startswith(f"at://{self.did}/") \
                    else note.reason_subject
            handle = str(_field(note.author, "handle") or "")
            langs = _field(record, "langs") or []
            entries.append(InboxEntry(
                platform_id=note.uri, kind="reply" if note.reason == "reply" else "mention", created_at=when,
                text=str(_field(record, "text") or ""), author=handle, answers=answers,
                language=str(langs[0]) if langs else "",
                url=f"https://bsky.app/profile/{handle}/post/{note.uri.rsplit('/', 1)[-1]}"))
        top, top_seen = state.get("top"), state.get("top_seen") or []
        if not state.get("api") and items:  # the first page of a pass holds its newest
            newest = max(when for when, _ in items)
            top, top_seen = _stamp(newest), [_short(n.uri) for when, n in items if when == newest][:MARK_URIS]
        reached = mark is not None and any(when < mark for when, _ in items)
        more = bool(answer.cursor) and bool(items) and not reached
        if more:
            return InboxPage(tuple(entries), _encode(mark=state.get("mark"), seen=state.get("seen"), api=answer.cursor,
                                                     top=top, top_seen=top_seen), True)
        if top:
            return InboxPage(tuple(entries), _encode(mark=top, seen=top_seen), False)
        return InboxPage(tuple(entries), _encode(mark=state.get("mark"), seen=state.get("seen")), False)

    def hide_reply(self, platform_id: str, *, root: str | None = None) -> None:
        """Hide a reply in our thread: its URI joins the ``hiddenReplies`` of the thread-gate of
        the thread's root (our post; rkey = the root's rkey), rewritten with ``putRecord``; the
        gate's other rules are kept."""
        if self.did is None:
            self._call(_connected, write=False)  # who we are (the session's DID)
        if not root or not root.startswith(f"at://{self.did}/"):
            raise HideRefused(
                "Bluesky hides a reply only in a thread our account started (a thread-gate on our post); "
                "this one is not.",
                message_fr="Bluesky ne masque une réponse que dans un fil lancé par notre compte (thread-gate "
                "de notre publication) ; ce n'est pas le cas ici.",
                platform_code="not_our_thread",
            )
        rkey = root.rsplit("/", 1)[-1]

        def current(client: Client) -> Any:
            return client.com.atproto.repo.get_record(
                models.ComAtprotoRepoGetRecord.Params(repo=self.did, collection=THREADGATE, rkey=rkey))

        gate: dict[str, Any] = {}
        try:
            got = self._call(current, write=False)
            gate = dict(got.value) if isinstance(got.value, dict) else got.value.model_dump(by_alias=True,
                                                                                            exclude_none=True)
        except PermanentError as err:
            if err.platform_code != "RecordNotFound":
                raise
        hidden = [u for u in gate.get("hiddenReplies") or [] if u != platform_id] + [platform_id]
        if len(hidden) > MAX_HIDDEN_REPLIES:
            raise HideRefused(
                f"Bluesky hides at most {MAX_HIDDEN_REPLIES} replies per thread; this thread has reached it.",
                message_fr=f"Bluesky masque au plus {MAX_HIDDEN_REPLIES} réponses par fil ; ce fil a atteint "
                "la limite.",
                platform_code="too_many_hidden",
            )
        record = {**gate, "$type": THREADGATE, "post": root, "hiddenReplies": hidden,
                  "createdAt": gate.get("createdAt") or _stamp(dt.datetime.now(dt.UTC))}

        def put(client: Client) -> Any:
            return client.com.atproto.repo.put_record(models.ComAtprotoRepoPutRecord.Data(
                repo=self.did, collection=THREADGATE, rkey=rkey, record=record))

        self._call(put, write=False)

    def _answer_of(self, note: Any, when: dt.datetime) -> PublicPost | None:
        record = note.record
        answers = note.reason_subject
        reply = _field(record, "reply")
        if note.reason == "reply" and reply is not None:
            root = _field(_field(reply, "root"), "uri")
            if isinstance(root, str) and self.did and root.startswith(f"at://{self.did}/"):
                answers = root  # anywhere in our thread: credited to the thread's first post
        if not answers:
            return None
        return PublicPost(platform_id=note.uri, kind=note.reason, created_at=when, answers=answers)

    def _listening(self, fn: Callable[[Client], T]) -> T:
        try:
            return self._call(fn, write=False)
        except (PermanentError, TransientError) as err:
            # 501 MethodNotImplemented: a PDS that neither serves nor proxies the method.
            if err.platform_code in ("MethodNotImplemented", 501) or "MethodNotImplemented" in (
                err.message_en
            ):
                raise ListeningUnavailable(
                    "This Bluesky server does not offer post search or notifications to the "
                    "account; listening on Bluesky is paused. Publishing still works.",
                    message_fr="Ce serveur Bluesky n'offre pas au compte la recherche de "
                    "publications ni les notifications ; l'écoute sur Bluesky est suspendue. "
                    "La publication fonctionne toujours.",
                    platform_code=err.platform_code,
                ) from err
            raise

    # -- metrics, find, whoami ----------------------------------------------------------------

    def delete(self, platform_id: str) -> None:
        """``com.atproto.repo.deleteRecord`` of the post's record (atproto's ``delete_post``,
        given its ``at://`` URI). Deleting a record that is not there succeeds on the PDS: a post
        already gone counts as deleted; so does an answer "RecordNotFound"."""
        def delete_post(client: Client) -> None:
            client.delete_post(platform_id)

        try:
            self._call(delete_post, write=True)
        except PermanentError as exc:
            if "RecordNotFound" not in f"{exc.platform_code} {exc.message_en}":
                raise

    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Figures from app.bsky.feed.getPosts, 25 posts per call. Bluesky gives no view count;
        a deleted post is left out of the answer, and so out of the list."""
        metrics: list[Metrics] = []
        for batch in chunked(list(platform_ids), self.metrics_batch_size):
            posts = self._call(_get_posts(list(batch)), write=False)
            for post in posts:
                metrics.append(
                    Metrics(
                        platform_id=post.uri,
                        likes=post.like_count,
                        shares=post.repost_count,
                        replies=post.reply_count,
                        quotes=post.quote_count,
                        views=None,
                    )
                )
        return metrics

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        """Exact: each part can only be at the record key derived from its key, so ``getRecord``
        either returns it or proves it absent (``since`` is not needed); a thread is found when
        every part is (``channels/thread``). A late arrival of the lost request cannot duplicate
        a retry either: it would hit the same key.

        Raises :class:`AuthError` and :class:`RateLimited` (the account needs attention or time);
        other failures make the answer undecidable. A post found with a reply limit gets its
        thread-gate now if the lost try did not write it (the same record at the same key)."""
        found = thread.find(self, request, since=since, find_first=self._find_post)
        if found.published is not None and request.reply_limit and not request.reply_to:
            try:
                self._gate(found.published.platform_id, request.reply_limit)
            except (AuthError, RateLimited):
                raise
            except ChannelError as err:  # found, but not yet protected: asked again later
                return Found(reason=f"reply limit not yet applied: {err.message_en}")
        return found

    def _find_post(self, request: PublishRequest, since: dt.datetime) -> Found:
        try:
            found = self._get(record_key_for(request.key))
        except (AuthError, RateLimited):
            raise
        except ChannelError as err:
            return Found(reason=err.message_en)
        return Found(published=found) if found else Found(absent=True)

    def find_part(self, request: PublishRequest, target: thread.Target, *, since: dt.datetime) -> Found:
        """A part of a thread, at its own record key (exact, whatever its parent)."""
        return self._find_post(request, since)

    def whoami(self) -> str:
        session = self._call(lambda c: c.com.atproto.server.get_session(), write=False)
        self.did, self.handle = session.did, session.handle
        return str(session.handle)


# ---------------------------------------------------------------------------------------------
# Listening helpers

ANSWER_REASONS = ("reply", "quote", "repost")
MAX_TAG_GRAPHEMES = 64  # lexicons/app/bsky/richtext/facet.json: tag maxGraphemes 64
MAX_TAG_BYTES = 640  # ... maxLength 640
MARK_URIS = 500  # posts remembered at the mark (12 characters each): the cursor stays small
#: Seconds a search pass reads again before the mark (option ``listen_overlap_seconds``).
LISTEN_OVERLAP_SECONDS = 15.0
_TAG_PUNCTUATION = regex.compile(r"\p{P}+$")


def bluesky_term_problem(term: str, *, hashtag: bool) -> Problem | None:
    """Bluesky's hashtag rules (the app's facet detection and the tag lexicon): no spaces, not
    only digits, not ending in punctuation, at most 64 graphemes."""
    words = term.strip()
    if not hashtag:
        if not words:
            return Problem("empty_term", "Le mot-clé est vide.", "The keyword is empty.")
        return None
    tag = words.removeprefix("#")
    if not tag:
        return Problem("empty_term", "Le mot-clic est vide.", "The hashtag is empty.")
    if regex.search(r"\s", tag) or "#" in tag:
        return Problem(
            "hashtag_space",
            f"« #{tag} » contient une espace ou un second « # » : Bluesky coupe le mot-clic à cet endroit.",
            f'"#{tag}" holds a space or a second "#": Bluesky cuts the hashtag there.',
        )
    if tag.isdigit():
        return Problem(
            "hashtag_digits",
            f"« #{tag} » n'a que des chiffres : Bluesky n'en fait pas un mot-clic.",
            f'"#{tag}" is only digits: Bluesky does not make it a hashtag.',
        )
    if _TAG_PUNCTUATION.search(tag):
        return Problem(
            "hashtag_punctuation",
            f"« #{tag} » finit par une ponctuation, que Bluesky retire du mot-clic.",
            f'"#{tag}" ends with punctuation, which Bluesky leaves out of the hashtag.',
        )
    if graphemes(tag) > MAX_TAG_GRAPHEMES or len(tag.encode("utf-8")) > MAX_TAG_BYTES:
        return Problem(
            "hashtag_too_long",
            f"Le mot-clic compte {graphemes(tag)} graphèmes ; Bluesky en accepte au plus {MAX_TAG_GRAPHEMES}.",
            f"The hashtag has {graphemes(tag)} graphemes; Bluesky accepts at most {MAX_TAG_GRAPHEMES}.",
        )
    return None


def _decode(cursor: str | None) -> dict[str, Any]:
    return read_cursor(cursor, "b1:")


def _encode(**state: Any) -> str:
    return "b1:" + json.dumps({k: v for k, v in state.items() if v}, separators=(",", ":"))


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _when(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _short(uri: str) -> str:
    """A short hash of a URI, to recognise a post read again without keeping its address."""
    return hashlib.sha256(uri.encode()).hexdigest()[:12]


def _at_mark(state: dict[str, Any], when: dt.datetime, uri: str, overlap: dt.timedelta) -> bool:
    """Already given by the previous pass: at or after its mark less the overlap, and among the
    posts it saw there."""
    mark = state.get("mark")
    if not isinstance(mark, str) or when < _when(mark) - overlap:
        return False
    return _short(uri) in state.get("seen", [])


def _next_cursor(
    state: dict[str, Any],
    items: list[tuple[dt.datetime, str, Any]],
    api: str | None,
    overlap: dt.timedelta,
) -> str:
    """Within a pass: the mark stays; the pass's newest time is that of its first page, and the
    posts at or after it less the overlap are remembered. At the end of a pass: the pass's newest
    time becomes the mark, and what was remembered its ``seen``."""
    top, top_seen = state.get("top"), list(state.get("top_seen", []))
    if not state.get("api") and items:  # the first page of a pass holds its newest post
        top = _stamp(max(when for when, _, _ in items))
        top_seen = []
    if top:
        floor = _when(top) - overlap
        fresh = [_short(uri) for when, uri, _ in items if when >= floor]
        top_seen = [*top_seen, *(h for h in fresh if h not in top_seen)][:MARK_URIS]
    if api:
        return _encode(
            mark=state.get("mark"), seen=state.get("seen"), api=api, top=top, top_seen=top_seen
        )
    if top and not (state.get("mark") and _when(top) < _when(state["mark"])):
        return _encode(mark=top, seen=top_seen)
    return _encode(mark=state.get("mark"), seen=state.get("seen"))


def _connected(client: Client) -> None:
    """Nothing more than the connection (and so the session's DID)."""


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _sort_time(view: Any) -> dt.datetime:
    """The time searchPosts sorts and filters ``since`` on: the earlier of the record's
    ``createdAt`` and the AppView's ``indexedAt``."""
    indexed = _when(view.indexed_at)
    created = _field(view.record, "created_at") or _field(view.record, "createdAt")
    return min(indexed, _when(created)) if isinstance(created, str) else indexed


_EMBED_KIND = {
    "app.bsky.embed.images": "photo",
    "app.bsky.embed.record": "quote",
    "app.bsky.embed.recordWithMedia": "quote",
}


def _post_of(view: Any, when: dt.datetime) -> PublicPost:
    """Kind and answered post from the record alone (``reply``, ``embed``); never the author."""
    record = view.record
    reply = _field(record, "reply")
    embed = _field(record, "embed")
    embed_type = str(_field(embed, "py_type") or _field(embed, "$type") or "")
    if reply is not None:
        root = _field(_field(reply, "root"), "uri")
        return PublicPost(view.uri, "reply", when, str(root) if root else None)
    kind = _EMBED_KIND.get(embed_type, "original")
    if kind == "quote":
        inner = _field(embed, "record")
        quoted = _field(inner, "uri") or _field(_field(inner, "record"), "uri")
        return PublicPost(view.uri, "quote", when, str(quoted) if quoted else None)
    return PublicPost(view.uri, kind, when, None)


def post_record(text: str, now: dt.datetime, *, facets: Sequence[models.AppBskyRichtextFacet.Main] = (),
                embed: Any = None, language: str = "fr", labels: Sequence[str] = (),
                reply: thread.Target | None = None) -> models.AppBskyFeedPost.Record:
    """An ``app.bsky.feed.post`` record, built with atproto's own models (which check the
    lexicon's shape): a reply names its thread's root and its parent by strong ref (uri, cid)."""
    ref = None
    if reply is not None:
        ref = models.AppBskyFeedPost.ReplyRef(
            root=models.ComAtprotoRepoStrongRef.Main(uri=reply.root, cid=reply.root_ref),
            parent=models.ComAtprotoRepoStrongRef.Main(uri=reply.parent, cid=reply.parent_ref),
        )
    return models.AppBskyFeedPost.Record(
        text=text,
        created_at=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        facets=list(facets) or None,
        embed=embed,
        langs=[language],
        labels=self_labels(labels),
        reply=ref,
    )


def self_labels(values: Sequence[str]) -> models.ComAtprotoLabelDefs.SelfLabels | None:
    """The author's own labels on the record (``com.atproto.label.defs#selfLabels``), once each
    in the order given; None (no ``labels`` field at all) for a post without any."""
    unique = list(dict.fromkeys(v for v in values if v))
    if not unique:
        return None
    return models.ComAtprotoLabelDefs.SelfLabels(
        values=[models.ComAtprotoLabelDefs.SelfLabel(val=value) for value in unique]
    )
