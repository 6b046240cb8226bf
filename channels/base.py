"""The contract every channel follows, and the errors a channel may raise.

Exception tree (every channel maps its SDK's exceptions onto exactly one of these)::

    ChannelError
    ├── RateLimited        the platform refused for now; retry after ``reset_at``, no attempt charged
    ├── TransientError     failed before anything was written; retry with backoff
    ├── AmbiguousError     the platform may have published (timeout or 5xx after sending); never
    │                      retry blindly, reconcile first
    ├── PermanentError     the content or request is refused; a person must change something
    │   └── DuplicateRefused  refused as a copy of a recent post of the account: after an earlier
    │                         try that may have gone out, that try is looked for, not failed
    │   └── ListeningUnavailable  this account's access does not include reading the public's
    │                             posts (X without search, a Page without the permission)
    └── AuthError          the credentials are refused; the account is unhealthy until re-tested

Each channel says how in one table, ``Channel.error_table`` (:class:`ErrorRule` lines: the
library's exception classes, HTTP statuses and platform codes, each to one of these classes),
applied by ``Channel.map_error``. The orchestrator alone decides what to do with each (retries
live in one place).
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Protocol

import requests

from content.words import Message

# ---------------------------------------------------------------------------------------------
# Errors


class ChannelError(Message, Exception):
    """Base of every error a channel raises. Its words for people are ``fr``/``en``
    (:class:`~content.words.Message`; also ``message_fr``/``message_en``), ``str()`` is English."""

    kind: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        message_fr: str | None = None,
        platform_code: str | int | None = None,
    ) -> None:
        super().__init__(message)
        self.en = message
        self.fr = message_fr or message
        self.platform_code = platform_code

    @property
    def message_en(self) -> str:
        return self.en

    @property
    def message_fr(self) -> str:
        return self.fr

    def message(self, language: str = "fr") -> str:
        """The same as :meth:`text`."""
        return self.text(language)


class RateLimited(ChannelError):
    kind = "rate_limited"

    def __init__(
        self,
        message: str = "Rate limited by the platform",
        *,
        reset_at: dt.datetime | None = None,
        message_fr: str | None = None,
        platform_code: str | int | None = None,
    ) -> None:
        super().__init__(
            message,
            message_fr=message_fr or "La plateforme limite le débit ; nouvel essai après la remise à zéro.",
            platform_code=platform_code,
        )
        self.reset_at = reset_at


class TransientError(ChannelError):
    kind = "transient"


class AmbiguousError(ChannelError):
    kind = "ambiguous"


class PermanentError(ChannelError):
    kind = "permanent"


class DuplicateRefused(PermanentError):
    """The platform refuses a text the account posted recently (X's "duplicate content", Facebook's
    #506). Its ``kind`` stays "permanent": on a first try a person must change the text."""


class ListeningUnavailable(PermanentError):
    """The account may publish but not read the public's posts (its access level or permissions
    do not include search). Listening says so on the account page and stops polling that
    stream until the account is re-tested, instead of failing every poll."""


class AuthError(ChannelError):
    kind = "auth"


ERROR_KINDS: dict[str, type[ChannelError]] = {
    cls.kind: cls for cls in (RateLimited, TransientError, AmbiguousError, PermanentError, AuthError)
}


# ---------------------------------------------------------------------------------------------
# From the client library's failures to these errors: one table per channel


@dataclasses.dataclass(frozen=True)
class ErrorFacts:
    """What a channel read from one failure, for its error table: the answer's HTTP ``status``
    (None when no answer came), the platform's own error ``code`` or name, what the platform
    said (``detail``, and ``detail_fr`` when the channel can say it in French), when a throttle
    ends (``reset_at``), and any other value its messages name (``words``)."""

    status: int | None = None
    code: str | int | None = None
    detail: str = ""
    detail_fr: str = ""
    reset_at: dt.datetime | None = None
    words: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def values(self, platform: str) -> dict[str, object]:
        return {"status": self.status, "code": self.code, "detail": self.detail,
                "detail_fr": self.detail_fr or self.detail, "platform": platform, **self.words}


class _Words(dict[str, object]):
    """A message's values: ``{exc}`` and ``{cause}`` always, and "?" for a value the failure
    did not give (a message is never lost to a missing word)."""

    def __missing__(self, key: str) -> object:
        return "?"


def no_platform_code(facts: ErrorFacts) -> None:
    """For :attr:`ErrorRule.platform_code`: this failure records no code (no answer was read)."""
    return None


def platform_code_only(facts: ErrorFacts) -> str | int | None:
    """For :attr:`ErrorRule.platform_code`: the platform's own code, never the HTTP status."""
    return facts.code


@dataclasses.dataclass(frozen=True)
class ErrorRule:
    """One line of a channel's error table, read top to bottom, the first match wins.

    It matches a failure that is an instance of one of ``exceptions`` (any, when empty), whose
    status is in ``statuses`` or whose platform code is in ``codes`` (either, when both are given;
    any, when neither is), for which ``when`` holds, and, with ``on_write`` set, only after a call
    that may (True) or may not (False) have published. ``error`` is our class, or a pair: the
    first after a call that may have published, the second otherwise (a 5xx is ambiguous after a
    write, transient after a read). ``en``/``fr`` are the messages, with ``{status}``,
    ``{code}``, ``{detail}``, ``{detail_fr}``, ``{platform}`` and the channel's ``words``.
    ``platform_code`` replaces the code recorded (by default the code, else the status): a value,
    or a function of the facts."""

    error: type[ChannelError] | tuple[type[ChannelError], type[ChannelError]]
    en: str
    fr: str = ""
    exceptions: tuple[type[BaseException], ...] = ()
    statuses: Container[int] = ()
    codes: Container[str | int] = ()
    when: Callable[[BaseException, ErrorFacts], bool] | None = None
    on_write: bool | None = None
    platform_code: str | int | Callable[[ErrorFacts], str | int | None] | None = None

    def matches(self, exc: BaseException, facts: ErrorFacts, *, write: bool) -> bool:
        if self.exceptions and not isinstance(exc, self.exceptions):
            return False
        if (self.statuses or self.codes) and not (
            (facts.status is not None and facts.status in self.statuses)
            or (facts.code is not None and facts.code in self.codes)
        ):
            return False
        if self.on_write is not None and self.on_write != write:
            return False
        return self.when is None or self.when(exc, facts)

    def build(self, exc: BaseException, facts: ErrorFacts, *, write: bool, platform: str) -> ChannelError:
        cls = self.error if isinstance(self.error, type) else self.error[0 if write else 1]
        values = _Words({"exc": exc, "cause": exc.__cause__ or exc.__context__})
        values.update(facts.values(platform))
        en, fr = self.en.format_map(values), self.fr.format_map(values) or None
        code = (self.platform_code(facts) if callable(self.platform_code)
                else self.platform_code if self.platform_code is not None
                else facts.code if facts.code is not None else facts.status)
        if issubclass(cls, RateLimited):
            return cls(en, reset_at=facts.reset_at, message_fr=fr, platform_code=code)
        return cls(en, message_fr=fr, platform_code=code)

# ---------------------------------------------------------------------------------------------
# Values exchanged with the orchestrator


@dataclasses.dataclass(frozen=True)
class Image:
    """An image to attach. ``alt`` is required: campaign content is for everyone."""

    data: bytes
    mime_type: str
    alt: str
    filename: str = "image"
    #: A public, signed and expiring address of the same bytes, filled by the worker for the
    #: platforms that fetch images themselves (``Channel.needs_public_media``); None otherwise.
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class LinkCard:
    """The card of a post's link, read from the page once (at approval) and kept on the post:
    its title, description and thumbnail. Bluesky shows what it is given (an
    ``app.bsky.embed.external``); the other platforms read the page themselves and ignore it."""

    title: str
    description: str = ""
    thumb: Image | None = None


@dataclasses.dataclass(frozen=True)
class Part:
    """One part of a thread after the first (the first is the request's own text and images):
    its text and images, alt text required as for any post."""

    text: str
    images: tuple[Image, ...] = ()


@dataclasses.dataclass(frozen=True)
class PublishRequest:
    """What to publish. ``key`` identifies the delivery and is stable across retries: channels
    derive their idempotency key (Mastodon) or record key (Bluesky) from it."""

    key: str
    text: str
    link: str | None = None
    images: tuple[Image, ...] = ()
    language: str = "fr"
    #: Mastodon's ``spoiler_text`` ("" for none) and visibility; Bluesky's self-label values
    #: (``com.atproto.label.defs#selfLabels``). Platforms that offer none ignore them.
    content_warning: str = ""
    visibility: str = "public"
    self_labels: tuple[str, ...] = ()
    #: The link's card (None: the page was not read, or could not be; the link stays plain).
    card: LinkCard | None = None
    #: Parts 2..n of a thread, in order (part 1 is ``text``/``images``): each is published as a
    #: reply to the one before (Facebook: a comment under the post). Empty: a single post.
    parts: tuple[Part, ...] = ()
    #: The platform id of a post this one answers (the first part replies to it); None: none.
    reply_to: str | None = None
    #: Who may reply to the post ("" everyone; "followers", "mentioned", "nobody"), mapped per
    #: platform in ``channels/reply_limits.py``; the first part only carries it.
    reply_limit: str = ""


@dataclasses.dataclass(frozen=True)
class Published:
    platform_id: str
    url: str | None
    published_at: dt.datetime | None = None
    #: Every part's platform id in order, the first being ``platform_id`` (a thread); empty for
    #: a single post.
    part_ids: tuple[str, ...] = ()
    #: What a reply to this post must name besides its id (Bluesky's record cid); "" elsewhere.
    ref: str = ""
    #: Something people must know about how it went out (X refused the thread's replies: only
    #: the first part was posted), in French and English; None when it went out as asked.
    note: Message | None = None


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Normalised figures for one post; ``None`` where the platform does not give the figure."""

    platform_id: str
    likes: int | None = None
    shares: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    #: Instagram's "saved": people who kept the post to come back to it (no other platform says).
    saves: int | None = None


@dataclasses.dataclass(frozen=True)
class Found:
    """Result of reconciling: ``published`` is the post when found, ``absent`` is True when the
    platform proves the post does not exist; both falsy means undecidable (``reason`` says why)."""

    published: Published | None = None
    absent: bool = False
    reason: str = ""


#: What a public post is, for counting: its own post, an answer to one of ours, or a photo.
PUBLIC_POST_KINDS = ("original", "reply", "quote", "repost", "photo")


@dataclasses.dataclass(frozen=True)
class PublicPost:
    """A post by the public found while listening, reduced to what counting needs. A channel
    never puts its author, handle, text or media here. ``platform_id`` is hashed by the
    orchestrator before anything is stored; ``answers`` is the platform id of *our* post it
    replies to, quotes or reposts (so it is credited to that delivery), when it does. ``term``
    is set only by :meth:`Channel.listen_all`: the first of the given terms the post matched, as
    "#tag" or "keyword" (the text it was matched in is still dropped)."""

    platform_id: str
    kind: str  # one of PUBLIC_POST_KINDS
    created_at: dt.datetime
    answers: str | None = None
    term: str | None = None


@dataclasses.dataclass(frozen=True)
class ListenPage:
    """One call's worth of public posts. ``cursor`` is opaque to the orchestrator: it is stored
    (with the posts, in one transaction) and handed back to resume exactly after this page.
    ``more`` is True while catching up: call again at once with ``cursor``."""

    posts: tuple[PublicPost, ...]
    cursor: str | None
    more: bool = False
    calls: int = 1


@dataclasses.dataclass(frozen=True)
class InboxEntry:
    """A reply to one of our posts or a mention of our account, for the inbox: unlike a
    :class:`PublicPost`, its text and author's handle are kept (personal data: the orchestrator
    purges them after the retention period, never logs nor exports them). ``answers`` is the
    platform id of OUR post it replies to (the thread's first post for a reply deeper in it)."""

    platform_id: str
    kind: str  # reply, mention
    created_at: dt.datetime
    text: str
    author: str
    answers: str | None = None
    language: str = ""
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class InboxPage:
    """One call's worth of inbox entries; ``cursor`` is opaque and stored with them; ``more``:
    call again at once with it (catching up after downtime)."""

    entries: tuple[InboxEntry, ...]
    cursor: str | None
    more: bool = False
    calls: int = 1


class HideRefused(PermanentError):
    """The platform does not hide this reply (Mastodon has no such thing; a mention is not in
    our thread; the platform refused): the message says why and what to do instead."""


@dataclasses.dataclass(frozen=True)
class Problem(Message):
    """Something a person must change before publishing, with its ``code`` and its words."""

    code: str
    fr: str
    en: str


@dataclasses.dataclass(frozen=True)
class Validation:
    kind: str
    length: int
    limit: int
    problems: tuple[Problem, ...] = ()
    #: Worth knowing, not blocking: the post stays valid (Instagram shows only five hashtags).
    warnings: tuple[Problem, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self, language: str = "fr") -> dict[str, Any]:
        return {
            "kind": self.kind,
            "length": self.length,
            "limit": self.limit,
            "valid": self.valid,
            "problems": [p.text(language) for p in self.problems],
            "warnings": [p.text(language) for p in self.warnings],
        }


@dataclasses.dataclass(frozen=True)
class RateInfo:
    """What a response told us about the remaining budget of an endpoint."""

    endpoint: str
    remaining: int | None
    limit: int | None
    reset_at: dt.datetime | None


@dataclasses.dataclass(frozen=True)
class AccountConfig:
    """How to reach one account. ``credentials`` are decrypted only in memory."""

    kind: str
    name: str
    credentials: dict[str, str]
    base_url: str | None = None
    options: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CredentialField(Message):
    """One credential a platform asks for, as the rest of the system needs to know it: its
    ``name`` (the key in ``AccountConfig.credentials``, the ``PORTEVOIX_<KIND>_<NAME>`` variable),
    whether it is ``secret`` (never an option on the command line, never shown back), its words
    for people in French and English (``fr``/``en``, used inside sentences), a ``prompt`` for the
    command line, and where to find it (``help_fr``/``help_en``). A form labels it with
    ``label_fr``/``label_en`` when given, else with its words, capitalised."""

    name: str
    fr: str
    en: str
    secret: bool = True
    prompt: str = ""
    help_fr: str = ""
    help_en: str = ""
    label_fr: str = ""
    label_en: str = ""

    def words(self, language: str = "fr") -> str:
        """The field's words inside a sentence (the same as :meth:`text`)."""
        return self.text(language)

    def label(self, language: str = "fr") -> str:
        """The field's label in a form (the dashboard's account form)."""
        given = self.label_fr if language == "fr" else self.label_en
        if given:
            return given
        words = self.words(language)
        return words[:1].upper() + words[1:]

    def help(self, language: str = "fr") -> str:
        """Where to find it, for people filling it in."""
        return self.help_fr if language == "fr" else self.help_en


# ---------------------------------------------------------------------------------------------
# Limits common to image checks


def number(value: float, language: str, decimals: int = 0) -> str:
    """A number as a French or an English reader writes it (« 1 000 », « 5,2 » / "1,000", "5.2"),
    with babel and the dashboard's locales: problems are shown to staff as they are."""
    from babel.numbers import format_decimal

    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale="fr_CA" if language == "fr" else "en_CA")


