"""Exports: deliveries with their latest figures as CSV, and the schedule as a calendar file."""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import lang, t
from orchestrator.services import exports, plan_io

campaign = common.require_campaign()
st.title(t("exports.title"))

st.subheader(t("exports.csv"))
st.caption(t("exports.csv_help"))
# Built on demand: a CSV of 100,000 rows is not worth computing on every visit.
if st.button(t("exports.prepare"), key="export_prepare", icon=":material/table:"):
    with common.session() as s:
        st.session_state["export_csv_data"] = plan_io.export_deliveries(s, campaign=campaign, fmt="csv")
if "export_csv_data" in st.session_state:
    st.download_button(t("exports.download_csv"), st.session_state["export_csv_data"],
                       file_name=f"{campaign.slug}-envois.csv", mime="text/csv", key="export_csv",
                       icon=":material/download:")

st.subheader(t("exports.ics"))
st.caption(t("calendar.ics_help"))
with common.session() as s:
    ics = exports.schedule_ics(s, campaign=campaign, language=lang())
st.download_button(t("calendar.ics"), ics, file_name=f"{campaign.slug}.ics", mime="text/calendar",
                   key="export_ics", icon=":material/event:")
