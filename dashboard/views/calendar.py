"""Calendar: deliveries by week or month, by channel and case; state by label, symbol AND colour.
A day with more entries than fit opens below the grid, a page at a time, so every entry can be
reached. The schedule is offered as a feed address to subscribe to, and as a file built on
request (building it on every visit kept the session busy for seconds at 100,000 deliveries)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import common
from dashboard import deliveries_ui as ui
from dashboard.i18n import fmt_date, fmt_datetime, fmt_day, fmt_number, fmt_time, lang, t, zone_name
from orchestrator.services import accounts as account_service
from orchestrator.services import calendar_feed, delivery_views, exports, reports
from orchestrator.services.campaigns import list_cases
from orchestrator.settings import get_settings
from orchestrator.timeutil import at_local, local, utcnow

PER_DAY = {"week": 12, "month": 4}
DAY_PAGE = 25

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("calendar.title"))
common.flash()

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
    accounts = account_service.list_accounts(s)
case_names = {c.id: common.case_name(c.person, c.slug) for c in cases}

c1, c2, c3, c4 = st.columns(4)
views = {v: t(f"calendar.{v}") for v in ("week", "month")}
view = c1.radio(t("calendar.view"), list(views), key="cal_view", horizontal=True, format_func=views.__getitem__)
anchor = c2.date_input(t("calendar.date"), value=local(utcnow(), tz).date(), key="cal_date",
                       format="DD/MM/YYYY" if lang() == "fr" else "YYYY-MM-DD")
case_ids = c3.multiselect(t("col.case"), list(case_names), key="cal_cases", format_func=case_names.__getitem__,
                          placeholder=t("common.choose_many"))
kinds = c4.multiselect(t("col.channel"), sorted({a.kind for a in accounts}), key="cal_kinds",
                       format_func=ui.platform, placeholder=t("common.choose_many"))

if view == "week":
    first = anchor - dt.timedelta(days=anchor.weekday())
    days = [first + dt.timedelta(days=i) for i in range(7)]
else:
    month_start = anchor.replace(day=1)
    first = month_start - dt.timedelta(days=month_start.weekday())
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
    last_day = next_month - dt.timedelta(days=1)
    last = last_day + dt.timedelta(days=6 - last_day.weekday())
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
start = at_local(days[0], dt.time(), tz)
end = at_local(days[-1] + dt.timedelta(days=1), dt.time(), tz)
limit = PER_DAY[view]

with common.session() as s:
    by_day = delivery_views.calendar_days(s, campaign_id=campaign.id or 0, tz=tz, start=start, end=end,
                                          per_day=limit, case_ids=case_ids, kinds=kinds)
total = sum(d["count"] for d in by_day.values())

st.caption(t("calendar.range", start=fmt_date(days[0]), end=fmt_date(days[-1]), n=fmt_number(total),
             tz=zone_name(tz)))
with st.expander(t("calendar.legend")):
    st.markdown("  \n".join(style.text(lang()) for style in delivery_views.STYLES.values()))


def _open_day(day: dt.date) -> None:
    st.session_state["cal_day"] = day.isoformat()
    st.session_state["cal_day_page"] = 1


for week_start in range(0, len(days), 7):
    columns = st.columns(7)
    for column, day in zip(columns, days[week_start:week_start + 7], strict=True):
        with column.container(border=True):
            muted = view == "month" and day.month != anchor.month
            header = fmt_day(day, weekday=True)
            st.markdown(f"**{header}**" if not muted else f":gray[{header}]")
            entry = by_day.get(day, {"count": 0, "rows": []})
            for row in entry["rows"]:
                with ui.own_error(t("calendar.entry")):
                    who = common.case_name(row["case_person"], row["case"])
                    st.markdown(f"{fmt_time(row['scheduled_at'], tz)} {ui.state_text(row)}  \n"
                                f":gray[{common.plain(who)} · {common.plain(row['account'])}]")
            if entry["count"] > limit:
                st.button(t("calendar.more", n=fmt_number(entry["count"] - limit)), key=f"cal_more_{day.isoformat()}",
                          on_click=_open_day, args=(day,), icon=":material/unfold_more:")

# The day opened from the grid: every entry, a page at a time.
opened = st.session_state.get("cal_day")
if opened:
    day = dt.date.fromisoformat(opened)
    count = by_day.get(day, {"count": 0})["count"]
    st.subheader(t("calendar.day_title", day=fmt_date(day, "full"), n=fmt_number(count)))
    if count == 0:
        st.info(t("calendar.day_empty"))
    else:
        pages = max(1, -(-count // DAY_PAGE))
        page = 1
        if pages > 1:
            page = int(st.number_input(t("calendar.day_page", pages=fmt_number(pages)), min_value=1, max_value=pages,
                                       key="cal_day_page"))
        with common.session() as s:
            rows = reports.list_deliveries(
                s, campaign_id=campaign.id or 0, limit=DAY_PAGE, offset=(page - 1) * DAY_PAGE, case_ids=case_ids,
                kinds=kinds, start=at_local(day, dt.time(), tz), end=at_local(day + dt.timedelta(days=1), dt.time(), tz))
        table = []
        for r in rows:
            with ui.own_error(t("calendar.entry")):
                table.append({
                    t("col.when"): fmt_time(r["scheduled_at"], tz),
                    t("col.state"): ui.state_text(r),
                    t("col.case"): common.case_name(r["case_person"], r["case"]),
                    t("col.account"): ui.account_label(r),
                    t("col.text"): ui.short(r["text"], 120),
                })
        common.table(table, download=f"{campaign.slug}-{day.isoformat()}")
    if st.button(t("calendar.day_close"), key="cal_day_close", icon=":material/close:"):
        st.session_state.pop("cal_day", None)
        st.rerun()

# ---------------------------------------------------------------------------------------------
st.divider()
st.subheader(t("calendar.feed_title"))
st.caption(t("calendar.feed_help"))
with common.session() as s:
    feed = calendar_feed.active(s, campaign_id=campaign.id or 0)
    feed_token = calendar_feed.shown_token(feed) if feed is not None and common.can("editor") else None
editor = common.can("editor")
if feed is None:
    st.info(t("calendar.feed_none"), icon=":material/event_busy:")
elif not editor:
    st.info(t("calendar.feed_ask"), icon=":material/lock:")
elif feed_token is None:
    st.warning(t("calendar.feed_unreadable"))
else:
    base = get_settings().links_base_url
    st.markdown(t("calendar.feed_since", when=fmt_datetime(feed.created_at, tz, "short"),
                  who=common.plain(feed.created_by)))
    st.code(calendar_feed.url(base, feed_token, lang()), language=None)
    st.markdown(t("calendar.feed_how"))
    if base.startswith(("http://127.", "http://localhost")):
        st.caption(t("calendar.feed_local"))
if editor:
    me = common.actor()
    a, b = st.columns(2)
    if a.button(t("calendar.feed_create") if feed is None else t("calendar.feed_renew"), key="cal_feed_create",
                icon=":material/link:"):
        if common.run(lambda s: calendar_feed.create(s, actor=me, campaign_id=campaign.id or 0),
                      success=t("calendar.feed_created")) is not None:
            st.rerun()
    if feed is not None and b.button(t("calendar.feed_revoke"), key="cal_feed_revoke", icon=":material/link_off:"):
        if common.run(lambda s: calendar_feed.revoke(s, actor=me, campaign_id=campaign.id or 0),
                      success=t("calendar.feed_revoked")) is not None:
            st.rerun()

st.subheader(t("calendar.file_title"))
st.caption(t("calendar.ics_help"))
ics_key = f"cal_ics_{campaign.id}_{lang()}"
if st.button(t("exports.prepare"), key="cal_ics_prepare", icon=":material/event:"):
    with common.session() as s:
        st.session_state[ics_key] = exports.schedule_ics(s, campaign=campaign, language=lang())
if ics_key in st.session_state:
    st.download_button(t("calendar.ics"), st.session_state[ics_key], file_name=f"{campaign.slug}.ics",
                       mime="text/calendar", key="cal_ics", icon=":material/download:")
