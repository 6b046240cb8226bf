"""The marathon counter: publish it with a secret link for the projector, set the day's goal,
unpublish it; everyone may see the preview."""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.counter_page import draw
from dashboard.i18n import fmt_datetime, t
from orchestrator.services import counter

campaign = common.require_campaign()
st.title(t("counter.title"))
st.caption(t("counter.help"))
common.flash()
common.times_note(campaign.timezone)
admin = common.can("admin")
me = common.actor()

with common.session() as s:
    link = counter.active_link(s, campaign_id=campaign.id)  # type: ignore[arg-type]

# The token exists in clear only here, once, right after publishing.
if token := st.session_state.pop("counter_token", None):
    st.success(t("counter.link"), icon=":material/link:")
    try:
        base = str(st.context.url or "").split("?")[0]
    except AttributeError:  # older Streamlit: show the part to append to the dashboard's address
        base = ""
    st.code(f"{base}?counter={token}", language=None)

if link is None:
    st.info(t("counter.not_published"), icon=":material/visibility_off:")
else:
    st.caption(t("counter.published", when=fmt_datetime(link.published_at, campaign.timezone), who=common.plain(common.person(link.published_by))))

if admin:
    goal = st.number_input(t("counter.day_goal"), min_value=0, step=100, key="counter_goal",
                           value=link.day_goal if link else 0)
    a, b, c = st.columns(3)
    if a.button(t("counter.publish"), key="counter_publish", icon=":material/cast:"):
        made = common.run(lambda s: counter.publish(s, actor=me, campaign_id=campaign.id, day_goal=int(goal)))  # type: ignore[arg-type]
        if made:
            st.session_state["counter_token"] = made
            st.rerun()
    if link is not None:
        if b.button(t("counter.set_goal"), key="counter_set_goal"):
            if common.run(lambda s: counter.set_day_goal(s, actor=me, campaign_id=campaign.id, day_goal=int(goal)),  # type: ignore[arg-type]
                          success=t("counter.goal_saved")) is not None:
                st.rerun()
        if c.button(t("counter.unpublish"), key="counter_unpublish", icon=":material/cancel_presentation:"):
            if common.run(lambda s: counter.unpublish(s, actor=me, campaign_id=campaign.id),  # type: ignore[arg-type]
                          success=t("counter.unpublished")) is not None:
                st.rerun()

st.subheader(t("counter.preview"))
with common.session() as s:
    data = counter.counter_data(s, campaign=campaign, day_goal=link.day_goal if link else 0)
draw(data, tz=campaign.timezone, big=False)
