"""Editions: see them all, make one current, archive, edit the one chosen in the sidebar, create
a new one or copy the chosen one's settings into a new one (admins act; others read)."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import streamlit as st

from dashboard import common, listening_ui
from dashboard.i18n import fmt_date, fmt_number, lang, t, zone_name
from orchestrator.services import campaign_admin, retractions, sensitive_dates
from orchestrator.services import listening as listening_service

chosen = common.require_campaign()
st.title(t("campaigns.title"))
st.caption(t("campaigns.help"))
common.flash()
admin = common.can("admin")
me = common.actor()

with common.session() as s:
    all_campaigns = campaign_admin.list_campaigns(s)


def _name(names: dict[str, str], slug: str) -> str:
    return names.get(lang()) or names.get("fr") or slug


def show_campaign(campaign: Any) -> None:
    """One edition's card: its name, dates and goal; for admins, make it current or archive it."""
    name = _name(campaign.name, campaign.slug)
    badges = [t("campaigns.current")] if campaign.is_current else []
    badges += [t("campaigns.archived")] if campaign.archived_at else []
    with st.container(border=True):
        st.markdown(f"**{common.plain(name)}** · `{campaign.slug}`" + (f" · {' · '.join(badges)}" if badges else ""))
        st.caption(t("campaigns.dates", start=fmt_date(campaign.starts_on), end=fmt_date(campaign.ends_on),
                     goal=fmt_number(campaign.goal),
                     tz=f"{zone_name(campaign.timezone)} ({campaign.timezone})"))
        for item in campaign.sensitive_dates or []:
            label = (item.get("label") or {}).get(lang()) or (item.get("label") or {}).get("fr", "")
            st.caption(t("campaigns.sensitive_line", day=fmt_date(dt.date.fromisoformat(str(item["date"]))),
                         label=common.plain(label)))
        if not admin:
            return
        four_eyes = st.toggle(t("campaigns.retract_four_eyes"), value=bool(campaign.retract_four_eyes),
                              key=f"edition_retract_four_eyes_{campaign.slug}", help=t("campaigns.retract_four_eyes_help"))
        if four_eyes != bool(campaign.retract_four_eyes):
            if common.run(partial(retractions.set_four_eyes, actor=me, campaign_id=campaign.id, on=four_eyes),
                          success=t("campaigns.saved", name=common.plain(name))) is not None:
                st.rerun()
        a, b, _ = st.columns([2, 2, 3])
        if not campaign.is_current and campaign.archived_at is None and a.button(
                t("campaigns.set_current"), key=f"edition_current_{campaign.slug}", icon=":material/star:"):
            if common.run(partial(campaign_admin.set_current, actor=me, campaign_id=campaign.id),
                          success=t("campaigns.saved", name=common.plain(name))) is not None:
                st.rerun()
        archived = campaign.archived_at is not None
        if not campaign.is_current and b.button(t("campaigns.restore") if archived else t("campaigns.archive"),
                                               key=f"edition_archive_{campaign.slug}"):
            if common.run(partial(campaign_admin.archive_campaign, actor=me, campaign_id=campaign.id,
                                  archived=not archived), success=t("campaigns.saved", name=common.plain(name))) is not None:
                st.rerun()


for campaign in all_campaigns:
    try:
        show_campaign(campaign)
    except Exception:  # this edition cannot be drawn: it says so, the others are shown
        common.broken(t("campaigns.broken", slug=campaign.slug))

chosen_name = _name(chosen.name, chosen.slug)
# The edition's own listening terms: read by all, changed by editors (as a case's are), not
# only by the admins who change the rest of the edition.
with st.expander(t("campaigns.listening", name=common.plain(chosen_name))):
    if common.can("editor"):
        listening_ui.terms_form(f"edition_listen_{chosen.slug}", listening_service.get_terms(chosen), lambda values: partial(
            listening_service.set_terms, actor=me, campaign_id=chosen.id, terms=values), help_key="listening.help_edition")
    else:
        st.caption(t("listening.help_edition"))
        st.markdown(f"*{t('cases.listening')}* — {listening_ui.shown(listening_service.get_terms(chosen))}")

if not admin:
    if common.can("editor"):  # the terms above are theirs to change; the rest is not
        st.caption(t("campaigns.admin_only"))
    else:
        common.viewer_notice()
    st.stop()


