"""Pausing and resuming a case: one switch holds everything queued for it at once.

A case is paused when its situation changes (good news, a family's request, a risk to the person):
nothing more may go out about it until someone says so, with a reason the team can read later.
"""

from __future__ import annotations

from sqlmodel import Session

from orchestrator.models import Case
from orchestrator.services import deliveries
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.services.campaigns import get_case
from orchestrator.services.case_edit import record_note
from orchestrator.timeutil import utcnow

#: Statuses that stop publication; "active" lets it go on.
STOPPED = ("paused", "good_news", "closed")
STATUS_LABELS = {
    "active": {"fr": "Active", "en": "Active"},
    "paused": {"fr": "En pause", "en": "Paused"},
    "good_news": {"fr": "Bonne nouvelle", "en": "Good news"},
    "closed": {"fr": "Fermée", "en": "Closed"},
}


def pause_case(session: Session, *, actor: Actor, case_slug: str, reason: str, status: str = "paused") -> tuple[Case, int]:
    """Stop a case and hold its queued deliveries; returns the case and how many were held.

    Editors may pause: whoever notices a reason to stop must be able to stop at once."""
    require(actor, "editor", "mettre un cas en pause", "pause a case")
    if status not in STOPPED:
        raise ServiceError(f"Statut d'arrêt inconnu « {status} ».", f"Unknown stop status '{status}'.")
    if not reason.strip():
        raise ServiceError("Indiquez la raison de la pause : l'équipe la lira.",
                           "Give the reason for the pause: the team will read it.")
    case = get_case(session, slug=case_slug)
    previous = case.status
    case.status = status
    case.status_note = reason.strip()
    case.status_changed_at = utcnow()
    case.updated_at = utcnow()
    session.add(case)
    held = deliveries.hold_case(session, case=case, actor=actor, reason=reason.strip())
    record_note(session, case=case, from_status=previous, actor=actor)  # the dated history
    audit(session, actor=actor, action="case_pause", target_type="case", target_id=case.slug,
          status=status, reason=reason.strip(), held=held)
    return case, held


def resume_case(session: Session, *, actor: Actor, case_slug: str, note: str = "", send_late: bool = False) -> tuple[Case, int]:
    """Let a case's posts go out again. Deliveries whose time passed long ago stay held for a
    person unless ``send_late``. Resuming takes an approver: it restarts public messages."""
    require(actor, "approver", "reprendre un cas", "resume a case")
    case = get_case(session, slug=case_slug)
    if case.status == "active":
        raise ServiceError("Ce cas n'est pas en pause.", "This case is not paused.")
    previous = case.status
    case.status = "active"
    case.status_note = note.strip()
    case.status_changed_at = utcnow()
    case.updated_at = utcnow()
    session.add(case)
    released = deliveries.release_case(session, case=case, actor=actor, force=send_late)
    record_note(session, case=case, from_status=previous, actor=actor)
    audit(session, actor=actor, action="case_resume", target_type="case", target_id=case.slug,
          previous=previous, released=released, note=note.strip())
    return case, released
