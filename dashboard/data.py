"""Read-only aggregates cached for 30 seconds: every open dashboard shares one computation.

The database URL is part of every cache key, so two databases never share figures.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from dashboard.common import _engine
from orchestrator import db
from orchestrator.services import reports


@st.cache_data(ttl=30, show_spinner=False)
def overview(url: str, campaign_id: int, tz: str, since: dt.datetime) -> dict[str, Any]:
    with db.session_scope(_engine(url)) as s:
        return {
            "progress": reports.case_progress(s, campaign_id=campaign_id),
            "series": reports.engagement_series(s, campaign_id=campaign_id, tz=tz, since=since),
            "counts": reports.state_counts(s, campaign_id=campaign_id),
        }


@st.cache_data(ttl=30, show_spinner=False)
def rate_budgets(url: str) -> dict[int, list[dict[str, Any]]]:
    with db.session_scope(_engine(url)) as s:
        return reports.rate_budgets(s)
