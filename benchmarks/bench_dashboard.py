"""Dashboard speed with 100,000 deliveries and 2,000,000 metric snapshots, on SQLite and
PostgreSQL: every page's heading within 0.5 s and its script done within 1.5 s, and the overview
in detail.

A fresh migrated database gets the 2025 campaign, its dates moved so that it is in progress
today (by whole years in season, as the demo of ``porte-voix up`` does: ``orchestrator/demo.py``),
eight accounts (two of each kind), 2,000 posts over the eight cases and 100,000 deliveries (eight
in ten published from the edition's first day until now, with their latest figures; the rest
scheduled, failed, held, unconfirmed or cancelled), 25 snapshots per published delivery
(2,000,000 rows) and response tallies for each day so far, all written by INSERT … SELECT in the
database; then the hourly engagement table the worker keeps (``engagement_hour``) is rebuilt
from them. Through the services come what some pages list and the bulk rows lack: staff
accounts, 40 posts awaiting approval on the four kinds of account (one in four with an image),
four images in the media library; and 20,000 audit entries.

**Every page** (``benchmarks/_pages.py``), server side: the real ``dashboard/app.py`` run by
``streamlit.testing.v1.AppTest`` (Streamlit's own script runner, without a browser), signed in
as an admin (every page is in an admin's sidebar, with every form; the other roles see less of
the same pages), in French and in English, one session per language going from page to page as
a person does from the sidebar. The *heading* time runs from the start of the script run
(the runner's ``SCRIPT_STARTED`` event) to the page's ``st.title`` call (wrapped with a clock
for the benchmark only; the server sends that element to the browser as soon as it is made);
the *script* time runs to the end of the run (``SCRIPT_STOPPED_…``), when the session is free
for the next click. Each is the median of five *cold* visits (Streamlit's data cache emptied
just before, as on the first visit after the cache's 30 seconds), with the *warm* visit (the same
page again at once) in brackets; modules are imported and every page visited once before
anything is timed. A page over 7.5 s is visited once.

**The overview** in detail, signed in as a viewer: cold render (cache emptied; every aggregate
computed), warm render (30-second cache), each the median of five in new AppTest sessions, and
each aggregate the page runs, timed alone (median of three). What makes it fast: the sums per
case and state come from one pass over ``ix_delivery_figures`` (post, state and the figures: the
wide delivery rows are never read); the engagement curve comes from ``engagement_hour``, which
the worker recomputes for the hours whose figures it refreshed
(``orchestrator/services/metrics_rollup.py``); the chart is a Vega-Lite spec given to
``st.vega_lite_chart`` (``st.line_chart`` spent 0.2-0.4 s in Altair's schema validation);
nothing reads the snapshots unless "detailed" is switched on.

**Where the time goes.** Every page reads a page of rows or an aggregate. The calendar and the
exports page build their iCalendar or CSV file only when asked (their button says « Préparer le
fichier »), and the calendar's subscription feed is built at most every five minutes
(``orchestrator/calendar_routes.py``): they took 22 to 45 s a visit while they built the whole file
for their download button. The slowest pages check texts: *posts* shows the thirty newest
approved posts, and in this data each has fifty deliveries (2,000 posts for 100,000 deliveries,
where a real post has four to eight), each checked against its platform's rules; it took 1.1 s
(French) and 1.85 s (English) on SQLite until a post's previews read its edition and case once
instead of once per delivery (``orchestrator/services/post_review.py``: the session keeps only
weak references, so the case was read again for each delivery). *approvals* checks each pending
post on its accounts, *templates* each template with the longest case on every platform,
*responses* draws the funnel per case and per channel. The first visit to a page that checks
texts (compose, approvals, posts, templates) after the server starts also imports the four
platforms' client libraries, about 3 s once per process; the timings above come after that.

Timings are wall-clock: on a loaded machine they grow with the other load (see the load average
in the machine section and the last row). Run alone: ``python -m benchmarks.bench_dashboard
[--quick]`` (quick: ten times smaller, three visits), or ``python -m benchmarks.run --only
dashboard``, which rewrites this section of docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks import _pages
from benchmarks._databases import empty_database

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")
KINDS = ["x", "facebook", "mastodon", "bluesky"]
CREDS = {"x": {"bearer_token": "t"}, "facebook": {"page_id": "1", "page_token": "t"},
         "mastodon": {"access_token": "t"}, "bluesky": {"handle": "b.test", "app_password": "p"}}
SNAPSHOTS_PER_DELIVERY = 25
TARGET_SECONDS = 1.0
RENDERS = 5  # renders of each kind; the median is judged (a loaded machine makes outliers)




# ---------------------------------------------------------------------------------------------
# Data, generated inside the database


def _sql(dialect: str) -> dict[str, str]:
    """The few expressions that differ: a counter 0..n-1 and a time plus seconds."""
    if dialect == "postgresql":
        return {
            "counter": "SELECT i FROM generate_series(0, :n - 1) AS g(i)",
            "plus": "(CAST(:{base} AS timestamptz) + make_interval(secs => {secs}))",
            "shift": "({col} + make_interval(secs => {secs}))",
        }
    # SQLAlchemy's SQLite text format (whole seconds here), so stored text compares as it would.
    return {
        "counter": "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < :n - 1) SELECT i FROM c",
        "plus": "(datetime(:{base}, '+' || ({secs}) || ' seconds') || '.000000')",
        "shift": "(datetime({col}, '+' || ({secs}) || ' seconds') || '.000000')",
    }


def generate(url: str, *, deliveries: int, posts: int) -> dict[str, int]:
    """The campaign, accounts, posts, deliveries, snapshots and responses; returns row counts."""
    from content.loader import bundled_campaign, load_campaign
    from orchestrator import db
    from orchestrator.demo import dates_around
    from orchestrator.services.accounts import add_account
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.campaign_admin import update_campaign
    from orchestrator.services.campaigns import load_content
    from orchestrator.services.users import add_user
    from orchestrator.timeutil import local

    engine = db.get_engine(url)
    dialect = engine.dialect.name
    x = _sql(dialect)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with db.session_scope(engine) as s:
        campaign = load_content(s, actor=SYSTEM, content=load_campaign(bundled_campaign("2025")))
        campaign_id = campaign.id
        # The edition in progress today, as during the campaign (the demo of ``porte-voix up``
        # moves its edition the same way): a finished one shows its results instead of the week.
        today = local(now, campaign.timezone).date()
        starts_on, ends_on, key_dates = dates_around(campaign, today)
        update_campaign(s, actor=SYSTEM, campaign_id=campaign_id or 0,
                       changes={"starts_on": starts_on, "ends_on": ends_on, "key_dates": key_dates})
        for lang in ("fr", "en"):
            for k in KINDS:
                add_account(s, actor=SYSTEM, kind=k, name=f"{k}-{lang}", language=lang, credentials=CREDS[k],
                            base_url="http://127.0.0.1:9")
        add_user(s, actor=SYSTEM, username="victor", password="motdepasse-solide", role="viewer")
    # SQLite compares stored text, so its parameters go in as the same text.
    stamp: Callable[[dt.datetime], Any] = (lambda t: t) if dialect == "postgresql" else (lambda t: t.strftime("%Y-%m-%d %H:%M:%S"))
    start = dt.datetime.combine(starts_on, dt.time(13), tzinfo=dt.UTC)
    params = {"campaign": campaign_id, "posts": posts, "start": stamp(start),
              "soon": stamp(now + dt.timedelta(hours=1)), "now": stamp(now)}
    # Published from the edition's first day until now, in order.
    published_every = max(1, int((now - start).total_seconds() / deliveries))
    days_so_far = max(1, (today - starts_on).days + 1)
    with engine.begin() as conn:
        if dialect == "postgresql":  # the snapshots' foreign-key triggers would double the time
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        cases = [r[0] for r in conn.execute(sa.text('SELECT id FROM "case" WHERE campaign_id = :c ORDER BY position'),
                                            {"c": campaign_id})]
        case_of = "CASE i % 8 " + " ".join(f"WHEN {n} THEN {cid}" for n, cid in enumerate(cases)) + " END"
        conn.execute(sa.text(
            "INSERT INTO post (campaign_id, case_id, language, text, images, status, author, approved_by,"
            " approved_at, review_comment, created_at, updated_at) "
            f"SELECT :campaign, {case_of}, CASE WHEN i % 2 = 0 THEN 'fr' ELSE 'en' END,"
            " 'Message ' || i || ' : écrivez pour les droits humains. #ÉcrireÇaLibère', '[]', 'approved',"
            f" 'edith', 'alain', :now, '', :now, :now FROM ({x['counter']}) AS c"
        ), {**params, "n": posts})
        first_post = conn.execute(sa.text("SELECT min(id) FROM post")).scalar_one()
        accounts = [r[0] for r in conn.execute(sa.text("SELECT id FROM account ORDER BY id"))]
        account_of = "CASE (i / :posts) % 8 " + " ".join(f"WHEN {n} THEN {a}" for n, a in enumerate(accounts)) + " END"
        # Eight in ten published (in order over five weeks), one scheduled ahead, one in trouble.
        state = ("CASE WHEN i % 10 < 8 THEN 'published' WHEN i % 10 = 8 THEN 'scheduled' ELSE "
                 "CASE (i / 10) % 4 WHEN 0 THEN 'failed' WHEN 1 THEN 'held' WHEN 2 THEN 'unconfirmed' "
                 "ELSE 'cancelled' END END")
        when = (f"CASE WHEN i % 10 = 8 THEN {x['plus'].format(base='soon', secs='i * 30')} "
                f"ELSE {x['plus'].format(base='start', secs=f'i * {published_every}')} END")
        pub = f"CASE WHEN i % 10 < 8 THEN {x['plus'].format(base='start', secs=f'i * {published_every}')} END"
        figure = "CASE WHEN i % 10 < 8 THEN {} END"
        conn.execute(sa.text(
            "INSERT INTO delivery (post_id, account_id, state, scheduled_at, due_at, source_code, attempts,"
            " last_error, last_error_kind, held_reason, platform_id, platform_url, published_at, likes, shares,"
            " replies, quotes, views, metrics_at, rendered_text, created_at, updated_at) "
            f"SELECT :first_post + i % :posts, {account_of}, {state}, {when}, {when}, 'b' || i, 1, '', '', '',"
            f" CASE WHEN i % 10 < 8 THEN 'p' || i END, CASE WHEN i % 10 < 8 THEN 'https://x.test/' || i END,"
            f" {pub}, {figure.format('(i * 7919) % 200')}, {figure.format('(i * 31) % 40')},"
            f" {figure.format('i % 15')}, {figure.format('i % 5')}, {figure.format('((i * 7919) % 200) * 30')},"
            f" {pub}, 'Message ' || (i % :posts) || ' : écrivez pour les droits humains. https://amnistie.ca/e?s=b' || i,"
            f" :now, :now FROM ({x['counter']}) AS c"
        ), {**params, "n": deliveries, "first_post": first_post})
        # Running totals every two hours after publication, ending at the delivery's figures.
        k, total = "k.i + 1", SNAPSHOTS_PER_DELIVERY
        conn.execute(sa.text(
            "INSERT INTO metric_snapshot (delivery_id, taken_at, likes, shares, replies, quotes, views) "
            f"SELECT d.id, {x['shift'].format(col='d.published_at', secs=f'({k}) * 7200')},"
            f" d.likes * ({k}) / {total}, d.shares * ({k}) / {total}, d.replies * ({k}) / {total},"
            f" d.quotes * ({k}) / {total}, d.views * ({k}) / {total}"
            f" FROM delivery AS d CROSS JOIN ({x['counter']}) AS k WHERE d.state = 'published'"
        ), {"n": total})
        # Tallies entered by hand: two kinds a day per case over the campaign so far.
        conn.execute(sa.text(
            "INSERT INTO response (case_id, kind, count, day, source_type, source, entered_by, created_at) "
            f"SELECT {case_of}, CASE WHEN i % 16 < 8 THEN 'letter' ELSE 'signature' END, 40 + i % 37,"
            f" :day0 + (i / 16), 'event', 'marathon', 'bench', :now FROM ({x['counter']}) AS c"
            if dialect == "postgresql" else
            "INSERT INTO response (case_id, kind, count, day, source_type, source, entered_by, created_at) "
            f"SELECT {case_of}, CASE WHEN i % 16 < 8 THEN 'letter' ELSE 'signature' END, 40 + i % 37,"
            f" date(:day0, '+' || (i / 16) || ' days'), 'event', 'marathon', 'bench', :now FROM ({x['counter']}) AS c"
        ), {**params, "n": 16 * days_so_far, "day0": starts_on})
    if dialect == "postgresql":  # what autovacuum does soon after a bulk load: statistics, visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    # SQLite is left without ANALYZE statistics, as the application leaves it.
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("post", "delivery", "metric_snapshot", "response")}


def rebuild(url: str) -> float:
    """The overview's hourly table, which the worker keeps as it records figures, filled at once
    (the deliveries above were written behind its back); returns the seconds it took."""
    from orchestrator import db
    from orchestrator.models import EngagementHour
    from orchestrator.services import metrics_rollup

    start = time.perf_counter()
    with db.session_scope(db.get_engine(url)) as s:
        metrics_rollup.rebuild(s)
    took = time.perf_counter() - start
    with db.session_scope(db.get_engine(url)) as s:
        assert s.exec(sa.select(sa.func.count()).select_from(EngagementHour)).one()[0] > 0  # type: ignore[call-overload]
    return took


# ---------------------------------------------------------------------------------------------
# Measurements


def _median(fn: Callable[[], object], times: int = 3) -> float:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def time_queries(url: str) -> dict[str, float]:
    """Each aggregate of the overview alone, through the engine the dashboard reads with."""
    from orchestrator import db
    from orchestrator.models import Campaign
    from orchestrator.services import reports
    from orchestrator.services.campaigns import current_campaign

    engine = (sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})
              if db.is_sqlite(url) else db.get_engine(url))
    with db.session_scope(engine) as s:
        campaign: Campaign = current_campaign(s)
        cid, tz = campaign.id or 0, campaign.timezone
        calls: dict[str, Callable[[], object]] = {
            "worker status": lambda: reports.worker_status(s),
            "state counts": lambda: reports.state_counts(s, campaign_id=cid),
            "case progress": lambda: reports.case_progress(s, campaign_id=cid),
            "engagement by day": lambda: reports.engagement_by_day(s, campaign_id=cid, tz=tz),
            "what goes out next": lambda: reports.upcoming(s, campaign_id=cid, limit=10),
        }
        out = {name: _median(fn) for name, fn in calls.items()}
    if db.is_sqlite(url):
        engine.dispose()
    return out


def time_render(url: str, home: Path) -> dict[str, float]:
    """The overview through AppTest as a signed-in viewer: cold (data cache emptied) and warm."""
    import streamlit as st
    from cryptography.fernet import Fernet
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    from orchestrator import db
    from orchestrator.settings import get_settings

    logger.set_log_level("error")  # "missing ScriptRunContext" for every cache call made from here
    os.environ.update({"PORTEVOIX_DATABASE_URL": url, "PORTEVOIX_HOME": str(home)})
    os.environ.setdefault("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_resource.clear()

    def page() -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.session_state["lang"] = "fr"
        at.session_state["actor"] = {"username": "victor", "role": "viewer"}
        return at

    def render(at: AppTest) -> float:
        start = time.perf_counter()
        at.run()  # the overview is the default page
        took = time.perf_counter() - start
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("progress"), "the overview drew no goal bars"
        return took

    st.cache_data.clear()
    first = render(page())  # imports pandas, the views' modules… once per process
    cold, warm = [], []
    for _ in range(RENDERS):
        st.cache_data.clear()
        at = page()
        cold.append(render(at))
        warm.append(render(at))
    st.cache_data.clear()
    st.cache_resource.clear()
    db._cached_engine.cache_clear()
    return {"first": first, "cold": statistics.median(cold), "cold_max": max(cold), "warm": statistics.median(warm)}


def measure(kind: str, *, deliveries: int, posts: int, pages_runs: int = 5) -> list[dict]:
    from cryptography.fernet import Fernet

    from orchestrator import db
    from orchestrator.settings import get_settings

    os.environ.setdefault("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, empty_database(kind, Path(tmp)) as url:
        snapshots = deliveries * 8 // 10 * SNAPSHOTS_PER_DELIVERY
        case = f"{deliveries:,} deliveries · {snapshots:,} snapshots — {kind}".replace(",", " ")
        db.upgrade(url)
        start = time.perf_counter()
        counts = generate(url, deliveries=deliveries, posts=posts)
        generated = time.perf_counter() - start
        assert counts["delivery"] == deliveries, counts
        rows.append({"case": case, "metric": f"data generation ({counts['post']:,} posts, {counts['response']:,} "
                     "responses)", "value": round(generated, 1), "unit": "s", "target": ""})
        rows.append({"case": case, "metric": "engagement_hour rebuilt from every delivery (the worker refreshes "
                     "only the hours it polled)", "value": round(rebuild(url), 2), "unit": "s", "target": ""})
        render = time_render(url, Path(tmp))
        target = f"< {TARGET_SECONDS:g}"
        rows += [
            {"case": case, "metric": f"overview, cold render (cache emptied; median of {RENDERS})", "value": round(render["cold"], 3),
             "unit": "s", "target": target},
            {"case": case, "metric": f"overview, cold render (slowest of {RENDERS})", "value": round(render["cold_max"], 3),
             "unit": "s", "target": ""},
            {"case": case, "metric": f"overview, warm render (30-second cache; median of {RENDERS})", "value": round(render["warm"], 3),
             "unit": "s", "target": target},
            {"case": case, "metric": "overview, first render in a new process (imports included)",
             "value": round(render["first"], 3), "unit": "s", "target": ""},
        ]
        for name, took in time_queries(url).items():
            rows.append({"case": case, "metric": f"query: {name} (median of 3)", "value": round(took, 3), "unit": "s",
                         "target": ""})
        start = time.perf_counter()
        extras = _pages.busy_extras(url)
        rows.append({"case": case, "metric": "added through the services: " + ", ".join(
            f"{n:,} {what}" for what, n in extras.items()), "value": round(time.perf_counter() - start, 1),
            "unit": "s", "target": ""})
        for row in _pages.time_pages(url, runs=pages_runs):
            rows.append({**row, "case": case})
        db._cached_engine.cache_clear()
    return rows


def run(quick: bool = False) -> list[dict]:
    from tests.conftest import postgres_unavailable

    deliveries, posts = (10_000, 200) if quick else (100_000, 2_000)
    kinds = ["sqlite"] if postgres_unavailable() else ["sqlite", "postgresql"]
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    out: list[dict] = []
    for kind in kinds:
        out += measure(kind, deliveries=deliveries, posts=posts, pages_runs=3 if quick else 5)
    out.append({"case": "machine", "metric": "load average (1/5/15 min) at the end", "value":
                " / ".join(f"{x:.2f}" for x in os.getloadavg()), "unit": f"(at the start: {load})", "target": ""})
    return out


def tables(rows: list[dict]) -> list[str]:
    """The page × language tables, one per database (``benchmarks/run.py`` prints them after the
    rows it tabulates itself), then the pages that missed a target."""
    pages = [r for r in rows if r.get("table") == "pages"]
    out: list[str] = []
    for case in dict.fromkeys(r["case"] for r in pages):
        out += _pages.markdown([r for r in pages if r["case"] == case], case)
    missed: dict[str, list[str]] = {}
    for r in pages:
        if not r["ok"]:
            missed.setdefault(r["page"], []).append(f"{r['case'].rsplit('— ', 1)[-1]} {r['language']}")
    out += [("Pages that miss a target: " + "; ".join(f"{page}: {', '.join(where)}" for page, where in missed.items())
             + ".") if missed else "Every page meets both targets.", ""]
    # This section is often rewritten alone (``--only dashboard``): it names its own machine, as
    # the top of the file names the machine of the last run, whichever it was.
    from benchmarks.run import machine

    info = machine()
    out += ["Measured on: " + ", ".join(f"{k} {info[k]}" for k in ("CPU", "Cores", "RAM", "OS", "Python"))
            + "; PostgreSQL " + _postgres_version() + " on the same machine (127.0.0.1).", ""]
    return out


def _postgres_version() -> str:
    from tests.conftest import postgres_admin_url, postgres_unavailable

    if postgres_unavailable():
        return "not reachable (SQLite only)"
    engine = sa.create_engine(postgres_admin_url())
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar_one()).split()[0]
    finally:
        engine.dispose()


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row, ensure_ascii=False))
