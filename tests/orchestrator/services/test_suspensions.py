"""Suspending publishing: admins only (refusals in French and English), a reason required, every
suspension and lifting audited, one suspension in force per scope."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import AuditEntry, Suspension
from orchestrator.services import suspensions
from orchestrator.services.auth import Actor, NotFound, PermissionDenied, ServiceError
from tests.factories import add_account

ADMIN = Actor("alice", "admin")


@pytest.mark.parametrize("role", ["viewer", "editor", "approver"])
def test_only_an_admin_may_suspend_or_lift(engine, role: str) -> None:
    someone = Actor("bob", role)
    with db.session_scope(engine) as session:
        with pytest.raises(PermissionDenied) as refused:
            suspensions.suspend(session, actor=someone, reason="Crise")
        assert "n'a pas le droit de suspendre les publications" in refused.value.fr
        assert "may not suspend publishing" in refused.value.en
    with db.session_scope(engine) as session:
        number = suspensions.suspend(session, actor=ADMIN, reason="Crise").id
    with db.session_scope(engine) as session:
        with pytest.raises(PermissionDenied) as refused:
            suspensions.lift(session, actor=someone, suspension_id=number, choice="publish")
        assert "lever une suspension" in refused.value.fr and "lift a suspension" in refused.value.en
    with db.session_scope(engine) as session:
        assert [s.id for s in suspensions.in_force(session)] == [number]


def test_a_reason_is_required(engine) -> None:
    with db.session_scope(engine) as session:
        for blank in ("", "   \n"):
            with pytest.raises(ServiceError) as refused:
                suspensions.suspend(session, actor=ADMIN, reason=blank)
            assert "raison" in refused.value.fr and "reason" in refused.value.en
        assert session.exec(select(Suspension)).all() == []


def test_suspending_and_lifting_are_audited(engine) -> None:
    add_account(engine, "x", name="x-fr")
    with db.session_scope(engine) as session:
        whole = suspensions.suspend(session, actor=ADMIN, reason="  Transfert de Juan  ")
        one = suspensions.suspend(session, actor=ADMIN, reason="Compte compromis", account="x-fr")
        edition = suspensions.suspend(session, actor=ADMIN, reason="Édition en pause", campaign="ecrire-2025")
    with db.session_scope(engine) as session:
        stopped = {s.id: s for s in suspensions.in_force(session)}
        assert stopped[whole.id].reason == "Transfert de Juan" and stopped[whole.id].set_by == "alice"
        assert stopped[one.id].scope == "account" and stopped[one.id].scope_name == "x-fr"
        # the edition by its name, as staff know it, not by its slug
        assert stopped[edition.id].scope_text("fr") == "l'édition « Écrire, ça libère ! 2025 »"
        assert stopped[edition.id].scope_text("en") == "the “Write for Rights 2025” edition"
        suspensions.lift(session, actor=ADMIN, suspension_id=one.id, choice="cancel")
    with db.session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).where(AuditEntry.target_type == "suspension")
                            .order_by(AuditEntry.id)).all()
        assert [(r.action, r.actor, r.target_id) for r in rows] == [
            ("suspend", "alice", str(whole.id)), ("suspend", "alice", str(one.id)),
            ("suspend", "alice", str(edition.id)), ("resume", "alice", str(one.id))]
        assert rows[1].detail["account"] == "x-fr" and rows[3].detail == {
            "choice": "cancel", "settled": 0, "reason": "Compte compromis"}
        lifted = session.get(Suspension, one.id)
        assert lifted.lifted_by == "alice" and lifted.lifted_at is not None and lifted.lift_choice == "cancel"
        assert sorted(s.id for s in suspensions.in_force(session)) == [whole.id, edition.id]


def test_refusals_for_a_bad_scope_a_double_suspension_or_a_second_lift(engine) -> None:
    with db.session_scope(engine) as session:
        with pytest.raises(NotFound):
            suspensions.suspend(session, actor=ADMIN, reason="x", campaign="nulle-part")
        with pytest.raises(ServiceError) as both:
            suspensions.suspend(session, actor=ADMIN, reason="x", campaign="ecrire-2025", account="x-fr")
        assert "pas les deux" in both.value.fr and "not both" in both.value.en
        number = suspensions.suspend(session, actor=ADMIN, reason="x").id
        with pytest.raises(ServiceError) as twice:
            suspensions.suspend(session, actor=ADMIN, reason="y")
        assert "déjà en vigueur" in twice.value.fr and "already in force" in twice.value.en
        with pytest.raises(ServiceError) as unknown:
            suspensions.lift(session, actor=ADMIN, suspension_id=number, choice="ignore")
        assert "Choix inconnu" in unknown.value.fr
        suspensions.lift(session, actor=ADMIN, suspension_id=number, choice="publish")
        with pytest.raises(ServiceError) as again:
            suspensions.lift(session, actor=ADMIN, suspension_id=number, choice="publish")
        assert "déjà levée" in again.value.fr and "already lifted" in again.value.en


def test_a_suspended_delivery_says_why_in_both_languages() -> None:
    from orchestrator import states
    from orchestrator.services.delivery_views import held_reason_text

    stored_reason = str(states.HeldReason.suspended(7, "Crise : silence"))
    parsed = states.HeldReason.parse(stored_reason)
    assert parsed.kind is states.HeldFor.SUSPENDED and parsed.suspension_id == 7
    assert held_reason_text(stored_reason, "fr") == ("La publication est suspendue : Crise : silence. Un admin "
                                                     "décidera à la levée : publier, reprogrammer ou annuler.")
    assert held_reason_text(stored_reason, "en").startswith("Publishing is suspended: Crise : silence. An admin")
    assert states.HeldReason.parse("suspended by mistake").kind is states.HeldFor.OTHER  # not a number: not ours
