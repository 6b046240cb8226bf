"""The listening terms' form, shared by the case page and the editions page: hashtags and
keywords per language, one per line, checked against every platform that has an account when
saved (a refusal says which term, which platform and why, and saves nothing); and the terms as
read by those who may not change them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import common
from dashboard.i18n import t


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def shown(terms: dict[str, dict[str, list[str]]]) -> str:
    """Every term once, as people type them: « #JusticePourJuan · « Guapinol » », or « — »."""
    words = [f"#{h}" for lang_terms in terms.values() for h in lang_terms.get("hashtags", [])]
    words += [f"« {k} »" for lang_terms in terms.values() for k in lang_terms.get("keywords", [])]
    return common.plain(" · ".join(dict.fromkeys(words)) or "—")


def terms_form(key: str, terms: dict[str, dict[str, list[str]]], save: Callable[[dict[str, Any]], Any], *,
               help_key: str = "listening.help") -> None:
    """``save(values)`` returns the service call (a function of the session) to run."""
    with st.form(key):
        st.caption(f"{t(help_key)} {t('listening.one_per_line')}")
        values: dict[str, Any] = {}
        for column, language in zip(st.columns(2), ("fr", "en"), strict=True):
            name = common.language_name(language, capital=True)
            tags = column.text_area(f"{t('listening.hashtags')} · {name}", key=f"{key}_tags_{language}", height=90,
                                    value="\n".join(f"#{h}" for h in terms.get(language, {}).get("hashtags", [])))
            words = column.text_area(f"{t('listening.keywords')} · {name}", key=f"{key}_words_{language}", height=90,
                                     value="\n".join(terms.get(language, {}).get("keywords", [])))
            values[language] = {"hashtags": _lines(tags), "keywords": _lines(words)}
        if st.form_submit_button(t("listening.save")) and common.run(save(values), success=t("listening.saved")) is not None:
            st.rerun()
