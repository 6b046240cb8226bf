"""Calendar: deliveries by week or month, by channel and case; state by label AND colour."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_date, fmt_number, fmt_time, lang, t
from orchestrator.services import accounts as account_service
from orchestrator.services import exports, reports
from orchestrator.services.campaigns import list_cases
from orchestrator.timeutil import at_local, local, utcnow

PER_DAY = {"week": 12, "month": 4}

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("calendar.title"))

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
    accounts = account_service.list_accounts(s)

c1, c2, c3, c4 = st.columns(4)
view = c1.radio(t("calendar.view"), ["week", "month"], key="cal_view", horizontal=True,
                format_func=lambda v: t(f"calendar.{v}"))
anchor = c2.date_input(t("calendar.date"), value=local(utcnow(), tz).date(), key="cal_date", format="YYYY-MM-DD")
case_ids = c3.multiselect(t("col.case"), [c.id for c in cases], key="cal_cases",
                          format_func=lambda i: next(common.case_name(c.person, c.slug) for c in cases if c.id == i))
kinds = c4.multiselect(t("col.channel"), sorted({a.kind for a in accounts}), key="cal_kinds")

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

with common.session() as s:
    rows = reports.list_deliveries(s, campaign_id=campaign.id or 0, limit=5000, case_ids=case_ids, kinds=kinds,
                                   start=start, end=end)
by_day: dict[dt.date, list[dict]] = {}
for row in rows:
    by_day.setdefault(local(row["scheduled_at"], tz).date(), []).append(row)

st.caption(t("calendar.range", start=fmt_date(days[0]), end=fmt_date(days[-1]), n=fmt_number(len(rows)), tz=tz))
with st.expander(t("calendar.legend")):
    st.markdown("  \n".join(common.state_text(state) for state in common.STATE_STYLE))

limit = PER_DAY[view]
for week_start in range(0, len(days), 7):
    columns = st.columns(7)
    for column, day in zip(columns, days[week_start:week_start + 7], strict=True):
        with column.container(border=True):
            muted = view == "month" and day.month != anchor.month
            header = fmt_date(day, "EEE d MMM")
            st.markdown(f"**{header}**" if not muted else f":gray[{header}]")
            entries = by_day.get(day, [])
            for row in entries[:limit]:
                who = common.case_name(row["case_person"], row["case"])
                st.markdown(f"{fmt_time(row['scheduled_at'], tz)} {common.state_text(row['state'])}  \n"
                            f":gray[{common.plain(who)} · {common.plain(row['account'])}]")
            if len(entries) > limit:
                st.caption(t("calendar.more", n=len(entries) - limit))

st.divider()
with common.session() as s:
    ics = exports.schedule_ics(s, campaign=campaign, language=lang())
st.download_button(t("calendar.ics"), ics, file_name=f"{campaign.slug}.ics", mime="text/calendar",
                   key="cal_ics", icon=":material/event:")
st.caption(t("calendar.ics_help"))
