from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from orchestrator import db
from orchestrator.models import MetricSnapshot, WorkerHeartbeat
from tests.dashboard.helpers import texts
from tests.dashboard.test_page_matrix import shown_cells


def _montreal_today() -> dt.date:
    """The campaign's date (America/Toronto), not the machine's: from 19:00 or 20:00 in Montréal,
    UTC is already on the next day, which a tally may not be dated."""
    from zoneinfo import ZoneInfo

    from orchestrator.timeutil import utcnow

    return utcnow().astimezone(ZoneInfo("America/Toronto")).date()


def test_it_shows_a_red_banner_without_a_worker(app):
    at = app("victor", "overview")
    assert "Aucun travailleur actif : rien ne sera publié." in [e.value for e in at.error]


def test_the_banner_goes_away_with_a_fresh_heartbeat(app, bare_engine):
    with db.session_scope(bare_engine) as s:
        s.add(WorkerHeartbeat(id="w1", host="h", pid=1, last_seen=dt.datetime.now(dt.UTC)))
    at = app("victor", "overview")
    assert not at.error
    assert "Travailleurs : 1" in texts(at)


def test_it_counts_the_workers_alive_not_every_worker_that_ever_ran(app, bare_engine):
    """Each start of a worker (and each ``worker --once``) leaves its heartbeat: the overview
    counts those seen lately, not every one since the installation."""
    now = dt.datetime.now(dt.UTC)
    with db.session_scope(bare_engine) as s:
        s.add(WorkerHeartbeat(id="w-now", host="h", pid=1, last_seen=now))
        s.add(WorkerHeartbeat(id="w-yesterday", host="h", pid=2, last_seen=now - dt.timedelta(days=1)))
        s.add(WorkerHeartbeat(id="w-last-hour", host="h", pid=3, last_seen=now - dt.timedelta(hours=1)))
    at = app("victor", "overview")
    assert "Travailleurs : 1" in texts(at)


def test_a_finished_worker_once_run_is_not_counted_as_a_worker_at_work(app, bare_engine):
    """A `worker --once` run that ended a moment ago left a fresh heartbeat: it is not at work."""
    from orchestrator.worker import Worker

    now = dt.datetime.now(dt.UTC)
    with db.session_scope(bare_engine) as s:
        s.add(WorkerHeartbeat(id="w-running", host="h", pid=1, last_seen=now))
    once = Worker(bare_engine, worker_id="w-once")
    once.run_once()
    once.pool.shutdown(wait=True)
    at = app("victor", "overview")
    assert "Travailleurs : 1" in texts(at)
    with db.session_scope(bare_engine) as s:
        s.delete(s.get(WorkerHeartbeat, "w-running"))
    at = app("victor", "overview")
    assert "Aucun travailleur actif : rien ne sera publié." in [e.value for e in at.error]
    assert "Dernier signe de vie d'un travailleur" in texts(at)


def test_it_shows_goals_countdowns_and_what_goes_out_next(app, scheduled, running_campaign):
    scheduled(text="Écrivez pour Juan López !")
    at = app("victor", "overview")
    shown = texts(at)
    assert "Grand marathon d'écriture de Montréal" in shown
    assert "Journée des droits humains" in shown
    assert "Juan López — 0 / " in shown  # the goal bar's label
    # what goes out next; the public's voice says in one line that nothing came yet (no table of zeros)
    assert len(at.dataframe) == 1
    assert "Pas encore de clic, de publication du public ni d'action." in [i.value for i in at.info]
    assert "Écrivez pour Juan López" in at.dataframe[-1].value.to_csv()


def test_engagement_counts_gains_not_running_totals(app, scheduled, bare_engine, running_campaign):
    """Three snapshots of 5, 8 and 10 likes mean 10 likes, not 23."""
    delivery_id = scheduled(state="published", likes=10, published_at=dt.datetime.now(dt.UTC))
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with db.session_scope(bare_engine) as s:
        for i, likes in enumerate((5, 8, 10)):
            s.add(MetricSnapshot(delivery_id=delivery_id, taken_at=start + dt.timedelta(days=i), likes=likes))
    from orchestrator.services import reports

    with db.session_scope(bare_engine) as s:
        rows = reports.engagement_series(s, campaign_id=1, tz="America/Toronto",
                                         since=start - dt.timedelta(days=1))
    assert sum(r["engagement"] for r in rows) == 10
    assert {r["kind"] for r in rows} == {"x"}
    from orchestrator.services import metrics_rollup

    with db.session_scope(bare_engine) as s:
        # The curve reads the hourly table the worker keeps when it records figures; these were
        # set by hand, so they are not in it until their hour is recomputed, as the worker would.
        assert reports.engagement_by_day(s, campaign_id=1, tz="America/Toronto") == []
        metrics_rollup.refresh(s, [delivery_id])
    with db.session_scope(bare_engine) as s:
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
    assert "Juan López — 0 / 12\xa0000 actions (0\xa0%) · projection : 0 le 10 déc., 0 le dernier jour" in texts(at)
    assert "· 10 interactions" in texts(at)


