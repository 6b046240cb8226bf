"""Responses: goals and pace, the funnel from views to actions, offline tallies, and imports
whose report is shown before anything is saved. Counts only: nobody who acted is stored."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import streamlit as st

from dashboard import common
from dashboard.i18n import fmt_number, lang
from orchestrator.models import RESPONSE_KINDS
from orchestrator.services import responses
from orchestrator.services.campaigns import list_cases
from orchestrator.timeutil import local, utcnow

# This page's words, kept here so the page can be added without touching the shared strings.
WORDS: dict[str, dict[str, str]] = {
    "title": {"fr": "Réponses et attribution", "en": "Responses and attribution"},
    "help": {"fr": "Lettres, signatures et messages reçus par cas, et les publications qui les ont suscités. "
                   "Seuls des nombres sont gardés : jamais qui a agi.",
             "en": "Letters, signatures and messages per case, and the posts that brought them. "
                   "Only numbers are kept: never who acted."},
    "tab.pace": {"fr": "Objectifs et rythme", "en": "Goals and pace"},
    "tab.funnel": {"fr": "Entonnoir", "en": "Funnel"},
    "tab.tally": {"fr": "Décomptes", "en": "Tallies"},
    "tab.import": {"fr": "Importer", "en": "Import"},
    "campaign": {"fr": "Campagne", "en": "Campaign"},
    "line": {"fr": "{name} : {total} sur {goal} ({percent}) · projection {projected}",
             "en": "{name}: {total} of {goal} ({percent}) · projected {projected}"},
    "behind": {"fr": "⚠️ En retard : au rythme actuel, l'objectif ne sera pas atteint.",
               "en": "⚠️ Behind: at the current pace, the goal will not be reached."},
    "on_track": {"fr": "✅ Dans les temps", "en": "✅ On track"},
    "behind_list": {"fr": "Cas en retard : {names}", "en": "Cases behind: {names}"},
    "pace_help": {"fr": "Projection : le total à la fin de la campagne si les actions continuent au rythme moyen "
                        "observé depuis le début.",
                  "en": "Projection: the total at the campaign's end if actions keep coming at the average pace "
                        "since the start."},
    "by_case": {"fr": "Par cas", "en": "By case"},
    "by_channel": {"fr": "Par réseau", "en": "By channel"},
    "top": {"fr": "Publications qui ont apporté le plus d'actions", "en": "Posts that brought the most actions"},
    "none": {"fr": "Rien encore.", "en": "Nothing yet."},
    "col.case": {"fr": "Cas", "en": "Case"}, "col.channel": {"fr": "Réseau", "en": "Channel"},
    "col.posts": {"fr": "Publications", "en": "Posts"}, "col.views": {"fr": "Vues", "en": "Views"},
    "col.engagement": {"fr": "Interactions", "en": "Engagement"}, "col.clicks": {"fr": "Clics", "en": "Clicks"},
    "col.actions": {"fr": "Actions (publications)", "en": "Actions (posts)"},
    "col.all_actions": {"fr": "Actions (toutes)", "en": "Actions (all)"},
    "col.code": {"fr": "Code", "en": "Code"}, "col.account": {"fr": "Compte", "en": "Account"},
    "col.text": {"fr": "Texte", "en": "Text"}, "col.url": {"fr": "Lien", "en": "Link"},
    "col.kind": {"fr": "Type", "en": "Kind"}, "col.count": {"fr": "Nombre", "en": "Count"},
    "col.day": {"fr": "Jour", "en": "Day"}, "col.event": {"fr": "Événement", "en": "Event"},
    "col.by": {"fr": "Saisi par", "en": "Entered by"},
    "tally.help": {"fr": "Pour les actions faites hors ligne, par exemple les cartes écrites au marathon. "
                         "Votre nom est enregistré avec le décompte.",
                   "en": "For actions taken offline, e.g. cards written at the marathon. "
                         "Your name is recorded with the tally."},
    "tally.case": {"fr": "Cas", "en": "Case"}, "tally.kind": {"fr": "Type d'action", "en": "Kind of action"},
    "tally.count": {"fr": "Nombre", "en": "Count"}, "tally.day": {"fr": "Jour", "en": "Day"},
    "tally.event": {"fr": "Événement", "en": "Event"}, "tally.no_event": {"fr": "(aucun)", "en": "(none)"},
    "tally.save": {"fr": "Enregistrer le décompte", "en": "Save the tally"},
    "tally.saved": {"fr": "Décompte enregistré : {count} pour {case}.", "en": "Tally saved: {count} for {case}."},
    "tally.recent": {"fr": "Derniers décomptes", "en": "Latest tallies"},
    "tally.delete": {"fr": "Supprimer le décompte n°", "en": "Delete tally #"},
    "tally.deleted": {"fr": "Décompte supprimé.", "en": "Tally deleted."},
    "import.help": {"fr": "Export CSV d'un outil de pétition ou d'un CRM : colonnes cas,type,nombre,date,source "
                          "(ou case,kind,count,date,source). Les colonnes de données personnelles sont supprimées sans "
                          "être lues. Vérifiez le rapport : rien n'est enregistré avant « Importer ».",
                    "en": "CSV export from a petition tool or a CRM: columns case,kind,count,date,source (or in "
                          "French). Personal-data columns are dropped unread. Check the report: nothing is saved "
                          "before “Import”."},
    "import.file": {"fr": "Fichier CSV", "en": "CSV file"},
    "import.mapping": {"fr": "Correspondance des colonnes (YAML ou JSON, facultatif)",
                       "en": "Column mapping (YAML or JSON, optional)"},
    "import.skip": {"fr": "Importer les bonnes lignes même si d'autres sont en erreur",
                    "en": "Import the good lines even if others have errors"},
    "import.check": {"fr": "Vérifier le fichier", "en": "Check the file"},
    "import.go": {"fr": "Importer", "en": "Import"},
    "import.done": {"fr": "Import enregistré.", "en": "Import saved."},
    "viewer": {"fr": "Lecture seule : il faut le rôle « Rédaction » pour saisir ou importer.",
               "en": "Read only: the editor role is needed to enter or import."},
}
KIND_NAMES = {k: v for k, v in responses.KIND_LABELS.items()}


def tr(key: str, **values: object) -> str:
    text = WORDS[key].get(lang()) or WORDS[key]["fr"]
    return text.format(**values) if values else text


def table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        st.info(tr("none"))
        return
    frame = pd.DataFrame(rows)[columns]
    st.dataframe(frame.rename(columns={c: tr(f"col.{c}") for c in columns}), hide_index=True, use_container_width=True)


campaign = common.require_campaign()
st.title(tr("title"))
st.caption(tr("help"))
common.flash()
me = common.actor()
editor = common.can("editor")
today = local(utcnow(), campaign.timezone).date()

with common.session() as s:
    overall, per_case = responses.pace(s, campaign=campaign, today=today)
    by_case = responses.funnel_by_case(s, campaign=campaign)
    by_channel = responses.funnel_by_channel(s, campaign=campaign)
    best = responses.top_posts(s, campaign=campaign, limit=10)
    cases = list_cases(s, campaign=campaign)
    recent = responses.recent_tallies(s, campaign=campaign)
names = {c.slug: common.case_name(c.person, c.slug) for c in cases}

pace_tab, funnel_tab, tally_tab, import_tab = st.tabs([tr("tab.pace"), tr("tab.funnel"), tr("tab.tally"), tr("tab.import")])

with pace_tab:
    st.caption(tr("pace_help"))
    for item in [overall, *per_case]:
        name = tr("campaign") if item is overall else names.get(item.slug, item.slug)
        percent = f"{item.progress:.0%}" if item.progress is not None else "—"
        st.progress(min(1.0, item.progress or 0.0), text=tr("line", name=name, total=fmt_number(item.total),
                    goal=fmt_number(item.goal), percent=percent, projected=fmt_number(item.projected)))
        if item.behind:
            st.caption(tr("behind"))
    late = [names.get(p.slug, p.slug) for p in per_case if p.behind]
    if late:
        st.warning(tr("behind_list", names=", ".join(late)), icon=":material/trending_down:")
    else:
        st.success(tr("on_track"))

with funnel_tab:
    st.subheader(tr("by_case"))
    table([{**row, "case": names.get(row["case"], row["case"])} for row in by_case],
          ["case", "posts", "views", "engagement", "clicks", "actions", "all_actions"])
    st.subheader(tr("by_channel"))
    table(by_channel, ["channel", "posts", "views", "engagement", "clicks", "actions"])
    st.subheader(tr("top"))
    table([{**row, "case": names.get(row["case"] or "", row["case"] or "—"), "text": (row["text"] or "")[:80]}
           for row in best], ["code", "case", "channel", "account", "clicks", "actions", "text", "url"])

with tally_tab:
    st.caption(tr("tally.help"))
    if not editor:
        st.info(tr("viewer"))
    else:
        events = [str(d.get("slug")) for d in campaign.key_dates or []]
        event_names = {str(d.get("slug")): (d.get("name") or {}).get(lang()) or str(d.get("slug"))
                       for d in campaign.key_dates or []}
        with st.form("tally_form", clear_on_submit=True):
            a, b = st.columns(2)
            case_slug = a.selectbox(tr("tally.case"), [c.slug for c in cases], format_func=names.__getitem__, key="tally_case")
            kind = b.selectbox(tr("tally.kind"), list(RESPONSE_KINDS), format_func=lambda k: KIND_NAMES[k][lang()],
                               key="tally_kind")
            c, d, e = st.columns(3)
            count = c.number_input(tr("tally.count"), min_value=1, max_value=responses.MAX_TALLY, value=1, step=1,
                                   key="tally_count")
            day = d.date_input(tr("tally.day"), value=today, max_value=today, key="tally_day")
            event = e.selectbox(tr("tally.event"), ["", *events], key="tally_event",
                                format_func=lambda k: event_names.get(k, tr("tally.no_event")))
            if st.form_submit_button(tr("tally.save"), icon=":material/add:"):
                saved = common.run(lambda s: responses.record_tally(
                    s, actor=me, case_slug=case_slug, kind=kind, count=int(count),
                    day=day if isinstance(day, dt.date) else today, event=event or None, campaign=campaign))
                if saved is not None:
                    st.session_state["flash"] = tr("tally.saved", count=fmt_number(int(count)), case=names[case_slug])
                    st.rerun()
    st.subheader(tr("tally.recent"))
    table([{**r, "case": names.get(r["case"], r["case"]), "kind": KIND_NAMES[r["kind"]][lang()], "by": r["entered_by"]}
           for r in recent], ["case", "kind", "count", "day", "event", "by"])
    if editor and recent:
        x, y = st.columns([1, 2])
        chosen = x.selectbox(tr("tally.delete"), [r["id"] for r in recent], key="tally_delete_id")
        if y.button(tr("tally.delete") + str(chosen), key="tally_delete", icon=":material/delete:"):
            def delete(s) -> bool:  # type: ignore[no-untyped-def]
                responses.delete_tally(s, actor=me, response_id=int(chosen))
                return True

            if common.run(delete):
                st.session_state["flash"] = tr("tally.deleted")
                st.rerun()

with import_tab:
    st.caption(tr("import.help"))
    if not editor:
        st.info(tr("viewer"))
    else:
        from orchestrator.services.responses_csv import load_mapping
        from orchestrator.services.responses_import import import_responses

        upload = st.file_uploader(tr("import.file"), type=["csv", "txt"], key="import_file")
        mapping_file = st.file_uploader(tr("import.mapping"), type=["yaml", "yml", "json"], key="import_mapping")
        skip = st.checkbox(tr("import.skip"), key="import_skip")

        def attempt(dry_run: bool):  # type: ignore[no-untyped-def]
            assert upload is not None

            def go(s):  # type: ignore[no-untyped-def]
                mapping = load_mapping(mapping_file.getvalue().decode("utf-8"), name=mapping_file.name) if mapping_file else None
                return import_responses(s, actor=me, data=io.BytesIO(upload.getvalue()), filename=upload.name,
                                        mapping=mapping, skip_bad_lines=skip, dry_run=dry_run, campaign=campaign)

            return common.run(go)

        if upload is not None and st.button(tr("import.check"), key="import_check", icon=":material/rule:"):
            st.session_state["import_report"] = attempt(dry_run=True)
        report = st.session_state.get("import_report")
        if report is not None and upload is not None and report.sha256:
            st.code("\n".join(report.summary(lang())), language=None)
            if report.by_case:
                table([{"case": names.get(k, k), "count": v} for k, v in report.by_case.items()], ["case", "count"])
            if not report.blocked and not report.already_imported and not report.saved:
                if st.button(tr("import.go"), key="import_go", type="primary", icon=":material/upload:"):
                    done = attempt(dry_run=False)
                    if done is not None:
                        st.session_state["import_report"] = done
                        st.session_state["flash"] = tr("import.done")
                        st.rerun()
