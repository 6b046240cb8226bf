"""Compose: write once, adjust per account with live counters, then save or submit for approval.

One form makes one post, whatever the number of accounts and adjustments. The form carries a
token the service checks, so the same form sent twice makes one post; after a save or a submit
every field is emptied and a new token drawn."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

import streamlit as st

from content.words import Words
from dashboard import common, post_cards
from dashboard.i18n import fmt_datetime, fmt_number, lang, t, zone_name
from orchestrator.services import (
    actions_admin,
    content_warnings,
    link_cards,
    media_library,
    post_review,
    sensitive_dates,
    templates_admin,
)
from orchestrator.services import compose as compose_service
from orchestrator.services import posts as post_service
from orchestrator.services.auth import ServiceError
from orchestrator.services.campaigns import list_cases
from orchestrator.services.series import fill
from orchestrator.timeutil import at_local, local, utcnow

if TYPE_CHECKING:
    from orchestrator.models import Post

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("compose.title"))
common.flash()
if not common.can("editor"):
    common.viewer_notice()
    st.stop()
me = common.actor()


def _default_slot() -> dt.datetime:
    """The next full hour at least half an hour away, in the campaign's zone: never a past time."""
    soon = local(utcnow(), tz) + dt.timedelta(minutes=30)
    return soon.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


# After a save or a submit, every field goes back to empty. A widget's value can only be set
# before it is drawn, hence the flag and the rerun; setting it (rather than deleting the key)
# also tells the browser, which would otherwise send the old value back with the next click.
if st.session_state.pop("compose_reset", False):
    slot = _default_slot()
    for key in [k for k in st.session_state if str(k).startswith("compose_variant_")]:
        st.session_state[key] = ""
    st.session_state.update({
        "compose_text": "", "compose_link": "", "compose_accounts": [], "compose_when": "none",
        "compose_alt": "", "compose_publish_now": False, "compose_sibling": None,
        "compose_date": slot.date(), "compose_time": slot.time(), "compose_images": [],
        "compose_cw_source": None,  # the case's defaults are filled in again
        "compose_card": None, "compose_card_title": "", "compose_card_description": "",
        "compose_parts": [], "compose_numbered": False,
    })
    for key in [k for k in st.session_state if str(k).startswith("compose_part_")]:
        st.session_state[key] = ""
    st.session_state["compose_generation"] = st.session_state.get("compose_generation", 0) + 1
    st.session_state["compose_token"] = uuid.uuid4().hex
if st.session_state.pop("compose_image_added", False):  # ready for the next image
    st.session_state["compose_alt"] = ""
    st.session_state["compose_generation"] = st.session_state.get("compose_generation", 0) + 1
st.session_state.setdefault("compose_images", [])
st.session_state.setdefault("compose_token", uuid.uuid4().hex)
generation = st.session_state.get("compose_generation", 0)

if result := st.session_state.pop("compose_result", None):
    st.success(result["message"], icon=":material/check_circle:")
    if result.get("problems"):
        st.warning(t("compose.saved_problems", problems=common.plain(result["problems"])))

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
    actions = actions_admin.list_actions(s, campaign_id=campaign.id or 0)
    templates = templates_admin.list_templates(s, campaign_id=campaign.id or 0)

# Choice labels are looked up in dicts made here, in the reader's language: a format function
# that called t() later would answer in whatever language its caller runs in.
c1, c2, c3 = st.columns(3)
case_names = {c.slug: common.case_name(c.person, c.slug) for c in cases}
case_slug = c1.selectbox(t("col.case"), list(case_names), key="compose_case", placeholder=t("common.choose_one"),
                         format_func=case_names.__getitem__)
action_names: dict[str | None, str] = {None: t("compose.no_action"),
                                       **{a.slug: a.label.get(lang()) or a.slug for a in actions}}
action_slug = c2.selectbox(t("compose.action"), list(action_names), key="compose_action",
                           placeholder=t("common.choose_one"), format_func=action_names.__getitem__)
