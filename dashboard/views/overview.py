"""Overview: is anything going out, how far each case is from its goal, what comes next; once
the edition is over, its final results (bilan) instead of countdowns and pace."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import common, data, voice_ui
from dashboard import deliveries_ui as ui
from dashboard.i18n import (
    fmt_date,
    fmt_datetime,
    fmt_day,
    fmt_number,
    fmt_percent,
    fmt_time,
    lang,
    t,
)
from orchestrator.services import campaign_results, delivery_views, reports
from orchestrator.services.responses import RESPONSE_KINDS
from orchestrator.settings import get_settings
from orchestrator.timeutil import local, utcnow

HEADLINE = delivery_views.HEADLINE



def _action_kind(kind: str) -> str:
    return t(f"overview.action_kind.{kind}") if kind in RESPONSE_KINDS else kind


def _public_voice() -> None:
    """Per case: clicks, the public's posts by platform and kind, actions, day by day; one case in
    detail with its funnel channel by channel."""
    st.subheader(t("voice.title"))
    st.caption(t("voice.help"))
    with ui.own_error(t("voice.title")):
        voice = data.voice(url, campaign.id or 0)
        if voice_ui.silent(voice["edition"]):  # one message, not a table and a chart of zeros
            voice_ui.nothing(finished=phase == campaign_results.FINISHED, case=False)
            return
        voice_ui.summary(voice, names)
        voice_ui.over_time(voice["days"], names, tz, key="overview_voice_figure")
        by_slug = {r["slug"]: r for r in voice["cases"]}
        chosen = st.selectbox(t("voice.pick_case"), list(by_slug), index=None, key="overview_voice_case",
                              format_func=names.__getitem__, placeholder=t("common.choose_one"))
        if chosen is not None and voice_ui.case_detail(by_slug[chosen], voice["days"], tz,
                                                        finished=phase == campaign_results.FINISHED):
            st.markdown(f"**{t('voice.funnel')}**")
            st.caption(t("voice.funnel_help"))
            voice_ui.channel_funnel(voice["funnel"], chosen)


campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("overview.title", name=common.plain(campaign.name.get(lang()) or campaign.slug)))
common.times_note(tz)

# The one failure that makes everything else moot comes first, uncached: it must be live.
with common.session() as s:
    worker = reports.worker_status(s, stale_seconds=get_settings().heartbeat_stale_seconds)
    upcoming = reports.upcoming(s, campaign_id=campaign.id or 0, limit=10)
if not worker.alive:
    st.error(t("overview.no_worker"), icon=":material/warning:")
    if worker.last_seen:
        st.caption(t("overview.worker_last_seen", when=fmt_datetime(worker.last_seen, tz)))
else:
    st.caption(t("overview.worker_ok", n=fmt_number(worker.workers), when=fmt_datetime(worker.last_seen, tz)))

today = local(utcnow(), tz).date()
phase = campaign_results.phase(campaign, today=today)
url = common.database_url()
figures = data.overview(url, campaign.id or 0, tz)

left, right = st.columns([4, 1], vertical_alignment="center")
left.caption(t("overview.as_of", time=fmt_time(figures["computed_at"], tz)))
if right.button(t("overview.refresh"), key="overview_refresh", icon=":material/refresh:"):
    data.overview.clear()
    data.results.clear()
    data.voice.clear()
    st.rerun()

names = {r["slug"]: common.case_name(r["person"], r["slug"]) for r in figures["progress"]}
if phase == campaign_results.RUNNING:
    # Said once, here at the top: every case that will miss its goal at the current pace.
    voice_ui.behind_warning([names[r["slug"]] for r in figures["progress"] if r["behind"]])

if phase == campaign_results.FINISHED:
    st.success(t("overview.finished", end=fmt_date(campaign.ends_on)), icon=":material/flag:")
    st.subheader(t("overview.results"))
    with ui.own_error(t("overview.results")):
        bilan = data.results(url, campaign.id or 0)
        if not bilan["posts"]:
            # Nothing was published: a row of zeros for views and clicks would say nothing more.
            st.info(t("overview.results_no_posts"), icon=":material/info:")
            st.metric(t("overview.results_actions"), fmt_number(bilan["actions"]),
                      help=t("overview.results_goal", goal=fmt_number(bilan["goal"])) if bilan["goal"] else None)
        else:
            cols = st.columns(5)
            cols[0].metric(t("overview.results_actions"), fmt_number(bilan["actions"]),
                           help=t("overview.results_goal", goal=fmt_number(bilan["goal"])) if bilan["goal"] else None)
            cols[1].metric(t("overview.results_posts"), fmt_number(bilan["posts"]),
                           help=t("overview.results_deliveries", n=fmt_number(bilan["deliveries"])))
            cols[2].metric(t("figures.views"), fmt_number(bilan["views"]))
            cols[3].metric(t("overview.results_engagement"), fmt_number(bilan["engagement"]))
            cols[4].metric(t("figures.clicks"), fmt_number(bilan["clicks"]))
        if bilan["goal"]:
            key = "overview.results_reached" if bilan["reached"] else "overview.results_share"
            st.markdown(t(key, share=fmt_percent(bilan["share"] or 0), goal=fmt_number(bilan["goal"])))
        if bilan["by_kind"]:
            st.caption(" · ".join(t("overview.results_kind", kind=_action_kind(k), n=fmt_number(n))
                                  for k, n in sorted(bilan["by_kind"].items(), key=lambda kv: -kv[1])))
        for row in bilan["cases"]:
            with ui.own_error(t("col.case")):
                name = common.plain(common.case_name(row["person"], row["slug"]))
                if row["goal"]:
                    outcome = (t("overview.case_reached") if row["reached"]
                               else t("overview.case_share", share=fmt_percent(row["share"] or 0)))
                    label = t("overview.case_result", name=name, done=fmt_number(row["actions"]),
                              goal=fmt_number(row["goal"]), outcome=outcome)
                    st.progress(min(1.0, row["actions"] / row["goal"]), text=label)
                else:
                    st.progress(0.0, text=t("overview.case_result_no_goal", name=name, done=fmt_number(row["actions"])))
else:
    for col, item in zip(st.columns(3), reports.countdowns(campaign, today=today), strict=False):
        days = item["days"]
        value = (t("overview.days", n=fmt_number(days)) if days > 0 else t("overview.today") if days == 0
                 else t("overview.past_on", date=fmt_day(item["date"])))
        col.metric(common.plain(item["name"].get(lang()) or item["slug"]), value, help=fmt_date(item["date"]))
    if phase == campaign_results.UPCOMING:
        st.info(t("overview.upcoming", start=fmt_date(campaign.starts_on)), icon=":material/event_upcoming:")

    counts = figures["counts"]
    for row_start in range(0, len(HEADLINE), 3):  # three a row: « En attente d'approbation » is long
        for col, key in zip(st.columns(3), HEADLINE[row_start:row_start + 3], strict=True):
            col.metric(delivery_views.STYLES[key].text(lang()), fmt_number(counts.get(key, 0)))
    others = [k for k in delivery_views.SHOWN_STATES if k not in HEADLINE and counts.get(k)]
    if others:
        st.caption(t("overview.also", states=" · ".join(f"{delivery_views.STYLES[k].text(lang())} "
                                                         f"{fmt_number(counts[k])}" for k in others)))

    st.subheader(t("overview.progress"))
    st.caption(t("overview.progress_help"))
    for row in figures["progress"]:
        with ui.own_error(t("col.case")):
            name = common.plain(names[row["slug"]])
            goal = row["goal"] or 0
            done = row["actions"]
            status = "" if row["status"] == "active" else f" · {t('case.status.' + row['status'])}"
            label = voice_ui.pace_line(names[row["slug"]], done=done, goal=goal, projected=row["projected"],
                                       projected_rights_day=row["projected_rights_day"],
                                       rights_day=row["rights_day"], ends_on=row["ends_on"])
            label += " · " + t("overview.engagement_of_case", engagement=fmt_number(row["engagement"])) + status
            if row.get("clicks"):  # people who followed its posts' short links
                label += " · " + t("overview.clicks", n=fmt_number(row["clicks"]))
            if row.get("reached"):  # behind: said once, at the top of the page
                label += " · " + t("overview.case_reached")
            st.progress(min(1.0, done / goal) if goal else 0.0, text=label)

st.subheader(t("overview.inbox"))
with ui.own_error(t("overview.inbox")):
    from orchestrator.services import inbox

    with common.session() as s:
        waiting = inbox.open_by_case(s, campaign_id=campaign.id)  # counts only: every role sees them
    case_names = {r["case_id"]: names[r["slug"]] for r in figures["progress"]}
    if not waiting:
        st.caption(t("overview.inbox_none"))
    else:
        st.caption(" · ".join(t("overview.inbox_case", case=common.plain(case_names.get(c) or t("inbox.no_case")),
                                n=fmt_number(n)) for c, n in sorted(waiting.items(), key=lambda kv: -kv[1])))

st.subheader(t("overview.engagement"))
with ui.own_error(t("overview.engagement")):
    detailed = st.toggle(t("overview.detailed"), key="overview_detailed", help=t("overview.detailed_help"))
    if detailed:
        since = dt.datetime.combine(campaign.starts_on or (today - dt.timedelta(days=60)), dt.time(), tzinfo=dt.UTC)
        rows = data.snapshot_series(url, campaign.id or 0, tz, since)
        hourly = reports.is_short(rows)
        if hourly:
            rows = data.snapshot_series(url, campaign.id or 0, tz, since, hourly=True)
    else:
        hourly = figures.get("by_hour") is not None
        rows = figures["by_hour"] if hourly else figures["by_day"]
        st.caption(t("overview.by_publication_hour" if hourly else "overview.by_publication_day"))
    series = pd.DataFrame(rows)
    if series.empty:
        st.info(t("overview.no_metrics_finished" if phase == campaign_results.FINISHED else "overview.no_metrics"))
    else:
        groups = {k: t(f"overview.by_{k}") for k in ("case", "kind")}
        by = st.radio(t("overview.group_by"), list(groups), horizontal=True, key="overview_group",
                      format_func=groups.__getitem__)
        if by == "case":
            series["case"] = series["case"].map(lambda slug: names.get(slug, slug or t("overview.no_case")))
        else:
            series["kind"] = series["kind"].map(ui.platform)
        wide = series.pivot_table(index="day", columns=by, values="engagement", aggfunc="sum").fillna(0).cumsum()
        # Nothing before the first publication: the curve starts from zero there, so that even
        # a first hour alone draws a line.
        wide.loc[wide.index.min() - (dt.timedelta(hours=1) if hourly else dt.timedelta(days=1))] = 0
        curve = wide.sort_index().reset_index(names="day").melt(id_vars="day", var_name="series",
                                                                 value_name="engagement")
        ui.figures_chart([{"at": r.day, "series": r.series, "value": r.engagement} for r in curve.itertuples()],
                         tz=tz, x_title=t("overview.hour" if hourly else "overview.day"),
                         y_title=t("overview.engagement_axis"), colour_title=t(f"overview.by_{by}"),
                         precision="hour" if hourly else "day")

_public_voice()

st.subheader(t("overview.case_posts"))
st.caption(t("overview.case_posts_help"))
case_ids = {r["case_id"]: names[r["slug"]] for r in figures["progress"]}
chosen = st.selectbox(t("col.case"), list(case_ids), index=None, key="overview_case_posts",
                      format_func=case_ids.__getitem__, placeholder=t("common.choose_one"))
if chosen is not None:
    with ui.own_error(t("overview.case_posts")):
        ui.case_posts(campaign, chosen, key="overview_case_posts")

if phase != campaign_results.FINISHED or upcoming:
    st.subheader(t("overview.next"))
    if not upcoming:
        st.info(t("overview.nothing_next"))
    else:
        table = []
        for r in upcoming:
            with ui.own_error(t("overview.next")):
                table.append({
                    t("col.when"): fmt_datetime(r["due_at"], tz, "short"),
                    t("col.state"): ui.state_text(r),
                    t("col.case"): common.case_name(r["case_person"], r["case"]),
                    t("col.account"): ui.account_label(r),
                    t("col.text"): ui.short(r["text"], 120),
                })
        common.table(table)
