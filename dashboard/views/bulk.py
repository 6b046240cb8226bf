"""Bulk scheduling: upload a plan (CSV, or a deliveries export), see what each row would do and
every problem before anything is saved, then confirm. Same service as ``schedule --file``.

Posts imported here always wait for approval: the person importing cannot approve their own.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services.plan_import import OUTCOME_LABELS, import_plan

EXAMPLE = (
    "cas;langue;texte;lien;compte;quand\n"
    "juan-lopez;fr;Écrivez pour Juan López : défendre la forêt n'est pas un crime.;https://amnistie.ca/ecrire;"
    "x-fr;2025-12-06T12:00-05:00\n"
)



campaign = common.require_campaign()
st.title(t("bulk.title"))
st.caption(t("bulk.help"))
common.flash()
if not common.can("editor"):
    common.viewer_notice()
    st.stop()

st.download_button(t("bulk.example"), data=EXAMPLE.encode("utf-8-sig"), file_name="plan-exemple.csv", mime="text/csv",
                   key="bulk_example", icon=":material/download:")
# A new key after each save empties the uploader, so the saved file is not shown as pending.
upload = st.file_uploader(t("bulk.file"), type=["csv", "json"], key=f"bulk_file_{st.session_state.get('bulk_round', 0)}")
if upload is None:
    st.stop()
data = upload.getvalue()
check = common.run(lambda s: import_plan(s, actor=common.actor(), data=data, dry_run=True))
if check is None:  # a refusal (role) was shown
    st.stop()
assert check is not None

if check.rows:
    st.dataframe(pd.DataFrame([{
        t("bulk.col.line"): r.line,
        t("bulk.col.result"): OUTCOME_LABELS[r.outcome][lang()],
        t("bulk.col.case"): r.raw.case,
        t("bulk.col.language"): r.raw.language,
        t("bulk.col.account"): r.raw.account,
        t("bulk.col.when"): fmt_datetime(r.at, campaign.timezone, "short") if r.at else r.raw.at,
        t("bulk.col.before"): fmt_datetime(r.previous_at, campaign.timezone, "short") if r.previous_at else "",
        t("bulk.col.text"): r.raw.text[:120],
    } for r in check.rows]), hide_index=True, width="stretch")
if not check.ok:
    st.error(t("bulk.problems", n=len(check.problems)), icon=":material/block:")
    st.dataframe(pd.DataFrame([{t("bulk.col.line"): p.line or "", t("bulk.col.problem"): p.en if lang() == "en" else p.fr}
                               for p in check.problems]), hide_index=True, width="stretch")
    st.stop()

st.info(check.summary(lang()), icon=":material/fact_check:")
if check.posts_created:
    st.caption(t("bulk.approval"))
if st.button(t("bulk.confirm"), type="primary", key="bulk_confirm", icon=":material/save:"):
    # Checked again inside the saving transaction: the queue may have changed since the preview.
    done = common.run(lambda s: import_plan(s, actor=common.actor(), data=data))
    if done is not None and done.ok:
        st.session_state["flash"] = done.summary(lang())
        st.session_state["bulk_round"] = st.session_state.get("bulk_round", 0) + 1
        st.rerun()
    elif done is not None:
        st.error(t("bulk.problems", n=len(done.problems)), icon=":material/block:")
        for problem in done.problems[:50]:
            st.text(problem.text(lang()))
