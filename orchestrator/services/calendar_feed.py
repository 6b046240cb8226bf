"""The schedule as a calendar feed: a secret address per edition that calendar apps (Outlook,
Google Agenda, Apple Calendar) subscribe to and poll, served by the short-link service
(``orchestrator/calendar_routes.py``, mounted in ``orchestrator/links.py``).

Like the marathon counter's link (services/counter.py), the address carries a random token and
the database keeps its SHA-256 for the lookup, so a copy of the lookup column opens nothing. The
token is also kept encrypted with the credentials' key, only so that the calendar page can show
the address again to staff who did not copy it the first time. An editor makes a new address
(which revokes the previous one) or revokes it; each is audited, never with the token.

A feed is the schedule from a week ago onwards (what a calendar is for); the whole edition is
the file built on request from the calendar and exports pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets as pysecrets

from sqlmodel import Session, col, select

from orchestrator import secrets
from orchestrator.models import CalendarFeed, Campaign
from orchestrator.services.auth import Actor, NotFound, audit, require
from orchestrator.timeutil import utcnow

#: How far back a feed goes: calendars are read for what is coming, and a feed of a whole busy
#: edition (100,000 deliveries) would take seconds to build at every poll.
FEED_DAYS_BACK = 7
PATH_PREFIX = "/calendar/"
TOKEN_MAX = 128


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def path(token: str, language: str = "fr") -> str:
    """The feed's path on the short-link service."""
    return f"{PATH_PREFIX}{token}.ics" + ("?lang=en" if language == "en" else "")


def url(base_url: str, token: str, language: str = "fr") -> str:
    return base_url.rstrip("/") + path(token, language)


def active(session: Session, *, campaign_id: int) -> CalendarFeed | None:
    return session.exec(select(CalendarFeed).where(CalendarFeed.campaign_id == campaign_id,
                                                   col(CalendarFeed.revoked_at).is_(None))).first()


def shown_token(feed: CalendarFeed) -> str | None:
    """The token, to show the address again; None when it cannot be read back (the key it was
    encrypted with is gone): the feed still works, but a new address must be made to see one."""
    try:
        return secrets.decrypt(feed.token_encrypted).get("token")
    except secrets.SecretKeyError:
        return None


def _revoke(session: Session, campaign_id: int) -> int:
    count = 0
    for feed in session.exec(select(CalendarFeed).where(CalendarFeed.campaign_id == campaign_id,
                                                        col(CalendarFeed.revoked_at).is_(None))):
        feed.revoked_at = utcnow()
        session.add(feed)
        count += 1
    session.flush()
    return count


def create(session: Session, *, actor: Actor, campaign_id: int) -> str:
    """A new secret address for the edition's feed; the previous one stops working at once.
    Returns the token."""
    require(actor, "editor", "créer l'adresse du calendrier", "make the calendar address")
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Édition {campaign_id} introuvable.", f"Edition {campaign_id} not found.")
    replaced = _revoke(session, campaign_id)
    token = pysecrets.token_urlsafe(24)
    session.add(CalendarFeed(campaign_id=campaign_id, token_hash=_hash(token),
                             token_encrypted=secrets.encrypt({"token": token}),
                             created_by=actor.username, created_at=utcnow()))
    session.flush()
    audit(session, actor=actor, action="calendar_feed_create", target_type="campaign", target_id=campaign.slug,
          replaced=replaced)  # never the token
    return token


def revoke(session: Session, *, actor: Actor, campaign_id: int) -> int:
    require(actor, "editor", "retirer l'adresse du calendrier", "revoke the calendar address")
    count = _revoke(session, campaign_id)
    audit(session, actor=actor, action="calendar_feed_revoke", target_type="campaign", target_id=campaign_id)
    return count


def by_token(session: Session, *, token: str) -> Campaign | None:
    """The edition a token opens, or None (unknown, revoked or malformed)."""
    if not token or len(token) > TOKEN_MAX:
        return None
    feed = session.exec(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token),
                                                   col(CalendarFeed.revoked_at).is_(None))).first()
    return session.get(Campaign, feed.campaign_id) if feed is not None else None


def feed_ics(session: Session, *, campaign: Campaign, language: str = "fr", now: dt.datetime | None = None) -> str:
    """What the feed serves: the schedule from FEED_DAYS_BACK days ago onwards."""
    from orchestrator.services.exports import schedule_ics

    since = (now or utcnow()) - dt.timedelta(days=FEED_DAYS_BACK)
    return schedule_ics(session, campaign=campaign, language=language, start=since)
