"""Errors and problems raised while reading campaign content.

::

    ContentError            a single, immediate error (e.g. rendering with an unknown placeholder)
    └── ContentInvalid      a campaign folder has one or more ``ContentProblem``; nothing was loaded

Every message exists in French (first, for campaign staff) and English.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from content.words import Message


@dataclasses.dataclass(frozen=True)
class ContentProblem(Message):
    """One thing wrong in a campaign folder, worded for a person who edits YAML, not code. Its
    words alone are ``fr``/``en``; :meth:`text` says where, then what."""

    file: str  # relative to the campaign folder (or to the campaigns root for load_all)
    field: str  # dotted path inside the file, e.g. ``story.fr`` or ``templates[2].action``; "" = whole file
    message: str  # French
    message_en: str
    line: int | None = None  # 1-based line in ``file`` when we could locate it

    @property
    def fr(self) -> str:  # type: ignore[override]
        return self.message

    @property
    def en(self) -> str:  # type: ignore[override]
        return self.message_en

    def text(self, language: str = "fr") -> str:
        where = self.file if self.line is None else f"{self.file} (ligne {self.line})"
        if language == "en" and self.line is not None:
            where = f"{self.file} (line {self.line})"
        return f"{where} : {self.field or '—'} : {super().text(language)}"

    def __str__(self) -> str:
        return self.text("fr")


def format_problems(problems: Iterable[ContentProblem], language: str = "fr") -> str:
    """One problem per line, in the order found (file by file)."""
    return "\n".join(problem.text(language) for problem in problems)


class ContentError(Message, ValueError):
    """Content could not be used as asked. Its words for people are ``fr``/``en``
    (:class:`~content.words.Message`; also ``message_fr``/``message_en``)."""

    def __init__(self, message_fr: str, message_en: str | None = None) -> None:
        super().__init__(message_fr)
        self.fr = message_fr
        self.en = message_en or message_fr

    @property
    def message_fr(self) -> str:
        return self.fr

    @property
    def message_en(self) -> str:
        return self.en

    def message(self, language: str = "fr") -> str:
        """The same as :meth:`text`."""
        return self.text(language)


class ContentInvalid(ContentError):
    """A campaign folder failed validation; ``problems`` lists everything found, not just the first."""

    def __init__(self, problems: Sequence[ContentProblem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header_fr = f"Contenu invalide : {count} problème(s)"
        header_en = f"Invalid content: {count} problem(s)"
        super().__init__(
            header_fr + "\n" + format_problems(self.problems, "fr"),
            header_en + "\n" + format_problems(self.problems, "en"),
        )

    def __str__(self) -> str:
        return self.message_fr