def test_progress_counts_actions_against_the_goal(app, bare_engine, running_campaign):
    from orchestrator.services import responses
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(bare_engine) as s:
        responses.record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="letter", count=1234,
                               day=_montreal_today(), event="marathon-montreal")
    at = app("victor", "overview")
    assert not at.exception
    assert "Juan López — 1\xa0234 / 12\xa0000 actions" in texts(at)


def test_it_is_english_a_switch_away(app):
    at = app("victor", "overview", lang="en")
    assert "No active worker: nothing will be published." in [e.value for e in at.error]


# ---------------------------------------------------------------------------------------------
# States held, day one, "as of", the last day, a finished edition, per-case figures


def test_a_pending_post_s_deliveries_are_not_counted_as_scheduled(app, busy, running_campaign):
    at = app("victor", "overview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["🔵 Programmée"] == "2"
    assert metrics["⏳ En attente d'approbation"] == "4"
    assert "⛔ Refusée 1" in texts(at) and "📝 Brouillon 1" in texts(at)
    upcoming = at.dataframe[-1]  # after the public's voice by case
    states_next = list(upcoming.value["État"])
    assert states_next.count("⏳ En attente d'approbation") == 4 and "⛔ Refusée" in states_next
    assert states_next.count("🔵 Programmée") == 1  # the one of an approved post; the other is later


def test_on_day_one_the_engagement_curve_is_drawn_hour_by_hour(app, bare_engine, scheduled, running_campaign):
    from orchestrator.services import metrics_rollup

    now = dt.datetime.now(dt.UTC).replace(minute=30, second=0, microsecond=0)
    ids = [scheduled(state="published", likes=3 * (i + 1), published_at=now - dt.timedelta(hours=i), in_hours=-i)
           for i in range(3)]
    with db.session_scope(bare_engine) as s:
        metrics_rollup.refresh(s, ids)
    at = app("victor", "overview")
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    assert spec["encoding"]["x"]["title"] == "Heure"
    assert spec["mark"]["point"] is True  # a lone point still shows
    points = chart.proto.data.data.decode("utf-8", "replace")
    # three publication hours: three distinct times on the axis, so a line is drawn
    for i in range(3):
        local_hour = (now - dt.timedelta(hours=i)).astimezone(ZoneInfo("America/Toronto"))
        assert f"{local_hour:%Y-%m-%dT%H}:00Z" in points


def test_figures_say_as_of_when_and_can_be_refreshed(app, bare_engine, running_campaign):
    from orchestrator.services import responses
    from orchestrator.services.auth import SYSTEM

    at = app("victor", "overview")
    assert "Chiffres au " in texts(at)
    assert "Juan López — 0 / 12\xa0000" in texts(at)
    with db.session_scope(bare_engine) as s:
        responses.record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="letter", count=40,
                               day=_montreal_today(), event="marathon-montreal")
    at.run()
    assert "Juan López — 0 / 12\xa0000" in texts(at)  # kept for 30 seconds …
    at.button(key="overview_refresh").click().run()
    assert "Juan López — 40 / 12\xa0000" in texts(at)  # … unless asked


def test_a_countdown_to_the_campaign_s_last_day(app, running_campaign):
    at = app("victor", "overview")
    labels = [m.label for m in at.metric[:3]]
    assert labels == ["Grand marathon d'écriture de Montréal", "Journée des droits humains", "Dernier jour pour agir"]
    assert all(m.value.startswith("dans ") or m.value == "aujourd'hui" for m in at.metric[:3])


def test_a_finished_edition_shows_its_results_and_nothing_behind(app, bare_engine, busy):
    from orchestrator.services import responses
    from orchestrator.services.auth import SYSTEM
    from tests.dashboard.busy import finished_campaign

    with db.session_scope(bare_engine) as s:
        responses.record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="letter", count=12_500,
                               day=_montreal_today())
    finished_campaign(bare_engine)
    for lang, words in (("fr", ("Bilan de l'édition", "✅ objectif atteint", "(terminée)")),
                        ("en", ("Final results", "✅ goal reached", "(finished)"))):
        at = app("victor", "overview", lang=lang)
        shown = texts(at) + " ".join(str(s.value) for s in at.sidebar.selectbox) + " ".join(
            o for s in at.sidebar.selectbox for o in s.options)
        for word in words:
            assert word in shown, word
        for word in ("passé", "past", "en retard", "behind", "(en cours)", "(current)", "projection", "projected"):
            assert word not in shown, word
        metrics = {m.label: m.value for m in at.metric}
        assert metrics[{"fr": "Publications parues", "en": "Posts published"}[lang]] == "1"
        assert metrics[{"fr": "Clics", "en": "Clicks"}[lang]] == "17"


