"""Exports: deliveries with their latest figures as CSV, and the schedule as a calendar file,
each built on request (a visit builds nothing: at 100,000 deliveries the calendar file alone took
seconds, during which the session answered nothing)."""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import lang, t
from orchestrator.services import exports, plan_io

campaign = common.require_campaign()
st.title(t("exports.title"))

st.subheader(t("exports.csv"))
st.caption(t("exports.csv_help"))
# A file prepared for another edition is not offered for this one.
if st.session_state.get("export_csv_campaign") != campaign.id:
    st.session_state.pop("export_csv_data", None)
if st.button(t("exports.prepare"), key="export_prepare", icon=":material/table:"):
    with common.session() as s:
        st.session_state["export_csv_data"] = plan_io.export_deliveries(s, campaign=campaign, fmt="csv")
        st.session_state["export_csv_campaign"] = campaign.id
if "export_csv_data" in st.session_state:
    st.download_button(t("exports.download_csv"), st.session_state["export_csv_data"],
                       file_name=f"{campaign.slug}-envois.csv", mime="text/csv", key="export_csv",
                       icon=":material/download:")

st.subheader(t("exports.ics"))
st.caption(t("exports.ics_help"))
ics_key = f"export_ics_{campaign.id}_{lang()}"
if st.button(t("exports.prepare"), key="export_ics_prepare", icon=":material/event:"):
    with common.session() as s:
        st.session_state[ics_key] = exports.schedule_ics(s, campaign=campaign, language=lang())
if ics_key in st.session_state:
    st.download_button(t("calendar.ics"), st.session_state[ics_key], file_name=f"{campaign.slug}.ics",
                       mime="text/calendar", key="export_ics", icon=":material/download:")
