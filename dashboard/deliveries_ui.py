"""Deliveries as the follow-up pages show them: the state staff must see (one definition, in
services/delivery_views.py), platform names, why a delivery waits in words, each delivery's
figures and their curve, and a case's published posts with their figures.

``case_posts`` shows a case's posts: the Cases page offers it in each case's section (behind a switch);
the overview offers it for a chosen case.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, fmt_number, lang, locale, t
from orchestrator.services import delivery_views
from orchestrator.services.delivery_views import StateStyle


def shown(row: dict[str, Any]) -> StateStyle:
    """The state to show for a delivery row of services/reports.py (a retracted one says so)."""
    if row.get("retracted_at") is not None and row["state"] == "published":
        return delivery_views.RETRACTED_STYLE
    return delivery_views.shown_state(row["state"], row.get("post_status"))


def state_text(row: dict[str, Any]) -> str:
    """For tables and Markdown: a symbol AND the words (never colour alone)."""
    return shown(row).text(lang())


def state_label(row: dict[str, Any]) -> str:
    style = shown(row)
    return style.label.get(lang()) or style.label["fr"]


def state_badge(row: dict[str, Any]) -> None:
    style = shown(row)
    st.badge(state_label(row), color=style.colour, icon=style.icon)


def platform(kind: str) -> str:
    return delivery_views.platform_name(kind)


def account_label(row: dict[str, Any]) -> str:
    return f"{row['account']} ({platform(row['kind'])})"


def why(row: dict[str, Any], *, markdown: bool = False) -> str:
    """Why this delivery waits, as a sentence in the reader's language; "" when it does not.
    ``markdown``: what staff or platforms wrote in it (a comment, a note, an error) is escaped."""
    escape = common.plain if markdown else str
    key = row.get("shown") or delivery_views.shown_key(row["state"], row.get("post_status"))
    if key == delivery_views.REJECTED:
        return delivery_views.rejected_text(row.get("review_comment") or "", lang(), escape=escape)
    if key in (delivery_views.AWAITING_APPROVAL, delivery_views.DRAFT):
        return delivery_views.waiting_text(key, lang())
    if row.get("held_reason"):
        people = {row["case"]: row["case_person"]} if row.get("case") and row.get("case_person") else None
        return delivery_views.held_reason_text(row["held_reason"], lang(), escape=escape, people=people)
    return ""


def problem(row: dict[str, Any]) -> str:
    """The table's « Problème » cell (a table shows text as it is): the last error, else why it waits."""
    if row.get("last_error"):
        return t("queue.error_line", kind=error_kind(row.get("last_error_kind") or ""), error=row["last_error"])
    return why(row)


def error_kind(kind: str) -> str:
    return t(f"queue.error_kind.{kind}") if kind in ERROR_KINDS else t("queue.error_kind.other")


ERROR_KINDS = ("rate_limited", "transient", "ambiguous", "permanent", "auth", "undecidable")


@contextlib.contextmanager
def own_error(what: str) -> Iterator[None]:
    """One item that cannot be drawn shows its own error and the page goes on. (Streamlit's
    stop and rerun are not ``Exception``s: they pass through.)"""
    try:
        yield
    except Exception:  # noqa: BLE001 - whatever broke, the rest of the page must still show
        st.error(t("follow.item_failed", what=what), icon=":material/error:")


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------
# Figures


FIGURE_KEYS = delivery_views.FIGURES


def figure_name(name: str) -> str:
    return t(f"figures.{name}")


def _wall_clock(value: dt.date, tz: str) -> str:
    """A time as the campaign's wall clock, written as UTC for Vega-Lite's UTC scale: the axis
    then shows Montréal's hours whatever the browser's own zone. An aware time is converted; a
    naive one is already a wall-clock time; a date is its midnight."""
    if not isinstance(value, dt.datetime):
        return f"{value.isoformat()}T00:00Z"
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    return value.isoformat(timespec="minutes") + "Z"


#: Time axis labels per precision, in each language.
AXIS_FORMATS = {
    "minute": {"fr": "%d/%m %H h %M", "en": "%m/%d %I:%M %p"},
    "hour": {"fr": "%d/%m %H h", "en": "%m/%d %I %p"},
    "day": {"fr": "%d/%m", "en": "%m/%d"},
}


