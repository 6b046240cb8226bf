"""The schedule as a calendar (ICS). Deliveries as CSV/JSON: ``plan_io.export_deliveries``."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from orchestrator import states
from orchestrator.models import Account, Campaign, Case, Delivery, Post
from orchestrator.timeutil import UTC, utcnow

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
    """Lines longer than 75 octets are folded (RFC 5545 §3.1), never inside a UTF-8 sequence.
    Cut on the encoded bytes: a character-by-character walk cost seconds for a busy edition."""
    data = line.encode()
    if len(data) <= 75:
        return [line]
    parts: list[str] = []
    start, limit = 0, 75  # continuation lines start with a space, so they carry 74
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # inside a multi-byte character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74
    return [parts[0]] + [" " + part for part in parts[1:]]


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
    """The schedule as an iCalendar file: one 15-minute event per delivery, titled with the
    state staff see (delivery_views.shown_state: a pending post's delivery is not "scheduled"),
    case and account. UIDs are the source codes, so calendar apps update instead of duplicating.

    Read as plain columns (no ORM objects) and cases by id: a busy edition's 100,000 rows."""
    from orchestrator.services.delivery_views import shown_state

    d, p, a = (m.__table__.c for m in (Delivery, Post, Account))  # type: ignore[attr-defined,union-attr]
    query = (
        sa.select(d.source_code, d.scheduled_at, d.state, d.rendered_text, d.platform_url, p.text, p.status,
                  p.case_id, a.name, a.kind)
        .select_from(Delivery.__table__.join(Post.__table__, p.id == d.post_id)  # type: ignore[attr-defined]
                     .join(Account.__table__, a.id == d.account_id))  # type: ignore[attr-defined]
        .where(p.campaign_id == campaign.id)
        .order_by(d.scheduled_at, d.id)
    )
    if not include_final:
        query = query.where(d.state.not_in((states.CANCELLED,)))
    if start is not None:
        query = query.where(d.scheduled_at >= start)
    if end is not None:
        query = query.where(d.scheduled_at < end)
    cases = {c.id: c.label(language) for c in session.exec(select(Case).where(Case.campaign_id == campaign.id))}
    name = campaign.name.get(language) or campaign.slug
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Porte-voix//Calendrier//FR", "CALSCALE:GREGORIAN",
             f"X-WR-CALNAME:{_ics_escape(name)}", f"X-WR-TIMEZONE:{campaign.timezone}"]
    now = _stamp(utcnow())
    labels: dict[tuple[str, str], str] = {}
    for code, at, state, rendered_text, platform_url, text, status, case_id, account, kind in session.execute(query):
        if (state, status) not in labels:
            labels[(state, status)] = shown_state(state, status).label.get(language) or state
        when = at if at.tzinfo else at.replace(tzinfo=UTC)  # Core reads skip the column type on some drivers
        summary = f"[{labels[(state, status)]}] {cases.get(case_id, '')} · {account}".replace("]  · ", "] ")
        lines += [
            "BEGIN:VEVENT",
            f"UID:{code}@porte-voix",
            f"DTSTAMP:{now}",
            f"DTSTART:{_stamp(when)}",
            f"DTEND:{_stamp(when + dt.timedelta(minutes=15))}",
            f"SUMMARY:{_ics_escape(summary)}",
            f"DESCRIPTION:{_ics_escape(rendered_text or text)}",
            f"CATEGORIES:{_ics_escape(kind)}",
        ]
        if platform_url:
            # a URI, not text (no escaping), but never a line break: it would start a property
            lines.append("URL:" + platform_url.replace("\r", "").replace("\n", ""))
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return "\r\n".join(folded for line in lines for folded in _fold(line)) + "\r\n"