def check_images(
    images: Sequence[Image],
    *,
    max_count: int,
    max_bytes: int,
    mime_types: Iterable[str],
    platform: str,
) -> list[Problem]:
    problems: list[Problem] = []
    allowed = set(mime_types)
    if len(images) > max_count:
        problems.append(
            Problem(
                "too_many_images",
                f"{platform} accepte au plus {number(max_count, 'fr')} image(s) par publication ; "
                f"il y en a {number(len(images), 'fr')}.",
                f"{platform} accepts at most {number(max_count, 'en')} image(s) per post; "
                f"this one has {number(len(images), 'en')}.",
            )
        )
    for i, img in enumerate(images, start=1):
        if not img.alt.strip():
            problems.append(
                Problem(
                    "missing_alt",
                    f"L'image {i} n'a pas de texte alternatif : décrivez-la pour les personnes qui ne la voient pas.",
                    f"Image {i} has no alt text: describe it for people who cannot see it.",
                )
            )
        if img.mime_type not in allowed:
            problems.append(
                Problem(
                    "image_type",
                    f"L'image {i} est de type {img.mime_type}, que {platform} refuse (acceptés : {', '.join(sorted(allowed))}).",
                    f"Image {i} is {img.mime_type}, which {platform} refuses (accepted: {', '.join(sorted(allowed))}).",
                )
            )
        if len(img.data) > max_bytes:
            size, limit = len(img.data) / 1e6, max_bytes / 1e6
            problems.append(
                Problem(
                    "image_size",
                    f"L'image {i} pèse {number(size, 'fr', 1)} Mo ; {platform} accepte au plus {number(limit, 'fr', 1)} Mo.",
                    f"Image {i} is {number(size, 'en', 1)} MB; {platform} accepts at most {number(limit, 'en', 1)} MB.",
                )
            )
    return problems


