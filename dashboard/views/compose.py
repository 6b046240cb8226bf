"""Compose: write once, adjust per channel with live counters, then save or submit for approval."""

from __future__ import annotations

import base64
import datetime as dt

import streamlit as st
from sqlmodel import select

from dashboard import common
from dashboard.i18n import LANGUAGE_NAMES, fmt_datetime, fmt_number, lang, t
from orchestrator.models import CallToAction, Post, Template
from orchestrator.services import compose as compose_service
from orchestrator.services import posts as post_service
from orchestrator.services.campaigns import list_cases
from orchestrator.services.series import fill
from orchestrator.timeutil import at_local, local, utcnow

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("compose.title"))
common.flash()
if not common.can("editor"):
    common.viewer_notice()
    st.stop()
me = common.actor()

# A successful save empties the form; widget values can only be reset before they are drawn.
if st.session_state.pop("compose_reset", False):
    for key in [k for k in st.session_state if str(k).startswith("compose_")]:
        del st.session_state[key]
st.session_state.setdefault("compose_images", [])

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
    actions = list(s.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id)))
    templates = list(s.exec(select(Template).where(Template.campaign_id == campaign.id)))

c1, c2, c3 = st.columns(3)
case_slug = c1.selectbox(t("col.case"), [c.slug for c in cases], key="compose_case",
                         format_func=lambda slug: next(common.case_name(c.person, c.slug) for c in cases if c.slug == slug))
action_slug = c2.selectbox(t("compose.action"), [None] + [a.slug for a in actions], key="compose_action",
                           format_func=lambda slug: t("compose.no_action") if slug is None else
                           next(a.label.get(lang()) or a.slug for a in actions if a.slug == slug))
language = c3.radio(t("compose.language"), ["fr", "en"], key="compose_language", horizontal=True,
                    format_func=LANGUAGE_NAMES.__getitem__)

usable = [tp for tp in templates if tp.language == language and (action_slug is None or tp.action_slug == action_slug)]
if usable:
    def _use_template() -> None:
        chosen = next(tp for tp in usable if tp.slug == st.session_state["compose_template"])
        case = next(c for c in cases if c.slug == st.session_state["compose_case"])
        action = next((a for a in actions if a.slug == chosen.action_slug), None)
        try:
            st.session_state["compose_text"] = fill(chosen.body, case=case, campaign=campaign, action=action,
                                                    language=language, link=None)
        except Exception as exc:  # a template with a placeholder we do not fill: say which
            st.session_state["compose_template_error"] = str(exc)

    t1, t2 = st.columns([3, 1], vertical_alignment="bottom")
    t1.selectbox(t("compose.template"), [tp.slug for tp in usable], key="compose_template")
    t2.button(t("compose.use_template"), key="compose_use_template", on_click=_use_template)
    if error := st.session_state.pop("compose_template_error", None):
        st.error(error)

text = st.text_area(t("compose.text"), key="compose_text", height=160)
link = st.text_input(t("compose.link"), key="compose_link", help=t("compose.link_help")) or None

with common.session() as s:
    accounts = compose_service.schedulable_accounts(s, language=language)
account_names = st.multiselect(t("compose.accounts"), [a.name for a in accounts], key="compose_accounts",
                               format_func=lambda n: next(f"{a.name} ({a.kind})" for a in accounts if a.name == n))

# Images: stored inline on the post with their alt text, which is required.
with st.expander(t("compose.images", n=len(st.session_state["compose_images"]))):
    upload = st.file_uploader(t("compose.image_file"), type=["png", "jpg", "jpeg", "gif", "webp"], key="compose_upload")
    alt = st.text_input(t("compose.alt"), key="compose_alt", help=t("compose.alt_help"))
    if st.button(t("compose.add_image"), key="compose_add_image", disabled=upload is None):
        if not alt.strip():
            st.error(t("compose.alt_required"))
        elif upload is not None:
            st.session_state["compose_images"].append({
                "data": base64.b64encode(upload.getvalue()).decode(), "mime_type": upload.type or "image/jpeg",
                "filename": upload.name, "alt": alt.strip()})
    # Or pick one from the media library: the post keeps a reference and the alt text in its language.
    from orchestrator.services import media_library

    with common.session() as s:
        library = media_library.list_images(s, campaign_id=campaign.id, case_slug=case_slug)  # type: ignore[arg-type]
    if library:
        by_id = {item.id: item for item in library}
        picked = st.selectbox(t("compose.library"), list(by_id), key="compose_library",
                              format_func=lambda i: f"n° {i} · {by_id[i].filename} — {by_id[i].alt.get(language, '')}")
        if st.button(t("compose.add_library"), key="compose_add_library"):
            st.session_state["compose_images"].append(media_library.reference(by_id[picked], language))
    for i, image in enumerate(list(st.session_state["compose_images"])):
        a, b = st.columns([4, 1])
        a.text(f"{image.get('filename', '')} — {image['alt']}")
        if b.button(t("compose.remove"), key=f"compose_remove_{i}"):
            st.session_state["compose_images"].pop(i)
            st.rerun()
