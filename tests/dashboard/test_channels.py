from __future__ import annotations

import pytest

from dashboard.common import plain
from orchestrator import secrets
from orchestrator.models import Account
from tests.dashboard.helpers import texts
from tests.dashboard.markdown_sinks import markdown_texts, markup_problems
from tests.factories import make_account
from tests.hostile import HOSTILE_REPLY


def test_it_shows_health_and_rate_budget(app, account):
    at = app("victor", "channels")
    assert "x-fr · X · en santé" in "\n".join(e.label for e in at.expander)
    assert "Budget restant" in at.dataframe[0].value.columns
    assert "acct_test_x-fr" not in {b.key for b in at.button}


def test_test_connection_records_the_outcome(app, account, session, monkeypatch):
    from channels.x import XChannel

    monkeypatch.setattr(XChannel, "whoami", lambda self: "@amnistie")
    at = app("edith", "channels")
    at.button(key="acct_test_x-fr").click().run()
    assert not at.exception
    assert "Connexion réussie : @amnistie" in texts(at)
    assert session.query(Account).filter_by(name="x-fr").one().handle == "@amnistie"


def test_an_admin_edits_credentials_that_are_never_shown_back(app, account, session):
    at = app("ada", "channels")
    field = at.text_input(key="acct_cred_x-fr_bearer_token")
    assert field.value == ""  # never shown back
    field.input("nouveau-jeton")
    at.button(key="FormSubmitter:acct_edit_x-fr-Enregistrer").click().run()
    assert not at.exception
    stored = session.query(Account).filter_by(name="x-fr").one()
    assert secrets.decrypt(stored.credentials)["bearer_token"] == "nouveau-jeton"
    assert "nouveau-jeton" not in texts(at)


def test_an_admin_adds_an_account(app, campaign, session):
    at = app("ada", "channels")
    at.text_input(key="acct_new_name").input("x-en")
    at.text_input(key="acct_new_cred_bearer_token").input("t")
    at.button(key="FormSubmitter:acct_new-Ajouter").click().run()
    assert not at.exception
    assert session.query(Account).filter_by(name="x-en").one().kind == "x"


def _hostile_instance(monkeypatch, answer: str) -> None:  # type: ignore[no-untyped-def]
    """The sandbox's Mastodon instance turned hostile: its reply to "who am I?" carries a phishing
    link and a remote image, in a refusal (403, whose reason the channel quotes) or in the
    account's name."""
    from channels.sandbox import mastodon as emulator

    if answer == "refusal":
        route = emulator.MastodonEmulator._route

        def refusing(self, req, path, token, base):  # type: ignore[no-untyped-def]
            if path == "/api/v1/accounts/verify_credentials":
                raise emulator.MastodonError(403, HOSTILE_REPLY)
            return route(self, req, path, token, base)

        monkeypatch.setattr(emulator.MastodonEmulator, "_route", refusing)
    else:
        monkeypatch.setattr(emulator.MastodonEmulator, "_account",
                            staticmethod(lambda token: {"id": "1", "username": HOSTILE_REPLY}))


@pytest.mark.parametrize("answer", ["refusal", "name"])
def test_a_hostile_instance_s_reply_to_the_connection_test_is_shown_as_text(app, bare_engine, sandbox, monkeypatch, answer):
    from orchestrator import db

    with db.session_scope(bare_engine) as s:
        make_account(s, "mastodon", base_url=sandbox.url, is_sandbox=True)
    _hostile_instance(monkeypatch, answer)
    at = app("edith", "channels")
    at.button(key="acct_test_mastodon-fr").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # The reply is there, as text, in the test's outcome; a failure is not shown in green.
    said, words = ("error", "Échec de la connexion") if answer == "refusal" else ("success", "Connexion réussie")
    outcome = [(kind, text) for kind, text in markdown_texts(at) if text.startswith(words)]
    assert [kind for kind, _ in outcome] == [said], outcome
    assert plain(HOSTILE_REPLY) in outcome[0][1], outcome
    assert not markup_problems(at), markup_problems(at)


def test_an_account_whose_platform_fetches_images_says_the_public_address_is_needed(app, account, monkeypatch):
    from channels.x import XChannel
    from orchestrator.settings import get_settings

    monkeypatch.setattr(XChannel, "needs_public_media", True)
    monkeypatch.setenv("PORTEVOIX_MEDIA_BASE_URL", "")
    get_settings.cache_clear()
    at = app("victor", "channels")
    assert "PORTEVOIX_MEDIA_BASE_URL" in "\n".join(w.value for w in at.warning)
    monkeypatch.setenv("PORTEVOIX_MEDIA_BASE_URL", "https://lien.example.org")
    get_settings.cache_clear()
    at = app("victor", "channels")
    assert "PORTEVOIX_MEDIA_BASE_URL" not in "\n".join(w.value for w in at.warning)
    get_settings.cache_clear()