def too_long(platform: str, length: int, limit: int, unit_fr: str, unit_en: str) -> Problem:
    fr, en = (lambda v: number(v, "fr")), (lambda v: number(v, "en"))
    return Problem(
        "too_long",
        f"Le texte compte {fr(length)} {unit_fr} pour {platform}, au-delà de la limite de {fr(limit)} : "
        f"retirez-en {fr(length - limit)}.",
        f"The text counts {en(length)} {unit_en} on {platform}, over the limit of {en(limit)}: "
        f"remove {en(length - limit)}.",
    )


def empty_text(platform: str) -> Problem:
    return Problem(
        "empty",
        f"Le texte est vide : {platform} n'accepte pas une publication sans texte ni image.",
        f"The text is empty: {platform} does not accept a post with neither text nor image.",
    )


def read_cursor(cursor: str | None, prefix: str) -> dict[str, Any]:
    """The state a listening cursor ``<prefix>{json}`` holds; empty for none, another channel's
    or a damaged one (listening then starts again from the platform's recent window)."""
    if not cursor or not cursor.startswith(prefix):
        return {}
    try:
        state = json.loads(cursor[len(prefix):])
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def chunked(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------------------
# Progress of a publication in several calls, kept where a crash does not lose it


class ProgressRecord(Protocol):
    """Where a channel notes how far a publication in several calls went (Meta's container made
    but not yet published; later, the parts of a thread already out), by (kind, account, request
    key), so the next try — in this process or another, after a crash — resumes instead of
    starting over. The worker installs one on the database; without it, channels keep their
    notes in the process."""

    def load(self, kind: str, account: str, key: str) -> dict[str, Any] | None: ...

    def save(self, kind: str, account: str, key: str, data: dict[str, Any]) -> None: ...

    def forget(self, kind: str, account: str, key: str) -> None: ...


_progress: ProgressRecord | None = None


def use_progress_record(record: ProgressRecord | None) -> None:
    """Install (or, with None, remove) the record every channel of this process writes to."""
    global _progress
    _progress = record


def progress_record() -> ProgressRecord | None:
    return _progress


# ---------------------------------------------------------------------------------------------
# The channel base class


class Channel(abc.ABC):
    """One platform. Subclasses set the class attributes and override the five methods.

    A channel is built from an :class:`AccountConfig`; tests and the sandbox pass a ``base_url``
    (and optionally an HTTP ``session``) so the unchanged client reaches the emulator.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    metrics_batch_size: ClassVar[int]
    #: Default request budgets per endpoint: (capacity, window seconds), from the platform docs.
    rate_limits: ClassVar[dict[str, tuple[int, int]]] = {}

    # -- what the rest of the system knows of the platform (declared here, nowhere else) -------

    #: The platform's own name, for people ("X", "Bluesky"); ``label`` may say more.
    platform_name: ClassVar[str]
    #: Every credential field this platform understands, in the order people fill them in.
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    #: The complete sets of credentials it accepts: any one group is enough; the first is the one
    #: asked for by default.
    credential_groups: ClassVar[tuple[tuple[str, ...], ...]] = ()
    #: Credentials the sandbox emulator accepts (demo and training accounts, tests).
    sandbox_credentials: ClassVar[dict[str, str]] = {}
    #: Hosts where the platform shows posts and profiles (links to them may be shown as links);
    #: empty when each account has its own server (its ``base_url`` is then the only host).
    public_hosts: ClassVar[frozenset[str]] = frozenset()
    #: The account's public page and a post's page: ``{handle}`` (without "@"), ``{user}`` (the
    #: handle before any "@instance"), ``{base}`` (the account's server), ``{id}`` (a post's id).
    profile_url_pattern: ClassVar[str] = ""
    post_url_pattern: ClassVar[str] = ""
    #: Each account has its own server (a Mastodon instance): its address is required.
    needs_server: ClassVar[bool] = False
    #: The account option this channel reads its text length limit from (``check --limit``).
    limit_option: ClassVar[str] = ""
    #: Whether the client speaks through a ``requests`` session handed to it (the worker gives
    #: sandbox and loopback accounts one without proxy lookups); False for a client on httpx.
    uses_requests_session: ClassVar[bool] = True
    #: Settings (not credentials) a person may give when adding an account (Facebook's
    #: ``graph_version``, from ``--graph-version`` or ``PORTEVOIX_<KIND>_GRAPH_VERSION``).
    account_options: ClassVar[tuple[str, ...]] = ()
    #: Each account option in words for the command line's help, French and English (an option
    #: without words is still accepted, with its name as its help).
    account_option_help: ClassVar[dict[str, tuple[str, str]]] = {}
    #: Credentials that let the client be built only to validate text, offline (never sent).
    offline_credentials: ClassVar[dict[str, str]] = {}
    #: The client library this channel speaks through, as pyproject.toml names the dependency
    #: (``tweepy``, ``Mastodon.py``); a channel on a small client of its own names the library
    #: that client stands on (``requests``).
    client_distribution: ClassVar[str] = ""

    # -- capabilities (what this channel does; the defaults are the cautious answers) ----------

    #: Publishing twice with the same request key cannot make a second post (Bluesky's record key).
    publish_is_idempotent: ClassVar[bool] = False
    #: A retry is safe within ``idempotency_window`` of the first try (Mastodon's Idempotency-Key).
    retry_is_safe: ClassVar[bool] = False
    idempotency_window: ClassVar[dt.timedelta | None] = None
    #: Reply threads, a first comment under our post, deleting our post, hiding a public reply,
    #: searching the public's posts, alt text on images.
    can_thread: ClassVar[bool] = False
    can_first_comment: ClassVar[bool] = False
    #: A thread's parts after the first go under the first, not under each other (Facebook's
    #: first comments); see channels/thread.
    replies_under_root: ClassVar[bool] = False
    #: Said before approval of a thread on this platform, when the platform may not publish it as
    #: one (X's reply rule of 2026); None: nothing to say.
    thread_caveat: ClassVar[Problem | None] = None
    can_delete: ClassVar[bool] = False
    can_hide_reply: ClassVar[bool] = False
    can_search: ClassVar[bool] = False
    #: Whether its search covers keywords too, not only hashtags (Mastodon's does not, whatever
    #: the account's access: a keyword refused there is the platform's design, not a gap to fix).
    can_search_keywords: ClassVar[bool] = True
    can_alt_text: ClassVar[bool] = False
    #: The most alt text the platform shows where it accepts more (Bluesky's app): beyond it,
    #: a warning (``channels/accessibility.py``). None: it refuses longer alt text itself, or says
    #: nothing of a limit.
    alt_text_read_limit: ClassVar[int | None] = None
    #: The platform fetches images from a public address (``Image.url``) instead of receiving
    #: their bytes (Instagram, Threads): the worker must fill ``url`` before publishing.
    needs_public_media: ClassVar[bool] = False
    #: What a post may carry besides its text: a content warning shown in its place (Mastodon's
    #: ``spoiler_text``, which then counts toward the limit: ``validate`` takes ``spoiler_text``)
    #: with a visibility; the author's self-labels (Bluesky); a language field.
    can_content_warning: ClassVar[bool] = False
    can_self_label: ClassVar[bool] = False
    #: Whether the platform shows the link card it is given (``PublishRequest.card``) rather than
    #: reading the page itself (Bluesky's ``app.bsky.embed.external``).
    shows_link_card: ClassVar[bool] = False
    has_language_field: ClassVar[bool] = False
    #: What ``PublishRequest.reply_limit`` limits on the platform: "replies", "quotes"
    #: (Mastodon: replies cannot be limited) or "" (nothing: Facebook, Instagram).
    limits_replies: ClassVar[str] = ""
    #: Where the platform's nearest setting differs from ours, what it does instead, by our
    #: value, in French and English (X's "followers" lets the accounts we follow reply).
    reply_limit_caveats: ClassVar[Mapping[str, tuple[str, str]]] = {}

    @classmethod
    def credential_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.credential_fields)

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.credential_fields if f.secret)

    @classmethod
    def public_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in cls.credential_fields if not f.secret)

    @classmethod
    def account_option(cls, name: str, value: str) -> str:
        """An account option as given by a person, in the form the channel reads it (Facebook's
        "v24.0" becomes "24.0")."""
        return value

    def required_credentials(self, *names: str) -> tuple[str, ...]:
        """The named credentials of the account, stripped, in that order; an :class:`AuthError`
        naming the missing ones in the fields' own words when any is empty."""
        values = tuple(str(self.account.credentials.get(name) or "").strip() for name in names)
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            words = {f.name: f for f in self.credential_fields}
            fr = ", ".join(f"{words[n].text('fr')} ({n})" if n in words else n for n in missing)
            en = ", ".join(f"{words[n].text('en')} ({n})" if n in words else n for n in missing)
            raise AuthError(f"{self.platform_name} needs {en}.", message_fr=f"{self.platform_name} demande : {fr}.")
        return values

    @classmethod
    def profile_url(cls, handle: str | None, base_url: str | None = None) -> str | None:
        """The account's public page, or None when the handle (or the server it needs) is unknown."""
        return _fill(cls.profile_url_pattern, handle, base_url)

    @classmethod
    def post_url(cls, post_id: str, handle: str | None = None, base_url: str | None = None) -> str | None:
        """A post's public page, or None when what the pattern needs is unknown."""
        return _fill(cls.post_url_pattern, handle, base_url, post_id)

    def __init__(
        self,
        account: AccountConfig,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.account = account
        self.session = session
        self.timeout = timeout
        self.rate_info: list[RateInfo] = []

    # -- what a channel does ------------------------------------------------------------------

    @abc.abstractmethod
    def validate(self, text: str, images: Sequence[Image] = ()) -> Validation:
        """Check a rendered text and its media against this platform's rules, offline."""

    @classmethod
    def publish_cost(cls, text: str, link: str | None = None) -> float | None:
        """What publishing this text (and link) costs in US dollars where the platform bills its
        API per call (X's pay-per-use), for the preview; None where publishing is not billed."""
        return None

    @abc.abstractmethod
    def publish(self, request: PublishRequest) -> Published:
        """Publish; raise a :class:`ChannelError` subclass on failure."""

    @abc.abstractmethod
    def fetch_metrics(self, platform_ids: Sequence[str]) -> list[Metrics]:
        """Figures for many posts, in batches of ``metrics_batch_size`` (one call per batch)."""

    @abc.abstractmethod
    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        """Look for a post whose outcome is unknown (published after ``since``)."""

    @abc.abstractmethod
    def whoami(self) -> str:
        """Check the credentials; return the account's handle or raise :class:`AuthError`."""

    # -- deletion (retracting what was published) ---------------------------------------------

    #: Endpoint key in ``rate_limits`` that deletions are charged to (their own budget: the
    #: platforms limit deletions apart from posts, e.g. Mastodon's 30 per 30 minutes).
    delete_endpoint: ClassVar[str] = "delete"

    def delete(self, platform_id: str) -> None:
        """Delete our post ``platform_id``. A post already gone (deleted by hand, 404) counts as
        deleted: no error. Failures go through ``error_table`` (``map_error(..., write=True)``:
        a deletion changes what is public). A platform whose API cannot delete (Instagram's is
        unconfirmed) keeps this default: a :class:`PermanentError` saying to remove it by hand."""
        url = self.post_url(platform_id, str(self.account.options.get("handle") or "") or None, self.account.base_url)
        where_en = f": {url}" if url else f" (post {platform_id})."
        where_fr = f" : {url}" if url else f" (publication {platform_id})."
        raise PermanentError(
            f"{self.platform_name} does not let Porte-voix delete a post: remove it by hand{where_en}",
            message_fr=f"{self.platform_name} ne permet pas à Porte-voix de supprimer une publication : "
                       f"retirez-la à la main{where_fr}",
            platform_code="delete_by_hand",
        )

    # -- listening (optional: a channel that cannot listen keeps these defaults) --------------

    #: Endpoint key in ``rate_limits`` that listening calls are charged to: the term streams,
    #: the answers stream (empty: the same as the terms) and count requests (empty: the same).
    listen_endpoint: ClassVar[str] = "search"
    listen_answers_endpoint: ClassVar[str] = ""
    listen_count_endpoint: ClassVar[str] = ""
    #: Whether :meth:`count_term` counts a term's posts without reading them (X's recent counts).
    listen_counts: ClassVar[bool] = False
    #: Most posts one listening call may return (the platform's page size ceiling).
    listen_page_size: ClassVar[int] = 0
    #: What the platform bills, in US dollars, per public post read and per count request
    #: (X bills reads; the others are free). Shown as the month's estimate on the account page.
    listen_cost_per_post: ClassVar[float] = 0.0
    listen_cost_per_count: ClassVar[float] = 0.0
    #: Whether listening reads shared edges rather than searching (Facebook: the Page's tagged
    #: and visitor posts hold every post, whatever its words). The orchestrator then reads them
    #: once for all the terms through :meth:`listen_all`, on one stream per account, instead of
    #: once per term through :meth:`listen`.
    listen_reads_all: ClassVar[bool] = False

    def validate_term(self, term: str, *, hashtag: bool) -> Problem | None:
        """Is this hashtag (without "#") or keyword usable in this platform's search? ``None``
        when it is; the reason, in French and English, when it is not."""
        return None

    def listen(self, term: str, *, hashtag: bool, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Public posts carrying ``term`` published after ``cursor`` (``None``: start from now,
        or from the platform's recent window), oldest pages first when catching up."""
        raise ListeningUnavailable(
            f"{self.label} does not offer search to this account",
            message_fr=f"{self.label} ne permet pas à ce compte de chercher les publications du public.",
        )

    def listen_all(self, terms: Sequence[tuple[str, bool]], *, cursor: str | None,
                   limit: int | None = None) -> ListenPage:
        """For a channel that ``listen_reads_all``: one page of the shared edges after ``cursor``,
        matched against every ``(term, hashtag)`` at once; each post carries in ``term`` the
        FIRST of ``terms`` it matched ("#tag" or "keyword"), so the caller orders them by
        precedence. A post that matches none is dropped, unless it answers one of our posts
        (then ``term`` is None and ``answers`` is set)."""
        raise ListeningUnavailable(
            f"{self.label} does not offer search to this account",
            message_fr=f"{self.label} ne permet pas à ce compte de chercher les publications du public.",
        )

    def listen_all_resume(self, cursors: Sequence[str]) -> str | None:
        """Where :meth:`listen_all` starts for an account that had per-term cursors (before
        ``listen_reads_all``): a cursor no later than any of them, or None (the whole window)."""
        return None

    def listen_start(self, term: str, *, hashtag: bool, limit: int | None = None) -> ListenPage:
        """The first poll of a term (no cursor yet). By default the whole recent window the
        platform gives (free platforms); a platform that bills each post read starts from now
        instead (X: one smallest page, whose newest post is the floor of the next poll)."""
        return self.listen(term, hashtag=hashtag, cursor=None, limit=limit)

    def listen_calls_ahead(self) -> int:
        """Calls the next listening call will cost at least (X: one more while our user id is
        still unknown), so the worker can keep the publishing reserve before calling."""
        return 1

    def listen_answers(self, *, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Replies, quotes and reposts of this account's own posts after ``cursor``, each with
        ``answers`` set to the platform id of our post."""
        raise ListeningUnavailable(
            f"{self.label} does not give this account the answers to its posts",
            message_fr=f"{self.label} ne donne pas à ce compte les réponses à ses publications.",
        )

    #: Whether :meth:`listen_quotes` finds quotes of our posts the answers stream misses.
    listen_quotes_of: ClassVar[bool] = False

    def listen_quotes(self, ours: list[str], *, cursor: str | None, limit: int | None = None) -> ListenPage:
        """Quotes of the given posts of ours (platform ids, newest first, a bounded few) after
        ``cursor``, each with ``answers`` set; for a platform whose answers stream does not list
        every quote (X: a quote that names no one is not a mention)."""
        return ListenPage((), cursor)

    # -- the inbox (optional: a channel without one keeps these defaults) ------------------------

    #: Endpoint key in ``rate_limits`` the inbox's calls are charged to ("" : the answers' one).
    inbox_endpoint: ClassVar[str] = ""

    def inbox(self, *, cursor: str | None, limit: int | None = None) -> InboxPage:
        """Replies to our posts and mentions of this account after ``cursor``, with their texts
        and authors' handles, one page."""
        raise ListeningUnavailable(
            f"{self.platform_name}: no inbox in Porte-voix yet.",
            message_fr=f"{self.platform_name} : pas encore de boîte de réception dans Porte-voix.",
        )

    def hide_reply(self, platform_id: str, *, root: str | None = None) -> None:
        """Hide a public reply in our thread (``root``: the platform id of our post it answers)."""
        raise HideRefused(
            f"{self.platform_name} does not let an account hide a reply.",
            message_fr=f"{self.platform_name} ne permet pas à un compte de masquer une réponse.",
        )

    def count_term(self, term: str, *, hashtag: bool, since: dt.datetime) -> int | None:
        """How many public posts carried ``term`` since ``since``, where the platform counts
        without reading (X's recent counts); ``None`` where it does not."""
        return None

    # -- errors -------------------------------------------------------------------------------

    #: How the client library's failures become our errors (:class:`ErrorRule`, first match wins).
    #: A channel lists its library's exception classes, HTTP statuses and platform codes here;
    #: what no line matches is ambiguous after a call that may have published, permanent otherwise.
    error_table: ClassVar[tuple[ErrorRule, ...]] = ()

    @classmethod
    def error_facts(cls, exc: BaseException) -> ErrorFacts:
        """What the failure says (a channel whose library keeps more overrides this): by default
        the status of an attached ``response`` and the exception's text."""
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return ErrorFacts(status=status if isinstance(status, int) else None, detail=str(exc))

    @classmethod
    def map_error(cls, exc: BaseException, *, write: bool, facts: ErrorFacts | None = None) -> ChannelError:
        """Every failure of a call as exactly one error of the taxonomy, by ``error_table``.
        ``write`` is True only for the call that may publish; ``facts`` when the channel read
        them itself (from the last answer it saw)."""
        if isinstance(exc, ChannelError):
            return exc
        facts = facts if facts is not None else cls.error_facts(exc)
        for rule in cls.error_table:
            if rule.matches(exc, facts, write=write):
                return rule.build(exc, facts, write=write, platform=cls.platform_name)
        fallback: type[ChannelError] = AmbiguousError if write else PermanentError
        return fallback(f"{cls.platform_name}: unexpected failure {exc!r}",
                        message_fr=f"{cls.platform_name} : échec imprévu {exc!r}",
                        platform_code=facts.code if facts.code is not None else facts.status)

    # -- helpers ------------------------------------------------------------------------------

    def note_rate(self, info: RateInfo) -> None:
        self.rate_info.append(info)

    def take_rate_info(self) -> list[RateInfo]:
        infos, self.rate_info = self.rate_info, []
        return infos


def _fill(pattern: str, handle: str | None, base_url: str | None, post_id: str | None = None) -> str | None:
    handle = (handle or "").lstrip("@")
    base = (base_url or "").rstrip("/")
    if not pattern or ("{handle}" in pattern or "{user}" in pattern) and not handle:
        return None
    if "{base}" in pattern and not base:
        return None
    return pattern.format(handle=handle, user=handle.split("@")[0], base=base, id=post_id or "")
