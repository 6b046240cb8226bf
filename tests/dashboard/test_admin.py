from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from orchestrator.models import User
from orchestrator.services.users import authenticate


def test_the_audit_log_is_for_admins(app):
    at = app("ada", "audit")
    assert not at.exception
    table = at.dataframe[0].value.to_csv()
    assert "Personne ajoutée" in table and "rôle : Lecture seule" in table


def test_the_audit_log_reads_without_json_in_both_languages(app, bare_engine):
    from orchestrator import db
    from orchestrator.services.auth import Actor, audit

    with db.session_scope(bare_engine) as s:
        audit(s, actor=Actor("ada", "admin"), action="account_credentials", target_type="account", target_id="x-fr",
              fields=["bearer_token"], published=True, count=12027, at="2025-12-06T17:00:00+00:00")
        audit(s, actor=Actor("ada", "admin"), action="brand_new_thing", target_type="gadget", target_id="7",
              detail={"nested_value": 1000})
    for lang, expected in (("fr", ["Identifiants d'un compte modifiés", "Compte x-fr", "champs : jeton OAuth 2",
                                   "publiée : oui", "nombre : 12\xa0027", "pour : 2025-12-06 12 h 00",
                                   "Brand new thing", "Gadget 7", "nested value : 1\xa0000"]),
                           ("en", ["Account credentials changed", "Account x-fr", "fields: OAuth 2 token",
                                   "published: yes", "count: 12,027", "Brand new thing", "nested value: 1,000"])):
        at = app("ada", "audit", lang=lang)
        frame = at.dataframe[0].value
        shown = "\n".join(" | ".join(str(v) for v in row) for row in frame.itertuples(index=False))
        for words in expected:
            assert words in shown, (words, shown)
        assert "{" not in shown and "account_credentials" not in shown and "bearer_token" not in shown


def test_the_audit_log_names_cases_not_their_ids(app, bare_engine):
    from orchestrator import db
    from orchestrator.services import case_edit, responses
    from orchestrator.services.auth import Actor
    from orchestrator.services.campaigns import get_case

    edith = Actor("edith", "editor")
    with db.session_scope(bare_engine) as s:
        juan = get_case(s, slug="juan-lopez")
        case_edit.set_status(s, actor=edith, case_id=juan.id, status="paused", note="Demande de la famille")
        row = responses.record_tally(s, actor=edith, case_slug="sonia-dahmani", kind="letter", count=3,
                                     day=dt.date(2025, 12, 6))
        responses.delete_tally(s, actor=Actor("ada", "admin"), response_id=row.id)
        case_edit.move(s, actor=edith, case_id=juan.id, offset=1)
    at = app("ada", "audit")
    shown = at.dataframe[0].value.to_csv()
    assert "Cas Juan López" in shown and "cas : Sonia Dahmani" in shown and "cas n° : Sonia Dahmani" in shown
    assert "juan-lopez" not in shown and "sonia-dahmani" not in shown


def test_an_editor_has_no_admin_pages(app):
    at = app("edith")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/audit.py")
    at = app("ada")
    at.switch_page("views/audit.py").run()
    assert "Personne ajoutée" in at.dataframe[0].value.to_csv()


def test_an_admin_changes_a_role(app, session):
    at = app("ada", "users")
    at.selectbox(key="users_pick").set_value("victor")
    at.selectbox(key="users_role").set_value("editor")
    at.button(key="users_set_role").click().run()
    assert session.query(User).filter_by(username="victor").one().role == "editor"


def test_user_add_cli_with_password_stdin(bare_engine, session):
    from orchestrator.cli import app as cli

    result = CliRunner().invoke(cli, ["user", "add", "Marie@Amnistie.ca", "--role", "approver", "--password-stdin"],
                                input="un-mot-de-passe-long\n")
    assert result.exit_code == 0, result.output
    user = session.query(User).filter_by(username="marie@amnistie.ca").one()
    assert user.role == "approver" and user.password_hash.startswith("$argon2")
    assert authenticate(session, username="marie@amnistie.ca", password="un-mot-de-passe-long") is not None


def test_user_add_cli_refuses_an_unknown_role(bare_engine):
    from orchestrator.cli import app as cli

    result = CliRunner().invoke(cli, ["user", "add", "x", "--role", "chef", "--password-stdin"], input="un-mot-de-passe-long\n")
    assert result.exit_code != 0
    assert "Rôle inconnu" in result.output