language_names = {code: post_cards.language_name(code).capitalize() for code in ("fr", "en")}
language = c3.radio(t("compose.language"), list(language_names), key="compose_language", horizontal=True,
                    format_func=language_names.__getitem__)

usable = [tp for tp in templates if tp.language == language and (action_slug is None or tp.action_slug == action_slug)]
if usable:
    def _use_template() -> None:
        chosen = next((tp for tp in usable if tp.slug == st.session_state.get("compose_template")), None)
        case = next((c for c in cases if c.slug == st.session_state.get("compose_case")), None)
        if chosen is None or case is None:
            return
        action = next((a for a in actions if a.slug == chosen.action_slug), None)
        try:
            st.session_state["compose_text"] = fill(chosen.body, case=case, campaign=campaign, action=action,
                                                    language=language, link=None)
        except Exception as exc:  # a template with a placeholder we do not fill: say which
            st.session_state["compose_template_error"] = post_cards.message(exc)

    t1, t2 = st.columns([3, 1], vertical_alignment="bottom")
    t1.selectbox(t("compose.template"), [tp.slug for tp in usable], key="compose_template",
                 placeholder=t("common.choose_one"))
    t2.button(t("compose.use_template"), key="compose_use_template", on_click=_use_template)
    if error := st.session_state.pop("compose_template_error", None):
        st.error(common.plain(error))

text = st.text_area(t("compose.text"), key="compose_text", height=160)
link = st.text_input(t("compose.link"), key="compose_link", help=t("compose.link_help")) or None

with common.session() as s:
    accounts = compose_service.schedulable_accounts(s, language=language)
kinds = {a.name: a.kind for a in accounts}
account_labels = {n: t("compose.account_option", name=n, platform=post_review.platform(k)) for n, k in kinds.items()}
account_names = st.multiselect(
    t("compose.accounts"), list(kinds), key="compose_accounts", placeholder=t("common.choose_many"),
    format_func=lambda n: account_labels.get(n, n))

# Images: stored on the post with their alt text, which is required. Any file is accepted by the
# uploader and decoded here, so a file that is not an image gets words, not a bare red mark.
limit_mb = common.upload_limit_mb()
# Open once the post has an image: its label changes with the count, and a new label would
# otherwise fold the section just as the person adds an image, hiding what was added.
with st.expander(t("compose.images", n=fmt_number(len(st.session_state["compose_images"]))),
                 expanded=bool(st.session_state["compose_images"])):
    upload = st.file_uploader(t("compose.image_file"), key=f"compose_upload_{generation}",
                              max_upload_size=limit_mb, help=t("compose.image_help", mb=fmt_number(limit_mb)))
    checked: dict[str, Any] | None = None
    if upload is not None:
        verdicts = st.session_state.setdefault("compose_checked", {})
        if upload.file_id not in verdicts:  # decode once per file, not on every keystroke
            try:
                mime, _, width, height = media_library.inspect(upload.getvalue())
                verdicts[upload.file_id] = {"mime": mime, "w": width, "h": height}
            except ServiceError as exc:
                verdicts[upload.file_id] = {"why": Words(exc.fr, exc.en)}
        checked = verdicts[upload.file_id]
        if "mime" in checked:
            st.caption(t("compose.image_ok", name=common.plain(upload.name), kind=checked["mime"].split("/")[1].upper(),
                         w=fmt_number(checked["w"]), h=fmt_number(checked["h"])))
        else:
            st.error(t("compose.bad_image", name=common.plain(upload.name), why=checked["why"].text(lang())),
                     icon=":material/broken_image:")
    alt = st.text_input(t("compose.alt"), key="compose_alt", help=t("compose.alt_help"))
    if st.button(t("compose.add_image"), key="compose_add_image"):
        if upload is None or checked is None:
            st.error(t("compose.no_file"))
        elif "mime" not in checked:
            st.error(t("compose.bad_image", name=common.plain(upload.name), why=checked[lang()]))
        elif not alt.strip():
            st.error(t("compose.alt_required"))
        else:
            st.session_state["compose_images"].append({
                "data": base64.b64encode(upload.getvalue()).decode(), "mime_type": checked["mime"],
                "filename": upload.name, "alt": alt.strip()})
            st.session_state["compose_image_added"] = True
            st.rerun()  # the count in the heading, and an empty uploader for the next one
    # Or pick one from the media library: the post keeps a reference and the alt text in its language.
    with common.session() as s:
        library = media_library.list_images(s, campaign_id=campaign.id or 0, case_slug=case_slug)
    if library:
        by_id = {item.id: item for item in library}
        library_labels = {i: t("compose.library_option", id=i, name=item.filename, alt=item.alt.get(language, ""))
                          for i, item in by_id.items()}
        picked = st.selectbox(t("compose.library"), list(by_id), key="compose_library", placeholder=t("common.choose_one"),
                              format_func=lambda i: library_labels.get(i, str(i)))
        if st.button(t("compose.add_library"), key="compose_add_library") and picked is not None:
            st.session_state["compose_images"].append(media_library.reference(by_id[picked], language))
            st.rerun()
    for i, image in enumerate(list(st.session_state["compose_images"])):
        a, b = st.columns([4, 1])
        a.text(f"{image.get('filename', '')} — {image['alt']}")
        if b.button(t("compose.remove"), key=f"compose_remove_{i}"):
            st.session_state["compose_images"].pop(i)
            st.rerun()
