"""Aware datetimes only: stored in UTC, shown in the campaign's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

UTC = dt.UTC


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone reached a boundary that needs one."""

    def __init__(self, value: object) -> None:
        super().__init__(
            f"Date sans fuseau horaire refusée : {value!r}. Indiquez le décalage, par exemple "
            "2025-12-06T12:00-05:00. (A datetime without a time zone was refused: give an offset.)"
        )


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def require_aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(value)
    return value.astimezone(UTC)


def parse_when(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """ISO-8601 with an offset, or ``now``. Returns UTC."""
    text = text.strip()
    if text.lower() in {"now", "maintenant"}:
        return now or utcnow()
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"Date illisible : « {text} ». Format attendu : 2025-12-06T12:00-05:00, ou « now »."
        ) from None
    return require_aware(value)


def local(value: dt.datetime, tz: str) -> dt.datetime:
    return require_aware(value).astimezone(ZoneInfo(tz))


def at_local(day: dt.date, time: dt.time, tz: str) -> dt.datetime:
    """The instant a wall-clock time happens on a day in a zone (DST-correct), in UTC."""
    return dt.datetime.combine(day, time, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def isoformat(value: dt.datetime | None) -> str | None:
    return None if value is None else require_aware(value).isoformat()
