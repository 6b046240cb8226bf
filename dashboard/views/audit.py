"""Audit log (admins): who did what, when; newest first. Each entry in words (dashboard/audit_text.py)."""

from __future__ import annotations

import streamlit as st
from sqlmodel import select

from dashboard import audit_text, common
from dashboard.i18n import fmt_datetime, t
from orchestrator.models import Case
from orchestrator.services import reports
from orchestrator.services.users import list_users

PAGE = 200

campaign = common.require_campaign()
st.title(t("audit.title"))
if not common.can("admin"):
    common.viewer_notice()
    st.stop()
common.times_note(campaign.timezone)

with common.session() as s:
    actions = reports.audit_actions(s)
    people = ["system"] + [u.username for u in list_users(s)]
    # Entries name cases by slug or number: shown by name. Another edition's first, this one's
    # last, so that a slug both editions share reads as this edition names it.
    every_case = sorted(s.exec(select(Case)), key=lambda c: c.campaign_id == campaign.id)
cases = {key: common.case_name(c.person or {}, c.slug) for c in every_case for key in (c.slug, str(c.id))}
a, b, c = st.columns(3)
who = a.selectbox(t("audit.actor"), [None] + people, key="audit_actor",
                  format_func=lambda v: common.person(v) if v else t("audit.all"),
                  placeholder=t("common.choose_one"))
action = b.selectbox(t("audit.action"), [None] + actions, key="audit_action", placeholder=t("common.choose_one"),
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
