"""The suspension banner, drawn by the app frame above every page: the reason, who set it and
when, for every role; admins also get the way to the page that lifts it."""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services import suspensions


def in_force() -> list[suspensions.InForce]:
    with common.session() as s:
        return suspensions.in_force(s)


def banner() -> None:
    stopped = in_force()
    if not stopped:
        return
    chosen = common.campaign()
    tz = chosen.timezone if chosen is not None else "America/Toronto"
    for item in stopped:
        st.error(t("stop.banner", scope=common.plain(item.scope_text(lang())), reason=common.plain(item.reason),
                   who=common.plain(common.person(item.set_by)), when=fmt_datetime(item.set_at, tz, "short")),
                 icon=":material/front_hand:")
    if common.can("admin"):
        st.page_link("views/stop.py", label=t("stop.manage"), icon=":material/play_circle:")
