"""The public's voice on the pages (overview, cases, responses): clicks, the public's own posts
by platform and kind, and actions, per case and day by day; the funnel of one case channel by
channel; the pace line to 10 December and to the last day; and the one warning that names the
cases behind, said once at the top of a page rather than under each case."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import common
from dashboard import deliveries_ui as ui
from dashboard.i18n import fmt_day, fmt_number, fmt_percent, lang, t
from orchestrator.services.public_voice import (
    FUNNEL_STEPS,
    PLATFORMS,
    PUBLIC_POST_KINDS,
    case_funnel,
    public_table,
)
from orchestrator.services.responses import KIND_LABELS

FIGURES = ("clicks", "public_posts", "actions")


def behind_warning(names: list[str], *, finished: bool = False) -> None:
    """One warning at the top of a page naming every case behind its goal (or that missed it)."""
    if names:
        st.warning(t("responses.short_list" if finished else "responses.behind_list",
                     names=common.plain(", ".join(names))), icon=":material/trending_down:")


def pace_line(name: str, *, done: int, goal: int, projected: int, projected_rights_day: int | None,
              rights_day: Any, ends_on: Any) -> str:
    """« Juan López — 93 / 12 000 actions (1 %) · projection : 177 le 10 déc., 418 le dernier jour (31 janv.) »;
    without the 10 December part once that day has passed. ``name`` is shown as typed."""
    values = {"name": common.plain(name), "done": fmt_number(done), "goal": fmt_number(goal),
              "percent": fmt_percent(done / goal) if goal else "—", "projected": fmt_number(projected),
              "last_day": fmt_day(ends_on) if ends_on else "—"}
    if projected_rights_day is None or rights_day is None:
        return t("voice.pace_line_last", **values)
    return t("voice.pace_line", rights=fmt_number(projected_rights_day), rights_day=fmt_day(rights_day),
             **values)


def _kind_name(kind: str) -> str:
    return KIND_LABELS.get(kind, {}).get(lang()) or kind


def _actions_caption(actions: dict[str, int]) -> None:
    if actions:
        st.caption(t("voice.actions_by_kind", kinds=" · ".join(
            t("voice.actions_kind", kind=_kind_name(k), n=fmt_number(n))
            for k, n in sorted(actions.items(), key=lambda kv: -kv[1]))))


def summary(figures: dict[str, Any], names: dict[str, str]) -> None:
    """Every case on one line (clicks, public posts per platform, actions), and the whole edition."""
    platforms = [common.platform_name(p) for p in PLATFORMS]
    rows = []
    for row in [*figures["cases"], {**figures["edition"], "slug": None}]:
        public = row["public_posts"]
        rows.append({
            t("voice.col.case"): names.get(row["slug"], row["slug"]) if row["slug"] else t("voice.whole"),
            t("voice.col.clicks"): row["clicks"],
            t("voice.col.public_posts"): row["public_total"],
            **{name: sum(public.get(p, {}).values()) for p, name in zip(PLATFORMS, platforms, strict=True)},
            t("voice.col.actions"): row["actions_total"],
        })
    common.table(rows, numbers=[t("voice.col.clicks"), t("voice.col.public_posts"), *platforms, t("voice.col.actions")],
                 download="voix-du-public")


def _chart(points: list[dict[str, Any]], tz: str, colour_title: str) -> None:
    ui.figures_chart(points, tz=tz, x_title=t("voice.day"), y_title=t("voice.per_day"), colour_title=colour_title,
                     precision="day")


def over_time(days: list[dict[str, Any]], names: dict[str, str], tz: str, *, key: str) -> None:
    """One figure (chosen) per day, a line per case."""
    if not days:
        st.info(t("voice.nothing_at_all"))
        return
    # Labels looked up in a mapping made now: AppTest calls format_func outside the page's run.
    labels = {f: t(f"voice.col.{f}") for f in FIGURES}
    # First shown: the first figure with something in it (no empty chart of clicks before any click).
    first = next((n for n, f in enumerate(FIGURES) if any(r[f] for r in days)), 0)
    figure = st.radio(t("voice.figure"), list(FIGURES), index=first, horizontal=True, key=key,
                      format_func=labels.__getitem__)
    points = [{"at": r["day"], "series": names.get(r["case"], r["case"]) if r["case"] else t("voice.no_case"),
               "value": r[figure]} for r in days if r[figure]]
    if points:
        _chart(points, tz, t("voice.col.case"))
    else:  # this figure alone is empty: say which, not that nothing at all happened
        st.info(t(f"voice.none.{figure}"))


def silent(row: dict[str, Any]) -> bool:
    """Nothing at all yet: no click, no public post, no action."""
    return not (row["clicks"] or row["public_total"] or row["actions_total"])


def nothing(*, finished: bool, case: bool) -> None:
    """The one message where there is nothing to show (instead of tables and charts of zeros);
    an edition that is over says « pendant cette édition », not « pas encore »."""
    key = ("voice.nothing_finished" if finished else "voice.nothing_yet" if case else "voice.nothing_at_all")
    st.info(t(key))


def case_detail(row: dict[str, Any], days: list[dict[str, Any]], tz: str, *, finished: bool = False) -> bool:
    """One case: its three figures, its public posts by platform and kind, its actions by kind,
    and the three figures day by day. With nothing at all, one message instead (and False: the
    caller leaves out the funnel too)."""
    if silent(row):
        nothing(finished=finished, case=True)
        return False
    cols = st.columns(3)
    for col, figure in zip(cols, FIGURES, strict=True):
        value = row["public_total"] if figure == "public_posts" else row["actions_total"] if figure == "actions" else row["clicks"]
        col.metric(t(f"voice.col.{figure}"), fmt_number(value))
    _actions_caption(row["actions"])
    st.markdown(f"**{t('voice.public_by_platform')}**")
    public = public_table(row["public_posts"])
    if public:
        kinds = [t(f"voice.kind.{k}") for k in PUBLIC_POST_KINDS]
        common.table([{t("voice.col.platform"): common.platform_name(r["platform"]),
                       **{t(f"voice.kind.{k}"): r[k] for k in PUBLIC_POST_KINDS}, t("voice.col.total"): r["total"]}
                      for r in public], numbers=[*kinds, t("voice.col.total")])
    else:
        st.caption(t("voice.no_public_posts"))
    mine = [r for r in days if r["case"] == row["slug"]]
    points = [{"at": r["day"], "series": t(f"voice.col.{f}"), "value": r[f]} for r in mine for f in FIGURES]
    if any(p["value"] for p in points):
        st.markdown(f"**{t('voice.over_time')}**")
        _chart(points, tz, t("voice.figure"))
    return True


def channel_funnel(rows: list[dict[str, Any]], slug: str | None) -> None:
    """The funnel of one case, a column per channel: our posts, views, engagement, clicks and
    actions, and the public's posts on their own row."""
    funnel = case_funnel(rows, slug)
    columns = {p: common.platform_name(p) for p in funnel if p != "total"} | {"total": t("voice.col.total")}
    common.table([{t("voice.col.step"): t(f"voice.step.{step}"), **{columns[p]: funnel[p][step] for p in funnel}}
                  for step in FUNNEL_STEPS], numbers=list(columns.values()))
