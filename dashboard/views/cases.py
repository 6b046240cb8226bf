"""Cases: story and ask per language, status with a dated note (pausing or marking good news
holds everything queued at once), order, the good-news post, and a form to create or edit a
case in both languages."""

from __future__ import annotations

from functools import partial
from typing import Any, get_args

import streamlit as st

from content.model import SolidarityKind
from dashboard import (
    common,
    consent_ui,
    data,
    embargo_ui,
    listening_ui,
    post_cards,
    retract_ui,
    voice_ui,
)
from dashboard import deliveries_ui as ui
from dashboard.i18n import fmt_datetime, fmt_number, lang, t
from orchestrator.services import campaign_results, case_edit, content_warnings, responses
from orchestrator.services import embargo as embargo_service
from orchestrator.services import listening as listening_service
from orchestrator.services import reply_limits as reply_limit_service
from orchestrator.services.auth import ServiceError
from orchestrator.services.campaigns import list_cases
from orchestrator.timeutil import local, utcnow

SOLIDARITY_KINDS: tuple[str, ...] = get_args(SolidarityKind)

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("cases.title"))
st.caption(t("cases.help"))
common.flash()
common.times_note(campaign.timezone)

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
editor, approver = common.can("editor"), common.can("approver")
# Choice labels in dicts made now, in the reader's language (a format function calling t()
# later may run in another language).
STATUS_NAMES = {k: t(f"case.status.{k}") for k in case_edit.STATUSES}
me = common.actor()


# ---------------------------------------------------------------------------------------------
# Pace and the public's voice per case (issue 18): the cases behind named once, at the top


def _pace() -> dict[str, Any]:
    """Each case's pace, by slug; the cases behind (while the edition runs) named once, here."""
    today = local(utcnow(), tz).date()
    with common.session() as s:
        _, per_case = responses.pace(s, campaign=campaign, today=today)
    if campaign_results.phase(campaign, today=today) == campaign_results.RUNNING:
        names = {c.slug: common.case_name(c.person, c.slug) for c in cases}
        voice_ui.behind_warning([names.get(p.slug, p.slug) for p in per_case if p.behind])
    return {p.slug: p for p in per_case}


def _voice(case: Any, name: str) -> None:
    """The case's pace to 10 December and to the last day, its clicks, public posts and actions;
    the detail (public posts by platform and kind, day by day, funnel by channel) on demand."""
    item = paces.get(case.slug)
    if item is not None:
        st.progress(min(1.0, item.progress or 0.0), text=voice_ui.pace_line(
            name, done=item.total, goal=item.goal, projected=item.projected, rights_day=item.rights_day,
            projected_rights_day=item.projected_rights_day, ends_on=item.ends_on))
    figures = data.voice(common.database_url(), campaign.id or 0)
    row = next((r for r in figures["cases"] if r["slug"] == case.slug), None)
    if row is None:
        return
    st.caption(" · ".join(t("voice.figure_value", figure=t(f"voice.col.{k}"), n=fmt_number(v))
                          for k, v in (("clicks", row["clicks"]), ("public_posts", row["public_total"]),
                                       ("actions", row["actions_total"]))))
    if st.toggle(t("voice.case_detail"), key=f"case_voice_{case.slug}"):
        with ui.own_error(t("voice.title")):
            if voice_ui.case_detail(row, figures["days"], tz, finished=finished):
                st.markdown(f"**{t('voice.funnel')}**")
                voice_ui.channel_funnel(figures["funnel"], case.slug)


paces = _pace()
finished = campaign_results.phase(campaign, today=local(utcnow(), tz).date()) == campaign_results.FINISHED


def _history(case_id: int) -> None:
    with common.session() as s:
        notes = case_edit.status_history(s, case_id=case_id)
    if notes:
        st.markdown(f"*{t('cases.history')}*")
        for note in notes[:10]:
            when, actor, words = fmt_datetime(note.at, tz), common.plain(note.actor), common.plain(note.note or "—")
            if note.from_status == note.status:  # a note at an unchanged status (a retraction's reason)
                st.caption(t("cases.history_note", when=when, actor=actor, note=words))
                continue
            st.caption(t("cases.history_line", when=when, actor=actor,
                         before=t(f"case.status.{note.from_status}") if note.from_status else "—",
                         after=t(f"case.status.{note.status}"), note=words))


