"""Post templates per call to action and language, each checked against every platform in use
with the edition's longest case, so one that is too long says so before anyone uses it."""

from __future__ import annotations

import streamlit as st
from sqlmodel import select

from content.model import PLACEHOLDERS
from dashboard import common
from dashboard.i18n import LANGUAGE_NAMES, fmt_number, lang, t
from orchestrator.models import CallToAction
from orchestrator.services import templates_admin
from orchestrator.services.auth import ServiceError

campaign = common.require_campaign()
st.title(t("templates.title"))
st.caption(t("templates.help", placeholders=" ".join("{" + p + "}" for p in PLACEHOLDERS)))
common.flash()
editor = common.can("editor")
me = common.actor()

with common.session() as s:
    actions = list(s.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id)))
    templates = templates_admin.list_templates(s, campaign_id=campaign.id)  # type: ignore[arg-type]
if not actions:
    st.info(t("templates.none"))
    st.stop()
labels = {a.slug: a.label.get(lang()) or a.slug for a in actions}


def _verdict(body: str, language: str, action_slug: str) -> None:
    try:
        with common.session() as s:
            report = templates_admin.fit_report(s, campaign_id=campaign.id, body=body, language=language,  # type: ignore[arg-type]
                                                action_slug=action_slug)
    except ServiceError as exc:
        st.error(exc.message(lang()))
        return
    bad = templates_admin.too_long(report)
    if not bad:
        st.caption("✅ " + t("templates.fits", kinds=", ".join(r["kind"] for r in report)))
    for row in bad:
        st.warning(t("templates.too_long", kind=row["kind"], case=row["case"] or "—", length=fmt_number(row["length"]),
                     limit=fmt_number(row["limit"])) + " " + " ".join(row["problems"][lang()]), icon=":material/warning:")


a, b = st.columns(2)
action_filter = a.selectbox(t("templates.action"), [None, *labels], key="templates_action",
                            format_func=lambda k: t("media.all") if k is None else labels[k])
language_filter = b.selectbox(t("templates.language"), [None, "fr", "en"], key="templates_language",
                              format_func=lambda k: t("media.all") if k is None else LANGUAGE_NAMES[k])
for template in templates:
    if (action_filter and template.action_slug != action_filter) or (language_filter and template.language != language_filter):
        continue
    with st.container(border=True):
        st.markdown(f"**{common.plain(template.slug)}** · {common.plain(labels.get(template.action_slug, template.action_slug))}"
                    f" · {LANGUAGE_NAMES.get(template.language, template.language)}")
        st.text(template.body)
        _verdict(template.body, template.language, template.action_slug)

if not editor:
    common.viewer_notice()
    st.stop()

st.subheader(t("templates.edit_section"))
by_id = {tp.id: tp for tp in templates}
if st.session_state.pop("templates_reset", False):  # the template shown was deleted
    st.session_state.pop("templates_which", None)
which = st.selectbox(t("templates.which"), [None, *by_id], key="templates_which",
                     format_func=lambda k: t("templates.new") if k is None else by_id[k].slug)
current = by_id.get(which) if which else None
prefix = f"template_{which or 'new'}"
slug = st.text_input(t("templates.slug"), value=current.slug if current else "", key=f"{prefix}_slug")
a, b = st.columns(2)
action_keys = list(labels)
action_slug = a.selectbox(t("templates.action"), action_keys, key=f"{prefix}_action",
                          index=action_keys.index(current.action_slug) if current and current.action_slug in labels else 0,
                          format_func=labels.__getitem__)
language = b.radio(t("templates.language"), ["fr", "en"], key=f"{prefix}_language", horizontal=True,
                   index=["fr", "en"].index(current.language) if current else 0, format_func=LANGUAGE_NAMES.__getitem__)
body = st.text_area(t("templates.body"), value=current.body if current else "", key=f"{prefix}_body", height=140)
c1, c2, c3 = st.columns(3)
if c1.button(t("templates.check"), key="templates_check", icon=":material/straighten:") and body.strip():
    _verdict(body, language, action_slug)
if c2.button(t("templates.save"), key="templates_save", icon=":material/save:"):
    saved = common.run(lambda s: templates_admin.save_template(
        s, actor=me, campaign_id=campaign.id, slug=slug, action_slug=action_slug, language=language, body=body,  # type: ignore[arg-type]
        template_id=current.id if current else None))
    if saved is not None:
        template, report = saved
        st.session_state["flash"] = t("templates.saved", slug=template.slug)
        st.rerun()
if current is not None and c3.button(t("templates.delete"), key="templates_delete", icon=":material/delete:"):
    if common.run(lambda s: templates_admin.delete_template(s, actor=me, template_id=current.id) or True,  # type: ignore[arg-type]
                  success=t("templates.deleted")):
        st.session_state["templates_reset"] = True
        st.rerun()
