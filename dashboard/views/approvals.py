"""Approvals: posts waiting for a second person, shown as each platform will show them.

Every pending post gets its card and its buttons, whatever its accounts or images: what cannot be
shown or would fail at send time is said on that post's card, and approval waits until it is
fixed."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import common, post_cards
from dashboard.i18n import fmt_datetime, fmt_number, lang, t
from orchestrator.services import consent, four_eyes, inbox, post_review, reports, sensitive_dates
from orchestrator.services import posts as post_service
from orchestrator.services.auth import Actor
from orchestrator.services.campaigns import list_cases

if TYPE_CHECKING:
    from orchestrator.models import Post

LIMIT = 30

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("approvals.title"))
st.caption(t("approvals.four_eyes"))
common.flash()
common.times_note(campaign.timezone)

with common.session() as s:
    shown = post_service.list_posts(s, status=post_service.PENDING, campaign=campaign, limit=LIMIT)
    waiting = post_service.count_posts(s, status=post_service.PENDING, campaign=campaign)
    cases = {c.id: c for c in list_cases(s, campaign=campaign)}

if not shown:
    st.info(t("approvals.empty"))
    st.stop()
st.caption(t("approvals.count", n=fmt_number(waiting), shown=fmt_number(len(shown))))
approver = common.can("approver")
if not approver:
    common.viewer_notice()
me = common.actor()


def _card(post: Post, me: Actor) -> tuple[bool, bool]:
    """Draw the post; returns whether nothing stops its approval, and whether ``me`` may approve
    it (four eyes: not its author, nor anyone who edited its text)."""
    post_id = post.id or 0
    case = cases.get(post.case_id)
    who = common.case_name(case.person, case.slug) if case else t("approvals.no_case")
    st.markdown(f"**{t('compose.post_number', id=post_id)} · {common.plain(who)}** · "
                f"{post_cards.language_name(post.language)} · "
                + t("approvals.by", author=common.plain(common.person(post.author)), when=fmt_datetime(post.updated_at, tz, "short")))
    with common.session() as s:
        edited_by = four_eyes.editors(s, post_id=post_id)
    if edited_by:
        st.caption(common.plain(t("approvals.edited_by", names=", ".join(edited_by))))
    mine = four_eyes.approval_refusal(me, author=post.author, edited_by=edited_by) is not None
    if mine:
        st.info(t("approvals.yours" if me.username == post.author else "approvals.you_edited"),
                icon=":material/visibility_off:")
    if post.reply_to:  # a reply from the inbox: what it answers, in its thread
        with common.session() as s:
            item = inbox.answered_by(s, actor=me, post_id=post_id)
        if item is not None and item.text is not None:
            st.info(t("approvals.reply_to", platform=common.platform_name(item.platform),
                      author=common.isolated(item.author or "—"), text=common.isolated(item.text[:280])),
                    icon=":material/reply:")
    post_cards.embargo_notice(post, tz)
    if post.content_warning:  # what Mastodon shows first, in place of the text
        st.warning(common.plain(t("approvals.warning", text=post.content_warning)), icon=":material/warning:")
    st.text(post.text)
    if post.parts:  # a thread: what follows the first part, in order, approved with it
        st.caption(t("approvals.thread", n=fmt_number(len(post.parts) + 1)))
        post_cards.thread_parts([{"text": p.get("text"), "images": len(p.get("images") or [])} for p in post.parts])
    if post.link:  # the link's card: read when the post is approved, unless compose read it
        card = post.link_card or {}
        if card.get("url") == post.link and card.get("error"):
            st.warning(t("approvals.card_unreadable", why=common.plain(card["error"][lang()])),
                       icon=":material/link_off:")
        elif card.get("url") == post.link:
            st.caption(t("approvals.card", title=common.plain(card.get("title") or "—"),
                         description=common.plain(card.get("description") or "—")))
        else:
            st.caption(t("approvals.card_later"))
    broken = post_cards.images(post)
    with common.session() as s:
        fresh = post_service.get_post(s, post_id=post_id)
        rows = reports.post_previews(s, post=fresh, language=lang())
        problems = post_review.problems_of(s, fresh)
        breaches = consent.problems(s, fresh)
        days = sensitive_dates.warnings_of_post(s, fresh, campaign)
    for fr, en in days:  # a warning: the approver decides
        st.warning(common.plain(fr if lang() == "fr" else en), icon=":material/event_busy:")
    for fr, en in breaches:  # named here once, for the post, whatever its accounts
        st.error(common.plain(fr if lang() == "fr" else en), icon=":material/privacy_tip:")
    if not rows:
        st.caption(t("approvals.not_scheduled"))
    post_cards.previews(rows, tz, key=f"approvals_{post_id}")
    if problems or broken:
        st.error(t("approvals.blocked"), icon=":material/block:")
    return not problems and not broken, not mine


for post in shown:
    post_id = post.id or 0
    with st.container(border=True):
        ready, allowed = False, False
        try:
            ready, allowed = _card(post, me)
        except Exception as exc:  # noqa: BLE001 - this post says what is wrong; the others still show
            st.error(t("approvals.card_error", id=post_id, why=common.plain(post_cards.message(exc))),
                     icon=":material/error:")
        post_cards.withdraw_button(post, me, key=f"withdraw_{post_id}")
        if not approver:
            continue
        a, b = st.columns([1, 3], vertical_alignment="bottom")
        # no approve button for a post this person wrote or edited: the card says why
        if allowed and a.button(t("approvals.approve"), key=f"approve_{post_id}", type="primary",
                                icon=":material/check:", disabled=not ready,
                                help=None if ready else t("approvals.blocked_help")):
            approved = common.run(partial(post_service.approve_post, actor=me, post_id=post_id),
                                  success=t("approvals.approved", id=post_id))
            if approved is not None:
                error = (approved.link_card or {}).get("error") if approved.link else None
                if error:  # approved all the same: the link goes out plain
                    st.session_state["flash"] += " " + t("approvals.card_unreadable",
                                                         why=common.plain(error[lang()]))
                st.rerun()
        with b:
            post_cards.reject_controls(post, me)
