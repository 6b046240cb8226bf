"""A refusal a person can act on, shared by the state machine and the services.

The dashboard and the command line show it in the reader's language and carry on; anything else
is a fault of the program and is raised as it is.
"""

from __future__ import annotations

from content.words import Message


class ServiceError(Message, ValueError):
    """A refusal a person can act on; ``str()`` is French, ``en`` is English
    (:class:`~content.words.Message`)."""

    def __init__(self, fr: str, en: str | None = None) -> None:
        super().__init__(fr)
        self.fr = fr
        self.en = en or fr

    @classmethod
    def of(cls, words: Message) -> ServiceError:
        """The refusal that says ``words``."""
        return cls(words.fr, words.en)

    def message(self, language: str = "fr") -> str:
        """The same as :meth:`text`."""
        return self.text(language)