def figures_chart(points: list[dict[str, Any]], *, tz: str, x_title: str, y_title: str, colour_title: str,
                  precision: str = "hour") -> None:
    """A line per series, with its points (one point alone still shows), on a time axis in the
    campaign's zone; ``points`` are {"at": datetime or date, "series": name, "value": number}."""
    frame = pd.DataFrame([{"at": _wall_clock(p["at"], tz), "series": p["series"], "value": p["value"]} for p in points])
    axis_format = AXIS_FORMATS[precision]["fr" if lang() == "fr" else "en"]
    ticks: dict[str, Any] = {}
    if precision != "minute":  # ticks on the hours or days drawn: finer ones repeated the same label
        moments = sorted({dt.datetime.fromisoformat(a.replace("Z", "+00:00")) for a in frame["at"]})
        step = max(1, -(-len(moments) // 12))
        # Vega-Lite's own date-time objects (plain timestamps drew no labels at all)
        ticks = {"values": [{"year": m.year, "month": m.month, "date": m.day, "hours": m.hour, "utc": True}
                            for m in moments[::step]]}
    # A Vega-Lite spec written here, not st.line_chart: that one builds the chart through
    # Altair, whose schema validation alone took 0.2 to 0.4 s of every cold render.
    st.vega_lite_chart(frame, {
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "at", "type": "temporal", "scale": {"type": "utc"}, "title": x_title,
                  "axis": {"format": axis_format, "labelAngle": 0, **ticks}},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": "series", "type": "nominal", "title": colour_title},
        },
        # The axis and the tooltips write numbers as the page does (« 1 250 » in French, not
        # Vega's "1,250"), with the reader's locale's own symbols.
        "config": {"locale": {"number": number_locale()}},
    }, width="stretch", alt=y_title)


def number_locale() -> dict[str, Any]:
    """The reader's way of writing numbers, as a d3-format locale for Vega-Lite."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    return {"decimal": get_decimal_symbol(locale()), "thousands": get_group_symbol(locale()), "grouping": [3],
            "currency": ["", ""]}


def delivery_figures(row: dict[str, Any], *, tz: str) -> None:
    """The picked delivery's latest figures and their curve from its snapshots and clicks."""
    with common.session() as s:
        data = delivery_views.delivery_figures(s, delivery_id=row["id"])
    latest = data["latest"]
    if data.get("note"):  # how it went out when not quite as asked (X refused the thread's replies)
        st.warning(common.plain(data["note"].get(lang()) or data["note"].get("fr") or ""), icon=":material/info:")
    st.markdown(f"**{t('figures.title')}**")
    if row["state"] != "published" and not data["series"]:
        st.caption(t("figures.none_yet"))
        return
    keys = FIGURE_KEYS + tuple(n for n in delivery_views.SOME_FIGURES if latest.get(n) is not None)
    columns = st.columns(len(keys))
    for column, name in zip(columns, keys, strict=True):
        column.metric(figure_name(name), fmt_number(latest.get(name)))
    if data["metrics_at"]:
        st.caption(t("figures.as_of", when=fmt_datetime(data["metrics_at"], tz, "short")))
    if data.get("parts"):  # a thread: one delivery, the figures above summed over its parts
        st.caption(t("figures.thread", n=fmt_number(len(data["parts"]))))
        common.table([{t("figures.part"): part["number"], "id": part["platform_id"],
                       **{figure_name(n): part.get(n) for n in ("views", "likes", "shares", "replies")}}
                      for part in data["parts"]])
    if not data["series"]:
        st.caption(t("figures.no_curve"))
        return
    # Views run to thousands where likes run to tens: each on its own scale, side by side.
    views = [p for p in data["series"] if p["figure"] == "views"]
    others = [p for p in data["series"] if p["figure"] != "views"]
    for column, points in zip(st.columns(2), (views, others), strict=True):
        with column:
            if points:
                figures_chart([{"at": p["at"], "series": figure_name(p["figure"]), "value": p["value"]} for p in points],
                              tz=tz, x_title=t("figures.when"), y_title=t("figures.value"),
                              colour_title=t("figures.figure"), precision="minute")


def case_posts(campaign: Any, case_id: int, *, key: str, page_size: int = 25) -> None:
    """A case's published deliveries with their figures (views, likes, shares, replies, clicks),
    newest first, a page at a time."""
    tz = campaign.timezone
    with common.session() as s:
        total, _ = delivery_views.case_deliveries(s, campaign_id=campaign.id or 0, case_id=case_id, limit=0)
    if not total:
        st.info(t("figures.case_none"))
        return
    pages = max(1, -(-total // page_size))
    page = 1
    if pages > 1:
        page = int(st.number_input(t("figures.page", pages=fmt_number(pages)), min_value=1, max_value=pages, value=1,
                                   key=f"{key}_page"))
    with common.session() as s:
        _, rows = delivery_views.case_deliveries(s, campaign_id=campaign.id or 0, case_id=case_id,
                                                 limit=page_size, offset=(page - 1) * page_size)
    st.caption(t("figures.case_count", n=fmt_number(total)))
    keys = FIGURE_KEYS + tuple(n for n in delivery_views.SOME_FIGURES if any(r.get(n) is not None for r in rows))
    common.table([{
        t("figures.published_at"): fmt_datetime(r["published_at"], tz, "short"),
        t("col.account"): f"{r['account']} ({platform(r['kind'])})",
        **{figure_name(name): r[name] for name in keys},
        t("col.text"): short(r["text"], 100),
    } for r in rows], numbers=[figure_name(name) for name in keys], download=f"{campaign.slug}-{key}-{case_id}")