def test_a_finished_edition_with_no_post_says_so_instead_of_a_row_of_zeros(app, bare_engine, campaign):
    from tests.dashboard.busy import finished_campaign

    finished_campaign(bare_engine)
    for lang, words, actions, not_yet in (
            ("fr", "Aucune publication n'est parue pendant cette édition", "Actions reçues", "Pas encore de statistiques"),
            ("en", "No post was published during this edition", "Actions received", "No figures yet")):
        at = app("victor", "overview", lang=lang)
        shown = texts(at)
        assert words in shown and not_yet not in shown  # the edition is over: nothing is still to come
        assert [m.label for m in at.metric] == [actions]  # no row of zeros


def test_the_results_of_an_edition_on_a_fixed_day(bare_engine, busy):
    from orchestrator.services import campaign_results
    from orchestrator.services.campaigns import current_campaign

    with db.session_scope(bare_engine) as s:
        campaign = current_campaign(s)
        assert campaign.ends_on == dt.date(2026, 1, 31)
        assert campaign_results.phase(campaign, today=dt.date(2026, 2, 1)) == "finished"
        assert campaign_results.phase(campaign, today=dt.date(2026, 1, 31)) == "running"
        assert campaign_results.phase(campaign, today=dt.date(2025, 11, 2)) == "upcoming"
        days = {c["slug"]: c["days"] for c in campaign_results.countdowns(campaign, today=dt.date(2025, 12, 1))}
        assert days == {"marathon-montreal": 5, "journee-droits-humains": 9, "dernier-appel": 61}
        bilan = campaign_results.results(s, campaign=campaign)
    assert (bilan["posts"], bilan["deliveries"], bilan["views"], bilan["clicks"]) == (1, 1, 12027, 17)
    assert bilan["engagement"] == 1235 + 40 + 7


def test_nothing_is_behind_before_the_edition_starts_or_after_it_ends(bare_engine, campaign):
    from orchestrator.services import reports

    with db.session_scope(bare_engine) as s:
        for today in (dt.date(2025, 10, 1), dt.date(2026, 3, 1)):
            assert not any(r["behind"] for r in reports.case_progress(s, campaign_id=campaign, today=today))
        assert all(r["behind"] for r in reports.case_progress(s, campaign_id=campaign, today=dt.date(2025, 12, 1)))


def test_a_case_s_published_posts_with_their_figures(app, busy, running_campaign, bare_engine):
    from orchestrator.services.campaigns import get_case

    with db.session_scope(bare_engine) as s:
        juan = get_case(s, slug="juan-lopez").id
    at = app("victor", "overview")
    at.selectbox(key="overview_case_posts").set_value(juan).run()
    assert not at.exception
    table = at.dataframe[1].value  # after the public's voice by case
    assert list(table.columns)[2:7] == ["Vues", "J'aime", "Partages", "Réponses", "Clics"]
    (row,) = table.to_dict("records")
    assert row["Vues"] == 12027 and row["Clics"] == 17  # figures sort as numbers
    shown = shown_cells(at.dataframe[1])
    assert {"12\u202f027", "12\xa0027"} & set(shown) and "17" in shown  # and read the reader's way


def test_a_first_hour_alone_still_draws_a_line_from_zero(app, bare_engine, scheduled, running_campaign):
    from orchestrator.services import metrics_rollup

    now = dt.datetime.now(dt.UTC)
    delivery_id = scheduled(state="published", likes=9, published_at=now, in_hours=0)
    with db.session_scope(bare_engine) as s:
        metrics_rollup.refresh(s, [delivery_id])
    at = app("victor", "overview")
    (chart,) = at.get("vega_lite_chart")
    frame = chart.proto.data.data.decode("utf-8", "replace")
    hour = now.astimezone(ZoneInfo("America/Toronto")).replace(minute=0)
    before = hour - dt.timedelta(hours=1)
    assert f"{hour:%Y-%m-%dT%H}:00Z" in frame and f"{before:%Y-%m-%dT%H}:00Z" in frame
