from __future__ import annotations

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from orchestrator.models import AuditEntry
from tests.dashboard.conftest import APP, PASSWORD
from tests.dashboard.helpers import texts


def _login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()  # the form's submit button
    return at


def test_it_asks_to_sign_in_first(people, campaign):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "Se connecter" in [b.label for b in at.button]
    assert "Aucun travailleur" not in texts(at)  # nothing of the dashboard before sign-in


def test_it_signs_in_with_a_good_password(people, campaign, session):
    at = _login("edith", PASSWORD)
    assert not at.exception
    assert at.session_state["actor"] == {"username": "edith", "role": "editor"}
    assert "Connecté·e : edith" in texts(at)
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "login")).first() is not None


def test_it_refuses_a_wrong_password(people, campaign, session):
    at = _login("edith", "pas-le-bon-mot")
    assert "incorrect" in texts(at)
    assert "actor" not in at.session_state
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "login_failed")).first() is not None


def test_it_signs_out(app):
    at = app("edith")
    at.button(key="logout").click().run()
    assert "actor" not in at.session_state
    assert "Se connecter" in [b.label for b in at.button]


def test_a_disabled_person_is_signed_out_at_once(app, bare_engine):
    from orchestrator import db
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.users import set_disabled

    at = app("edith")
    with db.session_scope(bare_engine) as s:
        set_disabled(s, actor=SYSTEM, username="edith", disabled=True)
    at.run()
    assert "actor" not in at.session_state


def test_english_is_a_switch_away(app):
    at = app("edith")
    assert "Se déconnecter" in [b.label for b in at.button]
    at.sidebar.radio[0].set_value("en").run()
    assert "Sign out" in [b.label for b in at.button]


def test_oidc_is_offered_when_configured(people, campaign):
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "porte-voix", "client_secret": "s",
                          "server_metadata_url": "https://id.example.org/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert any("fournisseur d'identité" in b.label for b in at.button)