images = st.session_state["compose_images"]

# The link's card: read from the page's own tags (bounded; a page that cannot be read leaves a
# plain link), once per address. Bluesky shows this card, with the title and description staff
# may change here; X, Facebook and Mastodon read the same tags themselves.
link_card: dict[str, Any] | None = None
if link:
    if (st.session_state.get("compose_card") or {}).get("url") != link:
        with st.spinner(t("compose.card_reading")):
            read = link_cards.read_card(link, allow_private=link_cards.allow_private())
        st.session_state["compose_card"] = read
        st.session_state["compose_card_title"] = read["title"]
        st.session_state["compose_card_description"] = read["description"]
    link_card = dict(st.session_state["compose_card"])
    with st.expander(t("compose.card_section"), expanded=True):
        if link_card.get("error"):
            st.warning(t("compose.card_unreadable", why=common.plain(link_card["error"][lang()])),
                       icon=":material/link_off:")
        else:
            thumb = link_card.get("thumb")
            if thumb:
                st.image(base64.b64decode(thumb["data"]), width=240)
            else:
                st.caption(t("compose.card_no_image"))
            title = st.text_input(t("compose.card_title"), key="compose_card_title", max_chars=link_cards.MAX_TITLE)
            description = st.text_area(t("compose.card_description"), key="compose_card_description",
                                       max_chars=link_cards.MAX_DESCRIPTION, height=80)
            if (title, description) != (link_card["title"], link_card["description"]):
                link_card.update(title=title, description=description, edited=True)
            st.caption(t("compose.card_bluesky"))
            if images:
                st.info(t("compose.card_images_win"), icon=":material/info:")
            read_title = st.session_state["compose_card"]["title"]
            read_description = st.session_state["compose_card"]["description"]
            st.caption(t("compose.card_others", title=common.plain(read_title) or "—",
                         description=common.plain(read_description) or "—"))

# Content warning, visibility (Mastodon) and labels (Bluesky): the case's defaults in the post's
# language, filled in again when the case or the language changes; staff may change them here.
chosen_case = next((c for c in cases if c.slug == case_slug), None)
default_warning = content_warnings.case_default(chosen_case, language)
if st.session_state.get("compose_cw_source") != (case_slug, language):
    st.session_state.update({
        "compose_cw": default_warning.text, "compose_visibility": default_warning.visibility,
        "compose_labels": list(default_warning.labels), "compose_cw_source": (case_slug, language)})
