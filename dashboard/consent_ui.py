"""Consent on a case's card: what the person or family agreed to (name, face, location), the
names and places looked for in posts, and, for a flag withdrawn, the published posts that break
it with their links (to retract them). Editors may withdraw at once; granting again, or removing
a name or a place, takes an approver (the service says so in the reader's language)."""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st

from dashboard import common, retract_ui
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services import consent


def _flag(flag: str) -> str:
    return consent.FLAG_WORDS[flag][lang() if lang() in ("fr", "en") else "fr"]


def _terms(text: str) -> list[str]:
    return [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]


def notice(case: Any) -> None:
    """The flags withdrawn, as a warning on the card."""
    off = consent.withdrawn(case)
    if off:
        st.warning(t("consent.withdrawn", flags=", ".join(f"« {_flag(f)} »" if lang() == "fr" else f"“{_flag(f)}”"
                                                           for f in off)), icon=":material/privacy_tip:")


def published(case: Any, tz: str, *, key: str) -> None:
    """For each withdrawn flag, the published deliveries that break it, with their links."""
    off = consent.withdrawn(case)
    if not off or not st.toggle(t("consent.published_toggle"), key=f"{key}_published"):
        return
    with common.session() as s:
        rows = consent.published_rows(s, case_id=case.id)
    st.caption(t("consent.retract_note"))
    for flag, items in rows.items():
        st.markdown(f"**{t('consent.published_for', flag=_flag(flag), n=len(items))}**")
        if not items:
            st.caption(t("consent.published_none"))
        for row in items:
            line = t("consent.published_line", id=row["delivery_id"], post=row["post_id"],
                     account=common.plain(row["account"] or "—"),
                     when=fmt_datetime(row["published_at"], tz) if row["published_at"] else "—")
            if row["link"]:  # checked: https on the platform's own host (services/safe_links.py)
                st.markdown(f"{line} · [{t('consent.open')}]({row['link']})")
            else:
                st.markdown(line)
                if row["url"]:
                    st.code(row["url"], language=None)
            # approvers and admins retract it from here (nothing shows for others, or once it is retracted)
            retract_ui.action(f"{key}_retract_{row['delivery_id']}", tz=tz, delivery_id=row["delivery_id"])


def controls(case: Any, me: Any, key: str) -> None:
    """The flags and terms, shown to all; changed by editors (stricter) and approvers."""
    flags = " · ".join(f"{_flag(f)} : {t('consent.yes') if consent.granted(case, f) else t('consent.no')}"
                       if lang() == "fr" else
                       f"{_flag(f)}: {t('consent.yes') if consent.granted(case, f) else t('consent.no')}"
                       for f in consent.FLAGS)
    st.markdown(f"*{t('consent.title')}* — {common.plain(flags)}")
    if case.aliases or case.location_terms:
        st.caption(t("consent.terms_line", aliases=common.plain(", ".join(case.aliases or []) or "—"),
                     places=common.plain(", ".join(case.location_terms or []) or "—")))
    if not common.can("editor") or not st.toggle(t("consent.edit"), key=f"{key}_toggle"):
        return
    st.caption(t("consent.help"))
    with st.form(f"{key}_form"):
        a, b, c = st.columns(3)
        values = {flag: column.checkbox(_flag(flag).capitalize(), value=consent.granted(case, flag), key=f"{key}_{flag}")
                  for column, flag in zip((a, b, c), consent.FLAGS, strict=True)}
        aliases = st.text_area(t("consent.aliases"), value="\n".join(case.aliases or []), key=f"{key}_aliases",
                               help=t("consent.aliases_help"), height=80)
        places = st.text_area(t("consent.places"), value="\n".join(case.location_terms or []), key=f"{key}_places",
                              help=t("consent.places_help"), height=80)
        note = st.text_input(t("consent.note"), key=f"{key}_note")
        if st.form_submit_button(t("consent.save")):
            change = common.run(partial(consent.set_consent, actor=me, case_id=case.id, aliases=_terms(aliases),
                                        location_terms=_terms(places), note=note, name=values["name"],
                                        face=values["face"], location=values["location"]))
            if change is not None:
                st.session_state["flash"] = t("consent.saved", held=change.held, released=change.released)
                if change.withdrawn:  # what is already out is shown at once, with the offer to retract
                    st.session_state[f"{key}_published"] = True
                st.rerun()
