"""Bulk scheduling: upload a plan (CSV, or a deliveries export), see what each row would do and
every problem before anything is saved, then confirm. Same service as ``schedule --file``.

Posts imported here always wait for approval: the person importing cannot approve their own.
"""

from __future__ import annotations

import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, lang, t
from orchestrator.services.plan_import import INVALID, OUTCOME_LABELS, example_plan, import_plan

campaign = common.require_campaign()
st.title(t("bulk.title"))
st.caption(t("bulk.help"))
common.flash()
common.times_note(campaign.timezone)
if not common.can("editor"):
    common.viewer_notice()
    st.stop()

# Built on each visit, so its date is always to come and its account one this machine has.
with common.session() as s:
    example = example_plan(s, language=lang())
st.download_button(t("bulk.example"), data=example.encode("utf-8-sig"), file_name=t("bulk.example_file"),
                   mime="text/csv", key="bulk_example", icon=":material/download:", help=t("bulk.example_help"))
# A new key after each save empties the uploader, so the saved file is not shown as pending.
upload = st.file_uploader(t("bulk.file"), type=["csv", "json"], key=f"bulk_file_{st.session_state.get('bulk_round', 0)}")
if upload is None:
    st.stop()
data = upload.getvalue()
check = common.run(lambda s: import_plan(s, actor=common.actor(), data=data, dry_run=True))
if check is None:  # a refusal (role) was shown
    st.stop()
assert check is not None

problems_of: dict[int, int] = {}
for problem in check.problems:
    problems_of[problem.line] = problems_of.get(problem.line, 0) + 1


def _result(outcome: str, line: int) -> str:
    if outcome == INVALID:
        return t("bulk.result_problems", n=problems_of.get(line, 0))
    return OUTCOME_LABELS[outcome][lang()]


if check.rows:
    common.table([{
        t("bulk.col.line"): r.line,
        t("bulk.col.result"): _result(r.outcome, r.line),
        t("bulk.col.case"): r.raw.case,
        t("bulk.col.language"): r.raw.language,
        t("bulk.col.account"): r.raw.account,
        t("bulk.col.when"): fmt_datetime(r.at, campaign.timezone, "short") if r.at else r.raw.at,
        t("bulk.col.before"): fmt_datetime(r.previous_at, campaign.timezone, "short") if r.previous_at else "",
        t("bulk.col.text"): r.raw.text[:120],
    } for r in check.rows])
if not check.ok:
    # Every problem of every line, one per row, in the file's order.
    st.error(t("bulk.problems", n=len(check.problems)), icon=":material/block:")
    common.table([{t("bulk.col.line"): p.line or "", t("bulk.col.problem"): p.en if lang() == "en" else p.fr}
                  for p in check.problems],
                 column_config={t("bulk.col.line"): st.column_config.Column(width="small"),
                                t("bulk.col.problem"): st.column_config.Column(width="large")})
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
