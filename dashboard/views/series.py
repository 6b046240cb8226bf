"""Series: a recurring plan (every N days at a time, rotating through cases, on these accounts),
previewed, then expanded into posts and deliveries. Applying twice adds nothing."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from sqlmodel import select

from dashboard import common
from dashboard.i18n import LANGUAGE_NAMES, fmt_datetime, fmt_number, t
from orchestrator.models import Template
from orchestrator.services import accounts as account_service
from orchestrator.services import series
from orchestrator.services.campaigns import list_cases
from orchestrator.timeutil import local, utcnow

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("series.title"))
st.caption(t("series.help"))
common.flash()
common.times_note(campaign.timezone)

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
    accounts = account_service.list_accounts(s)
    templates = list(s.exec(select(Template).where(Template.campaign_id == campaign.id)))
    applied = series.applied_plans(s, limit=20)

today = local(utcnow(), tz).date()
c1, c2, c3 = st.columns(3)
name = c1.text_input(t("series.name"), key="series_name", value=t("series.default_name"))
# Offered from tomorrow, or the edition's first day if it is later: never from a day behind.
first = max(campaign.starts_on or today, today + dt.timedelta(days=1))
start = c2.date_input(t("series.start"), value=first, key="series_start", format="YYYY-MM-DD")
end = c3.date_input(t("series.end"), value=first + dt.timedelta(days=9), key="series_end", format="YYYY-MM-DD")
d1, d2, d3 = st.columns(3)
at_time = d1.time_input(t("series.time"), value=dt.time(12, 0), key="series_time", step=300)
every = d2.number_input(t("series.every"), min_value=1, max_value=30, value=1, key="series_every")
language = d3.radio(t("compose.language"), ["fr", "en"], key="series_language", horizontal=True,
                    format_func=LANGUAGE_NAMES.__getitem__)
case_names = {c.slug: common.case_name(c.person, c.slug) for c in cases}
names = st.multiselect(t("compose.accounts"), [a.name for a in accounts if a.language in (None, language)],
                       key="series_accounts", placeholder=t("common.choose_many"))
rotation = st.multiselect(t("series.cases"), [c.slug for c in cases if c.status == "active"], key="series_cases",
                          format_func=lambda slug: case_names.get(slug, slug), help=t("series.cases_help"),
                          placeholder=t("common.choose_many"))
slugs = [tp.slug for tp in templates if tp.language == language]
template = st.selectbox(t("compose.template"), [None] + slugs, key="series_template", placeholder=t("common.choose_one"),
                        format_func=lambda v: t("series.own_text") if v is None else v)
text = st.text_area(t("series.text"), key="series_text", help=t("series.text_help")) if template is None else None

plan = series.SeriesPlan(name=name.strip() or "plan", start=start, end=end, time=at_time, accounts=names,
                         language=language, cases=rotation, every_days=int(every), template=template, text=text or None)

# Compose's rule: a time already passed is refused unless the person says to publish it now.
past = series.past_occurrences(plan, tz=tz) if end >= start else []
publish_now = False
if past:
    st.warning(t("series.past", n=fmt_number(len(past)), when=fmt_datetime(past[0], tz, "short")),
               icon=":material/history:")
    publish_now = st.checkbox(t("compose.publish_now"), key="series_publish_now", help=t("compose.publish_now_help"))

a, b = st.columns(2)
if a.button(t("series.preview"), key="series_preview", icon=":material/visibility:"):
    occurrences = common.run(lambda s: series.expand(s, plan=plan, campaign=campaign))
    if occurrences:
        common.table([{
            t("col.when"): fmt_datetime(o.at, tz, "short"),
            t("col.case"): case_names.get(o.case_slug, o.case_slug),
            t("compose.accounts"): ", ".join(o.accounts),
            t("series.already"): ", ".join(o.existing),
            t("col.text"): o.text,
        } for o in occurrences])
if common.can("editor"):
    if b.button(t("series.apply"), key="series_apply", type="primary", icon=":material/playlist_add:"):
        result = common.run(lambda s: series.apply(s, actor=common.actor(), plan=plan, campaign=campaign,
                                                         publish_now=publish_now))
        if result is not None:
            st.session_state["flash"] = t("series.applied", **{k: fmt_number(v) for k, v in result.items()})
            st.rerun()
else:
    common.viewer_notice()

st.subheader(t("series.history"))
if not applied:
    st.caption(t("series.none"))
for entry in applied:
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    st.markdown(t("series.history_line", name=common.plain(entry.target_id), who=common.plain(entry.actor),
                  when=fmt_datetime(entry.at, tz, "short"), posts=fmt_number(detail.get("posts", 0)),
                  deliveries=fmt_number(detail.get("deliveries", 0)), skipped=fmt_number(detail.get("skipped", 0))))
