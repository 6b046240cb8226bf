"""Stop everything (admins): suspend all publishing, one edition's or one account's, with a
reason; lift a suspension, settling what became overdue (publish now, reschedule, cancel)."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard import common, deliveries_ui
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services import deliveries, suspensions
from orchestrator.services.accounts import list_accounts
from orchestrator.services.campaign_admin import list_campaigns

campaign = common.require_campaign()
st.title(t("stop.title"))
common.flash()
if not common.can("admin"):
    common.viewer_notice()
    st.stop()
me = common.actor()
st.caption(t("stop.intro"))

st.subheader(t("stop.in_force"))
with common.session() as s:
    stopped = suspensions.in_force(s)
    late = {item.id: suspensions.overdue_rows(s, suspension_id=item.id) for item in stopped}
if not stopped:
    st.info(t("stop.none"), icon=":material/check_circle:")
for item in stopped:
    with st.container(border=True):
        st.markdown(f"**{t('stop.item', number=item.id, scope=common.plain(item.scope_text(lang())))}** — "
                    f"{common.plain(item.reason)}")
        st.caption(f"{common.plain(common.person(item.set_by))} · {fmt_datetime(item.set_at, campaign.timezone, 'short')}")
        overdue = late[item.id]
        if overdue:
            st.warning(t("stop.overdue", count=len(overdue)), icon=":material/schedule:")
            common.table([{t("stop.delivery"): row.id, t("col.when"): fmt_datetime(row.scheduled_at, campaign.timezone, "short"),
                           t("col.account"): row.account, t("col.text"): deliveries_ui.short(row.text, 80)}
                          for row in overdue], numbers=[t("stop.delivery")])
            choice = st.radio(t("stop.choice"), deliveries.OVERDUE_CHOICES, key=f"stop_choice_{item.id}",
                              format_func=lambda c: t(f"stop.choice.{c}"), horizontal=True)
            spacing = st.number_input(t("stop.spacing"), min_value=0, max_value=1440, value=10, step=5,
                                      key=f"stop_spacing_{item.id}", disabled=choice != "reschedule")
        else:
            st.caption(t("stop.overdue_none"))
            choice, spacing = "publish", 10
        if st.button(t("stop.lift"), key=f"stop_lift_{item.id}", icon=":material/play_arrow:", type="primary"):
            lifted = common.run(partial(suspensions.lift, actor=me, suspension_id=item.id,
                                        choice=str(choice), spacing_minutes=int(spacing)))
            if lifted is not None:
                st.session_state["flash"] = t("stop.lifted", count=lifted[1])
                with common.session() as s:  # what another suspension still holds is not on its way
                    held = suspensions.still_covered(s, [row.id for row in overdue])
                if held and choice != "cancel":
                    numbers = ", ".join(f"n° {n}" if lang() == "fr" else f"no. {n}" for n in sorted(set(held.values())))
                    st.session_state["flash_caveat"] = t("stop.still_held", count=len(held), numbers=numbers)
                st.rerun()

st.subheader(t("stop.new"))
scope = st.radio(t("stop.scope"), ("all", "campaign", "account"), key="stop_scope",
                 format_func=lambda c: t(f"stop.scope.{c}"), horizontal=True)
chosen_campaign = account = None
with common.session() as s:
    if scope == "campaign":
        names = {c.slug: c.name.get(lang()) or c.name.get("fr") or c.slug for c in list_campaigns(s)}
        slugs = list(names)
        chosen_campaign = st.selectbox(t("stop.edition"), slugs, key="stop_campaign", format_func=names.__getitem__,
                                       index=slugs.index(campaign.slug) if campaign.slug in slugs else 0,
                                       placeholder=t("common.choose_one"))
    elif scope == "account":
        account = st.selectbox(t("stop.account"), [a.name for a in list_accounts(s)], key="stop_account",
                               placeholder=t("common.choose_one"))
reason = st.text_area(t("stop.reason"), key="stop_reason")
if st.button(t("stop.suspend"), key="stop_suspend", icon=":material/front_hand:", type="primary"):
    if common.run(lambda s: suspensions.suspend(s, actor=me, reason=reason, campaign=chosen_campaign, account=account),
                  success=t("stop.suspended")):
        st.rerun()
