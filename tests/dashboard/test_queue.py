from __future__ import annotations

from orchestrator.models import Delivery
from tests.dashboard.helpers import texts


def test_it_lists_deliveries_with_state_labels(app, scheduled):
    scheduled(state="failed", last_error="boom")
    at = app("victor", "queue")
    table = at.dataframe[0].value.to_csv()
    assert "🔴 Échec" in table
    assert "boom" in table


def test_an_editor_retries_a_failed_delivery(app, scheduled, session):
    delivery_id = scheduled(state="failed", last_error="boom")
    at = app("edith", "queue")
    at.button(key=f"queue_retry_{delivery_id}").click().run()
    assert not at.exception
    assert session.get(Delivery, delivery_id).state == "retrying"
    assert "Envoi relancé." in texts(at)


def test_retry_all_failed(app, scheduled, session):
    ids = [scheduled(state="failed"), scheduled(state="failed")]
    at = app("edith", "queue")
    at.button(key="queue_retry_all").click().run()
    assert [session.get(Delivery, i).state for i in ids] == ["retrying", "retrying"]


def test_an_editor_cancels(app, scheduled, session):
    delivery_id = scheduled()
    at = app("edith", "queue")
    at.button(key=f"queue_cancel_{delivery_id}").click().run()
    assert session.get(Delivery, delivery_id).state == "cancelled"


def test_an_unconfirmed_delivery_is_resolved_by_a_person(app, scheduled, session):
    delivery_id = scheduled(state="unconfirmed")
    at = app("edith", "queue")
    assert "Vérifiez sur la plateforme" in texts(at)
    at.text_input(key=f"queue_url_{delivery_id}").input("https://x.com/amnistie/status/1")
    at.button(key=f"queue_found_{delivery_id}").click().run()
    delivery = session.get(Delivery, delivery_id)
    assert delivery.state == "published"
    assert delivery.platform_url == "https://x.com/amnistie/status/1"


def test_filters_narrow_the_list(app, scheduled):
    scheduled(state="failed")
    scheduled(state="scheduled")
    at = app("victor", "queue")
    at.multiselect(key="queue_states").set_value(["failed"]).run()
    assert "1 envoi(s)" in texts(at)


def test_a_viewer_sees_no_action_buttons(app, scheduled):
    delivery_id = scheduled(state="failed")
    at = app("victor", "queue")
    keys = {b.key for b in at.button}
    assert f"queue_retry_{delivery_id}" not in keys and "queue_retry_all" not in keys
    assert "Lecture seule" in texts(at)


# ---------------------------------------------------------------------------------------------
# States shown are the states held (a post's status wins while nothing of it can go out)


def _table(at) -> str:
    return at.dataframe[0].value.to_csv()


def test_a_pending_post_s_deliveries_show_awaiting_approval_not_scheduled(app, busy):
    at = app("victor", "queue")
    table = _table(at)
    assert table.count("⏳ En attente d'approbation") == 4  # one per kind
    assert table.count("⛔ Refusée") == 1
    assert table.count("📝 Brouillon") == 1
    # only the two scheduled deliveries of approved posts are « Programmée »
    assert table.count("🔵 Programmée") == 2


def test_the_state_filter_uses_the_states_shown(app, busy):
    at = app("victor", "queue")
    at.multiselect(key="queue_states").set_value(["awaiting_approval"]).run()
    assert "4 envoi(s)" in texts(at)
    at.multiselect(key="queue_states").set_value(["scheduled"]).run()
    assert "2 envoi(s)" in texts(at)
    assert "En attente" not in _table(at)
    at.multiselect(key="queue_states").set_value(["rejected", "draft"]).run()
    assert "2 envoi(s)" in texts(at)


def test_a_rejected_post_s_delivery_says_why_it_waits_and_what_brings_it_back(app, busy):
    at = app("victor", "queue")
    at.selectbox(key="queue_pick").set_value(busy["rejected"]).run()
    assert not at.exception
    assert [m.value for m in at.markdown if "-badge[" in m.value] == [":red-badge[:material/block: Refusée]"]
    (info,) = at.info[:1]
    assert "La publication a été refusée : Ton trop dur" in info.value
    assert "soumise de nouveau et approuvée" in info.value


def test_held_reasons_read_as_sentences_in_the_reader_s_language(app, busy):
    at = app("victor", "queue", lang="en")
    at.selectbox(key="queue_pick").set_value(busy["paused"]).run()
    shown = texts(at)
    assert "The case is paused: Nouvelles" in shown
    assert "case paused" not in shown and "Retenu" not in shown
    table = _table(at)
    assert "case paused" not in table and "late: waiting" not in table
    assert "Its time passed while it was held" in table


def test_the_picked_delivery_shows_its_figures_and_their_curve(app, busy):
    at = app("victor", "queue")
    at.selectbox(key="queue_pick").set_value(busy["by_state"]["published"]).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Vues"] == "12\u202f027" or metrics["Vues"] == "12\xa0027"
    assert metrics["J'aime"] in ("1\u202f235", "1\xa0235")
    assert metrics["Clics"] == "17"  # 5 + 12, from the short link's hourly counts
    views, others = (c.proto.data.data.decode("utf-8", "replace") for c in at.get("vega_lite_chart"))
    assert "Vues" in views and "Clics" not in views  # thousands of views on their own scale
    assert "Clics" in others and "J'aime" in others


def test_the_curves_write_numbers_as_the_page_does(app, busy):
    """The charts' axes and tooltips use the reader's digit grouping and decimal mark (« 1 250 »,
    "1,250"), like the figures above them, not Vega's English default in the French page."""
    import json

    for lang, thousands, decimal in (("fr", "\xa0", ","), ("en", ",", ".")):
        at = app("victor", "queue", lang=lang)
        at.selectbox(key="queue_pick").set_value(busy["by_state"]["published"]).run()
        charts = at.get("vega_lite_chart")
        assert charts
        for chart in charts:
            number = json.loads(chart.proto.spec)["config"]["locale"]["number"]
            assert (number["thousands"], number["decimal"]) == (thousands, decimal), lang


def test_platform_names_and_numbers_are_shown_properly(app, busy):
    at = app("victor", "queue")
    table = _table(at)
    assert "mastodon-fr (Mastodon)" in table and "bluesky-fr (Bluesky)" in table and "x-fr (X)" in table
    assert "(mastodon)" not in table and "(x)" not in table
    assert at.multiselect(key="queue_kinds").options == ["Bluesky", "Facebook", "Mastodon", "X"]
    for key in ("queue_states", "queue_cases", "queue_kinds", "queue_accounts"):
        assert at.multiselect(key=key).proto.placeholder == "Choisissez une ou plusieurs options…"


def test_a_state_this_version_does_not_know_does_not_break_the_page(app, busy, session):
    delivery = session.get(Delivery, busy["by_state"]["scheduled"])
    delivery.state = "paused_by_platform"  # written by a newer worker, or by hand
    session.add(delivery)
    session.commit()
    at = app("victor", "queue")
    assert not at.exception
    assert len(at.dataframe[0].value) >= 10
