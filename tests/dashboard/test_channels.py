from __future__ import annotations

from orchestrator import secrets
from orchestrator.models import Account
from tests.dashboard.helpers import texts


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