visibility_names = {v: post_cards.visibility_name(v) for v in content_warnings.VISIBILITIES}
label_names = {v: post_cards.label_name(v) for v in content_warnings.SELF_LABELS}
with st.expander(t("compose.cw_section"), expanded=not default_warning.is_default):
    cw_text = st.text_input(t("compose.cw_text"), key="compose_cw", help=t("compose.cw_help"))
    visibility = st.selectbox(t("compose.cw_visibility"), list(visibility_names), key="compose_visibility",
                              format_func=visibility_names.__getitem__, help=t("compose.cw_visibility_help"),
                              placeholder=t("common.choose_one"))
    self_labels = st.multiselect(t("compose.cw_labels"), list(label_names), key="compose_labels",
                                 format_func=label_names.__getitem__, placeholder=t("common.choose_many"),
                                 help=t("compose.cw_labels_help"))
    chosen_warning = content_warnings.PostWarning(content_warnings.clean_text(cw_text), visibility or "public",
                                                  tuple(content_warnings.clean_labels(self_labels)))
    st.caption(t("compose.cw_from_case" if chosen_warning == default_warning else "compose.cw_changed"))

# A thread: the text above is its first part; the others follow in order, each with its own text
# and images (alt text required). "Split" cuts the text at its sentences so that each part fits
# every chosen account (each platform's own count), optionally numbered « 1/4 ».
st.session_state.setdefault("compose_parts", [])


def _split_story() -> None:
    names = st.session_state.get("compose_accounts") or []
    story = str(st.session_state.get("compose_text") or "")
    if not names or not story.strip():
        st.session_state["compose_split_error"] = t("compose.split_needs")
        return
    try:
        with common.session() as s:
            parts = compose_service.split_for_accounts(
                s, text=story, account_names=names, numbered=bool(st.session_state.get("compose_numbered")),
                content_warning=str(st.session_state.get("compose_cw") or ""))
    except Exception as exc:  # noqa: BLE001 - said on the page; the text stays as it was
        st.session_state["compose_split_error"] = post_cards.message(exc)
        return
    if not parts:
        return
    st.session_state["compose_text"] = parts[0]
    st.session_state["compose_parts"] = [{"images": []} for _ in parts[1:]]
    for i, part in enumerate(parts[1:]):
        st.session_state[f"compose_part_{i}"] = part


def _add_part() -> None:
    st.session_state["compose_parts"].append({"images": []})
    st.session_state[f"compose_part_{len(st.session_state['compose_parts']) - 1}"] = ""


def _remove_part(index: int) -> None:
    parts = st.session_state["compose_parts"]
    texts = [st.session_state.get(f"compose_part_{i}", "") for i in range(len(parts))]
    parts.pop(index)
    texts.pop(index)
    for i, text_ in enumerate(texts):
        st.session_state[f"compose_part_{i}"] = text_


def _part_images(index: int) -> None:
    """One part's images, each with its alt text (required), as for the post's own images."""
    part = st.session_state["compose_parts"][index]
    upload = st.file_uploader(t("compose.image_file"), key=f"compose_part_upload_{generation}_{index}",
                              max_upload_size=limit_mb)
    alt_ = st.text_input(t("compose.alt"), key=f"compose_part_alt_{generation}_{index}", help=t("compose.alt_help"))
    if st.button(t("compose.add_image"), key=f"compose_part_add_image_{index}"):
        if upload is None:
            st.error(t("compose.no_file"))
        elif not alt_.strip():
            st.error(t("compose.alt_required"))
        else:
            try:
                mime, _, _, _ = media_library.inspect(upload.getvalue())
            except ServiceError as exc:
                st.error(t("compose.bad_image", name=common.plain(upload.name), why=exc.text(lang())))
            else:
                part["images"].append({"data": base64.b64encode(upload.getvalue()).decode(), "mime_type": mime,
                                       "filename": upload.name, "alt": alt_.strip()})
                st.rerun()
    for j, image in enumerate(list(part["images"])):
        a, b = st.columns([4, 1])
        a.text(f"{image.get('filename', '')} — {image['alt']}")
        if b.button(t("compose.remove"), key=f"compose_part_remove_image_{index}_{j}"):
            part["images"].pop(j)
            st.rerun()