images = st.session_state["compose_images"]

variants: dict[str, str] = {}
if account_names and text.strip():
    st.subheader(t("compose.per_channel"))
    for name in account_names:
        with st.expander(name, expanded=False):
            variants[name] = st.text_area(t("compose.adjust"), key=f"compose_variant_{name}",
                                          placeholder=t("compose.same_text"), height=120)
    try:
        with common.session() as s:
            previews = []
            for name in account_names:
                previews += compose_service.preview(s, text=variants.get(name) or text, link=link, case_slug=case_slug,
                                                    account_names=[name], images=images, language=lang(),
                                                    campaign=campaign)
    except Exception as exc:  # an unreadable image or an unknown account: show it, keep the form
        st.error(str(exc))
        previews = []
    for item in previews:
        verdict = "✅" if item["valid"] else "❌"
        st.markdown(f"**{common.plain(item['account'])}** ({item['kind']}) — {verdict} "
                    + t("compose.counter", length=fmt_number(item["length"]), limit=fmt_number(item["limit"])))
        st.text(item["text"])
        for problem in item["problems"]:
            st.warning(common.plain(problem))

st.subheader(t("compose.when"))
when = st.radio(t("compose.when"), ["none", "at", "next"], key="compose_when", horizontal=True,
                label_visibility="collapsed", format_func=lambda k: t(f"compose.when_{k}"))
at: dt.datetime | None = None
if when == "at":
    now_local = local(utcnow(), tz)
    d1, d2 = st.columns(2)
    day = d1.date_input(t("compose.day"), value=now_local.date(), key="compose_date", format="YYYY-MM-DD")
    time = d2.time_input(t("compose.time"), value=dt.time(12, 0), key="compose_time", step=300)
    at = at_local(day, time, tz)
    st.caption(t("compose.tz_note", tz=tz, when=fmt_datetime(at, tz)))

with common.session() as s:
    others = [p for p in post_service.list_posts(s, campaign=campaign) if p.language != language][:50]
sibling = st.selectbox(t("compose.sibling"), [None] + [p.id for p in others], key="compose_sibling",
                       format_func=lambda i: t("compose.no_sibling") if i is None else
                       f"#{i} · {next(p.text[:60] for p in others if p.id == i)}")

b1, b2 = st.columns(2)
save = b1.button(t("compose.save"), key="compose_save", icon=":material/save:")
submit = b2.button(t("compose.submit"), key="compose_submit", type="primary", icon=":material/send:")
if save or submit:
    result = common.run(lambda s: compose_service.compose(
        s, actor=me, case_slug=case_slug, language=language, text=text, link=link, action_slug=action_slug,
        images=images, account_names=account_names, variants=variants, at=at, next_free=when == "next",
        submit=submit, sibling_id=sibling, campaign=campaign))
    if result is not None:
        when_text = fmt_datetime(result.at, tz) if result.at else t("compose.unscheduled")
        st.session_state["flash"] = t("compose.saved_submitted" if submit else "compose.saved",
                                      n=len(result.posts), d=len(result.deliveries), when=when_text)
        st.session_state["compose_reset"] = True
        st.rerun()

st.divider()
st.subheader(t("compose.mine"))
with common.session() as s:
    mine: list[Post] = compose_service.my_posts(s, actor=me, limit=20, campaign=campaign)
if not mine:
    st.caption(t("compose.mine_empty"))
for post in mine:
    with st.container(border=True):
        st.markdown(f"**#{post.id}** · {post_service.STATUS_LABELS[post.status][lang()]} · "
                    f"{fmt_datetime(post.updated_at, tz, 'short')}")
        st.text(post.text)
        if post.review_comment:
            st.warning(t("compose.review_comment", comment=common.plain(post.review_comment)))
        if post.status in (post_service.DRAFT, post_service.REJECTED):
            edited = st.text_area(t("compose.edit"), value=post.text, key=f"mine_text_{post.id}")
            if st.button(t("compose.resubmit"), key=f"mine_submit_{post.id}"):
                def _resubmit(s, post_id: int = post.id, body: str = edited, url: str | None = post.link):  # type: ignore[no-untyped-def]
                    post_service.edit_post(s, actor=me, post_id=post_id, text=body, link=url)
                    return post_service.submit_post(s, actor=me, post_id=post_id)

                if common.run(_resubmit, success=t("compose.resubmitted")):
                    st.rerun()
