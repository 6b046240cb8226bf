"""Sensitive dates: days of an edition on which a post needs a second thought, such as 6 December
in Canada, the National Day of Remembrance and Action on Violence against Women (in 2025 also
the marathon's day). Posts scheduled on one, in the edition's time zone, show a warning to the
approver (Approvals), and in Compose and the queue. A warning, never a refusal: a post about the
day itself is welcome; a cheerful one is not.

Stored on the campaign as ``[{"date": "2026-12-06", "label": {"fr": ..., "en": ...}}]``, edited
by admins on the editions page, and written to and read from the edition's ``campaign.yaml``
(``sensitive_dates``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Campaign, Delivery, Post
from orchestrator.services.auth import ServiceError

#: (fr, en)
Said = tuple[str, str]


def _label(item: dict[str, Any], language: str) -> str:
    label = item.get("label") or {}
    return str(label.get(language) or label.get("fr") or "")


def on_day(campaign: Campaign, day: dt.date) -> list[dict[str, Any]]:
    return [d for d in campaign.sensitive_dates or [] if str(d.get("date")) == day.isoformat()]


def at(campaign: Campaign, when: dt.datetime) -> list[dict[str, Any]]:
    """The sensitive dates ``when`` falls on, in the edition's time zone."""
    return on_day(campaign, when.astimezone(ZoneInfo(campaign.timezone)).date())


def warning(campaign: Campaign, when: dt.datetime | None) -> Said | None:
    """What to tell whoever schedules or approves a post at ``when`` (None: an ordinary day)."""
    if when is None:
        return None
    found = at(campaign, when)
    if not found:
        return None
    from babel.dates import format_date

    day = when.astimezone(ZoneInfo(campaign.timezone)).date()
    fr_day, en_day = format_date(day, "d MMMM y", locale="fr_CA"), format_date(day, "MMMM d, y", locale="en_CA")
    fr = " ; ".join(_label(d, "fr") for d in found)
    en = "; ".join(_label(d, "en") for d in found)
    return (f"Programmée le {fr_day}, date sensible ({fr}) : relisez le ton de la publication avant de l'approuver.",
            f"Scheduled on {en_day}, a sensitive date ({en}): check the post's tone before approving it.")


def warnings_of_post(session: Session, post: Post, campaign: Campaign | None = None) -> list[Said]:
    """One warning per sensitive day on which a live delivery of ``post`` is scheduled."""
    campaign = campaign or session.get(Campaign, post.campaign_id)
    if campaign is None or not campaign.sensitive_dates:
        return []
    times = session.exec(select(Delivery.scheduled_at).where(
        Delivery.post_id == post.id, col(Delivery.state).not_in((states.CANCELLED,))))
    return warnings_at(campaign, times)


def warnings_at(campaign: Campaign, times: Iterable[dt.datetime]) -> list[Said]:
    out: dict[dt.date, Said] = {}
    zone = ZoneInfo(campaign.timezone)
    for when in times:
        day = when.astimezone(zone).date()
        if day not in out and (said := warning(campaign, when)) is not None:
            out[day] = said
    return [out[day] for day in sorted(out)]


def as_text(campaign: Campaign) -> str:
    """The dates as the editions page's box shows them: ``YYYY-MM-DD | libellé | label``."""
    return "\n".join(f"{d['date']} | {_label(d, 'fr')} | {_label(d, 'en')}" for d in campaign.sensitive_dates or [])


def parse(text: str) -> list[dict[str, Any]]:
    """``YYYY-MM-DD | libellé | label`` per line; the dates themselves are checked with the rest."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3:
            raise ServiceError(f"Date sensible, ligne {number} : il faut « AAAA-MM-JJ | libellé | label ».",
                               f"Sensitive date, line {number}: expected 'YYYY-MM-DD | libellé | label'.")
        found.append({"date": parts[0], "label": {"fr": parts[1], "en": parts[2]}})
    return found


def moved_years(dates: Iterable[dict[str, Any]], years: int) -> list[dict[str, Any]]:
    """The same days ``years`` later (a copied edition): 29 February becomes the 28th."""
    out = []
    for item in dates or []:
        day = dt.date.fromisoformat(str(item["date"]))
        try:
            moved = day.replace(year=day.year + years)
        except ValueError:
            moved = day.replace(year=day.year + years, day=28)
        out.append({"date": moved.isoformat(), "label": dict(item.get("label") or {})})
    return out