with st.expander(t("compose.thread_section", n=fmt_number(len(st.session_state["compose_parts"]) + 1)),
                 expanded=bool(st.session_state["compose_parts"])):
    st.caption(t("compose.thread_help"))
    n1, n2, n3 = st.columns([2, 2, 2], vertical_alignment="bottom")
    n1.checkbox(t("compose.numbered"), key="compose_numbered")
    n2.button(t("compose.split"), key="compose_split", on_click=_split_story, icon=":material/call_split:")
    n3.button(t("compose.add_part"), key="compose_add_part", on_click=_add_part, icon=":material/add:")
    if error := st.session_state.pop("compose_split_error", None):
        st.warning(common.plain(str(error)))
    for index in range(len(st.session_state["compose_parts"])):
        with st.container(border=True):
            st.text_area(t("compose.part_heading", n=fmt_number(index + 2)), key=f"compose_part_{index}", height=100)
            _part_images(index)
            st.button(t("compose.remove_part"), key=f"compose_remove_part_{index}", on_click=_remove_part,
                      args=(index,))
thread: list[dict[str, Any]] = [
    {"text": str(st.session_state.get(f"compose_part_{i}") or ""), "images": list(part["images"])}
    for i, part in enumerate(st.session_state["compose_parts"])]
thread = [part for part in thread if str(part["text"]).strip() or part["images"]]

# Per account: an adjusted text, and the platform's verdict on what will go out. Checked for
# every chosen account, scheduled or not.
variants: dict[str, str] = {}
previews: list[dict[str, Any]] = []
if account_names:
    st.subheader(t("compose.per_channel"))
    for name in account_names:
        label = t("compose.account_option", name=common.plain(name), platform=post_review.platform(kinds.get(name, "")))
        with st.expander(label, expanded=False):
            variants[name] = st.text_area(t("compose.adjust"), key=f"compose_variant_{name}",
                                          placeholder=t("compose.same_text"), height=120)
    if text.strip():
        try:
            with common.session() as s:
                previews = compose_service.preview(s, text=text, link=link, case_slug=case_slug,
                                                   account_names=account_names, images=images, language=lang(),
                                                   campaign=campaign, variants=variants, content_warning=cw_text,
                                                   visibility=visibility, self_labels=self_labels,
                                                   post_language=language, parts=thread)
        except Exception as exc:  # noqa: BLE001 - e.g. the case just deleted: say it, keep the form
            st.error(common.plain(post_cards.message(exc)))
        for item in previews:
            with st.container(border=True):
                if item["error"]:
                    st.error(t("compose.preview_error", account=common.plain(item["account"]),
                               why=common.plain(item["error"])))
                    continue
                verdict = f"✅ {t('compose.valid')}" if item["valid"] else f"❌ {t('compose.invalid')}"
                st.markdown(f"**{common.plain(item['account'])}** · {item['platform']} — {verdict} · "
                            + t("compose.counter", length=fmt_number(item["length"]), limit=fmt_number(item["limit"])))
                if item["variant"]:
                    st.caption(t("compose.variant_badge"))
                post_cards.shown_text(item, key=f"compose_cw_show_{item['account']}")
                post_cards.thread_parts(item.get("parts") or [])
                for problem in item["problems"]:
                    st.warning(common.plain(problem))
                for warning in item.get("warnings") or ():  # worth knowing; the post stays valid
                    st.info(common.plain(warning), icon=":material/info:")
                if item["note"]:
                    st.caption(common.plain(item["note"]))
                post_cards.cost_line(item)
        post_cards.cost_total(previews)
