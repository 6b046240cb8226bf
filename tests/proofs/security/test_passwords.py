"""The password policy, in the service and at the command line."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from orchestrator import db
from orchestrator.services.auth import ServiceError
from orchestrator.services.passwords import (
    MIN_PASSWORD,
    check_password,
    common_passwords,
    is_common,
)


@pytest.mark.parametrize("password", [
    "password1234", "1234567890", "qwertyuiop", "azertyuiop123",  # the world's lists
    "amnistie2025", "Montreal2025!", "Montréal-2025", "ecrirecaliberre", "Amnistie Internationale",
    "jetaime2024!!", "motdepasse2025",  # French and campaign words, with digits and symbols added
])
def test_common_and_campaign_passwords_are_refused(password: str) -> None:
    with pytest.raises(ServiceError) as refused:
        check_password(password, username="edith")
    assert "premiers qu'on essaie" in refused.value.fr and "first a guesser tries" in refused.value.en


def test_short_passwords_are_refused_with_the_minimum() -> None:
    with pytest.raises(ServiceError, match=f"au moins {MIN_PASSWORD} caractères"):
        check_password("C0urt!x9", username="edith")


def test_the_username_is_not_a_password() -> None:
    with pytest.raises(ServiceError):
        check_password("edith-secret-99", username="edith@amnistie.ca")


def test_guessable_patterns_are_refused() -> None:
    with pytest.raises(ServiceError, match="trop facile à deviner"):
        check_password("abcabcabcabc1", username="edith")


def test_huge_passwords_are_refused_before_hashing() -> None:
    with pytest.raises(ServiceError, match="dépasser"):
        check_password("a-long-one " * 100)


@pytest.mark.parametrize("password", ["correct-horse-battery", "vert-pomme-nuage-tigre", "motdepasse-solide",
                                      "Tr0ub4dor&3x-plus"])
def test_good_passwords_pass(password: str) -> None:
    check_password(password, username="edith")


def test_the_list_is_big_and_offline() -> None:
    assert len(common_passwords()) > 10_000
    assert is_common("PASSWORD") and is_common("  sunshine123 ")
    assert not is_common("vert-pomme-nuage-tigre")


def test_add_user_and_set_password_apply_the_policy(engine: sa.Engine) -> None:
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.users import add_user, list_users, set_password

    with pytest.raises(ServiceError), db.session_scope(engine) as s:
        add_user(s, actor=SYSTEM, username="marie", password="amnistie2025", role="editor")
    with db.session_scope(engine) as s:
        assert [u.username for u in list_users(s)] == []  # nothing half-saved
        add_user(s, actor=SYSTEM, username="marie", password="vert-pomme-nuage-tigre", role="editor")
    with pytest.raises(ServiceError), db.session_scope(engine) as s:
        set_password(s, actor=SYSTEM, username="marie", password="montreal123456")


def test_cli_passwd_refuses_then_accepts(env: dict[str, str], engine: sa.Engine) -> None:
    from orchestrator.cli import app

    runner = CliRunner()
    added = runner.invoke(app, ["user", "add", "marie", "--role", "editor", "--password-stdin"],
                          input="vert-pomme-nuage-tigre\n")
    assert added.exit_code == 0, added.output
    refused = runner.invoke(app, ["user", "passwd", "marie", "--password-stdin"], input="liberte2025!\n")
    assert refused.exit_code != 0 and "premiers qu'on essaie" in refused.output
    assert "liberte2025" not in refused.output  # the password is never echoed back
    changed = runner.invoke(app, ["user", "passwd", "marie", "--password-stdin"], input="tigre-nuage-pomme-vert\n")
    assert changed.exit_code == 0, changed.output
    alias = runner.invoke(app, ["user", "password", "marie", "--password-stdin"], input="nuage-tigre-vert-pomme\n")
    assert alias.exit_code == 0, alias.output
    unlocked = runner.invoke(app, ["user", "unlock", "marie"])
    assert unlocked.exit_code == 0 and "aucun blocage" in unlocked.output
