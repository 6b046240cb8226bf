"""Overview: is anything going out, how far each case is from its goal, what comes next."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import common, data
from dashboard.i18n import fmt_date, fmt_datetime, fmt_number, lang, t
from orchestrator import states
from orchestrator.services import reports
from orchestrator.settings import get_settings
from orchestrator.timeutil import local, utcnow

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("overview.title", name=campaign.name.get(lang()) or campaign.slug))

# The one failure that makes everything else moot comes first, uncached: it must be live.
with common.session() as s:
    worker = reports.worker_status(s, stale_seconds=get_settings().heartbeat_stale_seconds)
    upcoming = reports.upcoming(s, campaign_id=campaign.id or 0, limit=10)
if not worker.alive:
    st.error(t("overview.no_worker"), icon=":material/warning:")
    if worker.last_seen:
        st.caption(t("overview.worker_last_seen", when=fmt_datetime(worker.last_seen, tz)))
else:
    st.caption(t("overview.worker_ok", n=worker.workers, when=fmt_datetime(worker.last_seen, tz)))

today = local(utcnow(), tz).date()
cols = st.columns(3)
for col, item in zip(cols, reports.countdowns(campaign, today=today), strict=False):
    days = item["days"]
    value = t("overview.days", n=fmt_number(days)) if days > 0 else t("overview.today") if days == 0 else t("overview.past")
    col.metric(item["name"].get(lang()) or item["slug"], value, help=fmt_date(item["date"]))

figures = data.overview(common.database_url(), campaign.id or 0, tz)

counts = figures["counts"]
metric_cols = st.columns(5)
for col, state in zip(metric_cols, (states.SCHEDULED, states.PUBLISHED, states.HELD, states.FAILED, states.UNCONFIRMED), strict=True):
    col.metric(common.state_text(state), fmt_number(counts.get(state, 0)))

st.subheader(t("overview.progress"))
st.caption(t("overview.progress_help"))
for row in figures["progress"]:
    name = common.case_name(row["person"], row["slug"])
    goal = row["goal"] or 0
    done = row["actions"]
    status = "" if row["status"] == "active" else f" · {t('case.status.' + row['status'])}"
    label = t("overview.goal_line", name=name, done=fmt_number(done), goal=fmt_number(goal),
              projected=fmt_number(row["projected"]), engagement=fmt_number(row["engagement"])) + status
    if row["behind"]:
        label += " · " + t("overview.behind")
    st.progress(min(1.0, done / goal) if goal else 0.0, text=label)

st.subheader(t("overview.engagement"))
detailed = st.toggle(t("overview.detailed"), key="overview_detailed", help=t("overview.detailed_help"))
if detailed:
    since = dt.datetime.combine(campaign.starts_on or (today - dt.timedelta(days=60)), dt.time(), tzinfo=dt.UTC)
    rows = data.snapshot_series(common.database_url(), campaign.id or 0, tz, since)
else:
    rows = figures["by_day"]
    st.caption(t("overview.by_publication_day"))
series = pd.DataFrame(rows)
if series.empty:
    st.info(t("overview.no_metrics"))
else:
    by = st.radio(t("overview.group_by"), ["case", "kind"], horizontal=True, key="overview_group",
                  format_func=lambda k: t(f"overview.by_{k}"))
    names = {r["slug"]: common.case_name(r["person"], r["slug"]) for r in figures["progress"]}
    if by == "case":
        series["case"] = series["case"].map(lambda slug: names.get(slug, slug or "—"))
    wide = series.pivot_table(index="day", columns=by, values="engagement", aggfunc="sum").fillna(0).cumsum()
    curve = wide.reset_index().melt(id_vars="day", var_name="series", value_name="engagement")
    curve["day"] = curve["day"].astype(str)
    # A Vega-Lite spec written here, not st.line_chart: that one builds the chart through
    # Altair, whose schema validation alone took 0.2 to 0.4 s of every cold render.
    st.vega_lite_chart(curve, {
        "mark": {"type": "line", "tooltip": True},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": t("overview.day"),
                  "axis": {"format": "%d/%m" if lang() == "fr" else "%m/%d"}},
            "y": {"field": "engagement", "type": "quantitative", "title": t("overview.engagement_axis")},
            "color": {"field": "series", "type": "nominal", "title": t(f"overview.by_{by}")},
        },
    }, width="stretch", alt=t("overview.engagement"))

st.subheader(t("overview.next"))
if not upcoming:
    st.info(t("overview.nothing_next"))
else:
    st.dataframe(
        pd.DataFrame([{
            t("col.when"): fmt_datetime(r["due_at"], tz, "short"),
            t("col.state"): common.state_text(r["state"]),
            t("col.case"): common.case_name(r["case_person"], r["case"]),
            t("col.account"): f"{r['account']} ({r['kind']})",
            t("col.text"): r["text"][:120],
        } for r in upcoming]),
        hide_index=True, width="stretch",
    )
