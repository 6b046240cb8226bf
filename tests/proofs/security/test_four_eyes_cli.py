"""Four eyes at the command line (issue 16): ``post add`` and ``post approve`` name who acted (the
staff member given with ``--by``, checked, or else the system account that ran the command), never
an anonymous "system" that both writes and approves."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from orchestrator import db
from orchestrator.models import AuditEntry, Post
from orchestrator.services import posts, users
from orchestrator.services.auth import SYSTEM, Actor, ServiceError
from tests.orchestrator.cli.helpers import cli

TEXT = "Écrivez pour Juan López. #ÉcrireÇaLibère"


@pytest.fixture
def staff(env: dict[str, str]) -> dict[str, str]:
    cli(env, "init")
    with db.session_scope(db.get_engine()) as s:
        for name, role in (("alice", "editor"), ("bruno", "approver"), ("carla", "approver"),
                           ("dora", "approver"), ("victor", "viewer"), ("zoe", "approver")):
            users.add_user(s, actor=SYSTEM, username=name, password=None, role=role)
        users.set_disabled(s, actor=SYSTEM, username="zoe", disabled=True)
    return {**env, "LOGNAME": "opal", "USER": "opal"}


def _post(post_id: str) -> Post:
    with Session(db.get_engine()) as s:
        found = s.get(Post, int(post_id))
        assert found is not None
        return found


def _log(action: str) -> list[AuditEntry]:
    with Session(db.get_engine()) as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_without_by_the_log_names_the_system_account_that_wrote_and_approved(staff) -> None:
    post_id = cli(staff, "post", "add", "--case", "juan-lopez", "--text", TEXT).stdout.strip()
    assert _post(post_id).author == "cli:opal"
    cli(staff, "post", "approve", post_id)
    post = _post(post_id)
    assert post.approved_by == "cli:opal" and post.approved_fingerprint
    (created,), (approved,) = _log("create"), _log("approve")
    assert created.actor == approved.actor == "cli:opal"
    assert approved.detail["four_eyes"] == "operator"  # the bypass is written down, not hidden


def test_approve_by_records_the_staff_member_and_checks_four_eyes_for_them(staff) -> None:
    post_id = cli(staff, "post", "add", "--case", "juan-lopez", "--text", TEXT, "--by", "bruno").stdout.strip()
    assert _post(post_id).author == "bruno"
    with db.session_scope(db.get_engine()) as s:
        posts.edit_post(s, actor=Actor("carla", "approver"), post_id=int(post_id), text=TEXT + " Maintenant.")
    for who, why in (("bruno", "avez écrite"), ("carla", "modifié le texte"), ("personne", "pas une personne active"),
                     ("zoe", "pas une personne active"), ("victor", "n'a pas le droit"), ("alice", "n'a pas le droit")):
        refused = cli(staff, "post", "approve", post_id, "--by", who, check=False)
        assert refused.returncode == 1 and why in refused.stderr, (who, refused.stderr)
    assert _post(post_id).status == posts.PENDING
    done = cli(staff, "post", "approve", post_id, "--by", "Dora")
    assert "dora" in done.stdout
    assert _post(post_id).approved_by == "dora"
    (approved,), (proxy,) = _log("approve"), _log("approve_as")
    assert approved.actor == "dora" and "four_eyes" not in approved.detail
    assert proxy.actor == "cli:opal" and proxy.detail == {"approver": "dora"}


def test_post_add_by_needs_an_active_editor(staff) -> None:
    refused = cli(staff, "post", "add", "--case", "juan-lopez", "--text", TEXT, "--by", "victor", check=False)
    assert refused.returncode == 1 and "n'a pas le droit" in refused.stderr
    with Session(db.get_engine()) as s:
        assert s.exec(select(Post)).all() == []


def test_a_staff_account_cannot_take_a_command_line_name(staff) -> None:
    with pytest.raises(ServiceError, match="réservé"), db.session_scope(db.get_engine()) as s:
        users.add_user(s, actor=SYSTEM, username="cli:opal", password=None, role="approver")
