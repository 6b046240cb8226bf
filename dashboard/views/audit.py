"""Audit log (admins): who did what, when; newest first. Each entry in words (dashboard/audit_text.py)."""

from __future__ import annotations

import streamlit as st

from dashboard import audit_text, common
from dashboard.i18n import fmt_datetime, t
from orchestrator.services import reports
from orchestrator.services.campaigns import cases_by_key
from orchestrator.services.users import list_users

PAGE = 200

campaign = common.require_campaign()
st.title(t("audit.title"))
if not common.can("admin"):
    common.viewer_notice()
    st.stop()
common.times_note(campaign.timezone)

with common.session() as s:
    actions: list[str | None] = [None, *reports.audit_actions(s)]
    people: list[str | None] = [None, "system", *(u.username for u in list_users(s))]
    # Entries name cases by slug or number: shown by name, a shared slug as this edition names it.
    by_key = cases_by_key(s, campaign_id=campaign.id or 0)
cases = {key: common.case_name(c.person or {}, c.slug) for key, c in by_key.items()}
a, b, c = st.columns(3)
who = a.selectbox(t("audit.actor"), people, key="audit_actor",
                  format_func=lambda v: common.person(v) if v else t("audit.all"),
                  placeholder=t("common.choose_one"))
action = b.selectbox(t("audit.action"), actions, key="audit_action", placeholder=t("common.choose_one"),
                     format_func=lambda v: audit_text.action_label(v) if v else t("audit.all"))
page = c.number_input(t("audit.page"), min_value=1, value=1, key="audit_page")
with common.session() as s:
    entries = reports.audit_entries(s, limit=PAGE, offset=(int(page) - 1) * PAGE, actor=who, action=action)
if not entries:
    st.info(t("audit.empty"))
    st.stop()
tz = campaign.timezone
common.table([{
    t("col.when"): fmt_datetime(e.at, tz, "short"),
    t("audit.actor"): common.person(e.actor),
    t("audit.action"): audit_text.action_label(e.action),
    t("audit.target"): audit_text.target_label(e.target_type, e.target_id, cases),
    t("audit.detail"): audit_text.details(e.detail, tz, cases),
} for e in entries], download=f"audit-{int(page)}")
