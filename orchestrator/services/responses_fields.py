"""The values an import reads, and how personal data is recognised (by header and by value).

Kept apart from the CSV reader so the rules can be read, and tested, on their own.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from orchestrator.models import RESPONSE_KINDS

MAX_COUNT = 10_000_000  # a bigger figure on one line is a misread column, not a real count


def normalize(text: str) -> str:
    """'  Prénom_du-Signataire ' -> 'prenom du signataire' (accents, case and punctuation out)."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\ufeff", ""))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


HEADER_ALIASES: dict[str, str] = {
    **dict.fromkeys(("case", "cas", "dossier", "case slug", "nom du cas", "case name", "cause"), "case"),
    **dict.fromkeys(("kind", "type", "genre", "action", "type d action", "action type", "kind of action"), "kind"),
    **dict.fromkeys(("count", "nombre", "nb", "quantite", "total", "number", "qty", "n"), "count"),
    **dict.fromkeys(("date", "day", "jour"), "date"),
    **dict.fromkeys(("source", "origine", "code", "source code", "code source", "provenance"), "source"),
}

KIND_ALIASES: dict[str, str] = {
    **{k: k for k in RESPONSE_KINDS},
    **dict.fromkeys(("lettre", "lettres", "letters", "lettre a l autorite", "appel", "appeal"), "letter"),
    **dict.fromkeys(("solidarite", "message de solidarite", "messages de solidarite", "solidarity message",
                     "carte de solidarite", "message"), "solidarity"),
    **dict.fromkeys(("signatures", "petition", "signature de petition"), "signature"),
    **dict.fromkeys(("courriel", "courriels", "e mail", "emails", "mail", "mails"), "email"),
    **dict.fromkeys(("carte", "cartes", "carte postale", "cartes postales", "postcards", "card", "cards"), "postcard"),
    **dict.fromkeys(("social action", "action sociale", "actions sociales", "reseaux sociaux", "social"), "social_action"),
    **dict.fromkeys(("autre", "autres", "others"), "other"),
}

# Header words that mean a column holds someone's identity. Checked only after the five fields'
# own names, so "nom du cas" is the case column, not a name.
_PII_WORDS = {
    "name": {"nom", "prenom", "name", "firstname", "lastname", "surname", "fullname", "signataire",
             "signatory", "supporter", "donateur", "donor"},
    "email": {"email", "courriel", "mail", "emails", "courriels"},
    "address": {"adresse", "address", "rue", "street", "zip", "appartement", "apt", "civique"},
    "phone": {"telephone", "phone", "tel", "mobile", "cellulaire", "cell", "portable", "fax"},
    "other": {"ip", "birthdate", "naissance", "birthday"},
}
_PII_PHRASES = {"code postal": "address", "postal code": "address", "postcode": "address",
                "user agent": "other", "first name": "name", "last name": "name"}

_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_POSTAL_CA = re.compile(r"\b[abceghj-nprstvxy]\d[abceghj-nprstv-z] ?\d[abceghj-nprstv-z]\d\b", re.I)
_STREET = re.compile(r"^\d+[a-z]?[ ,]+(rue|avenue|av|boul|boulevard|chemin|ch|rang|route|street|st|road|rd|ave|blvd)\b", re.I)
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-]+$")
#: What a source may look like: a post code or a short name, no spaces (names have them) and no @.
SOURCE = re.compile(r"^[\w.\-]{1,64}$")


def header_reason(header: str) -> str | None:
    """Why a column must be dropped, judging by its header ('email', 'name', ...), or None."""
    norm = normalize(header)
    if norm in _PII_PHRASES:
        return _PII_PHRASES[norm]
    words = set(norm.split())
    for reason, vocabulary in _PII_WORDS.items():
        if words & vocabulary:
            return reason
    return None


def value_reason(value: str) -> str | None:
    """Why a cell looks like personal data ('email', 'phone', 'address'), or None."""
    value = value.strip()
    if not value:
        return None
    if _EMAIL.search(value):
        return "email"
    if _PHONE_CHARS.match(value) and 10 <= sum(c.isdigit() for c in value) <= 15 and not value.isdigit():
        return "phone"
    if value.startswith("+") and _PHONE_CHARS.match(value):
        return "phone"
    if _POSTAL_CA.search(value) or _STREET.match(value):
        return "address"
    return None


# ---------------------------------------------------------------------------------------------
# Values

_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007']+")
_GROUPED = re.compile(r"^\d{1,3}([.,])\d{3}(\1\d{3})*$")
_ZERO_FRACTION = re.compile(r"^(\d+)[.,]0+$")


def parse_count(text: str) -> int:
    """'1 234', '1\u202f234', '1.234', '1,234', '12,0' -> an integer; '1,5' or '-3' -> ValueError.

    Counts are whole numbers, so a '.' or ',' followed by exactly three digits (repeatedly) can
    only be a thousands separator, and one followed by zeros only a spreadsheet's '.0'.
    """
    value = _SPACES.sub("", text.strip())
    if not value:
        raise ValueError("empty")
    if _GROUPED.match(value):
        value = value.replace(".", "").replace(",", "")
    elif match := _ZERO_FRACTION.match(value):
        value = match.group(1)
    if not value.isascii() or not value.isdigit():
        raise ValueError("not a whole number")
    number = int(value)
    if number > MAX_COUNT:
        raise ValueError("too large")
    return number


_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_FRENCH = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?: .*)?$")


def parse_day(text: str) -> dt.date:
    """ISO (2025-12-06, also with a time after it) or French day first (06/12/2025, 6-12-2025).
    Month-first American dates are never guessed."""
    value = text.strip()
    if match := _ISO.match(value):
        year, month, day = (int(g) for g in match.groups())
    elif match := _FRENCH.match(value):
        day, month, year = (int(g) for g in match.groups())
    else:
        raise ValueError("not a date")
    if not 2000 <= year <= 2100:
        raise ValueError("year out of range")
    return dt.date(year, month, day)
