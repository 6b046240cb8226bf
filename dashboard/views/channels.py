"""Channels: accounts, health, last error, remaining rate budget; test a connection; add or edit
credentials (admins). A stored secret is never shown back, not even masked in a field."""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st

from channels.base import CredentialField
from channels.registry import KINDS
from dashboard import common, data
from dashboard.i18n import fmt_datetime, fmt_number, fmt_usd, lang, t
from orchestrator import media_urls
from orchestrator.services import accounts as account_service
from orchestrator.services import listening as listening_service
from orchestrator.services import listening_view

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("channels.title"))
common.flash()
common.times_note(campaign.timezone)

with common.session() as s:
    accounts = account_service.list_accounts(s)
budgets = data.rate_budgets(common.database_url())
editor, admin = common.can("editor"), common.can("admin")
me = common.actor()


def credential_fields(fields: tuple[CredentialField, ...], key: str) -> dict[str, str]:
    """One field per credential the platform's channel declares, with its label and where to find
    it in the reader's language; a secret in a password field."""
    return {field.name: st.text_input(field.label(lang()), type="password" if field.secret else "default",
                                      key=f"{key}_{field.name}", help=field.help(lang()))
            for field in fields}


def endpoint_name(endpoint: str) -> str:
    key = f"channels.endpoint.{endpoint}"
    return t(key) if t(key) != key else endpoint


