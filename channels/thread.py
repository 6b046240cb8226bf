"""Threads: a post in several parts, each a reply to the one before (Facebook: comments under
the post), written once for every channel that publishes them.

The promise kept here: **never publish a part twice**.

- Before a part is sent, a note says "part *i* may be going out" (``pending``), and as soon as
  the platform names it, its id joins the note's list (``parts``). The note is the
  :class:`~channels.base.ProgressRecord` the worker installs (the database), by (``thread``,
  platform/account, request key), so a try in another process after a crash reads it too; it is
  also kept in the process.
- A try resumes after the last part out: parts already out are never sent again.
- A part whose outcome is unknown (the platform's answer lost, or the process died between
  sending it and writing its id) is still ``pending``: it is looked for first (as a reply of the
  part before it, or exactly, at its own record key on Bluesky) and only sent when the platform
  proves it absent. When that cannot be decided, the try stops with an :class:`AmbiguousError`
  and nothing more is sent.
- A note that cannot be written before a part is sent stops the try before sending (a
  :class:`TransientError`: nothing went out), so no part ever leaves without its note.
- Each part has its own key, derived from the request's (:func:`part_key`): Mastodon's
  Idempotency-Key and Bluesky's record key are per part. Part 1 keeps the request's key, so a
  single post is exactly what it was.
- A platform that refuses the replies (X since 2026-02-23, unless the parent's author summoned
  the account: :class:`ReplyRefused`) ends the thread where it stands: what is out is the
  delivery, with a note saying what was not posted; the rest is never sent blindly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from channels.base import (
    AmbiguousError,
    Channel,
    ChannelError,
    Found,
    PermanentError,
    Published,
    PublishRequest,
    TransientError,
    progress_record,
)
from content.words import Words

log = logging.getLogger(__name__)

#: The progress record's kind for threads (its account column says which platform and account).
KIND = "thread"


class ReplyRefused(PermanentError):
    """The platform refuses a reply from this account (X: the parent's author did not summon
    it). On a thread's part 2 or later, the thread ends with what is out, and says so."""


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a part goes: under ``parent`` (a platform id; ``parent_ref`` what a reply must
    name besides, Bluesky's cid), in the conversation whose first post is ``root``."""

    parent: str
    root: str
    parent_ref: str = ""
    root_ref: str = ""


# ---------------------------------------------------------------------------------------------
# The caller's lease: a thread takes several calls, each started only with time left to finish it

_lease = threading.local()


@contextlib.contextmanager
def lease(still_ours: Callable[[], bool]) -> Iterator[None]:
    """While publishing in this thread of execution, ``still_ours()`` is asked before each part
    after the first: it renews the caller's lease when needed and says whether the delivery is
    still the caller's with time enough for one more part. When it is not, nothing more is sent
    (the try stops with a :class:`TransientError`; the notes say where the thread stands)."""
    before = getattr(_lease, "check", None)
    _lease.check = still_ours
    try:
        yield
    finally:
        _lease.check = before


def _lease_holds() -> bool:
    check = getattr(_lease, "check", None)
    return check is None or bool(check())


def part_key(key: str, index: int) -> str:
    """The key of part ``index`` (0-based): the request's own for the first, derived for the
    others, always the same for the same request."""
    return key if index == 0 else f"{key}/part-{index + 1}"


def part_requests(request: PublishRequest) -> list[PublishRequest]:
    """One request per part, in order. The first is the request itself without its parts (its
    link, card and reply limit stay with it); each other part keeps the language, content
    warning, visibility and labels, with its own text, images and key."""
    first = dataclasses.replace(request, parts=())
    rest = [
        dataclasses.replace(first, key=part_key(request.key, i), text=part.text, images=part.images,
                            link=None, card=None, reply_to=None, reply_limit="")
        for i, part in enumerate(request.parts, start=1)
    ]
    return [first, *rest]


class Threading(Protocol):
    """What a channel gives the thread driver."""

    kind: str

    def post_part(self, request: PublishRequest, target: Target | None) -> Published:
        """Publish one post (as a reply to ``target`` when given); its ``ref`` filled where
        replies need one."""
        ...

    def find_part(self, request: PublishRequest, target: Target, *, since: dt.datetime) -> Found:
        """Look for a part whose outcome is unknown: a post of ours under ``target.parent``
        with this request's text (exact at its key where the platform allows)."""
        ...


# ---------------------------------------------------------------------------------------------
# The notes


class Notes:
    """The thread notes, in the process and written through to the progress record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[tuple[str, str, str], dict[str, Any]] = {}

    def load(self, key: tuple[str, str, str]) -> dict[str, Any]:
        record = progress_record()
        if record is not None:
            try:
                data = record.load(*key)
            except Exception:  # noqa: BLE001 - the process's own note still holds what it did
                log.warning("thread progress not read: the process's notes are used", exc_info=True)
            else:
                if data is not None:
                    return _clean(data)
        with self._lock:
            return _clean(self._notes.get(key) or {})

    def save(self, key: tuple[str, str, str], data: dict[str, Any], *, required: bool) -> None:
        """Keep ``data``; ``required``: a failure to write it durably raises (before a send)."""
        with self._lock:
            self._notes[key] = _clean(data)
        record = progress_record()
        if record is None:
            return
        try:
            record.save(*key, _clean(data))
        except Exception as exc:  # noqa: BLE001
            if required:
                raise TransientError(
                    "The thread's progress could not be written: nothing more is sent until it can.",
                    message_fr="L'avancement du fil n'a pas pu être noté : rien de plus n'est envoyé avant qu'il "
                    "puisse l'être.") from exc
            log.warning("thread progress not written: kept in the process only", exc_info=True)

    def clear(self) -> None:
        """Forget what this process holds (as a process that ends does); the record stays."""
        with self._lock:
            self._notes.clear()


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {"parts": [dict(p) for p in data.get("parts") or []], "pending": data.get("pending"),
            "since": data.get("since"), "refused": data.get("refused")}


NOTES = Notes()


def _note_key(channel: Channel, request: PublishRequest) -> tuple[str, str, str]:
    return (KIND, f"{channel.kind}/{channel.account.name}"[:128], request.key)


def _published(part: dict[str, Any]) -> Published:
    at = part.get("at")
    return Published(str(part["id"]), part.get("url"), dt.datetime.fromisoformat(at) if at else None,
                     ref=str(part.get("ref") or ""))


def _entry(published: Published) -> dict[str, Any]:
    at = published.published_at
    return {"id": published.platform_id, "url": published.url, "ref": published.ref,
            "at": at.isoformat() if at else None}


def _target(channel: Channel, parts: Sequence[dict[str, Any]], first: Target | None) -> Target | None:
    """Where the next part goes: under the last part out, in the thread of the first (or of the
    post the first answered)."""
    if not parts:
        return first
    root, last = parts[0], parts[-1]
    if channel.replies_under_root:  # Facebook: comments under the post
        return Target(parent=str(root["id"]), root=str(root["id"]), parent_ref=str(root.get("ref") or ""),
                      root_ref=str(root.get("ref") or ""))
    if first is not None:
        return Target(parent=str(last["id"]), root=first.root, parent_ref=str(last.get("ref") or ""),
                      root_ref=first.root_ref)
    return Target(parent=str(last["id"]), root=str(root["id"]), parent_ref=str(last.get("ref") or ""),
                  root_ref=str(root.get("ref") or ""))


def _outcome(parts: Sequence[dict[str, Any]], note: Words | None = None) -> Published:
    root = _published(parts[0])
    return dataclasses.replace(root, part_ids=tuple(str(p["id"]) for p in parts), note=note)


def refused_note(sent: int, total: int, platform: str) -> Words:
    return Words(
        f"{platform} a refusé la réponse qui devait prolonger le fil : {sent} partie(s) sur {total} publiée(s) "
        f"(à partir de la première), les suivantes n'ont pas été envoyées.",
        f"{platform} refused the reply that would have continued the thread: {sent} of {total} part(s) posted "
        f"(from the first), the rest was not sent.")


# ---------------------------------------------------------------------------------------------
# Publishing and finding


def publish(channel: Any, request: PublishRequest, *, first: Target | None = None,
            find_first: Callable[[PublishRequest, dt.datetime], Found] | None = None) -> Published:
    """Publish ``request`` as one post or as a thread, resuming after the parts already out.
    ``first``: where the first part goes (the post it answers), None for a new post.
    ``find_first``: how to look for a first part whose outcome is unknown (the channel's find)."""
    requests = part_requests(request)
    if len(requests) == 1:
        return channel.post_part(requests[0], first)
    key = _note_key(channel, request)
    note = NOTES.load(key)
    parts: list[dict[str, Any]] = note["parts"]
    if note.get("refused") is not None and parts:
        return _outcome(parts, refused_note(len(parts), len(requests), channel.platform_name))
    for index in range(len(parts), len(requests)):
        part = requests[index]
        target = _target(channel, parts, first)
        if note.get("pending") == index:  # sent before, its outcome unknown: look first
            since = dt.datetime.fromisoformat(note["since"]) if note.get("since") else dt.datetime.now(dt.UTC)
            found = _find_one(channel, part, target, since, find_first)
            if found.published is not None:
                parts.append(_entry(found.published))
                note = {"parts": parts, "pending": None}
                NOTES.save(key, note, required=False)
                continue
            if not found.absent:
                raise AmbiguousError(
                    f"Part {index + 1} of the thread may have gone out and cannot be found yet ({found.reason}): "
                    "nothing more is sent before it is.",
                    message_fr=f"La partie {index + 1} du fil est peut-être partie et reste introuvable pour "
                    f"l'instant ({found.reason}) : rien de plus n'est envoyé avant de le savoir.")
        if index > 0 and not _lease_holds():
            raise TransientError(
                f"The delivery's lease ran out before part {index + 1} of the thread: nothing more was sent.",
                message_fr=f"Le bail de l'envoi a expiré avant la partie {index + 1} du fil : rien de plus n'a été "
                "envoyé.")
        note = {"parts": parts, "pending": index, "since": dt.datetime.now(dt.UTC).isoformat()}
        NOTES.save(key, note, required=True)
        try:
            published = channel.post_part(part, target)
        except AmbiguousError:
            raise  # still pending: looked for before anything else is sent
        except ReplyRefused as refused:
            if index == 0:
                NOTES.save(key, {"parts": parts, "pending": None}, required=False)
                raise
            note = {"parts": parts, "pending": None, "refused": index}
            NOTES.save(key, note, required=False)
            log.warning("%s refused part %d of %s as a reply: %s", channel.kind, index + 1, request.key,
                        refused.message_en)
            return _outcome(parts, refused_note(len(parts), len(requests), channel.platform_name))
        except ChannelError:
            NOTES.save(key, {"parts": parts, "pending": None}, required=False)  # nothing went out
            raise
        parts.append(_entry(published))
        note = {"parts": parts, "pending": None}
        NOTES.save(key, note, required=False)
    return _outcome(parts)


def _find_one(channel: Any, part: PublishRequest, target: Target | None, since: dt.datetime,
              find_first: Callable[[PublishRequest, dt.datetime], Found] | None) -> Found:
    if target is None:
        if find_first is None:
            return Found(reason="no way to look for the first part")
        return find_first(part, since)
    return channel.find_part(part, target, since=since)


def find(channel: Any, request: PublishRequest, *, since: dt.datetime,
         find_first: Callable[[PublishRequest, dt.datetime], Found], first: Target | None = None) -> Found:
    """Reconcile a request: a single post by ``find_first``; a thread by its notes (and, where
    they are lost, from the platform: the first part by ``find_first``, then each next one as a
    reply of the one before). Found only when every part is out (with every id); absent when
    some part is proved not out (a try then resumes after those that are); else undecidable."""
    requests = part_requests(request)
    if len(requests) == 1:
        return find_first(requests[0], since)
    key = _note_key(channel, request)
    note = NOTES.load(key)
    parts: list[dict[str, Any]] = note["parts"]
    known = bool(parts) or note.get("pending") is not None
    if note.get("refused") is not None and parts:
        return Found(published=_outcome(parts, refused_note(len(parts), len(requests), channel.platform_name)))
    for index in range(len(parts), len(requests)):
        if known and note.get("pending") != index:
            # the notes say this part was never sent: the thread resumes here
            return Found(absent=True, reason=f"parts 1-{index} out, part {index + 1} not sent")
        look_since = dt.datetime.fromisoformat(note["since"]) if note.get("since") else since
        found = _find_one(channel, requests[index], _target(channel, parts, first), look_since, find_first)
        if found.published is None:
            if found.absent and parts:
                NOTES.save(key, {"parts": parts, "pending": None}, required=False)
                return Found(absent=True, reason=f"parts 1-{index} out, part {index + 1} not")
            return found
        parts.append(_entry(found.published))
        note = {"parts": parts, "pending": None}
        NOTES.save(key, note, required=False)
    return Found(published=_outcome(parts))
