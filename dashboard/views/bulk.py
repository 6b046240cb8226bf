"""Bulk scheduling: upload a plan (CSV, or a deliveries export), see what each row would do and
every problem before anything is saved, then confirm. Same service as ``schedule --file``.

Posts imported here always wait for approval: the person importing cannot approve their own.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_datetime, lang
from orchestrator.services.plan_import import OUTCOME_LABELS, import_plan

# Kept with the page until they move into dashboard/strings.py.
TEXTS: dict[str, dict[str, str]] = {
    "title": {"fr": "Importer un plan", "en": "Import a plan"},
    "help": {
        "fr": "Un fichier CSV (UTF-8, « , » ou « ; »), une ligne par envoi : cas, langue, texte, lien, compte, "
              "quand (ISO-8601 avec décalage, ou now), image et alt facultatifs (chemin absolu sur le serveur). "
              "Rien n'est enregistré avant la confirmation ; réimporter le même fichier ne crée rien de plus.",
        "en": "A CSV file (UTF-8, ',' or ';'), one delivery per line: case, language, text, link, account, "
              "at (ISO-8601 with offset, or now), optional image and alt (absolute path on the server). "
              "Nothing is saved before you confirm; importing the same file again creates nothing new.",
    },
    "example": {"fr": "Télécharger un exemple", "en": "Download an example"},
    "file": {"fr": "Plan (CSV ou JSON exporté)", "en": "Plan (CSV or exported JSON)"},
    "problems": {"fr": "{n} problème(s) : corrigez le fichier et déposez-le de nouveau. Rien n'a été enregistré.",
                 "en": "{n} problem(s): fix the file and upload it again. Nothing was saved."},
    "confirm": {"fr": "Enregistrer le plan", "en": "Save the plan"},
    "approval": {"fr": "Les nouvelles publications attendront l'approbation d'une autre personne.",
                 "en": "New posts will wait for someone else's approval."},
    "col.line": {"fr": "Ligne", "en": "Line"},
    "col.case": {"fr": "Cas", "en": "Case"},
    "col.language": {"fr": "Langue", "en": "Language"},
    "col.account": {"fr": "Compte", "en": "Account"},
    "col.when": {"fr": "Quand", "en": "When"},
    "col.before": {"fr": "Avant", "en": "Before"},
    "col.result": {"fr": "Résultat", "en": "Result"},
    "col.text": {"fr": "Texte", "en": "Text"},
    "col.problem": {"fr": "Problème", "en": "Problem"},
}
EXAMPLE = (
    "cas;langue;texte;lien;compte;quand\n"
    "juan-lopez;fr;Écrivez pour Juan López : défendre la forêt n'est pas un crime.;https://amnistie.ca/ecrire;"
    "x-fr;2025-12-06T12:00-05:00\n"
)


def tr(key: str, **values: object) -> str:
    text = TEXTS[key].get(lang()) or TEXTS[key]["fr"]
    return text.format(**values) if values else text


campaign = common.require_campaign()
st.title(tr("title"))
st.caption(tr("help"))
common.flash()
if not common.can("editor"):
    common.viewer_notice()
    st.stop()

st.download_button(tr("example"), data=EXAMPLE.encode("utf-8-sig"), file_name="plan-exemple.csv", mime="text/csv",
                   key="bulk_example", icon=":material/download:")
# A new key after each save empties the uploader, so the saved file is not shown as pending.
upload = st.file_uploader(tr("file"), type=["csv", "json"], key=f"bulk_file_{st.session_state.get('bulk_round', 0)}")
if upload is None:
    st.stop()
data = upload.getvalue()
check = common.run(lambda s: import_plan(s, actor=common.actor(), data=data, dry_run=True))
if check is None:  # a refusal (role) was shown
    st.stop()
assert check is not None

if check.rows:
    st.dataframe(pd.DataFrame([{
        tr("col.line"): r.line,
        tr("col.result"): OUTCOME_LABELS[r.outcome][lang()],
        tr("col.case"): r.raw.case,
        tr("col.language"): r.raw.language,
        tr("col.account"): r.raw.account,
        tr("col.when"): fmt_datetime(r.at, campaign.timezone, "short") if r.at else r.raw.at,
        tr("col.before"): fmt_datetime(r.previous_at, campaign.timezone, "short") if r.previous_at else "",
        tr("col.text"): r.raw.text[:120],
    } for r in check.rows]), hide_index=True, width="stretch")
if not check.ok:
    st.error(tr("problems", n=len(check.problems)), icon=":material/block:")
    st.dataframe(pd.DataFrame([{tr("col.line"): p.line or "", tr("col.problem"): p.en if lang() == "en" else p.fr}
                               for p in check.problems]), hide_index=True, width="stretch")
    st.stop()

st.info(check.summary(lang()), icon=":material/fact_check:")
if check.posts_created:
    st.caption(tr("approval"))
if st.button(tr("confirm"), type="primary", key="bulk_confirm", icon=":material/save:"):
    # Checked again inside the saving transaction: the queue may have changed since the preview.
    done = common.run(lambda s: import_plan(s, actor=common.actor(), data=data))
    if done is not None and done.ok:
        st.session_state["flash"] = done.summary(lang())
        st.session_state["bulk_round"] = st.session_state.get("bulk_round", 0) + 1
        st.rerun()
    elif done is not None:
        st.error(tr("problems", n=len(done.problems)), icon=":material/block:")
        for problem in done.problems[:50]:
            st.text(problem.text(lang()))
