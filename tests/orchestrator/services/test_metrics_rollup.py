"""The overview's engagement curve (table engagement_hour) follows the deliveries' figures: the
worker recomputes the hours it refreshed, a repeated refresh replaces instead of adding, and a
full rebuild gives the same rows."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Delivery, EngagementHour
from orchestrator.services import metrics_rollup, reports
from orchestrator.timeutil import UTC, utcnow
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, schedule
from tests.orchestrator.worker.test_worker import make_worker

TZ = "America/Toronto"


def _curve_total(engine: sa.Engine) -> int:
    with db.session_scope(engine) as s:
        return sum(r["engagement"] for r in reports.engagement_by_day(s, campaign_id=1, tz=TZ))


def _figures_total(engine: sa.Engine) -> int:
    with db.session_scope(engine) as s:
        return sum((d.likes or 0) + (d.shares or 0) + (d.replies or 0) + (d.quotes or 0)
                   for d in s.exec(select(Delivery)))


def _rows(engine: sa.Engine) -> set[tuple]:
    with db.session_scope(engine) as s:
        return {(r.campaign_id, r.hour, r.case_id, r.account_id, r.engagement) for r in s.exec(select(EngagementHour))}


def test_the_worker_keeps_the_curve_in_step_with_the_figures(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    for i in range(3):
        schedule(engine, approved_post(engine, text=f"Message {i} #W4R"), account)
    worker = make_worker(engine)
    worker.run_once()
    sandbox.sandbox.advance(3600)  # an hour of simulated public: the figures grow
    assert worker.poll_metrics(now=utcnow() + dt.timedelta(hours=1)) == 3
    first = _figures_total(engine)
    assert first > 0
    assert _curve_total(engine) == first
    sandbox.sandbox.advance(86400)
    assert worker.poll_metrics(now=utcnow() + dt.timedelta(days=2)) == 3
    later = _figures_total(engine)
    assert later > first
    assert _curve_total(engine) == later  # replaced, not added to the earlier figures


def _published(engine: sa.Engine, account: str, at: dt.datetime, likes: int) -> int:
    delivery_id = schedule(engine, approved_post(engine, text=f"Publié {at:%d %H:%M}"), account, at=at)
    with db.session_scope(engine) as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        d.state, d.published_at, d.likes, d.shares = "published", at, likes, 1
        s.add(d)
    return delivery_id


def test_a_refresh_recomputes_only_the_hours_it_is_given_and_is_idempotent(engine) -> None:
    account = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    base = dt.datetime(2025, 12, 5, 14, 10, tzinfo=UTC)
    first = _published(engine, account, base, likes=10)
    same_hour = _published(engine, account, base + dt.timedelta(minutes=40), likes=5)
    next_week = _published(engine, account, base + dt.timedelta(days=7), likes=100)
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, [first])
    # The whole hour of `first` is summed (same_hour included); the week after is not there yet.
    assert {(r[1], r[4]) for r in _rows(engine)} == {(base.replace(minute=0), 17)}
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, [first, same_hour, next_week])
        metrics_rollup.refresh(s, [next_week])
    assert {(r[1], r[4]) for r in _rows(engine)} == {(base.replace(minute=0), 17),
                                                     (base.replace(minute=0) + dt.timedelta(days=7), 101)}
    with db.session_scope(engine) as s:
        by_day = reports.engagement_by_day(s, campaign_id=1, tz=TZ)
    assert [(r["day"], r["case"], r["kind"], r["engagement"]) for r in by_day] == [
        (dt.date(2025, 12, 5), "juan-lopez", "x", 17), (dt.date(2025, 12, 12), "juan-lopez", "x", 101)]


def test_the_local_day_is_the_campaigns_not_utcs(engine) -> None:
    """02:30 UTC on 6 December is still 5 December in Montréal (UTC-5)."""
    account = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    late = _published(engine, account, dt.datetime(2025, 12, 6, 2, 30, tzinfo=UTC), likes=7)
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, [late])
        days = [r["day"] for r in reports.engagement_by_day(s, campaign_id=1, tz=TZ)]
    assert days == [dt.date(2025, 12, 5)]


def test_local_days_follow_the_change_of_time(engine) -> None:
    """Montréal leaves summer time on 2 November 2025: 04:30 UTC is 00:30 on 1 November (UTC-4)
    but 23:30 on 2 November two days later (UTC-5). One fixed offset gets one of them wrong."""
    account = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    ids = [_published(engine, account, dt.datetime(2025, 11, day, 4, 30, tzinfo=UTC), likes=day) for day in (1, 3)]
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, ids)
        days = [(r["day"], r["engagement"]) for r in reports.engagement_by_day(s, campaign_id=1, tz=TZ)]
    assert days == [(dt.date(2025, 11, 1), 2), (dt.date(2025, 11, 2), 4)]


def test_a_rebuild_gives_the_rows_the_refreshes_gave(engine) -> None:
    account = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    base = dt.datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
    ids = [_published(engine, account, base + dt.timedelta(hours=5 * i), likes=i) for i in range(1, 6)]
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, ids)
    refreshed = _rows(engine)
    assert len(refreshed) == 5
    with db.session_scope(engine) as s:
        s.execute(sa.update(EngagementHour).values(engagement=999))  # a wrong figure…
        metrics_rollup.rebuild(s)  # …put right
    assert _rows(engine) == refreshed


def test_the_rebuild_command_puts_a_figure_changed_by_hand_into_the_curve(engine) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app

    account = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    ids = [_published(engine, account, dt.datetime(2025, 11, 21, 9 + i, 0, tzinfo=UTC), likes=2) for i in range(2)]
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, ids)
        s.execute(sa.update(Delivery).where(Delivery.id == ids[0]).values(likes=40))  # corrected by hand
    assert _curve_total(engine) == 6  # likes 2 + 2, shares 1 + 1
    result = CliRunner().invoke(app, ["metrics", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "2 ligne(s)" in result.output
    assert _curve_total(engine) == _figures_total(engine) == 44


def test_close_hours_are_merged_into_one_range() -> None:
    h = dt.datetime(2025, 12, 1, tzinfo=UTC)
    hours = [h, h + dt.timedelta(hours=3), h + dt.timedelta(days=5)]
    assert metrics_rollup._ranges(hours) == [(h, h + dt.timedelta(hours=4)),
                                             (h + dt.timedelta(days=5), h + dt.timedelta(days=5, hours=1))]


def test_the_overview_sums_read_the_covering_index_not_the_delivery_rows(engine) -> None:
    """On SQLite (no planner statistics, as deployed) the per-post sums are answered from
    ix_delivery_figures alone; reading the wide rows instead made the overview seconds long."""
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans by table size: benchmarks/bench_dashboard.py measures 100,000 rows")
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "per_post" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        with db.session_scope(engine) as s:
            reports.delivery_totals(s, campaign_id=1)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    (statement, parameters), = seen
    with engine.connect() as conn:
        plan = " / ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
    assert "USING COVERING INDEX ix_delivery_figures" in plan, plan


def test_a_refresh_sums_only_the_accounts_of_its_deliveries(engine) -> None:
    """The worker refreshes one account's batch at a time: the other accounts' rows of the same
    hour are neither summed again nor lost."""
    x = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    mastodon = add_account(engine, "mastodon", name="mastodon-test", base_url="http://127.0.0.1:9")
    at = dt.datetime(2025, 12, 3, 18, 5, tzinfo=UTC)
    on_x, on_mastodon = _published(engine, x, at, likes=3), _published(engine, mastodon, at, likes=30)
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, [on_mastodon])
    assert {r[4] for r in _rows(engine)} == {31}
    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, [on_x])
    assert sorted(r[4] for r in _rows(engine)) == [4, 31]
    assert _curve_total(engine) == 35