breaches: list[tuple[str, str]] = []
if text.strip() and not account_names:  # with accounts, each account's card says it (above)
    try:
        with common.session() as s:
            breaches = compose_service.consent_check(s, campaign=campaign, case_slug=case_slug, text=text,
                                                     variants=variants, images=images)
    except Exception as exc:  # noqa: BLE001 - e.g. the case just deleted: say it, keep the form
        st.error(common.plain(post_cards.message(exc)))
    for fr, en in breaches:
        st.error(common.plain(fr if lang() == "fr" else en), icon=":material/privacy_tip:")

st.subheader(t("compose.when"))
when_labels = {k: t(f"compose.when_{k}") for k in ("none", "at", "next")}
when = st.radio(t("compose.when"), list(when_labels), key="compose_when", horizontal=True,
                label_visibility="collapsed", format_func=when_labels.__getitem__)
at: dt.datetime | None = None
publish_now = False
if when == "at":
    slot = _default_slot()
    st.session_state.setdefault("compose_date", slot.date())
    st.session_state.setdefault("compose_time", slot.time())
    d1, d2 = st.columns(2)
    day = d1.date_input(t("compose.day"), key="compose_date", format="YYYY-MM-DD")
    time = d2.time_input(t("compose.time"), key="compose_time", step=300)
    at = at_local(day, time, tz)
    st.caption(t("compose.tz_note", tz=zone_name(tz), when=post_cards.when(at, tz)))
    if day_warning := sensitive_dates.warning(campaign, at):  # a second thought, not a refusal
        st.warning(common.plain(day_warning[0] if lang() == "fr" else day_warning[1]), icon=":material/event_busy:")
    if at <= utcnow():
        st.warning(t("compose.past", when=post_cards.when(at, tz)), icon=":material/history:")
        publish_now = st.checkbox(t("compose.publish_now"), key="compose_publish_now",
                                  help=t("compose.publish_now_help"))
elif when == "none" and account_names:
    st.caption(t("compose.kept_note"))

with common.session() as s:
    others = post_service.list_posts(s, campaign=campaign, language="en" if language == "fr" else "fr", limit=50)
sibling_labels: dict[int | None, str] = {None: t("compose.no_sibling"),
                                         **{p.id: f"{t('compose.post_number', id=p.id)} · {p.text[:60]}" for p in others}}
sibling = st.selectbox(t("compose.sibling"), list(sibling_labels), key="compose_sibling",
                       placeholder=t("common.choose_one"), format_func=lambda i: sibling_labels.get(i, str(i)))

if breaches or any(not item["valid"] for item in previews):
    st.error(t("compose.fix_first"), icon=":material/block:")
b1, b2 = st.columns(2)
save = b1.button(t("compose.save"), key="compose_save", icon=":material/save:")
submit = b2.button(t("compose.submit"), key="compose_submit", type="primary", icon=":material/send:")
if save or submit:
    token = st.session_state["compose_token"]
    result = common.run(lambda s: compose_service.compose(
        s, actor=me, case_slug=case_slug, language=language, text=text, link=link, action_slug=action_slug,
        images=images, account_names=account_names, variants=variants, at=at, next_free=when == "next",
        publish_now=publish_now, submit=submit, sibling_id=sibling, campaign=campaign, form_token=token,
        content_warning=cw_text, visibility=visibility, self_labels=self_labels, link_card=link_card,
        parts=thread))
    if result is not None:
        post_id = result.post.id
        if result.duplicate:
            message = t("compose.duplicate", id=post_id)
        else:
            when_text = (post_cards.when(result.at, tz) if result.at else
                         t("compose.kept_for_later", n=fmt_number(len(result.post.accounts))) if result.post.accounts
                         else t("compose.unscheduled"))
            message = t("compose.saved_submitted" if submit else "compose.saved", id=post_id,
                        d=fmt_number(len(result.deliveries)), when=when_text)
        problems = " · ".join(fr if lang() == "fr" else en for fr, en in result.problems)
        st.session_state["compose_result"] = {"message": message, "problems": problems}
        st.session_state["compose_reset"] = True
        st.rerun()

