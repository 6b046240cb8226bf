"""The marathon counter for a projector, opened as ``?counter=<secret>`` without signing in.

It shows today's letters and cards, per case and in total, in large type, and nothing else: no
sidebar, no menu, no name of anyone. French by default (``&lang=en`` for English). It refreshes
on its own, and checks the link again each time, so unpublishing empties the screen at once.
"""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import LANGUAGES, fmt_number, fmt_time, t
from orchestrator.services import counter
from orchestrator.timeutil import utcnow

REFRESH_SECONDS = 15

# Static style only (no text from anyone): big figures for a room, no chrome around them.
_STYLE = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header, footer,
[data-testid="stToolbar"] { display: none !important; }
[data-testid="stMetricValue"] { font-size: 7rem !important; line-height: 1.1; }
[data-testid="stMetricLabel"] p { font-size: 2rem !important; }
.stProgress > div > div { height: 1.4rem !important; }
h1 { font-size: 3.2rem !important; }
h3 { font-size: 2.2rem !important; }
</style>"""


@st.cache_data(ttl=10, show_spinner=False)
def _figures(url: str, campaign_id: int, day_goal: int) -> counter.CounterData:
    """Shared by every screen showing the counter: one computation per ten seconds, whatever
    the number of projectors (the database URL keeps two databases apart)."""
    from orchestrator.services import campaign_admin

    with common.read_session(url) as s:
        return counter.counter_data(s, campaign=campaign_admin.get_campaign(s, campaign_id=campaign_id), day_goal=day_goal)


def show_counter(token: str) -> None:
    wanted = st.query_params.get("lang", "fr")
    st.session_state["lang"] = wanted if wanted in LANGUAGES else "fr"
    st.html(_STYLE)
    common.streamlit_words()  # the page's language, for screen readers

    @st.fragment(run_every=REFRESH_SECONDS)
    def board() -> None:
        with common.session() as s:
            found = counter.by_token(s, token=token)
            if found is None:
                st.error(t("counter.invalid"))
                return
            campaign, link = found  # checked on every refresh: unpublishing takes effect at once
            campaign_id, day_goal, tz = campaign.id or 0, link.day_goal, campaign.timezone
        draw(_figures(common.database_url(), campaign_id, day_goal), tz=tz)

    board()


def draw(data: counter.CounterData, *, tz: str, big: bool = True) -> None:
    """The counter itself; also the preview on the admin page (``big=False``)."""
    language = st.session_state.get("lang", "fr")
    if big:
        st.title(common.plain(data.campaign_name.get(language) or data.campaign_name.get("fr", "")))
    st.metric(t("counter.today"), fmt_number(data.today))
    if data.day_goal:
        st.progress(min(1.0, data.today / data.day_goal), text=t("counter.of_goal", goal=fmt_number(data.day_goal)))
    st.caption(t("counter.campaign_total", n=fmt_number(data.campaign_total)))
    columns = st.columns(2)
    for i, row in enumerate(data.cases):
        name = common.plain(row.person.get(language) or row.person.get("fr") or row.slug)
        with columns[i % 2]:
            if row.goal:
                st.subheader(t("counter.case_line", name=name, n=fmt_number(row.today), goal=fmt_number(row.goal)))
                st.progress(min(1.0, row.today / row.goal))
            else:
                st.subheader(t("counter.case_line_no_goal", name=name, n=fmt_number(row.today)))
    st.caption(t("counter.updated", time=fmt_time(utcnow(), tz)))
