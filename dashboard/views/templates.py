"""Calls to action and the post templates tied to them. Each template is checked against every
platform in use with the edition's longest case, so one that is too long says so before anyone
uses it; calls to action are listed for everyone and edited by editors."""

from __future__ import annotations

import datetime as dt
import re
from functools import partial
from typing import get_args

import pandas as pd
import streamlit as st

from content.model import PLACEHOLDERS, ActionKind
from dashboard import common
from dashboard.i18n import fmt_date, fmt_number, lang, t
from orchestrator.services import actions_admin, templates_admin
from orchestrator.services.auth import ServiceError

ACTION_KINDS: tuple[str, ...] = get_args(ActionKind)

campaign = common.require_campaign()
st.title(t("templates.title"))
common.flash()
editor = common.can("editor")
me = common.actor()

with common.session() as s:
    actions = actions_admin.list_actions(s, campaign_id=campaign.id or 0)
    templates = templates_admin.list_templates(s, campaign_id=campaign.id or 0)
labels = {a.slug: a.label.get(lang()) or a.label.get("fr") or a.slug for a in actions}
kind_names = {k: t(f"actions.kind.{k}") for k in ACTION_KINDS}
key_dates = {str(k["slug"]): f"{k['name'].get(lang()) or k['name'].get('fr') or k['slug']} · "
                             f"{fmt_date(dt.date.fromisoformat(str(k['date'])), 'medium')}"
             for k in campaign.key_dates}

# ---------------------------------------------------------------------------------------------
# Calls to action

st.header(t("actions.heading"))
st.caption(t("actions.help"))
if actions:
    common.table(pd.DataFrame([{
        t("actions.col.label"): labels[a.slug],
        t("actions.col.kind"): kind_names.get(a.kind, a.kind),
        # a link column draws its data as it is: no address is an empty cell, not "None"
        t("actions.col.link"): a.url.get(lang()) or a.url.get("en" if lang() == "fr" else "fr") or "",
        t("actions.col.key_date"): key_dates.get(a.key_date, a.key_date) if a.key_date else "—",
        t("actions.col.slug"): a.slug,
    } for a in actions]), column_config={t("actions.col.link"): st.column_config.LinkColumn()})
else:
    st.info(t("actions.none"))


def _action_form() -> None:
    """One form for a new call to action or the one picked; a new one stays picked once saved."""
    st.subheader(t("actions.edit_section"))
    by_id = {a.id: a for a in actions}
    if st.session_state.pop("actions_reset", False):  # the action shown was deleted
        st.session_state.pop("actions_which", None)
    if "actions_pending" in st.session_state:  # just created: show it, and empty the new form
        st.session_state["actions_which"] = st.session_state.pop("actions_pending")
        for key in [k for k in st.session_state if str(k).startswith("action_new_")]:
            del st.session_state[key]
    which = st.selectbox(t("actions.which"), [None, *by_id], key="actions_which", placeholder=t("common.choose_one"),
                         format_func=lambda k: t("actions.new") if k is None else f"{by_id[k].slug} · {labels[by_id[k].slug]}")
    current = by_id.get(which) if which else None
    prefix = f"action_{which or 'new'}"
    a, b = st.columns(2)
    slug = a.text_input(t("actions.slug"), value=current.slug if current else "", key=f"{prefix}_slug",
                        help=t("actions.slug_help") if current else None)
    kind = b.selectbox(t("actions.kind"), list(ACTION_KINDS), key=f"{prefix}_kind",
                       index=ACTION_KINDS.index(current.kind) if current and current.kind in ACTION_KINDS else 0,
                       format_func=kind_names.__getitem__, placeholder=t("common.choose_one"))
    fields: dict[str, dict[str, str]] = {"label": {}, "text": {}, "url": {}}
    for name in fields:
        columns = st.columns(2)
        for column, language in zip(columns, ("fr", "en"), strict=True):
            value = getattr(current, name).get(language, "") if current else ""
            widget = column.text_area if name == "text" else column.text_input
            fields[name][language] = widget(t(f"actions.{name}_{language}"), value=value,
                                            key=f"{prefix}_{name}_{language}")
    dates = [None, *key_dates]
    if current and current.key_date and current.key_date not in key_dates:
        dates.append(current.key_date)  # shown as it is, so saving says what is wrong with it
    key_date = st.selectbox(t("actions.key_date"), dates, key=f"{prefix}_key_date", placeholder=t("common.choose_one"),
                            index=dates.index(current.key_date) if current and current.key_date in dates else 0,
                            format_func=lambda k: t("actions.no_key_date") if k is None else key_dates.get(k, k))
    c1, c2 = st.columns(2)
    if c1.button(t("actions.save"), key="actions_save", icon=":material/save:"):
        saved = common.run(lambda s: actions_admin.save_action(
            s, actor=me, campaign_id=campaign.id or 0, slug=slug, kind=kind, label=fields["label"],
            text=fields["text"], url=fields["url"], key_date=key_date, action_id=current.id if current else None))
        if saved is not None:
            if current is None:
                st.session_state["actions_pending"] = saved.id
            st.session_state["flash"] = t("actions.saved", slug=common.plain(saved.slug))
            st.rerun()
    if current is not None and c2.button(t("actions.delete"), key="actions_delete", icon=":material/delete:"):
        if common.done(partial(actions_admin.delete_action, actor=me, action_id=current.id or 0),
                       success=t("actions.deleted")):
            st.session_state["actions_reset"] = True
            st.rerun()


