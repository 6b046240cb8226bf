"""One bilingual message type: whatever says something to people, in channels, content or the
services, is a content.words.Message read with text(language)."""

from __future__ import annotations

from channels.base import AuthError, CredentialField, Problem, RateLimited
from content.errors import ContentError, ContentProblem
from content.model import Bilingual
from content.words import Message, Words
from orchestrator.errors import ServiceError
from orchestrator.services.plan_io import Problem as PlanProblem
from orchestrator.services.responses_csv import LineError


def test_every_bilingual_thing_is_a_message_read_the_same_way() -> None:
    said = [
        Words("bonjour", "hello"),
        Problem("code", "bonjour", "hello"),
        AuthError("hello", message_fr="bonjour"),
        ServiceError("bonjour", "hello"),
        ContentError("bonjour", "hello"),
        Bilingual(fr="bonjour", en="hello"),
        CredentialField("token", "bonjour", "hello"),
    ]
    for message in said:
        assert isinstance(message, Message), type(message)
        assert (message.text("fr"), message.text("en"), message.text()) == ("bonjour", "hello", "bonjour")
    # The old spellings still read the same words.
    assert AuthError("hello", message_fr="bonjour").message("en") == "hello"
    assert ServiceError("bonjour", "hello").message("fr") == "bonjour"
    assert RateLimited().text("fr").startswith("La plateforme limite")


def test_a_message_located_in_a_file_says_where() -> None:
    assert PlanProblem(3, "date invalide", "bad date").text("en") == "Line 3: bad date"
    problem = ContentProblem("cases.yaml", "story.fr", "vide", "empty", line=7)
    assert isinstance(problem, Message) and (problem.fr, problem.en) == ("vide", "empty")
    assert problem.text("en") == "cases.yaml (line 7) : story.fr : empty"
    assert isinstance(LineError(4, "", "vide", "empty"), Message)
    assert LineError(4, "", "vide", "empty").text("fr") == "ligne 4 : vide"


def test_words_keep_the_stored_shape() -> None:
    words = Words("illisible", "unreadable")
    assert words.as_dict() == {"fr": "illisible", "en": "unreadable"}
    assert Words.from_dict(words.as_dict()) == words
    assert Words.from_dict({"fr": "seul"}).text("en") == "seul"  # no English: the French
    assert str(words) == "illisible"
