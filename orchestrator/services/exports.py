"""The schedule as a calendar (ICS). Deliveries as CSV/JSON: ``plan_io.export_deliveries``."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Account, Campaign, Case, Delivery, Post
from orchestrator.timeutil import UTC, utcnow


def _local(value: dt.datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="minutes") if value else ""


# ---------------------------------------------------------------------------------------------
# iCalendar (RFC 5545)


def _ics_escape(text: str) -> str:
    """A TEXT value (RFC 5545 §3.3.11). Every line break (CRLF, LF and a bare CR, which a calendar
    reads as the end of the line and so as a new property) becomes ``\\n``; other control
    characters, which a TEXT value may not hold, are dropped."""
    escaped = (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
               .replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n"))
    return "".join(c for c in escaped if c == "\t" or not (ord(c) < 32 or ord(c) == 127))


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets are folded (RFC 5545 §3.1), never inside a UTF-8 sequence."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74  # continuation lines start with a space
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return [out[0]] + [" " + part for part in out[1:]]


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def schedule_ics(
    session: Session,
    *,
    campaign: Campaign,
    language: str = "fr",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    include_final: bool = False,
) -> str:
    """The schedule as an iCalendar feed: one 15-minute event per delivery, titled with its state,
    case and account. UIDs are the source codes, so calendar apps update instead of duplicating."""
    from orchestrator.states import LABELS

    query = (
        select(Delivery, Post, Account, Case)
        .join(Post, col(Post.id) == Delivery.post_id)
        .join(Account, col(Account.id) == Delivery.account_id)
        .outerjoin(Case, col(Case.id) == Post.case_id)
        .where(Post.campaign_id == campaign.id)
        .order_by(col(Delivery.scheduled_at))
    )
    if not include_final:
        query = query.where(col(Delivery.state).not_in((states.CANCELLED,)))
    if start is not None:
        query = query.where(Delivery.scheduled_at >= start)
    if end is not None:
        query = query.where(Delivery.scheduled_at < end)
    name = campaign.name.get(language) or campaign.slug
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Porte-voix//Calendrier//FR", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{_ics_escape(name)}", f"X-WR-TIMEZONE:{campaign.timezone}"]
    now = _stamp(utcnow())
    for d, p, a, c in session.exec(query):
        who = c.label(language) if c else ""
        summary = f"[{LABELS[d.state][language]}] {who} · {a.name}".strip()
        lines += [
            "BEGIN:VEVENT",
            f"UID:{d.source_code}@porte-voix",
            f"DTSTAMP:{now}",
            f"DTSTART:{_stamp(d.scheduled_at)}",
            f"DTEND:{_stamp(d.scheduled_at + dt.timedelta(minutes=15))}",
            f"SUMMARY:{_ics_escape(summary)}",
            f"DESCRIPTION:{_ics_escape(d.rendered_text or p.text)}",
            f"CATEGORIES:{_ics_escape(a.kind)}",
        ]
        if d.platform_url:
            lines.append(f"URL:{d.platform_url}")
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"
