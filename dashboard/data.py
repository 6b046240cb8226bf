"""Read-only aggregates cached for 30 seconds: every open dashboard shares one computation.

The database URL is part of every cache key, so two databases never share figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from dashboard.common import read_session
from orchestrator.services import reports


@st.cache_data(ttl=30, show_spinner=False)
def overview(url: str, campaign_id: int, tz: str) -> dict[str, Any]:
    """Goal bars, state counts and the engagement curve: one pass over the delivery figures'
    covering index and a read of the hourly table the worker keeps, about a tenth of a second
    at 100,000 deliveries (docs/benchmarks.md, section dashboard)."""
    with read_session(url) as s:
        return reports.overview(s, campaign_id=campaign_id, tz=tz)


@st.cache_data(ttl=300, show_spinner=True)
def snapshot_series(url: str, campaign_id: int, tz: str, since: dt.datetime, hourly: bool = False) -> list[dict[str, Any]]:
    """The curve from every snapshot: heavier, so only on request and kept five minutes."""
    with read_session(url) as s:
        return reports.engagement_series(s, campaign_id=campaign_id, tz=tz, since=since, hourly=hourly)


@st.cache_data(ttl=300, show_spinner=False)
def results(url: str, campaign_id: int) -> dict[str, Any]:
    """A finished edition's bilan: its figures no longer move much, so kept five minutes."""
    from orchestrator.services import campaign_admin, campaign_results

    with read_session(url) as s:
        return campaign_results.results(s, campaign=campaign_admin.get_campaign(s, campaign_id=campaign_id))


@st.cache_data(ttl=30, show_spinner=False)
def rate_budgets(url: str) -> dict[int, list[dict[str, Any]]]:
    with read_session(url) as s:
        return reports.rate_budgets(s)


@st.cache_data(ttl=30, show_spinner=False)
def voice(url: str, campaign_id: int) -> dict[str, Any]:
    """The public's voice per case (clicks, public posts, actions, per day) and the funnel per
    case and channel: a few grouped reads, shared by the overview and the case page."""
    from orchestrator.services import campaign_admin, public_voice

    with read_session(url) as s:
        campaign = campaign_admin.get_campaign(s, campaign_id=campaign_id)
        return {**public_voice.voice(s, campaign=campaign),
                "funnel": public_voice.funnel_by_case_channel(s, campaign=campaign)}
