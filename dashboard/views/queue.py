"""Queue: every delivery with filters; retry, cancel, resolve what needs a person; each
delivery's own figures and their curve."""

from __future__ import annotations

import streamlit as st

from dashboard import common, retract_ui
from dashboard import deliveries_ui as ui
from dashboard.i18n import fmt_datetime, fmt_number, lang, t
from orchestrator.services import accounts as account_service
from orchestrator.services import deliveries, delivery_views, reports, sensitive_dates
from orchestrator.services.campaigns import list_cases

PAGE = 100
#: How often the picked delivery's figures are read again while the page is open.
FIGURES_REFRESH_SECONDS = 15

campaign = common.require_campaign()
tz = campaign.timezone
st.title(t("queue.title"))
common.flash()
common.times_note(campaign.timezone)

with common.session() as s:
    cases = list_cases(s, campaign=campaign)
    accounts = account_service.list_accounts(s)
case_names = {c.id: common.case_name(c.person, c.slug) for c in cases}
account_names = {a.id: f"{a.name} ({ui.platform(a.kind)})" for a in accounts}

f1, f2, f3, f4 = st.columns(4)
state_names = {k: style.text(lang()) for k, style in delivery_views.STYLES.items()}
shown_in = f1.multiselect(t("col.state"), list(state_names), key="queue_states", format_func=state_names.__getitem__,
                          placeholder=t("common.choose_many"))
case_ids = f2.multiselect(t("col.case"), list(case_names), key="queue_cases", format_func=case_names.__getitem__,
                          placeholder=t("common.choose_many"))
kinds = f3.multiselect(t("col.channel"), sorted({a.kind for a in accounts}), key="queue_kinds",
                       format_func=ui.platform, placeholder=t("common.choose_many"))
account_ids = f4.multiselect(t("col.account"), list(account_names), key="queue_accounts",
                             format_func=account_names.__getitem__, placeholder=t("common.choose_many"))
filters = {"shown_in": shown_in, "case_ids": case_ids, "kinds": kinds, "account_ids": account_ids}

with common.session() as s:
    total = reports.count_deliveries(s, campaign_id=campaign.id or 0, **filters)
    failed = reports.count_deliveries(s, campaign_id=campaign.id or 0, state_in=[delivery_views.FAILED])
