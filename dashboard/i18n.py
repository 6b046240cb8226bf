"""Every string the dashboard shows, in French (the default) and English, and the formatting of
dates and numbers for the chosen locale, in the campaign's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    get_timezone_name,
)
from babel.numbers import format_currency, format_decimal, format_percent

from dashboard.strings import STRINGS

LANGUAGES = ("fr", "en")
LOCALES = {"fr": "fr_CA", "en": "en_CA"}
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def lang() -> str:
    import streamlit as st

    value = st.session_state.get("lang", "fr")
    return value if value in LANGUAGES else "fr"


def t(key: str, /, **values: object) -> str:
    """The text for ``key``; a missing English text falls back to French, a missing key shows
    itself (and tests/dashboard/test_i18n.py fails)."""
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(lang()) or entry["fr"]
    return text.format(**values) if values else text


def locale() -> str:
    return LOCALES[lang()]


def fmt_datetime(value: dt.datetime | None, tz: str, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    return format_datetime(value, format=fmt, tzinfo=ZoneInfo(tz), locale=locale())


def fmt_time(value: dt.datetime | None, tz: str) -> str:
    if value is None:
        return "—"
    return format_time(value.astimezone(ZoneInfo(tz)), format="short", locale=locale())


def zone_name(tz: str) -> str:
    """A time zone as people call it (« heure de l’Est » / "Eastern Time"), not its database
    name ("America/Toronto"); an unknown name is shown as it is."""
    try:
        return get_timezone_name(tz, locale=locale())
    except LookupError:
        return tz


def fmt_date(value: dt.date | None, fmt: str = "long") -> str:
    if value is None:
        return "—"
    return format_date(value, format=fmt, locale=locale())


def fmt_day(value: dt.date | None, weekday: bool = False) -> str:
    """A short day in the language's own order: « 10 déc. », "Dec 10" (« jeu. 10 déc. »,
    "Thu, Dec 10" with ``weekday``)."""
    if value is None:
        return "—"
    return format_skeleton("MMMEd" if weekday else "MMMd", value, locale=locale())


def fmt_number(value: float | int | None) -> str:
    if value is None:
        return "—"
    return format_decimal(value, locale=locale())


def fmt_percent(value: float) -> str:
    return format_percent(value, locale=locale())


def fmt_usd(value: float) -> str:
    """An amount in US dollars as the reader writes it: « 0,12 $ US », "US$0.12"."""
    return format_currency(value, "USD", locale=locale())


def fmt_usd_exact(value: float) -> str:
    """An amount in US dollars with all its decimals (a price per call: « 0,015 $ US »)."""
    return format_currency(value, "USD", locale=locale(), decimal_quantization=False)
