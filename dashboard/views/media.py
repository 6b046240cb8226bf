"""The media library: upload an image once for a case (or the whole edition) with alt text in
both languages and a credit line; edit those; delete an image no post that may go out uses."""

from __future__ import annotations

from functools import partial

import streamlit as st

from dashboard import common, post_cards
from dashboard.i18n import fmt_number, lang, t
from orchestrator.services import media_library
from orchestrator.services.auth import ServiceError
from orchestrator.services.campaigns import list_cases

campaign = common.require_campaign()
st.title(t("media.title"))
st.caption(t("media.help"))
common.flash()
editor = common.can("editor")
me = common.actor()

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
names: dict[str | None, str] = {c.slug: common.case_name(c.person, c.slug) for c in cases}
ids = {c.id: c.slug for c in cases}
# labels looked up in dicts built now, in the reader's language
owners: dict[str | None, str] = {None: t("media.whole_edition"), **names}
filters: dict[str | None, str] = {None: t("media.all"), "": t("media.whole_edition"), **names}

if editor:
    with st.expander(t("media.add"), icon=":material/add_photo_alternate:"), st.form("media_add", clear_on_submit=True):
        case_slug = st.selectbox(t("media.case"), list(owners), key="media_case", placeholder=t("common.choose_one"),
                                 format_func=owners.__getitem__)
        # Any file is taken and decoded by the service, which says in words what is wrong with
        # it; the uploader's own type filter would only show a red mark.
        limit_mb = common.upload_limit_mb()
        upload = st.file_uploader(t("media.file"), key="media_file", max_upload_size=limit_mb,
                                  help=t("media.file_help", mb=fmt_number(limit_mb)))
        a, b = st.columns(2)
        alt_fr = a.text_area(t("media.alt_fr"), key="media_alt_fr", height=80)
        alt_en = b.text_area(t("media.alt_en"), key="media_alt_en", height=80)
        credit = st.text_input(t("media.credit"), key="media_credit")
        shows_face = st.checkbox(t("media.shows_face"), key="media_shows_face", help=t("media.shows_face_help"))
        if st.form_submit_button(t("media.upload")):
            if upload is None:
                st.error(t("media.no_file"))
            else:
                try:
                    media_library.inspect(upload.getvalue())
                except ServiceError as exc:
                    st.error(t("media.bad_file", name=common.plain(upload.name), why=exc.text(lang())),
                             icon=":material/broken_image:")
                else:
                    common.run(partial(media_library.add_image, actor=me, campaign_id=campaign.id or 0,
                                       case_slug=case_slug, data=upload.getvalue(), filename=upload.name,
                                       alt={"fr": alt_fr, "en": alt_en}, credit=credit, shows_face=shows_face),
                               success=t("media.added"))
else:
    common.viewer_notice()

shown = st.selectbox(t("media.filter"), list(filters), key="media_filter", placeholder=t("common.choose_one"),
                     format_func=filters.__getitem__)
with common.session() as s:
    items = media_library.list_images(s, campaign_id=campaign.id or 0, case_slug=shown or None,
                                      with_shared=shown == "")
    if shown == "":
        items = [i for i in items if i.case_id is None]
    previews: dict[int | None, bytes] = {}
    unreadable: dict[int | None, str] = {}
    for item in items:
        try:
            previews[item.id] = media_library.read_bytes(s, item)
        except Exception as exc:  # noqa: BLE001 - a file gone from the media folder: its card says so
            unreadable[item.id] = post_cards.message(exc)
    used = {item.id: media_library.users_of(s, media_id=item.id or 0) for item in items}

if not items:
    st.info(t("media.empty"))
for item in items:
    with st.container(border=True):
        left, right = st.columns([1, 2])
        alt = item.alt.get(lang()) or item.alt.get("fr", "")
        if item.id in previews:
            try:
                left.image(previews[item.id], caption=common.plain(alt), alt=alt or None)
            except Exception as exc:  # noqa: BLE001 - bytes no browser can draw: this card says so
                left.error(t("media.preview_error", id=item.id, why=common.plain(post_cards.message(exc))))
        else:
            left.error(t("media.preview_error", id=item.id, why=common.plain(unreadable.get(item.id, ""))))
        owner = names.get(ids.get(item.case_id, ""), t("media.whole_edition")) if item.case_id else t("media.whole_edition")
        right.markdown(f"**{common.plain(owner)}** · {common.plain(item.filename)} · {t('media.number', id=item.id)}")
        right.caption(t("media.caption", w=fmt_number(item.width), h=fmt_number(item.height),
                        size=fmt_number(round(item.size / 1024)),
                        credit=common.plain(item.credit) if item.credit else t("media.no_credit")))
        if item.shows_face:
            right.caption(t("media.face_badge"))
        if used[item.id]:
            right.caption(t("media.used_by", ids=", ".join(str(p.id) for p, _ in used[item.id])))
        if not editor:
            right.markdown(f"*{t('media.alt_fr')}* — {common.plain(item.alt.get('fr', ''))}  \n"
                           f"*{t('media.alt_en')}* — {common.plain(item.alt.get('en', ''))}")
            continue
        with right.form(f"media_edit_{item.id}"):
            alt_fr = st.text_input(t("media.alt_fr"), value=item.alt.get("fr", ""), key=f"media_alt_fr_{item.id}")
            alt_en = st.text_input(t("media.alt_en"), value=item.alt.get("en", ""), key=f"media_alt_en_{item.id}")
            credit = st.text_input(t("media.credit"), value=item.credit, key=f"media_credit_{item.id}")
            face = st.checkbox(t("media.shows_face"), value=item.shows_face, key=f"media_face_{item.id}",
                               help=t("media.shows_face_help"))
            if st.form_submit_button(t("media.save")):
                if common.run(partial(media_library.update_image, actor=me, media_id=item.id or 0,
                                      alt={"fr": alt_fr, "en": alt_en}, credit=credit, shows_face=face),
                              success=t("media.saved")):
                    st.rerun()
        if right.button(t("media.delete"), key=f"media_delete_{item.id}", icon=":material/delete:"):
            if common.done(partial(media_library.delete_image, actor=me, media_id=item.id or 0),
                           success=t("media.deleted")):
                st.rerun()