def show_account(account: Any) -> None:
    """One account's card: its health, last error, rate budget, test button and credentials."""
    details = t("channels.details", handle=common.plain(account.handle or "—"),
                language=common.language_name(account.language), checked=fmt_datetime(account.last_checked_at, tz))
    if account.base_url:
        details += " · " + t("channels.server", url=common.plain(account.base_url))
    if account.is_sandbox:
        details += " · " + t("channels.sandbox")
    st.markdown(details)
    if not account.is_sandbox and media_urls.missing_for({account.kind}):
        st.warning(t("channels.public_media_missing"))
    if account.last_error:
        st.error(t("channels.last_error", error=common.plain(account.last_error)))
        if not account.healthy:
            st.caption(t("channels.reconnect_first"))
    rows = budgets.get(account.id or 0, [])
    if rows:
        common.table([{
            t("channels.endpoint"): endpoint_name(r["endpoint"]),
            t("channels.remaining"): f"{fmt_number(r['remaining'])} / {fmt_number(r['capacity'])}",
            t("channels.window"): t("channels.window_value", minutes=fmt_number(r["window_seconds"] // 60)),
            t("channels.blocked_until"): fmt_datetime(r["blocked_until"], tz, "short") if r["blocked_until"] else "",
        } for r in rows])
    show_listening(account)
    if editor and st.button(t("channels.test"), key=f"acct_test_{account.name}", icon=":material/network_check:"):
        result = common.run(partial(account_service.test_account, actor=me, name=account.name, timeout=10.0,
                                    language=lang()))
        if result is not None:
            ok, message = result
            if ok:
                st.session_state["flash"] = t("channels.test_ok", handle=common.plain(message))
            else:
                st.session_state["flash_problem"] = t("channels.test_failed", error=common.plain(message))
            data.rate_budgets.clear()
            st.rerun()
    if admin:
        fields = account_service.FIELDS[account.kind]  # an unknown platform stops here, not in a form
        with st.form(f"acct_edit_{account.name}"):
            st.caption(t("channels.edit_help"))
            given = credential_fields(fields, f"acct_cred_{account.name}")
            base_url = st.text_input(t("channels.base_url"), value=account.base_url or "",
                                     key=f"acct_base_{account.name}")
            if st.form_submit_button(t("channels.save")):
                if common.run(partial(account_service.update_credentials, actor=me, name=account.name,
                                  credentials=given, base_url=base_url), success=t("channels.saved")):
                    st.rerun()


def show_listening(account: Any) -> None:
    """How listening goes on this account: last good poll, last refusal in words, streams the
    platform does not give this account, and this month's reads (with their cost where billed)."""
    with common.session() as s:
        state = listening_service.account_states(s, account=account)
    st.markdown("**" + t("channels.listen.title") + "**")
    if not state["streams"]:
        st.caption(t("channels.listen.none"))
        return
    when = fmt_datetime(state["last_ok_at"], tz) if state["last_ok_at"] else t("channels.listen.never")
    st.caption(t("channels.listen.last_ok", when=when))
    with common.session() as s:
        groups = listening_view.unavailable_groups(s, account=account, campaign=campaign)
    for group in groups:
        terms = common.plain(", ".join(term_name(kind, text) for kind, text in group["terms"]))
        reason = common.plain(group["reason"].text(lang()))
        if group["by_design"]:  # the platform searches no keywords: nothing to fix, nothing to retest
            st.caption(t("channels.listen.not_searched", terms=terms, reason=reason))
        else:
            st.warning(t("channels.listen.unavailable", n=fmt_number(len(group["terms"])), terms=terms, reason=reason,
                         button=t("channels.test")))
    if state["last_error"]:
        st.warning(t("channels.listen.error", error=common.plain(state["last_error"].get(lang()) or ""),
                     when=fmt_datetime(state["last_error_at"], tz, "short")))
    st.caption(t("channels.listen.month", calls=fmt_number(state["calls_this_month"]),
                 posts=fmt_number(state["posts_read_this_month"])))
    if state["has_cost"]:
        st.info(t("channels.listen.cost", cost=fmt_usd(state["estimated_cost_usd"])))
    for estimate in state.get("reading_estimates", []):
        kind, _, text = estimate["stream"].removeprefix("count:").partition(":")
        st.caption(t("channels.listen.reading", term=common.plain(term_name("hashtag" if kind == "tag" else kind, text)),
                     posts=fmt_number(estimate["posts"]), days=fmt_number(round(estimate["days"])),
                     cost=fmt_usd(estimate["cost_per_month_usd"])))


def term_name(kind: str, text: str) -> str:
    """A term as staff typed it: « #JusticePourJuan », « "Guapinol" », or the answers to our posts."""
    if kind == "answers":
        return t("channels.listen.answers")
    if kind == "page":
        return t("channels.listen.page")
    return f"#{text}" if kind == "hashtag" else t("channels.listen.keyword", text=text)


def listening_trouble(account: Any) -> bool:
    """Something about this account's listening staff should look at (said on the closed card)."""
    with common.session() as s:
        state = listening_service.account_states(s, account=account)
        groups = listening_view.unavailable_groups(s, account=account, campaign=campaign)
    return bool(state["last_error"]) or any(not g["by_design"] for g in groups)


if not accounts:
    st.info(t("channels.empty"))
for account in accounts:
    health = t("channels.healthy") if account.healthy else t("channels.unhealthy")
    icon = "🟢" if account.healthy else "🔴"
    label = f"{icon} {common.plain(account.name)} · {common.platform_name(account.kind)} · {health}"
    try:
        if listening_trouble(account):
            label += f" · {t('channels.listen.trouble')}"
    except Exception:  # the card itself says what cannot be read
        pass
    with st.expander(label, expanded=not account.healthy):
        try:
            show_account(account)
        except Exception:  # this account cannot be drawn: its card says so, the others are shown
            common.broken(t("channels.broken", name=account.name))

if not admin:
    st.stop()
st.subheader(t("channels.add"))
kind = st.selectbox(t("col.channel"), list(account_service.CREDENTIALS), key="acct_new_kind",
                    format_func=common.platform_name, placeholder=t("common.choose_one"))
with st.form("acct_new"):
    name = st.text_input(t("channels.name"), key="acct_new_name")
    language = st.selectbox(t("compose.language"), [None, "fr", "en"], key="acct_new_language",
                            format_func=lambda code: common.language_name(code, capital=True), placeholder=t("common.choose_one"))
    base_url = st.text_input(t("channels.base_url"), key="acct_new_base")
    given = credential_fields(account_service.FIELDS[kind or KINDS[0]], "acct_new_cred")
    sandbox = st.checkbox(t("channels.sandbox_option"), key="acct_new_sandbox")
    if st.form_submit_button(t("channels.add_button")):
        if common.run(lambda s: account_service.add_account(
                s, actor=me, kind=kind, name=name.strip(), credentials=given, base_url=base_url or None,
                language=language, is_sandbox=sandbox), success=t("channels.added", name=common.plain(name))):
            data.rate_budgets.clear()
            st.rerun()
