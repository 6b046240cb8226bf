"""Audit log (admins): who did what, when; newest first."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, t
from orchestrator.services import reports
from orchestrator.services.users import list_users

PAGE = 200

campaign = common.require_campaign()
st.title(t("audit.title"))
if not common.can("admin"):
    common.viewer_notice()
    st.stop()

with common.session() as s:
    actions = reports.audit_actions(s)
    people = ["system"] + [u.username for u in list_users(s)]
a, b, c = st.columns(3)
who = a.selectbox(t("audit.actor"), [None] + people, key="audit_actor", format_func=lambda v: v or t("audit.all"))
action = b.selectbox(t("audit.action"), [None] + actions, key="audit_action", format_func=lambda v: v or t("audit.all"))
page = c.number_input(t("audit.page"), min_value=1, value=1, key="audit_page")
with common.session() as s:
    entries = reports.audit_entries(s, limit=PAGE, offset=(int(page) - 1) * PAGE, actor=who, action=action)
if not entries:
    st.info(t("audit.empty"))
    st.stop()
st.dataframe(pd.DataFrame([{
    t("col.when"): fmt_datetime(e.at, campaign.timezone, "short"),
    t("audit.actor"): e.actor,
    t("audit.action"): e.action,
    t("audit.target"): f"{e.target_type} {e.target_id}".strip(),
    t("audit.detail"): json.dumps(e.detail, ensure_ascii=False, default=str),
} for e in entries]), hide_index=True, width="stretch")
