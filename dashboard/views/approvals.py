"""Approvals: posts waiting for a second person, shown as each platform will show them."""

from __future__ import annotations

import base64

import streamlit as st
from sqlmodel import select

from dashboard import common
from dashboard.i18n import fmt_datetime, fmt_number, lang, t
from orchestrator.models import Case
from orchestrator.services import posts as post_service
from orchestrator.services import reports

LIMIT = 30

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("approvals.title"))
st.caption(t("approvals.four_eyes"))
common.flash()

with common.session() as s:
    pending = post_service.list_posts(s, status=post_service.PENDING, campaign=campaign)
    shown = pending[:LIMIT]
    cases = {c.id: c for c in s.exec(select(Case).where(Case.campaign_id == campaign.id))}
    previews = {p.id: reports.post_previews(s, post=p, language=lang()) for p in shown}

if not pending:
    st.info(t("approvals.empty"))
    st.stop()
st.caption(t("approvals.count", n=fmt_number(len(pending)), shown=len(shown)))
approver = common.can("approver")
if not approver:
    common.viewer_notice()
me = common.actor()

for post in shown:
    post_id = post.id or 0
    case = cases.get(post.case_id)
    with st.container(border=True):
        who = common.case_name(case.person, case.slug) if case else t("approvals.no_case")
        st.markdown(f"**#{post_id} · {common.plain(who)}** · {post.language.upper()} · "
                    + t("approvals.by", author=common.plain(post.author), when=fmt_datetime(post.updated_at, tz, "short")))
        if post.author == me.username:
            st.caption(t("approvals.yours"))
        st.text(post.text)
        for image in post.images:
            if "data" in image:
                # alt= is what a screen reader says; a caption is never used as the image's alt.
                st.image(base64.b64decode(image["data"]), caption=image.get("alt", ""), alt=image.get("alt", ""),
                         width=240)
        items = previews.get(post.id, [])
        if not items:
            st.caption(t("approvals.not_scheduled"))
        for item in items:
            verdict = "✅" if not item["problems"] else "❌"
            with st.expander(f"{verdict} {item['account']} ({item['kind']}) · "
                             + t("compose.counter", length=fmt_number(item["length"]), limit=fmt_number(item["limit"]))
                             + f" · {fmt_datetime(item['scheduled_at'], tz, 'short')}"):
                st.text(item["text"])
                for problem in item["problems"]:
                    st.warning(common.plain(problem))
        if not approver:
            continue
        a, b = st.columns([1, 3], vertical_alignment="bottom")
        if a.button(t("approvals.approve"), key=f"approve_{post_id}", type="primary", icon=":material/check:"):
            if common.run(lambda s, pid=post_id: post_service.approve_post(s, actor=me, post_id=pid),
                          success=t("approvals.approved", id=post_id)):
                st.rerun()
        comment = b.text_input(t("approvals.comment"), key=f"reject_comment_{post_id}")
        if b.button(t("approvals.reject"), key=f"reject_{post_id}", icon=":material/undo:"):
            if common.run(lambda s, pid=post_id, c=comment: post_service.reject_post(s, actor=me, post_id=pid, comment=c),
                          success=t("approvals.rejected", id=post_id)):
                st.rerun()
