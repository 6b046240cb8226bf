"""The states shown, the per-delivery figures, the calendar's days and an edition's results, read
in SQL on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from orchestrator import db, states
from orchestrator.models import Delivery, LinkClickHour, MetricSnapshot
from orchestrator.services import (
    calendar_feed,
    campaign_results,
    deliveries,
    delivery_views,
    exports,
    posts,
    reports,
)
from orchestrator.services.auth import SYSTEM
from orchestrator.services.campaigns import current_campaign, get_case
from tests.factories import add_account

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _post(s, *, status: str, text: str = "Écrivez pour Juan !") -> int:
    post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text=text, submit=status != "draft")
    post.author = "someone"
    s.flush()
    if status == "approved":
        posts.approve_post(s, actor=SYSTEM, post_id=post.id)
    return post.id  # type: ignore[return-value]


def _fill(engine: sa.Engine) -> dict[str, int]:
    name = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    made = {}
    with db.session_scope(engine) as s:
        for status in ("approved", "pending", "draft", "rejected"):
            post_id = _post(s, status="pending" if status == "rejected" else status)
            d = deliveries.schedule(s, actor=SYSTEM, post_id=post_id, account_name=name, at=NOW + dt.timedelta(hours=2))
            made[status] = d.id  # type: ignore[assignment]
            if status == "rejected":  # scheduled while pending, then rejected
                posts.reject_post(s, actor=SYSTEM, post_id=post_id, comment="Non.")
        published = deliveries.schedule(s, actor=SYSTEM, post_id=_post(s, status="approved"), account_name=name,
                                        at=NOW - dt.timedelta(hours=3))
        published.state, published.published_at = states.PUBLISHED, NOW - dt.timedelta(hours=3)
        published.views, published.likes, published.shares, published.replies = 100, 7, 2, 1
        s.add(published)
        s.flush()
        made["published"] = published.id  # type: ignore[assignment]
        s.add(MetricSnapshot(delivery_id=published.id, taken_at=NOW - dt.timedelta(hours=2), views=40, likes=3))  # type: ignore[arg-type]
        s.add(LinkClickHour(source_code=published.source_code, hour=NOW.replace(minute=0, second=0) - dt.timedelta(hours=2),
                            count=4))
    return made


def test_states_shown_counted_and_filtered_in_sql(engine: sa.Engine) -> None:
    made = _fill(engine)
    with db.session_scope(engine) as s:
        cid = current_campaign(s).id
        counts = reports.state_counts(s, campaign_id=cid)  # type: ignore[arg-type]
        assert counts == {"scheduled": 1, "awaiting_approval": 1, "draft": 1, "rejected": 1, "published": 1}
        for key, expected in (("scheduled", made["approved"]), ("awaiting_approval", made["pending"]),
                              ("draft", made["draft"]), ("rejected", made["rejected"])):
            rows = reports.list_deliveries(s, campaign_id=cid, shown_in=[key])  # type: ignore[arg-type]
            assert [r["id"] for r in rows] == [expected] and rows[0]["shown"] == key
        assert reports.count_deliveries(s, campaign_id=cid, shown_in=["scheduled", "published"]) == 2  # type: ignore[arg-type]


def test_a_delivery_s_figures_and_a_case_s_published_deliveries(engine: sa.Engine) -> None:
    made = _fill(engine)
    with db.session_scope(engine) as s:
        figures = delivery_views.delivery_figures(s, delivery_id=made["published"])
        assert figures["latest"] == {"views": 100, "likes": 7, "shares": 2, "replies": 1, "clicks": 4, "saves": None}
        assert {(p["figure"], p["value"]) for p in figures["series"]} >= {("views", 0), ("views", 40), ("likes", 3),
                                                                          ("clicks", 4)}
        total, rows = delivery_views.case_deliveries(s, campaign_id=current_campaign(s).id,  # type: ignore[arg-type]
                                                     case_id=get_case(s, slug="juan-lopez").id)  # type: ignore[arg-type]
        assert total == 1 and rows[0]["clicks"] == 4 and rows[0]["views"] == 100


def test_calendar_days_count_every_delivery_and_draw_the_first(engine: sa.Engine) -> None:
    _fill(engine)
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        days = delivery_views.calendar_days(s, campaign_id=campaign.id, tz=campaign.timezone,  # type: ignore[arg-type]
                                            start=NOW - dt.timedelta(days=1), end=NOW + dt.timedelta(days=1), per_day=2)
    assert sum(d["count"] for d in days.values()) == 5
    assert all(len(d["rows"]) == min(2, d["count"]) for d in days.values())


def test_results_feed_and_file(engine: sa.Engine) -> None:
    _fill(engine)
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        bilan = campaign_results.results(s, campaign=campaign)
        assert (bilan["posts"], bilan["deliveries"], bilan["views"], bilan["engagement"], bilan["clicks"]) == (1, 1, 100, 10, 4)
        token = calendar_feed.create(s, actor=SYSTEM, campaign_id=campaign.id)  # type: ignore[arg-type]
    with db.session_scope(engine) as s:
        found = calendar_feed.by_token(s, token=token)
        assert found is not None
        feed = calendar_feed.feed_ics(s, campaign=found)
        whole = exports.schedule_ics(s, campaign=found)
    assert feed.count("BEGIN:VEVENT") == whole.count("BEGIN:VEVENT") == 5
    assert "SUMMARY:[Refusée]" in feed and "SUMMARY:[Brouillon]" in feed
    with db.session_scope(engine) as s:
        assert s.exec(sa.select(sa.func.count()).select_from(Delivery)).one()[0] == 5  # type: ignore[call-overload]


def test_the_queue_offers_what_a_person_can_do_with_each_state() -> None:
    late, paused = str(states.HeldReason.late()), str(states.HeldReason.case("paused", "note"))
    offered = delivery_views.person_actions
    assert offered(states.FAILED, None) == {delivery_views.RETRY, delivery_views.CANCEL}
    assert offered(states.HELD, late) == {delivery_views.SEND_LATE, delivery_views.CANCEL}
    assert offered(states.HELD, paused) == {delivery_views.CANCEL}
    assert offered(states.UNCONFIRMED, None) == {delivery_views.RESOLVE, delivery_views.CANCEL}
    assert offered(states.SCHEDULED, None) == {delivery_views.CANCEL}
    for gone in (states.PUBLISHING, states.PUBLISHED, states.CANCELLED):
        assert offered(gone, None) == set()


def test_the_figures_of_a_delivery_out_or_going_out_are_read_again() -> None:
    assert {s for s in states.STATES if delivery_views.figures_growing(s)} == {states.PUBLISHED, states.PUBLISHING}


def test_saves_are_shown_where_a_platform_gives_them(engine: sa.Engine) -> None:
    made = _fill(engine)
    with db.session_scope(engine) as s:
        d = s.get(Delivery, made["published"])
        d.saves = 7  # type: ignore[union-attr]
        s.add(d)
        s.add(MetricSnapshot(delivery_id=made["published"], taken_at=NOW - dt.timedelta(hours=1), saves=5))
    with db.session_scope(engine) as s:
        figures = delivery_views.delivery_figures(s, delivery_id=made["published"])
        _, rows = delivery_views.case_deliveries(s, campaign_id=current_campaign(s).id,  # type: ignore[arg-type]
                                                 case_id=get_case(s, slug="juan-lopez").id)  # type: ignore[arg-type]
    assert figures["latest"]["saves"] == 7 and rows[0]["saves"] == 7
    assert {(p["figure"], p["value"]) for p in figures["series"]} >= {("saves", 0), ("saves", 5)}
