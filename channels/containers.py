"""Meta's two-step publishing (Instagram's Graph API, Threads), written once for both channels.

Both platforms publish the same way: a *container* is created (``POST /{user}/media`` on
Instagram, ``POST /{user}/threads`` on Threads) from a public image address and a caption; Meta
fetches the image and the container's status goes from ``IN_PROGRESS`` to ``FINISHED`` (or
``ERROR``; ``EXPIRED`` after 24 hours unpublished); then ``POST /{user}/media_publish`` (or
``/threads_publish``) with ``creation_id`` turns it into a post. A carousel is one container per
image (``is_carousel_item``) and a parent ``CAROUSEL`` container naming them (``children``).
References: /work/shared/reference/platforms-next.md §1 and §2.

The promise kept here: **never publish twice**.

- Creating a container publishes nothing: a failure or an unknown outcome there is only a
  :class:`TransientError` (an orphan container expires on its own after 24 hours).
- The container made for a request is recorded in :data:`LEDGER` under the request's key (and
  the account) as soon as Meta names it, and forgotten only once its post is known. A try that
  stopped between creating and publishing (a timeout, a container still ``IN_PROGRESS`` after
  the bounded wait, a quota refusal) is *resumed* with the same container on the next try, never
  duplicated. The worker writes the ledger through to the database (a ``ProgressRecord``), so a
  try in another process, after a crash, resumes the same container; a container whose note
  could not be written is only an orphan, for the same reason as above.
- Only the publish call may have posted: its unknown outcome is an :class:`AmbiguousError`, and
  :meth:`ContainerChannel.find` settles it. Where the container is known, its own status says
  whether it was published (``PUBLISHED``), whatever the caption; the post is then matched in
  the account's recent media (``GET /{user}/media`` or ``/threads``: id, text, time, permalink).
- The platform's publishing quota (``content_publishing_limit`` / ``threads_publishing_limit``)
  is read before a container is made: over quota is :class:`RateLimited`, with the time the
  oldest post of the rolling window leaves it.

Errors in Graph's JSON shape (``code``, ``error_subcode``, ``fbtrace_id``) are mapped to our
error kinds by one table, :data:`GRAPH_ERROR_TABLE`, for both platforms.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import logging
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import requests
from urllib3.exceptions import NewConnectionError

from channels.base import (
    AmbiguousError,
    AuthError,
    Channel,
    ChannelError,
    ErrorFacts,
    ErrorRule,
    Found,
    Image,
    PermanentError,
    Problem,
    Published,
    PublishRequest,
    RateInfo,
    RateLimited,
    TransientError,
    no_platform_code,
    platform_code_only,
    progress_record,
)

log = logging.getLogger(__name__)

#: Container statuses (Instagram's ``status_code``; Threads' ``status`` has the same values).
FINISHED, IN_PROGRESS, ERROR, EXPIRED, PUBLISHED = "FINISHED", "IN_PROGRESS", "ERROR", "EXPIRED", "PUBLISHED"
CLOCK_SKEW = dt.timedelta(minutes=2)
#: Reconciling reads at most this many pages of recent media (newest first) before giving up.
MAX_RECENT_PAGES = 10
RECENT_PAGE_SIZE = 50
#: When a throttled answer says nothing of when to come back.
RATE_LIMIT_FALLBACK = dt.timedelta(minutes=15)

# https://developers.facebook.com/docs/graph-api/guides/error-handling and Instagram's
# https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/error-codes
RATE_LIMIT_CODES = frozenset({4, 17, 32, 341, 613, 80001, 80002})
QUOTA_SUBCODE = 2207042  # code 9: "You reached maximum number of posts" (the 24 h quota)
AUTH_CODES = frozenset({10, 102, 104, 190})  # plus the permission range 200-299
SERVER_CODES = frozenset({1, 2, -1, -2})  # Meta's side failed: "try again"


# ---------------------------------------------------------------------------------------------
# The record of containers made for a request


@dataclasses.dataclass(frozen=True)
class Entry:
    container: str
    created_at: dt.datetime


class Ledger:
    """Containers made but not yet known as published, by (kind, account, request key): kept in
    the process, and written through to the :class:`~channels.base.ProgressRecord` the worker
    installs (the database), so a container survives the process that made it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str, str], Entry] = {}

    def get(self, key: tuple[str, str, str]) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None:
            return entry
        record = progress_record()
        data = _quietly(record.load, *key) if record is not None else None
        if not data or not data.get("container"):
            return None
        entry = Entry(str(data["container"]), dt.datetime.fromisoformat(str(data["created_at"])))
        with self._lock:
            self._entries[key] = entry
        return entry

    def put(self, key: tuple[str, str, str], entry: Entry) -> None:
        with self._lock:
            self._entries[key] = entry
        record = progress_record()
        if record is not None:
            _quietly(record.save, *key, {"container": entry.container, "created_at": entry.created_at.isoformat()})

    def drop(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._entries.pop(key, None)
        record = progress_record()
        if record is not None:
            _quietly(record.forget, *key)

    def clear(self) -> None:
        """Forget what this process holds (as a process that ends does); the record stays."""
        with self._lock:
            self._entries.clear()


def _quietly(call: Any, *args: Any) -> Any:
    """The durable record is a help, not a condition: if the database cannot be written, the
    container is kept in the process and an unknown outcome is still settled by :meth:`find`
    from the account's media, so nothing is published twice either way."""
    try:
        return call(*args)
    except Exception:  # noqa: BLE001 - any failure of the record leaves the in-process notes
        log.warning("publication progress not written: kept in the process only", exc_info=True)
        return None


LEDGER = Ledger()


@dataclasses.dataclass(frozen=True)
class Quota:
    usage: int
    total: int
    duration: int  # seconds of the rolling window


@dataclasses.dataclass(frozen=True)
class Recent:
    """One post of the account's recent media, as reconciling needs it."""

    platform_id: str
    text: str
    at: dt.datetime | None
    url: str | None


# ---------------------------------------------------------------------------------------------
# The channel


class GraphRefusal(Exception):
    """An error answer in Graph's JSON shape (``code``, ``error_subcode``, ``message``,
    ``is_transient``), with the answer's HTTP status and, for a throttle, when it ends: what
    :meth:`ContainerChannel.map_error` reads through the error table."""

    def __init__(self, error: dict[str, Any], status: int | None, reset_at: dt.datetime | None = None) -> None:
        super().__init__(str(error.get("message") or "Graph error"))
        self.error, self.status, self.reset_at = error, status, reset_at


def graph_facts(exc: BaseException) -> ErrorFacts:
    """What a failure says, for the error table: Graph's code, subcode and words for a refusal;
    the status and the redacted text for a failure of the connection."""
    if not isinstance(exc, GraphRefusal):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return ErrorFacts(status=status if isinstance(status, int) else None, detail=redact(str(exc)),
                          words={"redacted": redact(str(exc))})
    error = exc.error
    code, subcode = as_int(error.get("code")), as_int(error.get("error_subcode"))
    message = str(error.get("message") or error.get("error_user_msg") or "unknown error")
    user_msg = error.get("error_user_msg")
    if user_msg and user_msg != message:
        message = f"{message} ({user_msg})"
    en, fr = REFUSALS.get(subcode or 0, ("refused the request", "refuse la demande"))
    if "LINK_LIMIT_EXCEEDED" in message:
        en, fr = ("accepts at most 5 different links per post", "accepte au plus 5 liens différents par publication")
    return ErrorFacts(
        status=exc.status, code=code, detail=f"{code}/{subcode}: {message}" if subcode else f"{code}: {message}",
        reset_at=exc.reset_at or dt.datetime.now(dt.UTC) + RATE_LIMIT_FALLBACK,
        words={"subcode": subcode, "transient": bool(error.get("is_transient")), "refusal": en, "refusal_fr": fr})


def _connection(exc: BaseException, facts: ErrorFacts) -> bool:
    return isinstance(exc, requests.RequestException)


def _nothing_sent(exc: BaseException, facts: ErrorFacts) -> bool:
    return isinstance(exc, requests.RequestException) and never_connected(exc)


def _quota(exc: BaseException, facts: ErrorFacts) -> bool:
    return facts.words.get("subcode") == QUOTA_SUBCODE


def _meta_failed(exc: BaseException, facts: ErrorFacts) -> bool:
    return bool((facts.status is not None and facts.status >= 500) or facts.code in SERVER_CODES
                or facts.words.get("transient"))


def _subcode_or_code(facts: ErrorFacts) -> str | int | None:
    return facts.words.get("subcode") or facts.code  # type: ignore[return-value]


#: How Graph's answers (Instagram, Threads) and failures of the connection become our errors
#: (https://developers.facebook.com/docs/graph-api/guides/error-handling); read top to bottom.
GRAPH_ERROR_TABLE: tuple[ErrorRule, ...] = (
    # refused, DNS, connect timeout: nothing was sent, retrying is safe
    ErrorRule(TransientError, "{platform} unreachable: {redacted}", "{platform} est injoignable (rien n'a été envoyé).",
              when=_nothing_sent, platform_code=no_platform_code),
    # the request left and no complete answer came: after the publish call, the post may exist
    ErrorRule(AmbiguousError, "No complete answer from {platform}: {redacted}",
              "{platform} n'a pas répondu jusqu'au bout : la publication a peut-être eu lieu.",
              when=_connection, on_write=True, platform_code=no_platform_code),
    ErrorRule(TransientError, "No complete answer from {platform}: {redacted}",
              "{platform} n'a pas répondu jusqu'au bout (lecture, nouvel essai possible).",
              when=_connection, platform_code=no_platform_code),
    # the 24 hours' publishing quota (code 9, subcode 2207042), and Graph's throttles
    ErrorRule(RateLimited, "{platform} limits publishing for now ({detail})",
              "{platform} limite les publications pour le moment : nouvel essai plus tard ({detail}).",
              when=_quota, platform_code=_subcode_or_code),
    ErrorRule(RateLimited, "{platform} limits publishing for now ({detail})",
              "{platform} limite les publications pour le moment : nouvel essai plus tard ({detail}).",
              codes=RATE_LIMIT_CODES, statuses=(429,), platform_code=_subcode_or_code),
    # expired or revoked token, missing permission: a person must renew it
    ErrorRule(AuthError, "{platform} refused the access token ({detail})",
              "{platform} refuse le jeton d'accès : renouvelez-le ou accordez à nouveau les autorisations "
              "({detail}).",
              codes=AUTH_CODES | frozenset(range(200, 300)), statuses=(401,), platform_code=platform_code_only),
    # Meta's side failed and says "retry": after the publish call, the post may exist
    ErrorRule((AmbiguousError, TransientError), "{platform} server error ({status}, {detail})",
              "Erreur du côté de {platform} ({status}) : la publication a peut-être eu lieu si c'était un envoi.",
              when=_meta_failed, platform_code=_subcode_or_code),
    # anything else: the request or the content is refused, the same again cannot succeed
    ErrorRule(PermanentError, "{platform} {refusal} ({detail})", "{platform} {refusal_fr} (code {detail}).",
              platform_code=_subcode_or_code),
)


class ContainerChannel(Channel):
    """A channel that publishes through containers. Subclasses give the platform's calls."""

    #: How long a container may stay ``IN_PROGRESS`` before the try stops (it is resumed by the
    #: next one): at most ``container_polls`` looks within ``container_wait`` seconds, the first
    #: at once, then after ``container_first_delay`` seconds, doubling. Account options of the
    #: same names override them (tests use short waits).
    container_polls: ClassVar[int] = 12
    container_wait: ClassVar[float] = 60.0
    container_first_delay: ClassVar[float] = 0.25
    needs_public_media = True
    error_table = GRAPH_ERROR_TABLE

    @classmethod
    def error_facts(cls, exc: BaseException) -> ErrorFacts:
        return graph_facts(exc)

    # -- what a platform gives ----------------------------------------------------------------

    @property
    @abc.abstractmethod
    def account_key(self) -> str:
        """The platform user id, which the ledger is kept under."""

    @abc.abstractmethod
    def _create(self, params: dict[str, str]) -> str:
        """Create one container; its id."""

    @abc.abstractmethod
    def _status(self, container: str) -> tuple[str, str]:
        """A container's status and Meta's words about it."""

    @abc.abstractmethod
    def _publish_container(self, container: str) -> str:
        """Publish a finished container; the post's id. Its unknown outcome is ambiguous."""

    @abc.abstractmethod
    def _quota(self, *, reply: bool = False) -> Quota | None:
        """The publishing quota's use (of replies' quota when ``reply``), or None when the
        platform does not say."""

    @abc.abstractmethod
    def _recent(self, since: dt.datetime) -> Iterator[list[Recent]]:
        """Pages of the account's posts, newest first, reaching back at least to ``since``."""

    @abc.abstractmethod
    def _permalink(self, platform_id: str) -> tuple[str | None, dt.datetime | None]:
        """A new post's public address and time (a read; None where it failed)."""

    @abc.abstractmethod
    def _item_params(self, image: Image, *, in_carousel: bool) -> dict[str, str]:
        """The fields of an image's container."""

    @abc.abstractmethod
    def _single_params(self, request: PublishRequest) -> dict[str, str]:
        """The fields of a post with at most one image."""

    @abc.abstractmethod
    def _carousel_params(self, request: PublishRequest, children: list[str]) -> dict[str, str]:
        """The fields of a carousel's parent container."""

    # -- publish --------------------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        if (request.parts or request.reply_to) and not self.can_thread:
            raise PermanentError(
                f"{self.label} does not publish threads or replies here: publish a single post.",
                message_fr=f"{self.label} ne publie pas de fil ni de réponse ici : publiez une seule publication.",
                platform_code="no_thread")
        return self._publish_request(request, {})

    def _publish_request(self, request: PublishRequest, extra: dict[str, str]) -> Published:
        """Publish ``request``; ``extra`` fields go on its (parent) container (Threads'
        ``reply_to_id``)."""
        problem = missing_public_address(request.images, self.label)
        if problem is not None:
            raise PermanentError(problem.en, message_fr=problem.fr, platform_code=problem.code)
        key = self._ledger_key(request)
        entry = LEDGER.get(key)
        container = None
        if entry is not None:
            status = self._recorded_status(key, entry)
            if status == PUBLISHED:
                return self._published_already(request, key, entry)
            if status is None:  # the platform forgot the container: the media list decides
                found = self._match(request, since=entry.created_at)
                if found.published is not None:
                    return found.published
                if not found.absent:
                    raise AmbiguousError(
                        f"{self.label} no longer knows this request's container and its media list "
                        f"cannot tell whether it was published: {found.reason}",
                        message_fr=f"{self.label} ne connaît plus le conteneur de cette demande et la "
                        f"liste des médias ne permet pas de savoir s'il a été publié : {found.reason}",
                    )
            elif status in (FINISHED, IN_PROGRESS):
                container = entry.container  # resumed, not made again
            else:
                LEDGER.drop(key)  # ERROR or EXPIRED: never published, start over
        if container is None:
            self._check_quota(reply=bool(extra.get("reply_to_id")))
            started = dt.datetime.now(dt.UTC)
            container = self._build(request, extra)
            LEDGER.put(key, Entry(container, started))
            entry = LEDGER.get(key)
        assert entry is not None
        status = self._wait(container)
        if status == PUBLISHED:
            return self._published_already(request, key, entry)
        try:
            post_id = self._publish_container(container)
        except RateLimited:
            raise  # the container is kept: the next try publishes it
        except PermanentError:
            LEDGER.drop(key)
            raise
        LEDGER.drop(key)
        url, at = self._permalink(post_id)
        return Published(post_id, url, at or dt.datetime.now(dt.UTC))

    def _recorded_status(self, key: tuple[str, str, str], entry: Entry) -> str | None:
        """The recorded container's status; None (and the record forgotten) when the platform
        no longer knows it (gone after expiring): it was never published, or only the media
        list can tell."""
        try:
            return self._status(entry.container)[0]
        except PermanentError:
            LEDGER.drop(key)
            return None

    def _ledger_key(self, request: PublishRequest) -> tuple[str, str, str]:
        return (self.kind, self.account_key, request.key)

    def _build(self, request: PublishRequest, extra: dict[str, str]) -> str:
        if len(request.images) <= 1:
            return self._create({**self._single_params(request), **extra})
        children = []
        for image in request.images:
            child = self._create(self._item_params(image, in_carousel=True))
            self._wait(child)
            children.append(child)
        return self._create({**self._carousel_params(request, children), **extra})

    def _option(self, name: str) -> float:
        return float(self.account.options.get(name, getattr(self, name)))

    def _wait(self, container: str) -> str:
        """Poll until the container is ready (bounded in count and time)."""
        polls, limit = 0, int(self._option("container_polls"))
        deadline = time.monotonic() + self._option("container_wait")
        delay = self._option("container_first_delay")
        while True:
            status, detail = self._status(container)
            polls += 1
            if status in (FINISHED, PUBLISHED):
                return status
            if status == ERROR:
                raise PermanentError(
                    f"{self.label} could not prepare the media: {detail or 'ERROR'}",
                    message_fr=f"{self.label} n'a pas pu préparer le média (vérifiez l'image : JPEG, "
                    f"proportions, poids) : {detail or 'ERROR'}",
                    platform_code=detail or ERROR,
                )
            if status == EXPIRED:
                raise TransientError(
                    f"The {self.label} container expired before it was published; a new one will be made.",
                    message_fr=f"Le conteneur {self.label} a expiré avant la publication ; un nouveau sera créé.",
                    platform_code=EXPIRED,
                )
            if status != IN_PROGRESS:
                raise TransientError(
                    f"{self.label} gave an unknown container status {status!r}.",
                    message_fr=f"{self.label} donne un état de conteneur inconnu « {status} ».",
                )
            if polls >= limit or time.monotonic() + delay > deadline:
                raise TransientError(
                    f"{self.label} is still preparing the media after {polls} looks; the next try "
                    "resumes the same container.",
                    message_fr=f"{self.label} prépare encore le média après {polls} vérifications ; "
                    "le prochain essai reprend le même conteneur (sans doublon).",
                    platform_code=IN_PROGRESS,
                )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _check_quota(self, *, reply: bool = False) -> None:
        quota = self._quota(reply=reply)
        if quota is None:
            return
        if not reply:  # the platform's own count corrects our publishing budget
            self.note_rate(RateInfo("publish", max(0, quota.total - quota.usage), quota.total, None))
        if quota.usage < quota.total:
            return
        raise RateLimited(
            f"{self.label}'s publishing quota is used up ({quota.usage}/{quota.total} per "
            f"{quota.duration // 3600} h).",
            message_fr=f"Le quota de publication de {self.label} est épuisé ({quota.usage}/{quota.total} "
            f"par {quota.duration // 3600} h) : nouvel essai quand la plus ancienne publication sort de la fenêtre.",
            reset_at=self._quota_reset(quota),
            platform_code=QUOTA_SUBCODE,
        )

    def _quota_reset(self, quota: Quota) -> dt.datetime:
        """When the oldest post of the rolling window leaves it (one read of recent media)."""
        now = dt.datetime.now(dt.UTC)
        window = dt.timedelta(seconds=quota.duration or 86400)
        oldest = None
        try:
            for n, page in enumerate(self._recent(now - window)):
                if n >= MAX_RECENT_PAGES:
                    break
                for post in page:
                    if post.at is not None and post.at >= now - window:
                        oldest = post.at if oldest is None else min(oldest, post.at)
                if page and page[-1].at is not None and page[-1].at < now - window:
                    break
        except ChannelError:
            return now + RATE_LIMIT_FALLBACK
        return oldest + window + dt.timedelta(seconds=30) if oldest else now + RATE_LIMIT_FALLBACK

    def _published_already(
        self, request: PublishRequest, key: tuple[str, str, str], entry: Entry
    ) -> Published:
        """The recorded container was published by an earlier try: find that post, never
        publish again."""
        found = self._match(request, since=entry.created_at)
        if found.published is not None:
            LEDGER.drop(key)
            return found.published
        raise AmbiguousError(
            f"{self.label} says this request's container is published, but the post is not in the "
            "account's recent media yet.",
            message_fr=f"{self.label} indique que le conteneur de cette demande est publié, mais la "
            "publication n'apparaît pas encore dans les médias récents du compte.",
            platform_code=PUBLISHED,
        )

    # -- reconcile ------------------------------------------------------------------------------

    def find(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        if since.tzinfo is None:
            raise ValueError("find() needs an aware datetime for since")
        entry = LEDGER.get(self._ledger_key(request))
        status = self._recorded_status(self._ledger_key(request), entry) if entry is not None else None
        if entry is not None and status is not None:
            if status != PUBLISHED:
                # the container of this request was never published: the next try resumes it
                return Found(absent=True)
            found = self._match(request, since=min(since, entry.created_at))
            if found.published is not None:
                LEDGER.drop(self._ledger_key(request))
            return found
        return self._match(request, since=since)

    def _match(self, request: PublishRequest, *, since: dt.datetime) -> Found:
        wanted = normal(self._text_of(request))
        floor = since - CLOCK_SKEW
        candidates: list[Recent] = []
        complete = False
        for n, page in enumerate(self._recent(floor)):
            for post in page:
                if post.at is not None and post.at < floor:
                    complete = True
                    break
                if normal(post.text) == wanted:
                    candidates.append(post)
            if complete or n + 1 >= MAX_RECENT_PAGES:
                break
        else:
            complete = True  # the account's whole list was read
        if len(candidates) == 1 or (candidates and wanted):
            post = candidates[-1]  # the oldest match after the first try
            return Found(published=Published(post.platform_id, post.url, post.at))
        if candidates:
            return Found(reason="Plusieurs publications sans texte depuis le premier essai : impossible de "
                                "savoir laquelle est la bonne.")
        if not complete:
            return Found(reason=f"Plus de {MAX_RECENT_PAGES * RECENT_PAGE_SIZE} publications depuis "
                                f"{since:%Y-%m-%d %H:%M} : lecture arrêtée.")
        return Found(absent=True)

    def _text_of(self, request: PublishRequest) -> str:
        return compose(request)


# ---------------------------------------------------------------------------------------------
# Helpers


def compose(request: PublishRequest) -> str:
    """The caption as posted: the text, then the link when the text does not already carry it."""
    text = request.text.rstrip()
    if request.link and request.link not in text:
        return f"{text}\n\n{request.link}" if text else request.link
    return text


def normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def missing_public_address(images: Sequence[Image], platform: str) -> Problem | None:
    """The images have no public address: the media setting is missing (or the worker did not
    fill it), and the platform cannot fetch them."""
    if all(image.url for image in images):
        return None
    return Problem(
        "media_public_url",
        f"{platform} va chercher les images à une adresse publique, et cette image n'en a pas : "
        "le réglage PORTEVOIX_MEDIA_BASE_URL (l'adresse publique des médias de Porte-voix) manque. "
        "Demandez à la personne qui administre Porte-voix de le définir (voir le guide de déploiement).",
        f"{platform} fetches images from a public address, and this image has none: the "
        "PORTEVOIX_MEDIA_BASE_URL setting (Porte-voix's public media address) is missing. Ask "
        "whoever runs Porte-voix to set it (see the deployment guide).",
    )


def graph_time(value: Any) -> dt.datetime | None:
    for fmt in ("%Y-%m-%dT%H:%M:%S%z",):
        try:
            return dt.datetime.strptime(str(value), fmt)
        except ValueError:
            pass
    return None


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def never_connected(exc: requests.RequestException) -> bool:
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError) or isinstance(
        exc, (requests.ConnectTimeout, requests.exceptions.SSLError)
    )


def redact(text: str) -> str:
    import re

    return re.sub(r"access_token=[^&\s'\"]+", "access_token=***", text)


#: Plain words for the refusals a person can act on, by Graph subcode (or code).
REFUSALS: dict[int, tuple[str, str]] = {
    2207052: ("could not fetch the image from its public address",
              "n'a pas pu télécharger l'image depuis son adresse publique : vérifiez que PORTEVOIX_MEDIA_BASE_URL "
              "est joignable depuis Internet"),
    2207005: ("refuses the image format (JPEG only)", "refuse le format de l'image (JPEG seulement)"),
    2207004: ("refuses an image over 8 MB", "refuse une image de plus de 8 Mo"),
    2207009: ("refuses the image's proportions (between 4:5 and 1.91:1)",
              "refuse les proportions de l'image (entre 4:5 et 1,91:1)"),
    2207020: ("says the container expired", "indique que le conteneur a expiré"),
    2207027: ("says the media is not ready to publish", "indique que le média n'est pas prêt à publier"),
    2207006: ("cannot find the media", "ne trouve pas le média"),
    2207010: ("refuses the caption (too long, or too many hashtags or mentions)",
              "refuse la légende (trop longue, ou trop de mots-clics ou de mentions)"),
}


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image, or None when Pillow cannot read it."""
    import io

    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
