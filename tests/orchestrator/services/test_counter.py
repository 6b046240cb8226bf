"""The marathon counter: today's letters and cards per case and in total against the day's
goal, and the secret link (only its hash is stored; unpublishing revokes it)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign, Case, CounterLink, Response
from orchestrator.services import counter
from orchestrator.services.auth import PermissionDenied, ServiceError
from tests.orchestrator.services.helpers import ADMIN, EDITOR

TODAY = dt.date(2025, 12, 6)


def _campaign(s) -> Campaign:
    return s.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()


def _count(s, slug: str, kind: str, n: int, day: dt.date = TODAY) -> None:
    case = s.exec(select(Case).where(Case.slug == slug)).one()
    s.add(Response(case_id=case.id, kind=kind, count=n, day=day, source_type="event", source="marathon-montreal"))


def test_today_per_case_and_in_total_against_the_day_goal(engine):
    with db.session_scope(engine) as s:
        _count(s, "juan-lopez", "letter", 120)
        _count(s, "juan-lopez", "solidarity", 30)
        _count(s, "juan-lopez", "signature", 999)  # not a letter or a card
        _count(s, "sonia-dahmani", "postcard", 45)
        _count(s, "sonia-dahmani", "letter", 500, day=TODAY - dt.timedelta(days=1))  # yesterday
    with db.session_scope(engine) as s:
        data = counter.counter_data(s, campaign=_campaign(s), day_goal=4000, today=TODAY)
        by = {c.slug: c for c in data.cases}
        assert (by["juan-lopez"].today, by["sonia-dahmani"].today, data.today) == (150, 45, 195)
        assert data.campaign_total == 695 and data.day_goal == 4000 and len(data.cases) == 8
        goals = sum(c.goal for c in s.exec(select(Case)))
        juan = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        assert by["juan-lopez"].goal == round(4000 * juan.goal / goals)
        assert abs(sum(c.goal for c in data.cases) - 4000) <= len(data.cases)


def test_publishing_stores_only_the_hash_and_unpublishing_revokes(engine):
    with db.session_scope(engine) as s:
        with pytest.raises(PermissionDenied):
            counter.publish(s, actor=EDITOR, campaign_id=_campaign(s).id)
        with pytest.raises(ServiceError):
            counter.publish(s, actor=ADMIN, campaign_id=_campaign(s).id, day_goal=-5)
        token = counter.publish(s, actor=ADMIN, campaign_id=_campaign(s).id, day_goal=4000)
    assert len(token) >= 32
    with engine.connect() as conn:  # the token appears nowhere in the database
        for table in ("counter_link", "audit_entry"):
            dump = " ".join(str(row) for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
            assert token not in dump
    with db.session_scope(engine) as s:
        campaign, link = counter.by_token(s, token=token)
        assert campaign.slug == "ecrire-2025" and link.day_goal == 4000
        assert counter.by_token(s, token=token + "x") is None and counter.by_token(s, token="") is None
        second = counter.publish(s, actor=ADMIN, campaign_id=campaign.id)
        assert counter.by_token(s, token=token) is None and counter.by_token(s, token=second) is not None
        counter.set_day_goal(s, actor=ADMIN, campaign_id=campaign.id, day_goal=5000)
        assert counter.active_link(s, campaign_id=campaign.id).day_goal == 5000
        assert counter.unpublish(s, actor=ADMIN, campaign_id=campaign.id) == 1
    with db.session_scope(engine) as s:
        assert counter.by_token(s, token=second) is None
        assert all(link.revoked_at is not None for link in s.exec(select(CounterLink)))
        with pytest.raises(ServiceError, match="pas publié"):
            counter.set_day_goal(s, actor=ADMIN, campaign_id=_campaign(s).id, day_goal=1)
