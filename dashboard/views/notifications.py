"""Notifications (every staff member): which events reach me, by e-mail and/or a chat webhook,
in my language; a test message; what was sent to me lately."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services import notify

campaign = common.require_campaign()
st.title(t("notifications.title"))
st.caption(t("notifications.intro"))
common.flash()
me = common.actor()

with common.session() as s:
    mine = notify.preference(s, username=me.username)
    sent = notify.recent(s, recipient_prefix=me.username, limit=200)
sent = [r for r in sent if r.recipient == me.username][:30]

# The chat webhook's signing secret exists in clear only here, once, right after saving.
if secret := st.session_state.pop("notifications_secret", None):
    st.success(t("notifications.secret"), icon=":material/key:")
    st.code(secret, language=None)

# Each event for the roles it concerns: « Ma publication refusée » for whoever writes posts, not a viewer.
allowed = [e for e in notify.CHOOSABLE if me.can(notify.EVENTS[e].role)]
with st.form("notifications_form"):
    chosen = [e for e in allowed
              if st.checkbox(notify.EVENTS[e].label[lang()], value=e in mine.events, key=f"notifications_event_{e}")]
    email = st.text_input(t("notifications.email"), value=mine.email, key="notifications_email")
    webhook = st.text_input(t("notifications.webhook"), value=mine.webhook_url, key="notifications_webhook",
                            help=t("notifications.webhook_help"))
    fmt = st.selectbox(t("notifications.format"), notify.FORMATS, key="notifications_format",
                       index=notify.FORMATS.index(mine.webhook_format) if mine.webhook_format in notify.FORMATS else 0,
                       format_func=lambda f: {"slack": "Slack", "mattermost": "Mattermost", "teams": "Microsoft Teams"}[f],
                       placeholder=t("common.choose_one"))
    saved = st.form_submit_button(t("notifications.save"), icon=":material/save:")
if saved:
    result = common.run(partial(notify.save_preference, actor=me, username=me.username, events=chosen, email=email,
                                webhook_url=webhook, webhook_format=fmt), success=t("notifications.saved"))
    if result is not None:
        if result[1]:
            st.session_state["notifications_secret"] = result[1]
        st.rerun()

st.caption(t("notifications.language_hint"))
if st.button(t("notifications.test"), key="notifications_test", icon=":material/send:"):
    if common.run(partial(notify.send_test, actor=me), success=t("notifications.test_queued")) is not None:
        st.rerun()

st.subheader(t("notifications.sent"))
if not sent:
    st.info(t("notifications.none"), icon=":material/notifications_off:")
else:
    common.table([{
        t("notifications.when"): fmt_datetime(r.created_at, campaign.timezone, "short"),
        t("notifications.event"): notify.EVENTS[r.event].label[lang()] if r.event in notify.EVENTS else r.event,
        t("notifications.channel"): t(f"notifications.channel.{r.channel}"),
        t("notifications.state"): t(f"notifications.state.{r.state}"),
        t("notifications.attempts"): r.attempts,
        t("notifications.error"): r.last_error,
    } for r in sent], numbers=[t("notifications.attempts")])
