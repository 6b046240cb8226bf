"""An embargo on a case or a post: shown on its card (the post's own, or its case's), and set,
moved or lifted from it. Editors may set one or move it later; lifting it or bringing it
forward takes an approver (the service says so in the reader's language)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, t
from orchestrator.timeutil import utcnow


def notice(until: dt.datetime | None, tz: str, *, of_case: bool = False) -> None:
    """The embargo in force, if any, as a warning on the card."""
    if until is None or until <= utcnow():
        return
    st.warning(t("embargo.case_notice" if of_case else "embargo.notice", until=fmt_datetime(until, tz, "short")),
               icon=":material/lock_clock:")


def controls(key: str, until: dt.datetime | None, tz: str, change: Callable[[dt.datetime | None], Callable[[Any], object]]) -> None:
    """Set or move the embargo (editors), or lift it (approvers): ``change(until)`` is the
    service call for ``common.run``."""
    if not common.can("editor") or not st.toggle(t("embargo.edit"), key=f"{key}_toggle"):
        return
    zone = ZoneInfo(tz)
    start = (until or utcnow() + dt.timedelta(days=1)).astimezone(zone)
    a, b = st.columns(2)
    day = a.date_input(t("embargo.day"), value=start.date(), key=f"{key}_day")
    hour = b.time_input(t("embargo.time"), value=start.time().replace(second=0, microsecond=0), key=f"{key}_time")
    c, d = st.columns(2)
    if c.button(t("embargo.set"), key=f"{key}_set", icon=":material/lock_clock:"):
        chosen = dt.datetime.combine(day, hour, tzinfo=zone)
        if common.run(change(chosen), success=t("embargo.saved")) is not None:
            st.rerun()
    if until is not None and d.button(t("embargo.lift"), key=f"{key}_lift", icon=":material/lock_open:"):
        if common.run(change(None), success=t("embargo.lifted")) is not None:
            st.rerun()
