"""Tallies entered by hand, goals and pace, and the funnel from views to actions."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import AuditEntry, Campaign, Response
from orchestrator.services.auth import Actor, NotFound, PermissionDenied, ServiceError
from orchestrator.services.campaigns import current_campaign
from orchestrator.services.responses import (
    add_clicks,
    delete_tally,
    funnel_by_case,
    funnel_by_channel,
    pace,
    project,
    record_tally,
    top_posts,
)
from tests.orchestrator.helpers import published

EDITH = Actor("edith", "editor")
MARATHON = dt.date(2025, 12, 6)


def tally(engine: sa.Engine, **kwargs) -> Response:
    values = {"actor": EDITH, "case_slug": "juan-lopez", "kind": "postcard", "count": 10, "day": MARATHON} | kwargs
    with db.session_scope(engine) as s:
        return record_tally(s, **values)


def test_a_tally_records_who_entered_it(engine: sa.Engine) -> None:
    row = tally(engine, count=312, event="marathon-montreal")
    assert (row.source_type, row.source, row.entered_by, row.count) == ("event", "marathon-montreal", "edith", 312)
    tally(engine, count=8)
    with db.session_scope(engine) as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "tally")).all()
        assert [(e.actor, e.detail["count"]) for e in entries] == [("edith", 312), ("edith", 8)]
        overall, _ = pace(s, today=MARATHON)
    assert overall.total == 320  # two volunteers' tallies add up


WRONG_TALLIES = [
    ({"count": 0}, "entre 1 et"), ({"count": -4}, "entre 1 et"), ({"count": 2_000_000}, "entre 1 et"),
    ({"count": True}, "entre 1 et"), ({"kind": "bisous"}, "Type inconnu"), ({"case_slug": "personne"}, "Cas inconnu"),
    ({"event": "fete"}, "Événement inconnu"), ({"day": dt.date(2999, 1, 1)}, "futur"),
]


def test_a_wrong_tally_is_refused_and_saves_nothing(engine: sa.Engine) -> None:
    for change, message in WRONG_TALLIES:
        with pytest.raises(ServiceError, match=message):
            tally(engine, **change)
    with db.session_scope(engine) as s:
        assert s.exec(select(Response)).all() == []
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "tally")).all() == []


def test_a_viewer_may_not_tally(engine: sa.Engine) -> None:
    with pytest.raises(PermissionDenied):
        tally(engine, actor=Actor("victor", "viewer"))


def test_a_mistyped_tally_can_be_deleted_with_a_trace(engine: sa.Engine) -> None:
    row = tally(engine, count=3000)
    with db.session_scope(engine) as s:
        delete_tally(s, actor=EDITH, response_id=row.id)
    with db.session_scope(engine) as s:
        assert s.exec(select(Response)).all() == []
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "tally_delete")).one().detail["count"] == 3000
        with pytest.raises(NotFound):
            delete_tally(s, actor=EDITH, response_id=row.id)


@pytest.mark.parametrize("total, today, expected", [
    (100, dt.date(2025, 11, 3), 9000),      # first day of 90: the day counts as one
    (4500, dt.date(2025, 12, 17), 9000),    # 45 days in, half way at the right pace
    (9000, dt.date(2026, 1, 31), 9000),     # last day: what we have
    (9000, dt.date(2026, 3, 1), 9000),      # after the end
    (50, dt.date(2025, 10, 1), 50),         # before the start
])
def test_projection_is_linear_over_the_days_elapsed(total: int, today: dt.date, expected: int) -> None:
    assert project(total, starts_on=dt.date(2025, 11, 3), ends_on=dt.date(2026, 1, 31), today=today) == expected


def test_pace_shows_which_cases_are_behind(engine: sa.Engine) -> None:
    today = dt.date(2025, 12, 17)  # day 45 of the 90-day 2025 campaign
    tally(engine, case_slug="juan-lopez", count=6000, day=MARATHON)     # on track for 12,000
    tally(engine, case_slug="damisoa", count=1000, day=MARATHON)        # far behind
    with db.session_scope(engine) as s:
        overall, cases = pace(s, today=today)
    by_slug = {p.slug: p for p in cases}
    assert by_slug["juan-lopez"].projected == 12000 and not by_slug["juan-lopez"].behind
    assert by_slug["juan-lopez"].progress == pytest.approx(0.5)
    assert by_slug["damisoa"].projected == 2000 and by_slug["damisoa"].behind
    assert by_slug["sonia-dahmani"].total == 0 and by_slug["sonia-dahmani"].behind
    assert (overall.total, overall.goal, overall.projected, overall.behind) == (7000, 100000, 14000, True)


def test_the_funnel_goes_from_views_to_actions(engine: sa.Engine) -> None:
    strong = published(engine, kind="x", views=1000, likes=40, shares=10, replies=5)
    weak = published(engine, kind="x", views=300, likes=3)
    other = published(engine, kind="mastodon", case="sonia-dahmani", views=200, likes=20, shares=2, replies=1)
    hour = dt.datetime(2025, 12, 6, 14, tzinfo=dt.UTC)
    with engine.begin() as conn:
        add_clicks(conn, {(strong.source_code, hour): 80, (strong.source_code, hour + dt.timedelta(hours=1)): 20,
                          (weak.source_code, hour): 7, (other.source_code, hour): 30})
    with db.session_scope(engine) as s:
        for code, n in ((strong.source_code, 25), (strong.source_code, 5), (weak.source_code, 1), (other.source_code, 9)):
            s.add(Response(case_id=_case_id(s, strong if code != other.source_code else other), kind="signature",
                           count=n, day=MARATHON, source_type="delivery", source=code))
        s.add(Response(case_id=_case_id(s, other), kind="letter", count=4, day=MARATHON, source_type="channel", source="mastodon"))
        s.add(Response(case_id=_case_id(s, strong), kind="postcard", count=100, day=MARATHON, source_type="event",
                       source="marathon-montreal"))
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        cases = {row["case"]: row for row in funnel_by_case(s, campaign=campaign)}
        channels = {row["channel"]: row for row in funnel_by_channel(s, campaign=campaign)}
        best = top_posts(s, campaign=campaign, limit=2)
        only_sonia = top_posts(s, campaign=campaign, case_slug="sonia-dahmani")
    assert cases["juan-lopez"] == {"case": "juan-lopez", "posts": 2, "views": 1300, "engagement": 58, "clicks": 107,
                                   "actions": 31, "all_actions": 131}
    assert cases["sonia-dahmani"]["actions"] == 9 and cases["sonia-dahmani"]["all_actions"] == 13
    assert cases["damisoa"]["posts"] == 0 and cases["damisoa"]["actions"] == 0
    assert channels["x"] == {"channel": "x", "posts": 2, "views": 1300, "engagement": 58, "clicks": 107, "actions": 31,
                             "channel_actions": 0, "all_actions": 31}
    # Credited to a post and credited to the channel as a whole are told apart, then added up.
    assert (channels["mastodon"]["actions"], channels["mastodon"]["channel_actions"]) == (9, 4)
    assert channels["mastodon"]["all_actions"] == 13 and channels["mastodon"]["clicks"] == 30
    assert [(p["code"], p["actions"], p["case"]) for p in best] == [(strong.source_code, 30, "juan-lopez"),
                                                                     (other.source_code, 9, "sonia-dahmani")]
    assert [p["code"] for p in only_sonia] == [other.source_code]


def _case_id(session, delivery) -> int:
    from orchestrator.models import Post

    post = session.get(Post, delivery.post_id)
    return post.case_id


def test_figures_stay_within_their_campaign(engine: sa.Engine) -> None:
    tally(engine, count=5)
    with db.session_scope(engine) as s:
        other = Campaign(slug="ecrire-2030", name={"fr": "Autre"}, goal=10)
        s.add(other)
        s.flush()
        overall, cases = pace(s, campaign=other, today=MARATHON)
    assert overall.total == 0 and cases == []
