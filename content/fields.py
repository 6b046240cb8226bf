"""Value types shared by the content models, each with a bilingual validation message.

A custom error carries ``fr``/``en`` in its context (see ``problem``) so the loader can show staff
French first; pydantic's own errors are translated in ``content.messages``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HASHTAG = re.compile(r"^#\w+$")
HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9-]+(?:\.[a-z0-9-]+)+$")
PARAM_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
# Canadian postal codes: solidarity addresses must point to an office or a case page, never to a
# street address (people featured can be targeted; see reference §4.3, point 4).
POSTAL_CODE = re.compile(r"\b[A-Za-z]\d[A-Za-z][ -]?\d[A-Za-z]\d\b")
# Territory codes babel knows that are not countries.
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO"})


def problem(fr: str, en: str) -> PydanticCustomError:
    """A validation error with both wordings (the loader reads ``ctx['fr']``/``ctx['en']``)."""
    return PydanticCustomError("porte_voix", "{en}", {"fr": fr, "en": en})


# ---------------------------------------------------------------------------------------------
# Small value types


def _check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise problem(
            f"identifiant invalide « {value} » : lettres minuscules sans accents, chiffres et "
            "traits d'union seulement (ex. : juan-lopez)",
            f"invalid identifier '{value}': lowercase letters without accents, digits and "
            "hyphens only (e.g. juan-lopez)",
        )
    return value


def _parse_date(value: Any) -> Any:
    # YAML timestamps are read as text on purpose (see yamlio); we accept only ISO dates so that
    # "06/12/2025" (day first? month first?) can never be misread.
    if isinstance(value, dt.datetime):
        raise problem(
            "date invalide : attendu AAAA-MM-JJ, sans heure",
            "invalid date: expected YYYY-MM-DD, without a time",
        )
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise problem(
        f"date invalide : attendu AAAA-MM-JJ (reçu « {value} »)",
        f"invalid date: expected YYYY-MM-DD (got '{value}')",
    )


def _check_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+\.[^\s/]+(?:/\S*)?$", value):
        raise problem(
            f"adresse web invalide « {value} » : elle doit commencer par https:// et ne contenir "
            "aucune espace",
            f"invalid web address '{value}': it must start with https:// and contain no spaces",
        )
    return value


def _check_hashtag(value: str) -> str:
    if not _HASHTAG.match(value):
        raise problem(
            f"mot-clic invalide « {value} » : un # suivi de lettres ou de chiffres, sans espace",
            f"invalid hashtag '{value}': a # followed by letters or digits, no spaces",
        )
    return value


@functools.cache
def _known_countries() -> frozenset[str] | None:
    try:  # babel ships the CLDR territory list offline; without it, check the shape only
        from babel import Locale
    except ImportError:  # pragma: no cover - babel is a declared dependency
        return None
    codes = (str(k) for k in Locale("en").territories)
    return frozenset(k for k in codes if len(k) == 2 and k.isalpha())


def _check_country_code(value: str) -> str:
    code = value.strip().upper()
    known = _known_countries()
    if (
        not re.match(r"^[A-Z]{2}$", code)
        or (known is not None and code not in known)
        or code in _NOT_COUNTRIES
    ):
        raise problem(
            f"code de pays inconnu « {value} » : attendu un code ISO 3166 à deux lettres (ex. : MG, HN)",
            f"unknown country code '{value}': expected a two-letter ISO 3166 code (e.g. MG, HN)",
        )
    return code


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise problem(
            f"fuseau horaire inconnu « {value} » : attendu un nom comme America/Toronto",
            f"unknown time zone '{value}': expected a name such as America/Toronto",
        ) from None
    return value


NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Slug = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_slug)]
IsoDate = Annotated[dt.date, BeforeValidator(_parse_date)]
Url = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_url)]
Hashtag = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_hashtag)]
CountryCode = Annotated[str, AfterValidator(_check_country_code)]
TimeZoneName = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_check_timezone)
]
PositiveInt = Annotated[
    int, Field(gt=0, strict=True)
]  # strict: "12 000" or 12.5 is a typo, not a number
