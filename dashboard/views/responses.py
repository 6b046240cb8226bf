"""Responses: goals and pace, the funnel from views to actions, offline tallies, and imports
whose report is shown before anything is saved. Counts only: nobody who acted is stored."""

from __future__ import annotations

import datetime as dt
import io
from functools import partial
from typing import Any

import streamlit as st

from dashboard import common, voice_ui
from dashboard.i18n import fmt_date, fmt_number, lang, t
from orchestrator.services import public_voice, responses
from orchestrator.services.campaigns import list_cases
from orchestrator.services.responses import RESPONSE_KINDS
from orchestrator.timeutil import local, utcnow

FIGURES = ("posts", "views", "engagement", "clicks", "actions", "channel_actions", "all_actions", "count")


def kind_name(kind: str) -> str:
    return responses.KIND_LABELS.get(kind, {}).get(lang()) or kind


def table(rows: list[dict[str, Any]], columns: list[str], name: str | None = None) -> None:
    """One of the page's tables; ``name``: offered as a CSV file of that name (common.table)."""
    if not rows:
        st.info(t("responses.none"))
        return
    common.table([{t(f"responses.col.{c}"): row.get(c) for c in columns} for row in rows],
                 numbers=[t(f"responses.col.{c}") for c in columns if c in FIGURES], download=f"{campaign.slug}-{name}" if name else None)


def _case_by_channel() -> None:
    """One case's funnel, a column per channel, the public's posts on their own row."""
    st.subheader(t("responses.by_case_channel"))
    st.caption(t("voice.funnel_help"))
    slugs = [c.slug for c in cases]
    chosen = st.selectbox(t("col.case"), slugs, index=0 if slugs else None, key="responses_case_channel",
                          format_func=names.__getitem__, placeholder=t("common.choose_one"))
    if chosen is not None:
        voice_ui.channel_funnel(by_case_channel, chosen)


def _public_posts_line(case_channel: list[dict[str, Any]]) -> None:
    """The public's posts found on each platform, every case and the edition's own terms together:
    one line under the by-channel table (a ninth column would not fit the page's width)."""
    public: dict[str, int] = {}
    for row in case_channel:
        public[row["channel"]] = public.get(row["channel"], 0) + int(row["public_posts"])
    order = [p for p in public_voice.PLATFORMS if p in public] + sorted(p for p in public if p not in public_voice.PLATFORMS)
    if any(public.values()):
        st.caption(t("responses.public_by_channel", counts=" · ".join(
            f"{common.plain(common.platform_name(p))} {fmt_number(public[p])}" for p in order)))


campaign = common.require_campaign()
st.title(t("responses.title"))
st.caption(t("responses.help"))
common.flash()
me = common.actor()
editor = common.can("editor")
today = local(utcnow(), campaign.timezone).date()
finished = campaign.ends_on is not None and today > campaign.ends_on

with common.session() as s:
    overall, per_case = responses.pace(s, campaign=campaign, today=today)
    by_case = responses.funnel_by_case(s, campaign=campaign)
    by_channel = responses.funnel_by_channel(s, campaign=campaign)
    by_case_channel = public_voice.funnel_by_case_channel(s, campaign=campaign)
    best = responses.top_posts(s, campaign=campaign, limit=10)
    cases = list_cases(s, campaign=campaign)
    recent = responses.recent_tallies(s, campaign=campaign)
names = {c.slug: common.case_name(c.person, c.slug) for c in cases}
event_names = {str(d.get("slug")): (d.get("name") or {}).get(lang()) or str(d.get("slug"))
               for d in campaign.key_dates or []}

# Said once, above the tabs: which cases will miss their goal at the current pace (or missed it).
late = [names.get(p.slug, p.slug) for p in per_case if p.behind]
if late:
    voice_ui.behind_warning(late, finished=finished)
elif per_case:
    st.success(t("responses.reached" if finished else "responses.on_track"), icon=":material/trending_up:")

pace_tab, funnel_tab, tally_tab, import_tab = st.tabs([t("responses.tab.pace"), t("responses.tab.funnel"), t("responses.tab.tally"), t("responses.tab.import")])

with pace_tab:
    st.caption(t("responses.pace_help"))
    for item in [overall, *per_case]:  # the cases behind are named once, above the tabs
        name = t("responses.campaign") if item is overall else names.get(item.slug, item.slug)
        line = voice_ui.pace_line(name, done=item.total, goal=item.goal, projected=item.projected,
                                  projected_rights_day=None if finished else item.projected_rights_day,
                                  rights_day=item.rights_day, ends_on=item.ends_on)
        st.progress(min(1.0, item.progress or 0.0), text=line)

with funnel_tab:
    st.subheader(t("responses.by_case"))
    st.caption(t("responses.by_case_help"))
    table([{**row, "case": names.get(row["case"], row["case"])} for row in by_case],
          ["case", "posts", "views", "engagement", "clicks", "actions", "all_actions"], "par-cas")
    _case_by_channel()
    st.subheader(t("responses.by_channel"))
    st.caption(t("responses.by_channel_help"))
    table([{**row, "channel": common.platform_name(row["channel"])} for row in by_channel],
          ["channel", "posts", "views", "engagement", "clicks", "actions", "channel_actions", "all_actions"],
          "par-canal")
    _public_posts_line(by_case_channel)
    st.subheader(t("responses.top"))
    table([{**row, "case": names.get(row["case"] or "", row["case"] or "—"), "text": (row["text"] or "")[:80],
            "channel": common.platform_name(row["channel"])}
           for row in best], ["code", "case", "channel", "account", "clicks", "actions", "text", "url"], "meilleures-sources")