if editor:
    _action_form()

# ---------------------------------------------------------------------------------------------
# Templates

st.header(t("templates.heading"))
st.caption(t("templates.help", placeholders=" ".join("{" + p + "}" for p in PLACEHOLDERS)))
if not actions:
    st.info(t("templates.none"))
    st.stop()


def _verdict(body: str, language: str, action_slug: str) -> None:
    try:
        with common.session() as s:
            report = templates_admin.fit_report(s, campaign_id=campaign.id or 0, body=body, language=language,
                                                action_slug=action_slug)
    except ServiceError as exc:
        st.error(common.plain(exc.text(lang())))
        return
    bad = templates_admin.too_long(report)
    if not bad:
        st.caption("✅ " + t("templates.fits", kinds=", ".join(common.platform_name(r["kind"]) for r in report)))
    for row in bad:
        st.warning(t("templates.too_long", kind=common.platform_name(row["kind"]), case=common.plain(row["case"] or "—"),
                     length=fmt_number(row["length"]), limit=fmt_number(row["limit"]))
                   + " " + common.plain(" ".join(row["problems"][lang()])), icon=":material/warning:")


# A call to action renamed or deleted above leaves its old slug in these menus' state: forget it,
# so they fall back to the template's own (renamed) action instead of one that no longer exists.
for key in [k for k in st.session_state if k == "templates_action" or re.fullmatch(r"template_\w+_action", str(k))]:
    if st.session_state[key] is not None and st.session_state[key] not in labels:
        del st.session_state[key]
a, b = st.columns(2)
action_filter = a.selectbox(t("templates.action"), [None, *labels], key="templates_action",
                            format_func=lambda k: t("media.all") if k is None else labels[k],
                            placeholder=t("common.choose_one"))
language_filter = b.selectbox(t("templates.language"), [None, "fr", "en"], key="templates_language",
                              format_func=lambda k: t("media.all") if k is None else common.language_name(k, capital=True),
                              placeholder=t("common.choose_one"))
for template in templates:
    if (action_filter and template.action_slug != action_filter) or (language_filter and template.language != language_filter):
        continue
    with st.container(border=True):
        st.markdown(f"**{common.plain(template.slug)}** · {common.plain(labels.get(template.action_slug, template.action_slug))}"
                    f" · {common.language_name(template.language, capital=True)}")
        st.text(template.body)
        try:
            _verdict(template.body, template.language, template.action_slug)
        except Exception:  # this template's check failed: its card says so, the others are checked
            common.broken(t("templates.check_failed", slug=template.slug))

if not editor:
    common.viewer_notice()
    st.stop()

st.subheader(t("templates.edit_section"))
by_id = {tp.id: tp for tp in templates}
if st.session_state.pop("templates_reset", False):  # the template shown was deleted
    st.session_state.pop("templates_which", None)
which = st.selectbox(t("templates.which"), [None, *by_id], key="templates_which", placeholder=t("common.choose_one"),
                     format_func=lambda k: t("templates.new") if k is None else by_id[k].slug)
current = by_id.get(which) if which else None
prefix = f"template_{which or 'new'}"
slug = st.text_input(t("templates.slug"), value=current.slug if current else "", key=f"{prefix}_slug")
a, b = st.columns(2)
action_keys = list(labels)
action_slug = a.selectbox(t("templates.action"), action_keys, key=f"{prefix}_action",
                          index=action_keys.index(current.action_slug) if current and current.action_slug in labels else 0,
                          format_func=labels.__getitem__, placeholder=t("common.choose_one"))
language = b.radio(t("templates.language"), ["fr", "en"], key=f"{prefix}_language", horizontal=True,
                   index=["fr", "en"].index(current.language) if current else 0, format_func=lambda code: common.language_name(code, capital=True))
body = st.text_area(t("templates.body"), value=current.body if current else "", key=f"{prefix}_body", height=140)
c1, c2, c3 = st.columns(3)
if c1.button(t("templates.check"), key="templates_check", icon=":material/straighten:") and body.strip():
    _verdict(body, language, action_slug)
if c2.button(t("templates.save"), key="templates_save", icon=":material/save:"):
    saved = common.run(lambda s: templates_admin.save_template(
        s, actor=me, campaign_id=campaign.id or 0, slug=slug, action_slug=action_slug, language=language, body=body,
        template_id=current.id if current else None))
    if saved is not None:
        template, report = saved
        st.session_state["flash"] = t("templates.saved", slug=common.plain(template.slug))
        st.rerun()
if current is not None and c3.button(t("templates.delete"), key="templates_delete", icon=":material/delete:"):
    if common.done(partial(templates_admin.delete_template, actor=me, template_id=current.id or 0),
                   success=t("templates.deleted")):
        st.session_state["templates_reset"] = True
        st.rerun()
