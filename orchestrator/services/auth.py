"""Who is acting, and what each role may do."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from orchestrator.errors import ServiceError
from orchestrator.models import AuditEntry
from orchestrator.timeutil import utcnow

ROLES = ("viewer", "editor", "approver", "admin")
ROLE_LABELS = {
    "viewer": {"fr": "Lecture seule", "en": "Viewer"},
    "editor": {"fr": "Rédaction", "en": "Editor"},
    "approver": {"fr": "Approbation", "en": "Approver"},
    "admin": {"fr": "Administration", "en": "Admin"},
}


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


@dataclasses.dataclass(frozen=True)
class Actor:
    username: str
    role: str
    #: The machine's operator (the worker, the demo, someone at the server's command line), not a
    #: person signed in to the dashboard: trusted with everything, four eyes included.
    operator: bool = False

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


#: The worker and the demo: the machine acting on its own.
SYSTEM = Actor("system", "admin", operator=True)


def command_line_operator() -> Actor:
    """Whoever runs a command at the server's shell, named in the audit log by their system
    account (``cli:alice``). The shell and the key are full trust: see docs/security.md."""
    import getpass
    import os

    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor in the password database
        name = f"uid{os.getuid()}"
    return Actor(f"cli:{name}"[:64], "admin", operator=True)


def require(actor: Actor, role: str, what_fr: str, what_en: str) -> None:
    if actor.role not in ROLES or not actor.can(role):
        raise PermissionDenied(
            f"{actor.username} ({ROLE_LABELS.get(actor.role, {}).get('fr', actor.role)}) n'a pas le droit de {what_fr} : "
            f"il faut le rôle « {ROLE_LABELS[role]['fr']} ».",
            f"{actor.username} ({actor.role}) may not {what_en}: the {role} role is needed.",
        )


def audit(
    session: Session, *, actor: Actor, action: str, target_type: str, target_id: object = "", **detail: Any
) -> None:
    session.add(AuditEntry(**_audit_row(actor, action, target_type, target_id, detail)))


def _audit_row(actor: Actor, action: str, target_type: str, target_id: object, detail: dict[str, Any]) -> dict[str, Any]:
    return {"at": utcnow(), "actor": actor.username, "action": action, "target_type": target_type,
            "target_id": str(target_id), "detail": detail}


def audit_many(session: Session, entries: list[tuple[Actor, str, str, object, dict[str, Any]]]) -> None:
    """``audit`` for many entries (actor, action, target type, target id, detail) in one statement,
    written now rather than at the next flush (the API's writer records a batch of requests)."""
    if entries:
        table: Any = AuditEntry.__table__  # type: ignore[attr-defined]
        session.execute(sa.insert(table), [_audit_row(*entry) for entry in entries])