with tally_tab:
    st.caption(t("responses.tally.help"))
    if not editor:
        st.info(t("responses.viewer"))
    else:
        events = [str(d.get("slug")) for d in campaign.key_dates or []]
        with st.form("tally_form", clear_on_submit=True):
            a, b = st.columns(2)
            case_slug = a.selectbox(t("responses.tally.case"), [c.slug for c in cases], format_func=names.__getitem__,
                                    key="tally_case", placeholder=t("common.choose_one"))
            kind = b.selectbox(t("responses.tally.kind"), list(RESPONSE_KINDS), format_func=kind_name, key="tally_kind",
                               placeholder=t("common.choose_one"))
            c, d, e = st.columns(3)
            count = c.number_input(t("responses.tally.count"), min_value=1, max_value=responses.MAX_TALLY, value=1, step=1,
                                   key="tally_count")
            day = d.date_input(t("responses.tally.day"), value=today, max_value=today, key="tally_day")
            event = e.selectbox(t("responses.tally.event"), ["", *events], key="tally_event",
                                format_func=lambda k: event_names.get(k, t("responses.tally.no_event")),
                                placeholder=t("common.choose_one"))
            if st.form_submit_button(t("responses.tally.save"), icon=":material/add:"):
                saved = common.run(lambda s: responses.record_tally(
                    s, actor=me, case_slug=case_slug, kind=kind, count=int(count),
                    day=day if isinstance(day, dt.date) else today, event=event or None, campaign=campaign))
                if saved is not None:
                    st.session_state["flash"] = t("responses.tally.saved", count=fmt_number(int(count)),
                                                  case=common.plain(names[case_slug]))
                    st.rerun()
    st.subheader(t("responses.tally.recent"))
    table([{**r, "case": names.get(r["case"], r["case"]), "kind": kind_name(r["kind"]), "by": r["entered_by"],
            "day": fmt_date(r["day"], "medium"), "event": event_names.get(r["event"], r["event"]) if r["event"] else "—"}
           for r in recent], ["case", "kind", "count", "day", "event", "by"], "saisies")
    if editor and recent:
        by_id = {r["id"]: r for r in recent}

        def tally_label(tally_id: int) -> str:
            r = by_id[tally_id]
            return t("responses.tally.choice", id=tally_id, case=names.get(r["case"], r["case"]),
                     count=fmt_number(r["count"]), kind=kind_name(r["kind"]), day=fmt_date(r["day"], "medium"))

        x, y = st.columns([2, 1], vertical_alignment="bottom")
        chosen = x.selectbox(t("responses.tally.delete_which"), list(by_id), key="tally_delete_id",
                             format_func=tally_label, placeholder=t("common.choose_one"))
        if chosen is not None and y.button(t("responses.tally.delete"), key="tally_delete", icon=":material/delete:"):
            if common.done(partial(responses.delete_tally, actor=me, response_id=int(chosen))):
                st.session_state["flash"] = t("responses.tally.deleted")
                st.rerun()

with import_tab:
    st.caption(t("responses.import.help"))
    if not editor:
        st.info(t("responses.viewer"))
    else:
        from orchestrator.services.responses_csv import ColumnMapping, load_mapping
        from orchestrator.services.responses_import import ImportReport, import_responses

        upload = st.file_uploader(t("responses.import.file"), type=["csv", "txt"], key="import_file")
        mapping_file = st.file_uploader(t("responses.import.mapping"), type=["yaml", "yml", "json"], key="import_mapping")
        skip = st.checkbox(t("responses.import.skip"), key="import_skip")

        def mapping() -> ColumnMapping | None:
            if mapping_file is None:
                return None
            return load_mapping(mapping_file.getvalue().decode("utf-8"), name=mapping_file.name)

        def attempt(dry_run: bool) -> ImportReport | None:
            assert upload is not None
            data, filename = upload.getvalue(), upload.name
            # the mapping is read inside the call, so that a broken one is shown like any refusal
            return common.run(lambda s: import_responses(
                s, actor=me, data=io.BytesIO(data), filename=filename, mapping=mapping(), skip_bad_lines=skip,
                dry_run=dry_run, campaign=campaign))

        if upload is not None and st.button(t("responses.import.check"), key="import_check", icon=":material/rule:"):
            st.session_state["import_report"] = attempt(dry_run=True)
        report = st.session_state.get("import_report")
        if report is not None and upload is not None and report.sha256:
            st.code("\n".join(report.summary(lang(), on_page=True)), language=None)
            if report.by_case:
                table([{"case": names.get(k, k), "count": v} for k, v in report.by_case.items()], ["case", "count"])
            if not report.blocked and not report.already_imported and not report.saved:
                if st.button(t("responses.import.go"), key="import_go", type="primary", icon=":material/upload:"):
                    done = attempt(dry_run=False)
                    if done is not None:
                        st.session_state["import_report"] = done
                        st.session_state["flash"] = t("responses.import.done")
                        st.rerun()
