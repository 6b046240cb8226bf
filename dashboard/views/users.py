"""People (admins): who may sign in, with which role."""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import LANGUAGE_NAMES, fmt_datetime, lang, t
from orchestrator.services import users
from orchestrator.services.auth import ROLE_LABELS, ROLES

campaign = common.require_campaign()
st.title(t("users.title"))
common.flash()
common.times_note(campaign.timezone)
if not common.can("admin"):
    common.viewer_notice()
    st.stop()
me = common.actor()

with common.session() as s:
    people = users.list_users(s)
common.table([{
    t("users.username"): u.username,
    t("users.role"): ROLE_LABELS[u.role][lang()] if u.role in ROLE_LABELS else u.role,
    t("compose.language"): LANGUAGE_NAMES.get(u.language, u.language),
    t("users.state"): t("users.disabled") if u.disabled else t("users.enabled"),
    t("users.created"): fmt_datetime(u.created_at, campaign.timezone, "short"),
} for u in people])
st.caption(t("users.oidc_help"))

st.subheader(t("users.change"))
names = [u.username for u in people]
who = st.selectbox(t("users.username"), names, key="users_pick", placeholder=t("common.choose_one"))
a, b, c = st.columns(3, vertical_alignment="bottom")
role = a.selectbox(t("users.role"), ROLES, key="users_role", format_func=lambda r: ROLE_LABELS[r][lang()],
                   placeholder=t("common.choose_one"))
if a.button(t("users.set_role"), key="users_set_role"):
    if common.run(lambda s: users.set_role(s, actor=me, username=who, role=role), success=t("users.saved")):
        st.rerun()
disabled = next((u.disabled for u in people if u.username == who), False)
if b.button(t("users.enable") if disabled else t("users.disable"), key="users_toggle"):
    if common.run(lambda s: users.set_disabled(s, actor=me, username=who, disabled=not disabled), success=t("users.saved")):
        st.rerun()
password = c.text_input(t("login.password"), type="password", key="users_password")
if c.button(t("users.set_password"), key="users_set_password"):
    if common.run(lambda s: users.set_password(s, actor=me, username=who, password=password), success=t("users.saved")):
        st.rerun()

st.subheader(t("users.add"))
with st.form("users_new"):
    username = st.text_input(t("users.username"), key="users_new_name", help=t("users.username_help"))
    new_role = st.selectbox(t("users.role"), ROLES, key="users_new_role", format_func=lambda r: ROLE_LABELS[r][lang()],
                            placeholder=t("common.choose_one"))
    new_password = st.text_input(t("login.password"), type="password", key="users_new_password",
                                 help=t("users.password_help"))
    if st.form_submit_button(t("users.add_button")):
        if common.run(lambda s: users.add_user(s, actor=me, username=username, password=new_password or None,
                                               role=new_role, language=lang()), success=t("users.added", name=common.plain(username))):
            st.rerun()
