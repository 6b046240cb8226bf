"""The Notifications page (each person's choices, a test message) and the Intégrations page
(admins: API tokens shown once, outgoing webhooks, their log), in French and English."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator.models import (
    ApiToken,
    IntegrationWebhook,
    NotificationOutbox,
    NotificationPreference,
)
from orchestrator.services import integrations
from tests.dashboard.helpers import stored, texts


def submit(at, label: str) -> None:  # type: ignore[no-untyped-def]
    [button] = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception


def test_a_person_chooses_events_and_an_address_then_sends_a_test(app, bare_engine) -> None:
    at = app("edith", "notifications")
    labels = [c.label for c in at.checkbox]
    assert "Envoi en échec" in labels and "Publication à approuver" not in labels  # editors don't approve
    at.checkbox(key="notifications_event_delivery_failed").check()
    at.text_input(key="notifications_email").input("edith@example.org")
    submit(at, "Enregistrer")
    assert not at.exception
    [pref] = stored(bare_engine, select(NotificationPreference))
    assert (pref.username, pref.events, pref.email) == ("edith", ["delivery_failed"], "edith@example.org")
    at.button(key="notifications_test").click().run()
    assert not at.exception
    [row] = stored(bare_engine, select(NotificationOutbox))
    assert (row.event, row.recipient, row.address) == ("test", "edith", "edith@example.org")


def test_a_wrong_address_is_refused_where_it_is_typed(app, bare_engine) -> None:
    at = app("edith", "notifications", lang="en")
    at.text_input(key="notifications_email").input("not an address")
    submit(at, "Save")
    assert "Invalid e-mail address" in texts(at)
    assert stored(bare_engine, select(NotificationPreference)) == []


@pytest.mark.parametrize("who", ["victor", "edith", "alain"])
def test_only_admins_see_the_integrations_page(app, bare_engine, who) -> None:
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app(who, "integrations")


def test_an_admin_creates_a_token_seen_once_then_revokes_it(app, bare_engine) -> None:
    at = app("ada", "integrations")
    at.text_input(key="integrations_token_name").input("petition")
    at.multiselect(key="integrations_token_scopes").select("responses:write")
    submit(at, "Créer le jeton")
    assert not at.exception
    [row] = stored(bare_engine, select(ApiToken))
    shown = [c.value for c in at.code]
    assert len(shown) == 1 and integrations.hash_token(shown[0]) == row.token_hash
    at.run()
    assert [c.value for c in at.code] == []  # once
    at.button(key="integrations_revoke").click().run()
    assert stored(bare_engine, select(ApiToken))[0].revoked_at is not None


def test_an_admin_adds_a_webhook_in_english(app, bare_engine) -> None:
    at = app("ada", "integrations", lang="en")
    assert "Webhook delivery log" in texts(at)
    at.text_input(key="integrations_hook_name").input("site")
    at.text_input(key="integrations_hook_url").input("https://site.example.org/hook")
    at.multiselect(key="integrations_hook_events").select("published")
    submit(at, "Add the webhook")
    assert not at.exception
    [hook] = stored(bare_engine, select(IntegrationWebhook))
    assert hook.events == ["published"] and hook.url == "https://site.example.org/hook"


def test_webhook_events_and_token_scopes_read_in_words_and_a_form_sent_twice_adds_one(app, bare_engine) -> None:
    at = app("ada", "integrations")
    box = at.multiselect(key="integrations_hook_events")
    assert box.options == ["Envoi en échec", "Palier atteint", "Publication parue"]  # not failed, milestone…
    submit(at, "Ajouter le webhook")  # no event chosen: the refusal names them in words
    assert "Choisissez au moins un événement parmi" in texts(at) and "« Envoi en échec » (failed)" in texts(at)
    at.text_input(key="integrations_hook_name").input("CRM")
    at.text_input(key="integrations_hook_url").input("https://crm.example.org/hook")
    at.multiselect(key="integrations_hook_events").select("published")
    submit(at, "Ajouter le webhook")
    submit(at, "Ajouter le webhook")  # the second click of a double click: the form still holds it all
    assert len(stored(bare_engine, select(IntegrationWebhook))) == 1
    assert "Un webhook vers cette adresse existe déjà (n° 1, « CRM »)" in texts(at).replace("\\", "")
    at.text_input(key="integrations_token_name").input("Pétition")
    at.multiselect(key="integrations_token_scopes").select("read")
    submit(at, "Créer le jeton")
    submit(at, "Créer le jeton")
    assert len(stored(bare_engine, select(ApiToken))) == 1
    assert "Un jeton en service porte déjà ce nom (n° 1)" in texts(at).replace("\\", "")
    tables = [frame.value for frame in at.dataframe]
    assert list(tables[0]["Portées"]) == ["Lecture (cas, progression, envois)"]
    assert list(tables[1]["Événements"]) == ["Publication parue"]


@pytest.mark.parametrize(("who", "offered"), [("victor", False), ("edith", True), ("alain", True)])
def test_my_post_rejected_is_offered_to_those_who_write_posts(app, who, offered) -> None:
    """A viewer writes no post: « Ma publication refusée » was offered to them all the same."""
    labels = [c.label for c in app(who, "notifications").checkbox]
    assert ("Ma publication refusée" in labels) is offered, labels
