"""Porte-voix staff dashboard. Run with ``streamlit run dashboard/app.py`` (or ``porte-voix up``).

This script only signs people in, offers the language switch and lists the pages their role may
open; each page in ``views/`` is a short script over ``orchestrator.services``.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts dashboard/ on the path, not the project root that holds the packages.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from dashboard import common, suspension_ui  # noqa: E402
from dashboard.i18n import LANGUAGE_NAMES, LANGUAGES, t  # noqa: E402
from dashboard.login import current_actor, login_form, logout  # noqa: E402
from orchestrator.services.auth import ROLE_LABELS  # noqa: E402

st.set_page_config(page_title="Porte-voix", page_icon=":material/campaign:", layout="wide")

# The marathon counter opens with its secret link and no login, and shows nothing else.
if st.query_params.get("counter"):
    from dashboard.counter_page import show_counter  # noqa: E402

    show_counter(st.query_params["counter"])
    st.stop()


def _language_changed() -> None:
    st.session_state["lang_chosen"] = True
    data = st.session_state.get("actor")
    if data:
        from orchestrator.services.auth import Actor
        from orchestrator.services.users import set_language

        common.run(lambda s: set_language(s, actor=Actor(data["username"], data["role"]),
                                          language=st.session_state["lang"]))


st.session_state.setdefault("lang", "fr")
if "lang_pending" in st.session_state:
    st.session_state["lang"] = st.session_state.pop("lang_pending")
st.sidebar.radio(
    "Langue · Language", LANGUAGES, key="lang", horizontal=True, format_func=LANGUAGE_NAMES.__getitem__,
    on_change=_language_changed,
)
common.streamlit_words()

actor = current_actor()
if actor is None:
    login_form()
    st.stop()
assert actor is not None

st.sidebar.caption(t("app.signed_in_as", user=common.plain(actor.username),
                     role=ROLE_LABELS[actor.role][st.session_state["lang"]]))
if st.sidebar.button(t("login.logout"), key="logout", icon=":material/logout:"):
    logout()
    st.rerun()

common.campaign_selector()

_VIEWS = Path(__file__).parent / "views"


def page(name: str, icon: str, *, default: bool = False) -> st.Page:
    return st.Page(str(_VIEWS / f"{name}.py"), title=t(f"nav.{name}"), icon=icon, url_path=name, default=default)


pages = {
    t("nav.section.follow"): [
        page("overview", ":material/dashboard:", default=True),
        page("queue", ":material/list:"),
        page("calendar", ":material/calendar_month:"),
        page("inbox", ":material/inbox:"),
    ],
    t("nav.section.write"): [
        page("compose", ":material/edit:"),
        page("approvals", ":material/fact_check:"),
        page("posts", ":material/view_list:"),
        page("series", ":material/repeat:"),
        page("bulk", ":material/upload_file:"),
    ],
    t("nav.section.campaign"): [
        page("cases", ":material/person:"),
        page("responses", ":material/how_to_vote:"),
        page("campaigns", ":material/event_note:"),
        page("media", ":material/photo_library:"),
        page("templates", ":material/article:"),
        page("counter", ":material/scoreboard:"),
        page("channels", ":material/hub:"),
        page("exports", ":material/download:"),
        page("notifications", ":material/notifications:"),
    ],
}
if actor.can("admin"):
    pages[t("nav.section.admin")] = [page("users", ":material/group:"), page("audit", ":material/history:"),
                                     page("integrations", ":material/api:"), page("stop", ":material/front_hand:")]

current = st.navigation(pages, expanded=True)
suspension_ui.banner()  # above every page, for every role, while a suspension is in force
current.run()