pages = max(1, -(-total // PAGE))
page = st.number_input(t("queue.page", pages=fmt_number(pages)), min_value=1, max_value=pages, value=1,
                       key="queue_page") if pages > 1 else 1
with common.session() as s:
    rows = reports.list_deliveries(s, campaign_id=campaign.id or 0, limit=PAGE, offset=(int(page) - 1) * PAGE,
                                   newest_first=True, **filters)
st.caption(t("queue.count", n=fmt_number(total)))

if common.can("editor") and failed:
    if st.button(t("queue.retry_all", n=fmt_number(failed)), key="queue_retry_all", icon=":material/refresh:"):
        n = common.run(lambda s: deliveries.retry_all_failed(s, actor=common.actor()))
        if n is not None:
            st.session_state["flash"] = t("queue.retried_all", n=fmt_number(n))
            st.rerun()

if not rows:
    st.info(t("queue.empty"))
    st.stop()


def _line(r: dict) -> dict[str, str]:
    try:
        return {
            "#": f"#{r['id']}",
            t("col.when"): fmt_datetime(r["scheduled_at"], tz, "short"),
            t("col.state"): ui.state_text(r),
            t("col.case"): common.case_name(r["case_person"], r["case"]),
            t("col.account"): ui.account_label(r),
            t("col.attempts"): fmt_number(r["attempts"]),
            t("col.problem"): ui.short(ui.problem(r), 200),
            t("col.text"): ui.short(r["text"], 100),
        }
    except Exception:  # noqa: BLE001 - one row that cannot be shown says so; the others show
        return {"#": f"#{r.get('id')}", t("col.problem"): t("follow.item_failed", what=t("queue.pick"))}


common.table([_line(r) for r in rows], download=f"{campaign.slug}-envois-{int(page)}")

st.subheader(t("queue.act"))
by_id = {r["id"]: r for r in rows}


# Labels made now, in the reader's language (a format function runs again outside the page's run).
picks = {i: f"#{i} · {ui.state_label(r)} · {r['account']} · {fmt_datetime(r['scheduled_at'], tz, 'short')}"
         for i, r in by_id.items()}
picked = st.selectbox(t("queue.pick"), list(picks), key="queue_pick", format_func=picks.__getitem__,
                      placeholder=t("common.choose_one"))
row = by_id[picked] if picked in by_id else rows[0]
with ui.own_error(t("queue.pick")):
    ui.state_badge(row)
    if row["state"] not in delivery_views.FINAL and (day := sensitive_dates.warning(campaign, row["scheduled_at"])):
        st.warning(common.plain(day[0] if lang() == "fr" else day[1]), icon=":material/event_busy:")
    st.text(row["text"])
    if row["last_error"]:
        st.warning(t("queue.last_error", kind=ui.error_kind(row["last_error_kind"] or ""),
                     error=common.plain(row["last_error"])))
    reason = ui.why(row, markdown=True)
    if reason:
        st.info(reason, icon=":material/pause_circle:")
    if row["platform_link"]:  # checked: https on the platform's own host (services/safe_links.py)
        st.link_button(t("queue.open_post"), row["platform_link"], icon=":material/open_in_new:")
    elif row["platform_url"]:
        st.caption(t("queue.unchecked_url"))
        st.code(row["platform_url"], language=None)


# A published post's figures grow while the page is open: the worker reads them from the platform
# (a first look a minute after publication, then every few minutes), and this part of the page
# reads them again on its own, so they appear and grow without a reload.
@st.fragment(run_every=FIGURES_REFRESH_SECONDS if delivery_views.figures_growing(row["state"]) else None)
def _figures(row: dict) -> None:
    with ui.own_error(t("figures.title")):
        ui.delivery_figures(row, tz=tz)


_figures(row)

with ui.own_error(t("retract.list")):
    retracted_at = retract_ui.retracted_at(row["id"])
    if retracted_at is not None:
        st.info(t("retract.retracted", when=fmt_datetime(retracted_at, tz, "short")), icon=":material/delete_sweep:")
    retract_ui.action(f"queue_retract_{row['id']}", tz=tz, delivery_id=row["id"])
    retract_ui.progress_list(f"queue_retractions_{row['id']}", tz=tz, delivery_id=row["id"], limit=3)

if not common.can("editor"):
    common.viewer_notice()
    st.stop()

delivery_id = row["id"]
me = common.actor()
buttons = st.columns(4)
offered = delivery_views.person_actions(row["state"], row["held_reason"])
if delivery_views.RETRY in offered and buttons[0].button(t("queue.retry"), key=f"queue_retry_{delivery_id}", icon=":material/refresh:"):
    if common.run(lambda s: deliveries.retry(s, actor=me, delivery_id=delivery_id), success=t("queue.retried")):
        st.rerun()
if delivery_views.CANCEL in offered and buttons[1].button(
        t("queue.cancel"), key=f"queue_cancel_{delivery_id}", icon=":material/block:"):
    if common.run(lambda s: deliveries.cancel(s, actor=me, delivery_id=delivery_id), success=t("queue.cancelled")):
        st.rerun()
if delivery_views.SEND_LATE in offered and buttons[2].button(
        t("queue.send_late"), key=f"queue_late_{delivery_id}", icon=":material/send:"):
    if common.run(lambda s: deliveries.release_late(s, actor=me, delivery_id=delivery_id), success=t("queue.released")):
        st.rerun()

if delivery_views.RESOLVE in offered:
    st.markdown(t("queue.unconfirmed_help"))
    if row["profile_link"]:
        st.link_button(t("queue.check_platform"), row["profile_link"], icon=":material/open_in_new:")
    url = st.text_input(t("queue.found_url"), key=f"queue_url_{delivery_id}")
    a, b = st.columns(2)
    if a.button(t("queue.is_published"), key=f"queue_found_{delivery_id}", icon=":material/check:"):
        if common.run(lambda s: deliveries.resolve_unconfirmed(s, actor=me, delivery_id=delivery_id, published=True,
                                                               platform_url=url or None), success=t("queue.resolved")):
            st.rerun()
    if b.button(t("queue.is_absent"), key=f"queue_absent_{delivery_id}", icon=":material/refresh:"):
        if common.run(lambda s: deliveries.resolve_unconfirmed(s, actor=me, delivery_id=delivery_id, published=False),
                      success=t("queue.resolved")):
            st.rerun()
