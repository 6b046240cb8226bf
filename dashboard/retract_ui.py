"""Retracting what is published, from the post, delivery and case pages: a "Retirer" action
(approvers and admins) with a required reason and a confirm step, and the progress of the
retractions already asked (how many removed, what could not be and where to remove it by hand,
what is pending, and the reposts and quotes by others that cannot be removed). Where the edition
asks for four eyes, a request waits for a second person, who confirms or declines it here."""

from __future__ import annotations

import datetime as dt
from functools import partial
from zoneinfo import ZoneInfo

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, fmt_number, t
from orchestrator.services import retractions


def action(key: str, *, tz: str, delivery_id: int | None = None, post_id: int | None = None,
           case: str | None = None, campaign_id: int | None = None, with_cut_off: bool = False) -> None:
    """The "Retirer" action for one published delivery, a post's or a case's: nothing shows when
    nothing published is left there, or for a person below the approver role."""
    if not common.can("approver"):
        return
    with common.session() as s:
        count = retractions.still_out(s, delivery_id=delivery_id, post_id=post_id, case=case, campaign_id=campaign_id)
    if not count:
        return
    with st.expander(t("retract.action", n=fmt_number(count)), icon=":material/delete_sweep:"):
        st.caption(t("retract.help"))
        reason = st.text_area(t("retract.reason"), key=f"{key}_reason")
        before = None
        if with_cut_off and st.toggle(t("retract.cut_off"), key=f"{key}_cut"):
            zone = ZoneInfo(tz)
            a, b = st.columns(2)
            day = a.date_input(t("retract.before_day"), key=f"{key}_day", format="YYYY-MM-DD")
            hour = b.time_input(t("retract.before_time"), value=dt.time(0, 0), key=f"{key}_time")
            before = dt.datetime.combine(day, hour, tzinfo=zone)
        with common.session() as s:
            covered = retractions.still_out(s, delivery_id=delivery_id, post_id=post_id, case=case, before=before,
                                            campaign_id=campaign_id)
        sure = st.checkbox(t("retract.confirm", n=fmt_number(covered)), key=f"{key}_sure")
        if st.button(t("retract.go"), key=f"{key}_go", type="primary", icon=":material/delete_forever:",
                     disabled=not sure):
            made = common.run(partial(retractions.request, actor=common.actor(), reason=reason,
                                      delivery_id=delivery_id, post_id=post_id, case=case, before=before,
                                      campaign_id=campaign_id))
            if made is not None:
                waiting = made.status == retractions.AWAITING
                st.session_state["flash"] = t("retract.asked_four_eyes" if waiting else "retract.asked",
                                              number=made.id, n=fmt_number(covered))
                st.rerun()


def progress_list(key: str, *, tz: str, case_id: int | None = None, post_id: int | None = None,
                  delivery_id: int | None = None, limit: int = 5) -> None:
    """The latest retractions there, each with its progress."""
    with common.session() as s:
        found = retractions.recent(s, case_id=case_id, post_id=post_id, delivery_id=delivery_id, limit=limit)
    if not found:
        return
    st.markdown(f"**{t('retract.list')}**")
    for retraction in found:
        assert retraction.id is not None
        progress(f"{key}_{retraction.id}", retraction.id, tz=tz)


def progress(key: str, retraction_id: int, *, tz: str) -> None:
    """One retraction: who asked, why, how far it went."""
    with common.session() as s:
        report = retractions.progress(s, retraction_id=retraction_id)
    r = report.retraction
    with st.container(border=True):
        st.markdown(t("retract.item", number=r.id, who=common.plain(common.person(r.requested_by)),
                      when=fmt_datetime(r.requested_at, tz, "short")) + f" — {common.plain(r.reason)}")
        if r.status == retractions.AWAITING:
            st.warning(t("retract.awaiting"), icon=":material/group:")
            _second_person(key, r)
        elif r.status == retractions.DECLINED:
            st.info(t("retract.declined"), icon=":material/block:")
        a, b, c = st.columns(3)
        a.metric(t("retract.removed"), fmt_number(len(report.removed)))
        b.metric(t("retract.failed"), fmt_number(len(report.failed)))
        c.metric(t("retract.pending"), fmt_number(report.pending))
        if r.status == retractions.CONFIRMED and report.pending:
            st.caption(t("retract.pending_help"))
        for bad in report.failed:
            line = t("retract.failed_item", id=bad.delivery_id, account=common.plain(bad.account),
                     platform=common.platform_name(bad.platform), error=common.plain(bad.error))
            st.error(line, icon=":material/report:")
            if bad.link:
                st.link_button(t("retract.by_hand"), bad.link, icon=":material/open_in_new:")
            elif bad.url:
                st.code(bad.url, language=None)
            if common.can("approver") and st.button(t("retract.done_by_hand"), key=f"{key}_hand_{bad.delivery_id}",
                                                    icon=":material/check:"):
                if common.run(partial(retractions.removed_by_hand, actor=common.actor(), retraction_id=r.id or 0,
                                      delivery_id=bad.delivery_id), success=t("retract.noted_by_hand")) is not None:
                    st.rerun()
        if report.others_seen:
            st.info(t("retract.others", n=fmt_number(report.others_seen)), icon=":material/repeat:")
        if report.total == 0 and r.status != retractions.AWAITING:
            st.caption(t("retract.nothing"))


def _second_person(key: str, retraction: retractions.Retraction) -> None:
    """Confirm or decline (an approver or admin other than the one who asked may confirm)."""
    if not common.can("approver"):
        return
    me = common.actor()
    a, b = st.columns(2)
    if me.username != retraction.requested_by and a.button(
            t("retract.confirm_second"), key=f"{key}_confirm", type="primary", icon=":material/check:"):
        if common.run(partial(retractions.confirm, actor=me, retraction_id=retraction.id or 0),
                      success=t("retract.confirmed")) is not None:
            st.rerun()
    if b.button(t("retract.decline"), key=f"{key}_decline", icon=":material/block:"):
        if common.run(partial(retractions.decline, actor=me, retraction_id=retraction.id or 0),
                      success=t("retract.declined_done")) is not None:
            st.rerun()


def retracted_at(delivery_id: int) -> dt.datetime | None:
    """When the delivery's post was removed by a retraction, if it was."""
    with common.session() as s:
        return retractions.retracted_at(s, delivery_id=delivery_id)
