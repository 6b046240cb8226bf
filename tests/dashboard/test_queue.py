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