# ---------------------------------------------------------------------------------------------
# My posts: what I wrote, where it stands, and what I can still do with it.

st.divider()
st.subheader(t("compose.mine"))
with common.session() as s:
    mine: list[Post] = compose_service.my_posts(s, actor=me, limit=20, campaign=campaign)
    account_names_by_id = {a.id: a.name for a in compose_service.schedulable_accounts(s)}
if not mine:
    st.caption(t("compose.mine_empty"))


def _my_post(post: Post) -> None:
    post_id = post.id or 0
    st.markdown(f"**{t('compose.post_number', id=post_id)}** · {post_service.STATUS_LABELS[post.status][lang()]} · "
                f"{post_cards.language_name(post.language)} · {fmt_datetime(post.updated_at, tz, 'short')}")
    post_cards.where_it_goes(post, tz)
    if post.content_warning:
        st.caption(common.plain(t("approvals.warning", text=post.content_warning)))
    st.text(post.text)
    if post.parts:
        post_cards.thread_parts([{"text": p.get("text"), "images": len(p.get("images") or [])} for p in post.parts])
    for account_id, body in (post.variants or {}).items():
        name = account_names_by_id.get(int(account_id), account_id)
        st.caption(t("compose.variant_for", account=common.plain(str(name))))
        st.text(body)
    if post.review_comment:
        st.warning(t("compose.review_comment", comment=common.plain(post.review_comment)))
    post_cards.withdraw_button(post, me, key=f"mine_withdraw_{post_id}")
    if post.status not in (post_service.DRAFT, post_service.REJECTED):
        return
    edited = st.text_area(t("compose.edit"), value=post.text, key=f"mine_text_{post_id}")
    edited_cw = st.text_input(t("compose.cw_text"), value=post.content_warning or "", key=f"mine_cw_{post_id}",
                              help=t("compose.cw_help"))
    edited_variants = {}
    for account_id in sorted({*(str(a) for a in post.accounts or []), *(post.variants or {})}):
        name = account_names_by_id.get(int(account_id), account_id)
        edited_variants[account_id] = st.text_area(
            t("compose.edit_variant", account=common.plain(str(name))), value=(post.variants or {}).get(account_id, ""),
            key=f"mine_variant_{post_id}_{account_id}", height=80)
    kept = [image for i, image in enumerate(post.images or [])
            if st.checkbox(t("compose.keep_image", name=common.plain(str(image.get("filename") or i + 1))), value=True,
                           key=f"mine_image_{post_id}_{i}")]
    # a thread's other parts: each text editable (emptied, the part goes), its images kept
    edited_parts = [{"text": st.text_area(t("compose.part_heading", n=fmt_number(i + 2)), value=str(part.get("text") or ""),
                                          key=f"mine_part_{post_id}_{i}", height=80),
                     "images": list(part.get("images") or [])}
                    for i, part in enumerate(post.parts or [])]

    c1, c2 = st.columns(2)
    if c1.button(t("compose.save_only"), key=f"mine_save_{post_id}", icon=":material/save:"):
        if common.run(partial(post_service.edit_post, actor=me, post_id=post_id, text=edited, link=post.link,
                              variants=edited_variants, images=kept, content_warning=edited_cw,
                              parts=edited_parts),
                      success=t("compose.edited")):
            st.rerun()
    if c2.button(t("compose.resubmit"), key=f"mine_submit_{post_id}", icon=":material/send:"):
        if common.run(partial(post_service.resubmit_post, actor=me, post_id=post_id, text=edited, link=post.link,
                              variants=edited_variants, images=kept, content_warning=edited_cw,
                              parts=edited_parts),
                      success=t("compose.resubmitted")):
            st.rerun()


for post in mine:
    with st.container(border=True):
        try:
            _my_post(post)
        except Exception as exc:  # noqa: BLE001 - one post that cannot be shown says so; the others follow
            st.error(t("compose.card_error", id=post.id, why=common.plain(post_cards.message(exc))))
