"""Signing in: a local username and password (Argon2), or the organisation's identity provider
through Streamlit's OIDC login when ``[auth]`` is configured in ``.streamlit/secrets.toml``.

Either way the role comes from our own ``user`` table: the provider proves who someone is, an
admin decides what they may do (``porte-voix user add EMAIL --role editor``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import streamlit as st

from dashboard.common import plain, session
from dashboard.i18n import t
from orchestrator.services import login_guard, users
from orchestrator.services.auth import Actor
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow

#: What survives signing out or an idle expiry: the interface language, nothing about the person.
_KEPT = ("lang", "lang_chosen")


def oidc_providers() -> list[str | None]:
    """The providers configured under ``[auth]``: ``[None]`` for a single unnamed one, names for
    ``[auth.<name>]`` sections, ``[]`` when OIDC is not set up (or there are no secrets at all)."""
    try:
        section: Any = st.secrets.get("auth")
    except Exception:  # no secrets.toml: local accounts only
        return []
    if not section:
        return []
    named = [k for k, v in dict(section).items() if hasattr(v, "keys") and "client_id" in v]
    if named:
        return named
    return [None] if "client_id" in section else []


def _remember(actor: Actor) -> None:
    st.session_state["actor"] = {"username": actor.username, "role": actor.role}
    with session() as s:
        language = users.user_language(s, username=actor.username)
    if language and "lang_chosen" not in st.session_state:
        # The language widget is already drawn in this run: app.py applies this on the next one.
        st.session_state["lang_pending"] = language


def _clear_session() -> None:
    """Forget everything this browser session held (the person, widget values, picked rows,
    drafts), except the interface language."""
    kept = {k: st.session_state[k] for k in _KEPT if k in st.session_state}
    st.session_state.clear()
    st.session_state.update(kept)


def _expired() -> bool:
    """True when the signed-in session was idle too long (it is then cleared); otherwise notes
    this run as activity. Streamlit runs the page on every click, so a run is activity."""
    now = utcnow()
    last = st.session_state.get("last_active")
    idle = dt.timedelta(minutes=get_settings().session_idle_minutes)
    signed_in = bool(st.session_state.get("actor")) or bool(getattr(st.user, "is_logged_in", False))
    if signed_in and isinstance(last, dt.datetime) and now - last > idle:
        _clear_session()
        st.session_state["session_expired"] = True  # before st.logout(), which may rerun at once
        if oidc_providers() and getattr(st.user, "is_logged_in", False):
            st.logout()
        return True
    st.session_state["last_active"] = now
    return False


def current_actor() -> Actor | None:
    """The signed-in person, re-read from the database on every run so a role change or a
    disabled account takes effect at once."""
    if _expired():
        return None
    data = st.session_state.get("actor")
    if data:
        with session() as s:
            actor = users.active_actor(s, username=data["username"])
        if actor is None:
            logout()
            return None
        st.session_state["actor"] = {"username": actor.username, "role": actor.role}
        return actor
    if oidc_providers() and getattr(st.user, "is_logged_in", False):
        email = str(st.user.get("email") or "")
        with session() as s:
            actor = users.actor_for_email(s, email=email)
        if actor is None:
            st.error(plain(t("login.oidc_unknown", email=email)))
            st.button(t("login.logout"), key="login_oidc_logout", on_click=st.logout)
            st.stop()
        assert actor is not None
        _remember(actor)
        return actor
    return None


def logout() -> None:
    _clear_session()
    if oidc_providers() and getattr(st.user, "is_logged_in", False):
        st.logout()


def _wait_message(result: login_guard.SignIn) -> str:
    if result.wait_seconds >= 60:
        minutes = -(-result.wait_seconds // 60)  # rounded up: "1 minute" must not end early
        return t("login.too_many_minutes" if minutes > 1 else "login.too_many_minute", n=minutes)
    return t("login.too_many_seconds" if result.wait_seconds > 1 else "login.too_many_second", n=result.wait_seconds)


def login_form() -> None:
    st.title(t("app.title"))
    st.caption(t("login.subtitle"))
    if st.session_state.pop("session_expired", False):
        st.warning(t("login.expired"), icon=":material/timer_off:")
    # The browser session's own failure counter (login_guard); random, so it names nobody.
    browser = st.session_state.setdefault("login_session_id", secrets.token_hex(16))
    with st.form("login_form"):
        username = st.text_input(t("login.username"), key="login_username")
        password = st.text_input(t("login.password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if submitted:
        with session() as s:
            result = login_guard.sign_in(s, username=username, password=password, session_id=browser)
        if result.actor is not None:
            _remember(result.actor)
            st.session_state["last_active"] = utcnow()
            st.rerun()
        elif result.throttled:
            st.error(_wait_message(result), icon=":material/lock_clock:")
        else:
            st.error(t("login.failed"))
    for provider in oidc_providers():
        label = t("login.oidc", provider=provider or t("login.oidc_default"))
        if st.button(label, key=f"login_oidc_{provider or 'default'}"):
            st.login(provider) if provider else st.login()
    st.caption(t("login.help"))