def _tags(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


with st.expander(t("campaigns.edit", name=common.plain(chosen_name))), st.form(f"edition_edit_{chosen.slug}"):
    a, b = st.columns(2)
    name_fr = a.text_input(t("campaigns.name_fr"), value=chosen.name.get("fr", ""), key="edition_name_fr")
    name_en = b.text_input(t("campaigns.name_en"), value=chosen.name.get("en", ""), key="edition_name_en")
    tz = a.text_input(t("campaigns.timezone"), value=chosen.timezone, key="edition_tz")
    goal = b.number_input(t("campaigns.goal"), min_value=0, value=chosen.goal, step=1000, key="edition_goal")
    starts = a.date_input(t("campaigns.starts_on"), value=chosen.starts_on, key="edition_start")
    ends = b.date_input(t("campaigns.ends_on"), value=chosen.ends_on, key="edition_end")
    tags_fr = a.text_input(t("campaigns.hashtags_fr"), value=" ".join(chosen.hashtags.get("fr", [])), key="edition_tags_fr")
    tags_en = b.text_input(t("campaigns.hashtags_en"), value=" ".join(chosen.hashtags.get("en", [])), key="edition_tags_en")
    url_fr = a.text_input(t("campaigns.url_fr"), value=chosen.url.get("fr", ""), key="edition_url_fr")
    url_en = b.text_input(t("campaigns.url_en"), value=chosen.url.get("en", ""), key="edition_url_en")
    key_dates = st.text_area(t("campaigns.key_dates"), value=campaign_admin.key_dates_text(chosen), key="edition_key_dates",
                             help=t("campaigns.key_dates_help"))
    sensitive = st.text_area(t("campaigns.sensitive_dates"), value=sensitive_dates.as_text(chosen),
                             key="edition_sensitive_dates", help=t("campaigns.sensitive_dates_help"))
    if st.form_submit_button(t("campaigns.save")):
        save = partial(campaign_admin.update_campaign, actor=me, campaign_id=chosen.id or 0, changes={
            "name": {"fr": name_fr, "en": name_en}, "timezone": tz.strip(), "goal": int(goal),
            "starts_on": starts, "ends_on": ends, "hashtags": {"fr": _tags(tags_fr), "en": _tags(tags_en)},
            "url": {"fr": url_fr or None, "en": url_en or None} if (url_fr or url_en) else None,
            "key_dates": campaign_admin.parse_key_dates(key_dates),
            "sensitive_dates": sensitive_dates.parse(sensitive) or None})
        if common.run(save, success=t("campaigns.saved", name=common.plain(name_fr or chosen.slug))) is not None:
            st.rerun()

with st.expander(t("campaigns.copy", name=common.plain(chosen_name))):
    st.caption(t("campaigns.copy_help"))
    with st.form("edition_copy"):
        year = dt.date.today().year
        a, b = st.columns(2)
        slug = a.text_input(t("campaigns.slug"), key="copy_slug")
        include = b.checkbox(t("campaigns.include_cases"), key="copy_cases")
        name_fr = a.text_input(t("campaigns.name_fr"), key="copy_name_fr")
        name_en = b.text_input(t("campaigns.name_en"), key="copy_name_en")
        copy_starts = a.date_input(t("campaigns.starts_on"), value=dt.date(year, 11, 1), key="copy_start")
        copy_ends = b.date_input(t("campaigns.ends_on"), value=dt.date(year + 1, 1, 31), key="copy_end")
        if st.form_submit_button(t("campaigns.copy_button")):
            made = common.run(partial(
                campaign_admin.copy_campaign, actor=me, source_id=chosen.id or 0, slug=slug.strip(),
                name={"fr": name_fr, "en": name_en}, starts_on=copy_starts, ends_on=copy_ends, include_cases=include),
                success=t("campaigns.saved", name=common.plain(name_fr)))
            if made is not None:
                st.session_state["campaign_pending"] = made.id
                st.rerun()

with st.expander(t("campaigns.create")), st.form("edition_create"):
    a, b = st.columns(2)
    slug = a.text_input(t("campaigns.slug"), key="new_slug")
    tz = b.text_input(t("campaigns.timezone"), value="America/Toronto", key="new_tz")
    name_fr = a.text_input(t("campaigns.name_fr"), key="new_name_fr")
    name_en = b.text_input(t("campaigns.name_en"), key="new_name_en")
    starts = a.date_input(t("campaigns.starts_on"), value=None, key="new_start")
    ends = b.date_input(t("campaigns.ends_on"), value=None, key="new_end")
    tags_fr = a.text_input(t("campaigns.hashtags_fr"), key="new_tags_fr")
    tags_en = b.text_input(t("campaigns.hashtags_en"), key="new_tags_en")
    goal = a.number_input(t("campaigns.goal"), min_value=0, value=0, step=1000, key="new_goal")
    if st.form_submit_button(t("campaigns.create_button")):
        made = common.run(lambda s: campaign_admin.create_campaign(s, actor=me, data={
            "slug": slug.strip(), "name": {"fr": name_fr, "en": name_en}, "timezone": tz.strip(),
            "starts_on": starts, "ends_on": ends, "hashtags": {"fr": _tags(tags_fr), "en": _tags(tags_en)},
            "goal": int(goal), "link_rules": {"utm_campaign": slug.strip() or "-"}}),
            success=t("campaigns.saved", name=common.plain(name_fr or slug)))
        if made is not None:
            st.session_state["campaign_pending"] = made.id
            st.rerun()

with st.expander(t("campaigns.folder", name=common.plain(chosen_name))):
    st.caption(t("campaigns.folder_help"))
    # Built on request only: writing every file of an edition is not for each visit of the page.
    folder = None
    if st.button(t("campaigns.folder_prepare"), key="edition_folder", icon=":material/folder_zip:"):
        folder = common.run(partial(campaign_admin.campaign_zip, campaign_id=chosen.id or 0))
    if folder:
        st.download_button(t("campaigns.folder_download"), data=folder, file_name=f"{chosen.slug}.zip",
                           mime="application/zip", key="edition_folder_download", on_click="ignore",
                           icon=":material/download:")
