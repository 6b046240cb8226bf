"""Intégrations (admins): API tokens for other tools (create with scopes, rotate, revoke; shown
once), outgoing webhooks and their delivery log, the counts pushed through the API."""

from __future__ import annotations

import datetime as dt
from functools import partial

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services import integrations, notify
from orchestrator.timeutil import utcnow

campaign = common.require_campaign()
st.title(t("integrations.title"))
common.flash()
if not common.can("admin"):
    common.viewer_notice()
    st.stop()
me = common.actor()
tz = campaign.timezone
st.caption(t("integrations.intro"))

# A token or a secret exists in clear only here, once, right after it was made.
if shown := st.session_state.pop("integrations_shown", None):
    st.success(t("integrations.shown_once"), icon=":material/key:")
    st.code(shown, language=None)

with common.session() as s:
    tokens = integrations.list_tokens(s)
    hooks = integrations.list_webhooks(s)
    log = notify.recent(s, recipient_prefix="webhook:", limit=100)
    pushed = integrations.api_imports(s, limit=30)

# ---------------------------------------------------------------------------------------------
st.subheader(t("integrations.tokens"))
st.caption(t("integrations.tokens_help"))


def _event(name: str, language: str | None = None) -> str:
    """A webhook event in words (the internal event's name, or the one the payload carries)."""
    words = integrations.HOOK_EVENT_WORDS.get(notify.HOOK_EVENTS.get(name, name))
    return words[language or lang()] if words else name


def _scope(name: str) -> str:
    words = integrations.SCOPES.get(name)
    return words[lang()] if words else name


def _state(token: object) -> str:
    if getattr(token, "revoked_at", None):
        return t("integrations.revoked")
    expires = getattr(token, "expires_at", None)
    if expires is not None and expires <= utcnow():
        return t("integrations.expired")
    return t("integrations.active")


if tokens:
    common.table([{
        "#": k.id,
        t("integrations.name"): k.name,
        t("integrations.prefix"): k.prefix + "…",
        t("integrations.scopes"): ", ".join(_scope(scope) for scope in k.scopes),
        t("integrations.rate"): k.rate_per_minute,
        t("integrations.state"): _state(k),
        t("integrations.expires"): fmt_datetime(k.expires_at, tz, "short"),
        t("integrations.last_used"): fmt_datetime(k.last_used_at, tz, "short"),
    } for k in tokens], numbers=["#", t("integrations.rate")])
else:
    st.info(t("integrations.no_tokens"), icon=":material/key_off:")

with st.form("integrations_token_form"):
    name = st.text_input(t("integrations.name"), key="integrations_token_name")
    scopes = st.multiselect(t("integrations.scopes"), list(integrations.SCOPES), key="integrations_token_scopes",
                            format_func=lambda s: integrations.SCOPES[s][lang()], placeholder=t("common.choose_one"))
    a, b = st.columns(2)
    rate = a.number_input(t("integrations.rate"), min_value=1, max_value=100_000, value=600, key="integrations_rate")
    days = b.number_input(t("integrations.days"), min_value=0, max_value=3650, value=0, key="integrations_days")
    create = st.form_submit_button(t("integrations.create"), icon=":material/add:")
if create:
    expires = utcnow() + dt.timedelta(days=int(days)) if days else None
    made = common.run(partial(integrations.create_token, actor=me, name=name, scopes=scopes, expires_at=expires,
                              rate_per_minute=int(rate)), success=t("integrations.created"))
    if made is not None:
        st.session_state["integrations_shown"] = made[1]
        st.rerun()

live = [k for k in tokens if k.revoked_at is None]
if live:
    a, b, c = st.columns(3, vertical_alignment="bottom")
    pick = a.selectbox(t("integrations.token"), [k.id for k in live], key="integrations_pick",
                       format_func=lambda i: next(f"#{k.id} {k.name}" for k in live if k.id == i),
                       placeholder=t("common.choose_one"))
    if b.button(t("integrations.rotate"), key="integrations_rotate", icon=":material/autorenew:"):
        made = common.run(partial(integrations.rotate_token, actor=me, token_id=int(pick or 0)),
                          success=t("integrations.rotated"))
        if made is not None:
            st.session_state["integrations_shown"] = made[1]
            st.rerun()
    if c.button(t("integrations.revoke"), key="integrations_revoke", icon=":material/block:"):
        if common.run(partial(integrations.revoke_token, actor=me, token_id=int(pick or 0)),
                      success=t("integrations.revoked_done")) is not None:
            st.rerun()

# ---------------------------------------------------------------------------------------------
st.subheader(t("integrations.webhooks"))
st.caption(t("integrations.webhooks_help"))
if hooks:
    common.table([{
        "#": h.id, t("integrations.name"): h.name, t("integrations.url"): h.url,
        t("integrations.events"): ", ".join(_event(e) for e in h.events),
        t("integrations.state"): t("integrations.active") if h.active else t("integrations.paused"),
    } for h in hooks], numbers=["#"])
with st.form("integrations_hook_form"):
    hook_name = st.text_input(t("integrations.name"), key="integrations_hook_name")
    url = st.text_input(t("integrations.url"), key="integrations_hook_url")
    events = st.multiselect(t("integrations.events"), sorted(set(notify.HOOK_EVENTS.values())),
                            key="integrations_hook_events", placeholder=t("common.choose_one"),
                            format_func=partial(_event, language=lang()))  # the language of this run, bound
    add = st.form_submit_button(t("integrations.add_hook"), icon=":material/add_link:")
if add:
    added = common.run(partial(integrations.add_webhook, actor=me, name=hook_name, url=url, events=events),
                       success=t("integrations.hook_added"))
    if added is not None:
        st.session_state["integrations_shown"] = added[1]
        st.rerun()
if hooks:
    a, b = st.columns(2, vertical_alignment="bottom")
    which = a.selectbox(t("integrations.webhook"), [h.id for h in hooks], key="integrations_hook_pick",
                        format_func=lambda i: next(f"#{h.id} {h.name}" for h in hooks if h.id == i),
                        placeholder=t("common.choose_one"))
    current = next((h for h in hooks if h.id == which), None)
    if current is not None and b.button(t("integrations.pause") if current.active else t("integrations.resume"),
                                        key="integrations_hook_toggle"):
        if common.run(partial(integrations.set_webhook_active, actor=me, webhook_id=current.id or 0,
                              active=not current.active), success=t("integrations.saved")) is not None:
            st.rerun()

st.subheader(t("integrations.log"))
if log:
    names = {f"webhook:{h.id}": h.name for h in hooks}
    common.table([{
        t("notifications.when"): fmt_datetime(r.created_at, tz, "short"),
        t("integrations.webhook"): names.get(r.recipient, r.recipient),
        t("notifications.event"): _event(r.event),
        t("notifications.state"): t(f"notifications.state.{r.state}"),
        t("notifications.attempts"): r.attempts,
        t("integrations.sent_at"): fmt_datetime(r.sent_at, tz, "short"),
        t("notifications.error"): r.last_error,
    } for r in log], numbers=[t("notifications.attempts")])
else:
    st.info(t("integrations.no_log"), icon=":material/history:")

st.subheader(t("integrations.pushed"))
if pushed:
    common.table([{
        "#": p.id, t("notifications.when"): fmt_datetime(p.created_at, tz, "short"),
        t("integrations.by"): p.imported_by, t("integrations.rows"): p.keys_written, t("integrations.total"): p.total,
    } for p in pushed], numbers=["#", t("integrations.rows"), t("integrations.total")])
else:
    st.info(t("integrations.none_pushed"), icon=":material/inbox:")
