"""Posts: every post of the edition with where it goes, and what can still be done with it:
schedule an approved post on more accounts or at another time, withdraw a post awaiting approval
(its author), reject it with a comment (an approver)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING

import streamlit as st

from dashboard import common, embargo_ui, post_cards, retract_ui
from dashboard.i18n import fmt_datetime, fmt_number, lang, t, zone_name
from orchestrator.services import compose as compose_service
from orchestrator.services import consent, embargo, four_eyes, post_review
from orchestrator.services import posts as post_service
from orchestrator.services.auth import Actor
from orchestrator.timeutil import at_local, local, utcnow

if TYPE_CHECKING:
    from orchestrator.models import Post

LIMIT = 30

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("posts.title"))
st.caption(t("posts.help"))
common.flash()
common.times_note(campaign.timezone)
me = common.actor()
if not common.can("editor"):
    common.viewer_notice()

choices = [post_service.APPROVED, post_service.PENDING, post_service.DRAFT, post_service.REJECTED, "all"]
choice_labels = {k: t("posts.all") if k == "all" else post_service.STATUS_LABELS[k][lang()] for k in choices}
status = st.segmented_control(t("posts.filter"), choices, key="posts_status", default=post_service.APPROVED,
                              format_func=choice_labels.__getitem__)
with common.session() as s:
    wanted = None if status in (None, "all") else status
    found = post_service.list_posts(s, status=wanted, campaign=campaign, limit=LIMIT)
    total = post_service.count_posts(s, status=wanted, campaign=campaign)
    every_account = compose_service.schedulable_accounts(s)
    # Cases with a consent withdrawn, read once for the page: a post that breaks one says so.
    restricted = consent.restricted_cases(s, campaign_id=campaign.id or 0)
accounts = {a.name: a.kind for a in every_account}
account_labels = {n: t("compose.account_option", name=n, platform=post_review.platform(k)) for n, k in accounts.items()}
languages = {a.name: a.language for a in every_account}
shown = found
if not found:
    st.info(t("posts.empty"))
    st.stop()
st.caption(t("posts.count", n=fmt_number(total), shown=fmt_number(len(shown))))


def _schedule_form(post: Post, me: Actor) -> None:
    """Scheduling an approved post: the accounts it was written for that have no time yet come
    first; a past time needs a confirmation, as in Compose."""
    post_id = post.id or 0
    with common.session() as s:
        targets = post_review.chosen_accounts(s, post)
    waiting = [account.name for account, delivery in targets if delivery is None and account.name in accounts]
    usable = [name for name in accounts if languages[name] in (None, post.language)]
    with st.expander(t("posts.schedule_title"), expanded=bool(waiting), icon=":material/schedule:"):
        names = st.multiselect(
            t("posts.accounts"), usable, default=waiting, key=f"posts_accounts_{post_id}",
            placeholder=t("common.choose_many"),
            format_func=lambda n: account_labels.get(n, n))
        soon = local(utcnow(), tz) + dt.timedelta(minutes=30)
        slot = soon.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        d1, d2 = st.columns(2)
        day = d1.date_input(t("compose.day"), value=slot.date(), key=f"posts_date_{post_id}", format="YYYY-MM-DD")
        time = d2.time_input(t("compose.time"), value=slot.time(), key=f"posts_time_{post_id}", step=300)
        at = at_local(day, time, tz)
        st.caption(t("compose.tz_note", tz=zone_name(tz), when=post_cards.when(at, tz)))
        publish_now = False
        if at <= utcnow():
            st.warning(t("compose.past", when=post_cards.when(at, tz)), icon=":material/history:")
            publish_now = st.checkbox(t("compose.publish_now"), key=f"posts_now_{post_id}",
                                      help=t("compose.publish_now_help"))
        if st.button(t("posts.schedule"), key=f"posts_schedule_{post_id}", type="primary", icon=":material/schedule:"):
            made = common.run(lambda s: compose_service.schedule_post(
                s, actor=me, post_id=post_id, account_names=names, at=at, publish_now=publish_now))
            if made is not None:
                when = post_cards.when(made[0].scheduled_at, tz) if made else "—"
                st.session_state["flash"] = t("posts.scheduled", id=post_id, n=fmt_number(len(made)), when=when)
                st.rerun()


def _card(post: Post) -> None:
    post_id = post.id or 0
    st.markdown(f"**{t('compose.post_number', id=post_id)}** · {post_service.STATUS_LABELS[post.status][lang()]} · "
                f"{post_cards.language_name(post.language)} · "
                + t("approvals.by", author=common.plain(common.person(post.author)), when=fmt_datetime(post.updated_at, tz, "short")))
    # Four eyes, as it went: who changed the text after writing it, and who approved it.
    with common.session() as s:
        edited_by = four_eyes.editors(s, post_id=post_id)
    hands = [t("approvals.edited_by", names=", ".join(edited_by))] if edited_by else []
    if post.approved_by:
        hands.append(t("posts.approved_by", name=common.person(post.approved_by),
                       when=fmt_datetime(post.approved_at, tz, "short")))
    if hands:
        st.caption(common.plain(" · ".join(hands)))
    post_cards.where_it_goes(post, tz)
    embargo_ui.controls(f"post_embargo_{post_id}", post.embargo_until, tz, lambda until: partial(
        embargo.set_post_embargo, actor=me, post_id=post_id, until=until))
    st.text(post.text)
    post_cards.images(post, width=160, restricted=restricted)
    with common.session() as s:
        rows = post_review.previews(s, post=post, language=lang())
        breaches = consent.breaches(s, post, cases=restricted) if restricted else []
    for breach in breaches:  # its deliveries stay held (an approval would not send them): say why
        st.error(common.plain(breach.text(lang())), icon=":material/privacy_tip:")
    post_cards.previews([r for r in rows if r["variant"] or not r["valid"] or r["error"]], tz, key=f"posts_{post_id}")
    if post.status == post_service.REJECTED:
        if post.review_comment:
            st.warning(t("compose.review_comment", comment=common.plain(post.review_comment)))
        st.caption(t("posts.rejected_hint"))


for post in shown:
    post_id = post.id or 0
    with st.container(border=True):
        try:
            _card(post)
        except Exception as exc:  # noqa: BLE001 - this post says what is wrong; the others still show
            st.error(t("compose.card_error", id=post_id, why=common.plain(post_cards.message(exc))))
        if not common.can("editor"):
            continue
        post_cards.withdraw_button(post, me, key=f"posts_withdraw_{post_id}")
        post_cards.reject_controls(post, me, prefix="posts_reject")
        if post.status == post_service.APPROVED:
            try:
                _schedule_form(post, me)
            except Exception as exc:  # noqa: BLE001
                st.error(t("compose.card_error", id=post_id, why=common.plain(post_cards.message(exc))))
            retract_ui.action(f"posts_retract_{post_id}", tz=tz, post_id=post_id)
            retract_ui.progress_list(f"posts_retractions_{post_id}", tz=tz, post_id=post_id, limit=3)