def _good_news(case: Any, name: str) -> None:
    st.info(t("cases.good_news_offer"), icon=":material/celebration:")
    language = st.radio(t("compose.language"), ["fr", "en"], key=f"case_gn_lang_{case.slug}", horizontal=True,
                        format_func=lambda code: common.language_name(code, capital=True))
    key = f"case_gn_text_{case.slug}_{language}"
    if key not in st.session_state:
        with common.session() as s:
            try:
                st.session_state[key] = case_edit.good_news_text(s, case_id=case.id, language=language)
            except ServiceError as exc:  # a template that cannot be filled: say which, leave the text empty
                st.warning(common.plain(exc.text(lang())))
                st.session_state[key] = ""
    text = st.text_area(t("cases.good_news_text"), key=key, height=120)
    if st.button(t("cases.good_news_create"), key=f"case_gn_create_{case.slug}", icon=":material/edit:"):
        post = common.run(lambda s: case_edit.offer_good_news_post(s, actor=me, case_id=case.id, language=language,
                                                                    text=text))
        if post is not None:
            st.session_state["flash"] = t("cases.good_news_made", id=post.id)
            st.rerun()


def _show(case: Any, index: int) -> None:
    """One case's card: its words, history and switches."""
    name = common.case_name(case.person, case.slug)
    status = t(f"case.status.{case.status}")
    if case.status != "active":
        st.warning(t("cases.stopped", status=status, note=common.plain(case.status_note or "—"),
                     when=fmt_datetime(case.status_changed_at, tz)))
    embargo_ui.notice(case.embargo_until, tz, of_case=True)
    consent_ui.notice(case)
    st.caption(t("cases.goal", goal=fmt_number(case.goal)) + f" · {common.plain(common.case_name(case.country))}"
               f" · {t('cases.solidarity_line', kind=t(f'cases.solidarity.{case.solidarity_kind}'))}")
    for language in ("fr", "en"):
        st.markdown(f"**{common.language_name(language, capital=True)}**")
        st.markdown(f"*{t('cases.story')}* — {common.plain(case.story.get(language) or '—')}")
        st.markdown(f"*{t('cases.ask')}* — {common.plain(case.ask.get(language) or '—')}")
    if warning := (case.content_warning or {}).get(lang()):
        st.caption(common.plain(t("cases.cw_line", text=warning)) + " · " + t(
            "compose.cw_visibility_line", visibility=post_cards.visibility_name(case.visibility or "public")))
    _reply_limit(case)
    embargo_ui.controls(f"case_embargo_{case.slug}", case.embargo_until, tz, lambda until: partial(
        embargo_service.set_case_embargo, actor=me, case_id=case.id, until=until))
    consent_ui.controls(case, me, f"case_consent_{case.slug}")
    consent_ui.published(case, tz, key=f"case_consent_{case.slug}")
    _history(case.id)
    _voice(case, name)
    _posts(case)
    retract_ui.action(f"case_retract_{case.slug}", tz=tz, case=case.slug, campaign_id=campaign.id, with_cut_off=True)
    retract_ui.progress_list(f"case_retractions_{case.slug}", tz=tz, case_id=case.id)
    _listening(case)
    _switches(case, index, name)


def _reply_limit(case: Any) -> None:
    """Who may reply to the case's new posts: shown to all, set by approvers."""
    names = {v: t(f"cases.reply_limit.{v or 'everyone'}") for v in ("", *reply_limit_service.LIMITS)}
    current = case.reply_limit if case.reply_limit in names else ""
    st.caption(t("cases.reply_limit_line", limit=names[current]))
    if not approver:
        return
    key = f"case_reply_limit_{case.slug}"
    a, b = st.columns([2, 1])
    chosen = a.selectbox(t("cases.reply_limit"), list(names), key=key, index=list(names).index(current),
                         format_func=names.__getitem__, help=t("cases.reply_limit_help"),
                         placeholder=t("common.choose_one"))
    if b.button(t("cases.reply_limit_save"), key=f"{key}_save", disabled=chosen == current):
        if common.run(partial(reply_limit_service.set_reply_limit, actor=me, case_id=case.id, limit=chosen)):
            st.session_state["flash"] = t("cases.reply_limit_saved")
            st.session_state[f"case_open_{case.slug}"] = True  # the card stays open on what was saved
            st.rerun()


def _listening(case: Any) -> None:
    """The case's listening terms: shown to all, changed by editors."""
    terms = listening_service.get_terms(case)
    st.markdown(f"*{t('cases.listening')}* — {listening_ui.shown(terms)}")
    if editor and st.toggle(t("cases.listening_edit"), key=f"case_listen_toggle_{case.slug}"):
        listening_ui.terms_form(f"case_listen_{case.slug}", terms, lambda values: partial(
            listening_service.set_terms, actor=me, case_id=case.id, terms=values))


def _posts(case: Any) -> None:
    # Behind a switch: reading every case's posts and figures on each visit would slow the page.
    if st.toggle(t("cases.posts"), key=f"case_posts_{case.slug}"):
        with ui.own_error(t("cases.posts")):
            ui.case_posts(campaign, case.id, key=f"case_posts_{case.slug}")


