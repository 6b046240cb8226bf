"""Signing in: a local username and password (Argon2), or the organisation's identity provider
through Streamlit's OIDC login when ``[auth]`` is configured in ``.streamlit/secrets.toml``.

Either way the role comes from our own ``user`` table: the provider proves who someone is, an
admin decides what they may do (``porte-voix user add EMAIL --role editor``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.common import session
from dashboard.i18n import lang, t
from orchestrator.services import users
from orchestrator.services.auth import Actor


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


def current_actor() -> Actor | None:
    """The signed-in person, re-read from the database on every run so a role change or a
    disabled account takes effect at once."""
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
            st.error(t("login.oidc_unknown", email=email))
            st.button(t("login.logout"), key="login_oidc_logout", on_click=st.logout)
            st.stop()
        assert actor is not None
        _remember(actor)
        return actor
    return None


def logout() -> None:
    st.session_state.pop("actor", None)
    if oidc_providers() and getattr(st.user, "is_logged_in", False):
        st.logout()


def login_form() -> None:
    st.title(t("app.title"))
    st.caption(t("login.subtitle"))
    with st.form("login_form"):
        username = st.text_input(t("login.username"), key="login_username")
        password = st.text_input(t("login.password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if submitted:
        with session() as s:
            actor = users.authenticate(s, username=username, password=password)
        if actor is None:
            st.error(t("login.failed"))
        else:
            _remember(actor)
            st.rerun()
    for provider in oidc_providers():
        label = t("login.oidc", provider=provider or t("login.oidc_default"))
        if st.button(label, key=f"login_oidc_{provider or 'default'}"):
            st.login(provider) if provider else st.login()
    if lang() == "fr":
        st.caption(t("login.help"))
