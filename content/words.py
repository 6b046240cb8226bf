"""What every message for people is in Porte-voix: French first, and English.

One shape for all of them, whatever carries it (a problem found in a text, an error of a
platform, a refusal of a service, a fault in campaign content): ``fr`` and ``en``, read with
``text(language)``. :class:`Words` is the plain message; the errors and problems of channels,
content and services, and content's bilingual texts, are :class:`Message` too. This module
imports nothing, so every layer may use it (``content`` is the lowest).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING


class Message:
    """Anything said to people in French (``fr``) and English (``en``)."""

    if TYPE_CHECKING:  # declared by each subclass (a dataclass field, a model field, an attribute)
        fr: str
        en: str

    def text(self, language: str = "fr") -> str:
        """The words in ``language`` ("fr" or "en"); French for anything else, and when there
        is no English."""
        return (self.en or self.fr) if language == "en" else self.fr


@dataclasses.dataclass(frozen=True)
class Words(Message):
    """A message for people, in both languages."""

    fr: str
    en: str = ""

    def __str__(self) -> str:
        return self.fr

    def as_dict(self) -> dict[str, str]:
        """The shape stored in JSON columns and files: ``{"fr": …, "en": …}``."""
        return {"fr": self.fr, "en": self.en or self.fr}

    @classmethod
    def from_dict(cls, data: Mapping[str, object] | None) -> Words:
        """From the stored shape (a missing language reads as empty)."""
        data = data or {}
        return cls(str(data.get("fr") or ""), str(data.get("en") or ""))