def _clear_fields(slug: str) -> None:
    """Once a status is changed, its reason and note are emptied: the next change (a pause weeks
    later) starts from a blank reason instead of sending the old one again."""
    for field in ("reason", "note", "late", "status"):
        st.session_state.pop(f"case_{field}_{slug}", None)


def _switches(case: Any, index: int, name: str) -> None:
    if editor:
        up, down, _ = st.columns([1, 1, 4])
        moved = None
        if index > 0 and up.button(t("cases.up"), key=f"case_up_{case.slug}", icon=":material/arrow_upward:"):
            moved = -1
        if index < len(cases) - 1 and down.button(t("cases.down"), key=f"case_down_{case.slug}",
                                                   icon=":material/arrow_downward:"):
            moved = 1
        if moved and common.run(partial(case_edit.move, actor=me, case_id=case.id, offset=moved)):
            st.rerun()
    if case.status == "good_news" and editor:
        _good_news(case, name)
    if case.status == "active":
        if not editor:
            return
        a, b = st.columns([1, 2])
        stop_as = a.selectbox(t("cases.stop_as"), list(case_edit.STOPPED), key=f"case_status_{case.slug}",
                              format_func=STATUS_NAMES.__getitem__, placeholder=t("common.choose_one"))
        reason = b.text_input(t("cases.reason"), key=f"case_reason_{case.slug}")
        if st.button(t("cases.pause"), key=f"case_pause_{case.slug}", icon=":material/pause:"):
            done = common.run(partial(case_edit.set_status, actor=me, case_id=case.id, status=stop_as, note=reason))
            if done is not None:
                _clear_fields(case.slug)
                st.session_state["flash"] = t("cases.paused", name=common.plain(name), n=done[1])
                st.rerun()
    elif editor:
        # another stop status (e.g. paused -> good news, or closed), with its own note
        others = [k for k in case_edit.STOPPED if k != case.status]
        a, b = st.columns([1, 2])
        move_to = a.selectbox(t("cases.stop_as"), others, key=f"case_status_{case.slug}",
                              format_func=STATUS_NAMES.__getitem__, placeholder=t("common.choose_one"))
        reason = b.text_input(t("cases.reason"), key=f"case_reason_{case.slug}")
        # The case is already stopped: this changes why (« Mettre en pause » would say it is not).
        if st.button(t("cases.change_kind"), key=f"case_pause_{case.slug}", icon=":material/swap_horiz:"):
            done = common.run(partial(case_edit.set_status, actor=me, case_id=case.id, status=move_to, note=reason))
            if done is not None:
                _clear_fields(case.slug)
                st.session_state["flash"] = t("cases.kind_changed", name=common.plain(name),
                                              status=STATUS_NAMES.get(str(move_to), str(move_to)))
                st.rerun()
        if approver:
            note = st.text_input(t("cases.resume_note"), key=f"case_note_{case.slug}")
            late = st.checkbox(t("cases.send_late"), key=f"case_late_{case.slug}")
            if st.button(t("cases.resume"), key=f"case_resume_{case.slug}", icon=":material/play_arrow:"):
                done = common.run(partial(case_edit.set_status, actor=me, case_id=case.id, status="active",
                                          note=note, send_late=late))
                if done is not None:
                    _clear_fields(case.slug)
                    st.session_state["flash"] = t("cases.resumed", name=common.plain(name), n=done[1])
                    st.rerun()
        else:
            st.caption(t("cases.resume_needs_approver"))


for index, case in enumerate(cases):
    name = common.case_name(case.person or {}, case.slug)
    status = t(f"case.status.{case.status}")
    icon = "▶️" if case.status == "active" else "🎉" if case.status == "good_news" else "⏸️"
    # A card someone works in stays open: a confirmation shown at the top of the page after a save
    # makes every card new to the browser, and a closed one would hide what was just saved.
    working = any(st.session_state.get(f"{switch}_{case.slug}") for switch in ("case_listen_toggle", "case_voice")) or \
        any(st.session_state.get(f"case_consent_{case.slug}_{switch}") for switch in ("toggle", "published")) or \
        st.session_state.pop(f"case_open_{case.slug}", False)  # a save in the card (its reply limit) just now
    with st.expander(f"{icon} {case.position}. {common.plain(name)} · {status}",
                     expanded=case.status != "active" or working):
        try:
            _show(case, index)
        except Exception:  # one case that cannot be drawn says so on its own card; the others go on
            common.broken(t("cases.broken", slug=case.slug))

if not editor:
    st.stop()

# ---------------------------------------------------------------------------------------------
# Create or edit, both languages side by side

st.subheader(t("cases.edit_section"))
by_slug = {c.slug: c for c in cases}
which_names: dict[str | None, str] = {None: t("cases.new"), **{k: common.case_name(c.person, k) for k, c in by_slug.items()}}
which = st.selectbox(t("cases.edit_which"), [None, *by_slug], key="case_edit_which", placeholder=t("common.choose_one"),
                     format_func=which_names.__getitem__)
