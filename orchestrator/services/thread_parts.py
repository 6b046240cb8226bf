"""A story told as a thread: splitting it into parts that fit every chosen platform, and what
each platform will make of the parts, said before approval.

- :func:`split_story` cuts a text at its sentences (a sentence too long for a part at its words,
  a word too long at its characters) so each part fits every chosen account's limit, as the
  channels' own ``validate`` counts it; optionally numbered « 1/4 ».
- :func:`verdict` is one account's word on the thread's other parts: each part checked by the
  platform's rules, and what the platform does with a thread (Facebook: comments under the post,
  text only; X: since 2026-02-23 a reply by the API may be refused, the thread then goes out as
  its first part alone; Instagram: no threads).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import regex

from channels.base import Image, Problem
from channels.registry import UnknownKind, channel_class

#: Where a sentence ends: after . ! ? … (and a closing quote or bracket), before a space.
_SENTENCE_END = regex.compile(r"(?<=[.!?…][»\"'”’)\]]?)\s+")
#: At most this many parts: a story longer than that is not a thread people read.
MAX_PARTS = 25


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _pieces(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """A sentence that fits as it is, else cut at its words (a word too long, at its characters)."""
    if fits(sentence):
        return [sentence]
    out: list[str] = []
    current = ""
    for word in sentence.split():
        candidate = f"{current} {word}".strip()
        if fits(candidate):
            current = candidate
            continue
        if current:
            out.append(current)
        current = word
        while not fits(current) and len(current) > 1:  # a word longer than a part: cut it
            cut = len(current)
            while cut > 1 and not fits(current[:cut]):
                cut = max(1, cut * 3 // 4) if cut > 8 else cut - 1
            out.append(current[:cut])
            current = current[cut:]
    if current:
        out.append(current)
    return out


def _pack(text: str, fits: Callable[[str], bool]) -> list[str]:
    parts: list[str] = []
    current = ""
    for sentence in sentences(text):
        for piece in _pieces(sentence, fits):
            candidate = f"{current} {piece}".strip()
            if fits(candidate):
                current = candidate
            else:
                if current:
                    parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts


def split_story(text: str, fits: Callable[[str], bool], *, numbered: bool = False) -> list[str]:
    """``text`` in parts that each satisfy ``fits`` (every chosen platform's limit), cut at
    sentences first; with ``numbered``, each part ends with « i/n »."""
    if not text.strip():
        return []
    if not numbered:
        return _pack(text, fits)[:MAX_PARTS]
    width = 1
    while True:  # room for the widest number the count may need
        room = f" {'9' * width}/{'9' * width}"
        parts = _pack(text, functools.partial(_fits_with, fits, room))
        if len(str(len(parts))) <= width or width >= 2:
            break
        width += 1
    total = len(parts[:MAX_PARTS])
    return [f"{part} {i}/{total}" for i, part in enumerate(parts[:MAX_PARTS], start=1)]


def _fits_with(fits: Callable[[str], bool], room: str, part: str) -> bool:
    return fits(part + room)


def verdict(kind: str, validate: Callable[[str, Sequence[Image]], object],
            parts: Sequence[tuple[str, Sequence[Image]]]) -> tuple[list[Problem], list[Problem]]:
    """One account's word on a thread's parts after the first: (problems, warnings). ``validate``
    is the account's offline check of a text with its images."""
    if not parts:
        return [], []
    try:
        cls = channel_class(kind)
    except UnknownKind:
        return [], []
    name = cls.platform_name
    if not cls.can_thread:
        return [Problem("no_thread",
                        f"{name} ne publie pas de fil : retirez les parties suivantes pour ce compte, ou choisissez-en "
                        "un autre.",
                        f"{name} does not publish threads: remove the other parts for this account, or pick another.")], []
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for number, (text, images) in enumerate(parts, start=2):
        check = validate(text, images)
        for problem in getattr(check, "problems", ()):
            problems.append(Problem(problem.code, f"Partie {number} : {problem.fr}", f"Part {number}: {problem.en}"))
        if images and cls.replies_under_root:
            problems.append(Problem(
                "comment_images",
                f"Partie {number} : sur {name}, les parties après la première sont des commentaires sous la "
                "publication, en texte seulement ; retirez ses images.",
                f"Part {number}: on {name} the parts after the first are comments under the post, text only; "
                "remove its images."))
    if cls.replies_under_root:
        warnings.append(Problem(
            "first_comments",
            f"Sur {name}, les parties après la première paraîtront en commentaires de la Page sous la publication.",
            f"On {name}, the parts after the first will appear as the Page's comments under the post."))
    if cls.thread_caveat is not None:  # what the platform may do to a thread (X's reply rule)
        warnings.append(cls.thread_caveat)
    return problems, warnings
