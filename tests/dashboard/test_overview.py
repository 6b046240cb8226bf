from __future__ import annotations

import datetime as dt
import json

from orchestrator import db
from orchestrator.models import MetricSnapshot, WorkerHeartbeat
from tests.dashboard.helpers import texts


def _montreal_today() -> dt.date:
    """The campaign's date (America/Toronto), not the machine's: from 19:00 or 20:00 in Montréal,
    UTC is already on the next day, which a tally may not be dated."""
    from zoneinfo import ZoneInfo

    from orchestrator.timeutil import utcnow

    return utcnow().astimezone(ZoneInfo("America/Toronto")).date()


def test_it_shows_a_red_banner_without_a_worker(app):
    at = app("victor", "overview")
    assert "Aucun travailleur actif : rien ne sera publié." in [e.value for e in at.error]


def test_the_banner_goes_away_with_a_fresh_heartbeat(app, engine):
    with db.session_scope(engine) as s:
        s.add(WorkerHeartbeat(id="w1", host="h", pid=1, last_seen=dt.datetime.now(dt.UTC)))
    at = app("victor", "overview")
    assert not at.error
    assert "Travailleurs : 1" in texts(at)


def test_it_shows_goals_countdowns_and_what_goes_out_next(app, scheduled):
    scheduled(text="Écrivez pour Juan López !")
    at = app("victor", "overview")
    shown = texts(at)
    assert "Grand marathon d'écriture de Montréal" in shown
    assert "Journée des droits humains" in shown
    assert "Juan López — 0 / " in shown  # the goal bar's label
    assert len(at.dataframe) == 1
    assert "Écrivez pour Juan López" in at.dataframe[0].value.to_csv()


def test_engagement_counts_gains_not_running_totals(app, scheduled, engine):
    """Three snapshots of 5, 8 and 10 likes mean 10 likes, not 23."""
    delivery_id = scheduled(state="published", likes=10, published_at=dt.datetime.now(dt.UTC))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with db.session_scope(engine) as s:
        for i, likes in enumerate((5, 8, 10)):
            s.add(MetricSnapshot(delivery_id=delivery_id, taken_at=start + dt.timedelta(days=i), likes=likes))
    from orchestrator.services import reports

    with db.session_scope(engine) as s:
        rows = reports.engagement_series(s, campaign_id=1, tz="America/Toronto",
                                         since=start - dt.timedelta(days=1))
    assert sum(r["engagement"] for r in rows) == 10
    assert {r["kind"] for r in rows} == {"x"}
    from orchestrator.services import metrics_rollup

    with db.session_scope(engine) as s:
        # The curve reads the hourly table the worker keeps when it records figures; these were
        # set by hand, so they are not in it until their hour is recomputed, as the worker would.
        assert reports.engagement_by_day(s, campaign_id=1, tz="America/Toronto") == []
        metrics_rollup.refresh(s, [delivery_id])
    with db.session_scope(engine) as s:
        by_day = reports.engagement_by_day(s, campaign_id=1, tz="America/Toronto")
    assert [(r["case"], r["kind"], r["engagement"]) for r in by_day] == [("juan-lopez", "x", 10)]
    at = app("victor", "overview")
    assert "Pas encore de statistiques." not in texts(at)  # the chart is drawn
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["y"]["title"] == "Interactions cumulées"
    assert "Juan López" in chart.proto.data.data.decode("utf-8", "replace")  # the series, named per case
    at.toggle(key="overview_detailed").set_value(True).run()
    assert not at.exception
    assert "Juan López — 0 / 12\xa0000 actions · projection 0 · 10 interactions" in texts(at)


def test_progress_counts_actions_against_the_goal(app, engine):
    from orchestrator.services import responses
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(engine) as s:
        responses.record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="letter", count=1234,
                               day=_montreal_today(), event="marathon-montreal")
    at = app("victor", "overview")
    assert not at.exception
    assert "Juan López — 1\xa0234 / 12\xa0000 actions" in texts(at)


def test_it_is_english_a_switch_away(app):
    at = app("victor", "overview", lang="en")
    assert "No active worker: nothing will be published." in [e.value for e in at.error]