current = by_slug.get(which) if which else None
prefix = f"case_form_{which or '_new'}"


def _bi(field: str, label: str, *, area: bool = False) -> dict[str, str]:
    values = {}
    columns = st.columns(2)
    for column, language in zip(columns, ("fr", "en"), strict=True):
        value = (getattr(current, field) or {}).get(language, "") if current else ""
        widget = column.text_area if area else column.text_input
        values[language] = widget(f"{label} · {common.language_name(language, capital=True)}", value=value,
                                  key=f"{prefix}_{field}_{language}")
    return values


def _link(kind: str, label: str) -> dict[str, str | None] | None:
    links = (current.links or {}).get(kind) or {} if current else {}
    columns = st.columns(2)
    values = {language: column.text_input(f"{label} · {common.language_name(language, capital=True)}", value=links.get(language) or "",
                                          key=f"{prefix}_{kind}_{language}").strip() or None
              for column, language in zip(columns, ("fr", "en"), strict=True)}
    return values if any(values.values()) else None


with st.form(prefix):
    slug = st.text_input(t("cases.slug"), value=current.slug if current else "", key=f"{prefix}_slug",
                         disabled=current is not None)
    fields: dict[str, Any] = {
        "person": _bi("person", t("cases.person")), "country": _bi("country", t("cases.country")),
        "story": _bi("story", t("cases.story"), area=True), "authority": _bi("authority", t("cases.authority")),
        "ask": _bi("ask", t("cases.ask"), area=True), "solidarity_to": _bi("solidarity_to", t("cases.solidarity_to")),
        "solidarity_address": _bi("solidarity_address", t("cases.solidarity_address")),
        "image_alt": _bi("image_alt", t("cases.image_alt")),
    }
    a, b, c = st.columns(3)
    fields["country_code"] = a.text_input(t("cases.country_code"), value=current.country_code if current else "",
                                          key=f"{prefix}_country_code").strip().upper()
    fields["goal"] = int(b.number_input(t("cases.case_goal"), min_value=0, step=500, value=current.goal if current else 0,
                                        key=f"{prefix}_goal"))
    kinds = list(SOLIDARITY_KINDS)
    fields["solidarity_kind"] = c.selectbox(t("cases.solidarity_kind"), kinds, key=f"{prefix}_kind",
                                            index=kinds.index(current.solidarity_kind) if current and
                                            current.solidarity_kind in kinds else 0,
                                            format_func={k: t(f"cases.solidarity.{k}") for k in kinds}.__getitem__,
                                            placeholder=t("common.choose_one"))
    fields["links"] = {"page": _link("page", t("cases.page")), "petition": _link("petition", t("cases.petition"))}
    fields["tags"] = st.text_input(t("cases.tags"), value=" ".join(current.tags) if current else "",
                                   key=f"{prefix}_tags").split()
    # What posts about the case carry unless staff change them (Compose fills them in)
    st.markdown(f"**{t('cases.cw_section')}**")
    st.caption(t("cases.cw_help"))
    fields["content_warning"] = _bi("content_warning", t("cases.cw_label"))
    visibility_names = {v: post_cards.visibility_name(v) for v in content_warnings.VISIBILITIES}
    label_names = {v: post_cards.label_name(v) for v in content_warnings.SELF_LABELS}
    v, w = st.columns(2)
    shown_visibility = current.visibility if current and current.visibility in visibility_names else "public"
    fields["visibility"] = v.selectbox(t("compose.cw_visibility"), list(visibility_names), key=f"{prefix}_visibility",
                                       index=list(visibility_names).index(shown_visibility),
                                       format_func=visibility_names.__getitem__, help=t("compose.cw_visibility_help"),
                                       placeholder=t("common.choose_one"))
    fields["self_labels"] = w.multiselect(t("compose.cw_labels"), list(label_names), key=f"{prefix}_labels",
                                          default=[x for x in (current.self_labels if current else []) if x in label_names],
                                          format_func=label_names.__getitem__, placeholder=t("common.choose_many"),
                                          help=t("compose.cw_labels_help"))
    if current is not None:
        st.caption(t("cases.frozen_note"))
    if st.form_submit_button(t("cases.save")):
        if current is None:
            saved = common.run(lambda s: case_edit.create_case(s, actor=me, campaign_id=campaign.id or 0,
                                                               data=fields | {"slug": slug}))
        else:
            saved = common.run(partial(case_edit.update_case, actor=me, case_id=current.id or 0, changes=fields))
        if saved is not None:
            st.session_state["flash"] = t("cases.saved", name=common.plain(common.case_name(saved.person, saved.slug)))
            st.rerun()
