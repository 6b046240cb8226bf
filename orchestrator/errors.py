"""A refusal a person can act on, shared by the state machine and the services.

The dashboard and the command line show it in the reader's language and carry on; anything else
is a fault of the program and is raised as it is.
"""

from __future__ import annotations


class ServiceError(ValueError):
    """A refusal a person can act on; ``str()`` is French, ``en`` is English."""

    def __init__(self, fr: str, en: str | None = None) -> None:
        super().__init__(fr)
        self.fr = fr
        self.en = en or fr

    def message(self, language: str = "fr") -> str:
        return self.fr if language == "fr" else self.en
