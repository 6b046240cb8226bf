"""The password policy: long enough, and not one a guesser tries first.

Three checks, in the order a person can act on them: a minimum length; not one of the 10,000 most
common passwords (zxcvbn's list, from leaked-password corpora) nor a French or campaign word from
``common_passwords.txt``, even with digits or symbols added at the end ("Montreal2025!"); and an
estimate of how many guesses it would take (zxcvbn, offline), with the username and the campaign's
words counted as the first things a guesser would try.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from orchestrator.services.auth import ServiceError

MIN_PASSWORD = 10
#: Argon2 takes any length, but a megabyte pasted by mistake (or on purpose) should not be hashed.
MAX_PASSWORD = 256
#: zxcvbn's score 3: "safely unguessable", about 10^8 guesses or more; with Argon2 that is years.
MIN_SCORE = 3
#: zxcvbn's run time grows with the length; the first characters are enough to judge.
_SCORED_CHARS = 64
_EXTRA = Path(__file__).with_name("common_passwords.txt")
_TRAILING = re.compile(r"[\d\W_]+$")
_LEADING = re.compile(r"^[\d\W_]+")


def _fold(text: str) -> str:
    """Lower case without accents: "Montréal" and "montreal" are the same guess."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1)
def campaign_words() -> tuple[str, ...]:
    lines = _EXTRA.read_text(encoding="utf-8").splitlines()
    return tuple(_fold(line) for line in lines if line.strip() and not line.startswith("#"))


@functools.lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"][:10_000]) | frozenset(campaign_words())


def is_common(password: str) -> bool:
    """The password, or its core without digits and symbols around it, is a common one."""
    folded = _fold(password)
    core = _LEADING.sub("", _TRAILING.sub("", folded))
    candidates = {folded, _TRAILING.sub("", folded), core, core.replace(" ", "")}
    return any(c and c in common_passwords() for c in candidates)


def check_password(password: str, *, username: str = "") -> None:
    """Raise a ServiceError (French and English) saying what to change; return if it is fine."""
    if len(password) < MIN_PASSWORD:
        raise ServiceError(
            f"Le mot de passe doit compter au moins {MIN_PASSWORD} caractères.",
            f"The password must be at least {MIN_PASSWORD} characters long.",
        )
    if len(password) > MAX_PASSWORD:
        raise ServiceError(f"Le mot de passe ne peut dépasser {MAX_PASSWORD} caractères.",
                           f"The password cannot be longer than {MAX_PASSWORD} characters.")
    name = _fold(username.split("@")[0]) if username else ""
    if is_common(password) or (len(name) >= 3 and name in _fold(password)):
        raise ServiceError(
            "Ce mot de passe est parmi les premiers qu'on essaie (mot courant, nom de la campagne ou "
            "nom d'utilisateur, même suivi de chiffres). Choisissez-en un autre : quatre mots au hasard, "
            "par exemple.",
            "This password is among the first a guesser tries (a common word, the campaign's name or the "
            "username, even with digits added). Choose another: four random words, for example.",
        )
    from zxcvbn import zxcvbn

    inputs = [*campaign_words(), *([name] if name else [])]
    if zxcvbn(password[:_SCORED_CHARS], user_inputs=inputs)["score"] < MIN_SCORE:
        raise ServiceError(
            "Ce mot de passe est trop facile à deviner (suite de clavier, date, mot répété…). "
            "Allongez-le ou prenez quatre mots au hasard.",
            "This password is too easy to guess (keyboard run, date, repeated word…). Make it longer or "
            "use four random words.",
        )
