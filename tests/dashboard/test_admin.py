from __future__ import annotations

import pytest
from typer.testing import CliRunner

from orchestrator.models import User
from orchestrator.services.users import authenticate


def test_the_audit_log_is_for_admins(app):
    at = app("ada", "audit")
    assert not at.exception
    table = at.dataframe[0].value.to_csv()
    assert "user_add" in table


def test_an_editor_has_no_admin_pages(app):
    at = app("edith")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/audit.py")
    at = app("ada")
    at.switch_page("views/audit.py").run()
    assert "user_add" in at.dataframe[0].value.to_csv()


def test_an_admin_changes_a_role(app, session):
    at = app("ada", "users")
    at.selectbox(key="users_pick").set_value("victor")
    at.selectbox(key="users_role").set_value("editor")
    at.button(key="users_set_role").click().run()
    assert session.query(User).filter_by(username="victor").one().role == "editor"


def test_user_add_cli_with_password_stdin(engine, session):
    from orchestrator.cli import app as cli

    result = CliRunner().invoke(cli, ["user", "add", "Marie@Amnistie.ca", "--role", "approver", "--password-stdin"],
                                input="un-mot-de-passe-long\n")
    assert result.exit_code == 0, result.output
    user = session.query(User).filter_by(username="marie@amnistie.ca").one()
    assert user.role == "approver" and user.password_hash.startswith("$argon2")
    assert authenticate(session, username="marie@amnistie.ca", password="un-mot-de-passe-long") is not None


def test_user_add_cli_refuses_an_unknown_role(engine):
    from orchestrator.cli import app as cli

    result = CliRunner().invoke(cli, ["user", "add", "x", "--role", "chef", "--password-stdin"], input="un-mot-de-passe-long\n")
    assert result.exit_code != 0
    assert "Rôle inconnu" in result.output
