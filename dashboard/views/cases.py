"""Cases: story and ask per language, status and goal; pause one with a reason, and resume."""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import LANGUAGE_NAMES, fmt_datetime, fmt_number, t
from orchestrator.services import case_admin
from orchestrator.services.campaigns import list_cases

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("cases.title"))
st.caption(t("cases.help"))
common.flash()

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
editor, approver = common.can("editor"), common.can("approver")
me = common.actor()

for case in cases:
    name = common.case_name(case.person, case.slug)
    status = t(f"case.status.{case.status}")
    icon = "▶️" if case.status == "active" else "⏸️"
    with st.expander(f"{icon} {name} · {status}", expanded=case.status != "active"):
        if case.status != "active":
            st.warning(t("cases.stopped", status=status, note=case.status_note or "—",
                         when=fmt_datetime(case.status_changed_at, tz)))
        st.caption(t("cases.goal", goal=fmt_number(case.goal)) + f" · {common.case_name(case.country)} · `{case.slug}`")
        for language in ("fr", "en"):
            st.markdown(f"**{LANGUAGE_NAMES[language]}**")
            st.markdown(f"*{t('cases.story')}* — {common.plain(case.story.get(language, '—'))}")
            st.markdown(f"*{t('cases.ask')}* — {common.plain(case.ask.get(language, '—'))}")
        if case.status == "active":
            if not editor:
                continue
            a, b = st.columns([1, 2])
            stop_as = a.selectbox(t("cases.stop_as"), list(case_admin.STOPPED), key=f"case_status_{case.slug}",
                                  format_func=lambda k: t(f"case.status.{k}"))
            reason = b.text_input(t("cases.reason"), key=f"case_reason_{case.slug}")
            if st.button(t("cases.pause"), key=f"case_pause_{case.slug}", icon=":material/pause:"):
                done = common.run(lambda s, slug=case.slug, r=reason, st_=stop_as:
                                  case_admin.pause_case(s, actor=me, case_slug=slug, reason=r, status=st_))
                if done is not None:
                    st.session_state["flash"] = t("cases.paused", name=name, n=done[1])
                    st.rerun()
        elif approver:
            note = st.text_input(t("cases.resume_note"), key=f"case_note_{case.slug}")
            late = st.checkbox(t("cases.send_late"), key=f"case_late_{case.slug}")
            if st.button(t("cases.resume"), key=f"case_resume_{case.slug}", icon=":material/play_arrow:"):
                done = common.run(lambda s, slug=case.slug, n=note, lt=late:
                                  case_admin.resume_case(s, actor=me, case_slug=slug, note=n, send_late=lt))
                if done is not None:
                    st.session_state["flash"] = t("cases.resumed", name=name, n=done[1])
                    st.rerun()
        elif editor:
            st.caption(t("cases.resume_needs_approver"))
