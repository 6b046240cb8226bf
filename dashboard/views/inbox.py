"""Inbox: the public's replies to our posts and mentions of our accounts, newest first (those
carrying the campaign's flag words first), to triage, assign, answer and protect.

Texts and handles are personal data (docs/privacy.md): this page shows them to staff from the
editor role up; a viewer sees the counts only. One screen is read in SQL (``services.inbox.page``:
a page of items, filters in the query), never the whole inbox."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, fmt_number, lang, t
from orchestrator.services import inbox
from orchestrator.services.accounts import list_accounts
from orchestrator.services.campaigns import list_cases

PER_PAGE = 20
INBOX_STATES = inbox.STATES

campaign = common.require_campaign()
tz = campaign.timezone
campaign_id = campaign.id or 0
st.title(t("inbox.title"))
st.caption(t("inbox.help"))
common.flash()
common.times_note(tz)

with common.session() as s:
    by_state = inbox.counts_by_state(s, campaign_id=campaign_id)
for col, shown_state in zip(st.columns(len(INBOX_STATES)), INBOX_STATES, strict=True):
    col.metric(t(f"inbox.state.{shown_state}"), fmt_number(by_state[shown_state]))

if not common.can("editor"):
    st.info(t("inbox.viewer"), icon=":material/visibility:")  # counts, never texts nor handles
    st.stop()

me = common.actor()
with common.session() as s:
    cases = {c.id: common.case_name(c.person, c.slug) for c in list_cases(s, campaign=campaign)}
    accounts = {a.id: a.name for a in list_accounts(s)}
    languages = inbox.languages(s, campaign_id=campaign_id)
    people = inbox.staff(s)
    answers = inbox.saved_answers(s, campaign_id=campaign_id)
    s.expunge_all()

# filters ---------------------------------------------------------------------------------------
f1, f2, f3, f4, f5 = st.columns(5)
case_id = f1.selectbox(t("col.case"), [None, *cases], placeholder=t("common.choose_one"), key="inbox_case",
                       format_func=lambda c: t("inbox.all") if c is None else cases[c])
platform = f2.selectbox(t("inbox.platform"), [None, *inbox.platforms()], placeholder=t("common.choose_one"), key="inbox_platform",
                        format_func=lambda p: t("inbox.all") if p is None else common.platform_name(p))
account_id = f3.selectbox(t("col.account"), [None, *accounts], placeholder=t("common.choose_one"), key="inbox_account",
                          format_func=lambda a: t("inbox.all") if a is None else accounts[a])
state = f4.selectbox(t("col.state"), [None, *INBOX_STATES], placeholder=t("common.choose_one"), key="inbox_state",
                     format_func=lambda x: t("inbox.all") if x is None else t(f"inbox.state.{x}"))
language = f5.selectbox(t("inbox.language"), [None, *languages], placeholder=t("common.choose_one"), key="inbox_language",
                        format_func=lambda x: t("inbox.all") if x is None else common.language_name(x, capital=True)
                        if x in ("fr", "en") else x)
filters = inbox.Filters(case_id=case_id, platform=platform, account_id=account_id, state=state, language=language)

with common.session() as s:
    total = inbox.count(s, campaign_id=campaign_id, filters=filters)
pages = max(1, -(-total // PER_PAGE))
number = int(st.number_input(t("inbox.page", pages=fmt_number(pages)), min_value=1, max_value=pages, value=1,
                             key="inbox_page")) if pages > 1 else 1
with common.session() as s:
    rows = inbox.page(s, actor=me, campaign_id=campaign_id, filters=filters, limit=PER_PAGE,
                      offset=(number - 1) * PER_PAGE, language=lang())
st.caption(t("inbox.count", n=fmt_number(total), shown=fmt_number(len(rows))))
if not rows:
    st.info(t("inbox.empty"))


def _item(row: inbox.Row) -> None:
    head = [common.platform_name(row.platform), common.plain(row.account), t(f"inbox.kind.{row.kind}"),
            common.plain(row.case) if row.case else t("inbox.no_case"), fmt_datetime(row.received_at, tz, "short"),
            f"**{t('inbox.state.' + row.state)}**"]
    st.markdown(" · ".join(head))
    if row.flagged and row.state in inbox.OPEN:
        st.warning(t("inbox.review_first", words=common.plain(", ".join(row.flagged))), icon=":material/flag:")
    if row.post_text:
        st.caption(t("inbox.answers", text=common.plain(row.post_text[:140])))
    if row.purged:
        st.caption(t("inbox.purged"))
        return
    st.markdown(f"**{common.isolated(row.author or '—')}**")
    st.text(common.readable(row.text or ""))
    who = []
    if row.assigned_to:
        who.append(t("inbox.assigned", who=common.plain(row.assigned_to)))
    if row.handled_by:
        who.append(t("inbox.handled", who=common.plain(common.person(row.handled_by)),
                     when=fmt_datetime(row.handled_at, tz, "short")))
    if row.reply_post_id is not None and row.state in inbox.OPEN:  # said before anyone opens it to answer again
        who.append(t("inbox.replied", id=row.reply_post_id))
    if row.hidden:
        who.append(t("inbox.hidden"))
    if who:
        st.caption(" · ".join(who))
    if row.hide_error:
        st.error(common.plain(row.hide_error.split("\n")[0 if lang() == "fr" else -1]), icon=":material/block:")
    if row.url and row.url.startswith("https://"):
        st.link_button(t("inbox.open"), row.url, icon=":material/open_in_new:")
    # One item's controls at a time: a screen of items stays a screen of text and one button each.
    if st.session_state.get("inbox_open") != row.id:
        if st.button(t("inbox.handle"), key=f"inbox_open_{row.id}", icon=":material/edit_note:"):
            st.session_state["inbox_open"] = row.id
            st.rerun()
        return
    a, b, d = st.columns([2, 2, 1], vertical_alignment="bottom")
    chosen = a.selectbox(t("col.state"), INBOX_STATES, index=INBOX_STATES.index(row.state), placeholder=t("common.choose_one"), key=f"inbox_st_{row.id}_{row.state}",
                         format_func=lambda x: t(f"inbox.state.{x}"))
    if chosen != row.state and common.done(partial(inbox.set_state, actor=me, item_id=row.id, state=chosen),
                                           success=t("inbox.saved")):
        st.rerun()
    options = [None, *people]
    assignee = b.selectbox(t("inbox.assign"), options, placeholder=t("common.choose_one"),
                           index=options.index(row.assigned_to) if row.assigned_to in options else 0,
                           key=f"inbox_as_{row.id}_{row.assigned_to or ''}", format_func=lambda p: "—" if p is None else p)
    if assignee != row.assigned_to and common.done(partial(inbox.assign, actor=me, item_id=row.id, username=assignee),
                                                   success=t("inbox.saved")):
        st.rerun()
    if not row.hidden and d.button(t("inbox.hide"), key=f"inbox_hide_{row.id}", icon=":material/visibility_off:"):
        result = common.run(partial(inbox.hide, actor=me, item_id=row.id))
        if result is not None:
            ok, why = result
            if ok:
                st.session_state["flash"] = t("inbox.hidden_done")
            # a refusal is said once, under the item it concerns (kept there: hide_error)
            st.rerun()
    if row.reply_post_id is not None:  # its reply is written (said above)
        return
    with st.expander(t("inbox.reply")):
        mine = [x for x in answers if not row.language or x.language == row.language[:2]] or answers
        saved = st.selectbox(t("inbox.saved_answer"), [None, *range(len(mine))], placeholder=t("common.choose_one"), key=f"inbox_sa_{row.id}",
                             format_func=lambda i: "—" if i is None else mine[i].title)
        text_key = f"inbox_text_{row.id}"
        if saved is not None and st.session_state.get(f"{text_key}_from") != saved:
            st.session_state[text_key] = mine[saved].text  # the saved answer, to adjust
            st.session_state[f"{text_key}_from"] = saved
        text = st.text_area(t("inbox.reply_text"), key=text_key)
        st.caption(t("inbox.reply_help"))
        if st.button(t("inbox.reply_send"), key=f"inbox_send_{row.id}", type="primary", icon=":material/send:",
                     disabled=not (text or "").strip()):
            post = common.run(partial(inbox.reply, actor=me, item_id=row.id, text=text))
            if post is not None:
                st.session_state["flash"] = t("inbox.reply_sent", id=post.id)
                st.rerun()


for row in rows:
    with st.container(border=True):
        try:
            _item(row)
        except Exception as exc:  # noqa: BLE001 - this item says what is wrong; the others still show
            common.broken(str(exc))

# saved answers and flag words -------------------------------------------------------------------
with st.expander(t("inbox.saved_answers")):
    st.caption(t("inbox.saved_answers_help"))
    for answer in answers:
        st.markdown(f"**{common.plain(answer.title)}** · {common.language_name(answer.language)}")
        st.text(answer.text)
    with st.form("inbox_new_answer", clear_on_submit=True):
        edit = st.selectbox(t("inbox.answer_edit"), [None, *(x.id for x in answers)], placeholder=t("common.choose_one"),
                            format_func=lambda i: t("inbox.answer_new") if i is None
                            else next(x.title for x in answers if x.id == i))
        answer_language = st.radio(t("inbox.language"), ("fr", "en"), horizontal=True,
                                   format_func=lambda x: common.language_name(x, capital=True))
        title = st.text_input(t("inbox.answer_title"))
        body = st.text_area(t("inbox.answer_text"))
        if st.form_submit_button(t("inbox.answer_save")) and common.done(
                partial(inbox.save_answer, actor=me, campaign_id=campaign_id, language=answer_language, title=title,
                        text=body, answer_id=edit), success=t("inbox.saved")):
            st.rerun()

if common.can("approver"):
    with st.expander(t("inbox.words")):
        st.caption(t("inbox.words_help"))
        with st.form("inbox_words"):
            words = st.text_area(t("inbox.words"), value="\n".join(campaign.inbox_words or []))
            if st.form_submit_button(t("inbox.answer_save")) and common.done(
                    lambda s: inbox.set_words(s, actor=me, campaign=s.merge(campaign), words=words.splitlines()),
                    success=t("inbox.saved")):
                st.rerun()
