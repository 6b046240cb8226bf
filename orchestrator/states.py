"""The delivery state machine: the only place a delivery's state changes.

::

             ┌──── held (case paused, account unhealthy, consent) ◄─────────────────┐
             ▼                                                             │
  scheduled ──► publishing ──► published                                   │
      ▲   │         │ ├──► retrying ──► publishing                         │
      │   │         │ ├──► failed                                          │
      │   │         │ └──► unconfirmed ──► published | retrying | failed   │
      │   └─────────┴──────────────────────────────────────────────────────┘
      ├── cancelled (staff, from any state before published)
      ├── failed (its post cannot be built, e.g. an image file gone: nothing was sent)
      └── published (a platform's answer that came after the lease ran out and the
          delivery went back to the queue: the truth is recorded, it is not sent again)

(``scheduled`` stands for ``retrying`` too in the last three lines.) What each platform result
leads to is the table of :mod:`orchestrator.outcomes`.

``published`` stays final when staff retract a post (:mod:`orchestrator.services.retractions`):
the delivery did go out, its figures, attribution and counts are kept, and ``retracted_at``
records that the post was removed from the platform since (shown "Retirée" / "Retracted",
:func:`label`). The deletion is a job of its own, with its own moves
(``retractions.JOB_TRANSITIONS``).

Every transition goes through :func:`transition`, which refuses one not in the diagram and writes
an :class:`~orchestrator.models.Attempt` row.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import logging
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from orchestrator import db
from orchestrator.errors import ServiceError
from orchestrator.models import Attempt, Delivery
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.delivery")

SCHEDULED = "scheduled"
HELD = "held"
PUBLISHING = "publishing"
PUBLISHED = "published"
RETRYING = "retrying"
FAILED = "failed"
UNCONFIRMED = "unconfirmed"
CANCELLED = "cancelled"

STATES = (SCHEDULED, HELD, PUBLISHING, PUBLISHED, RETRYING, FAILED, UNCONFIRMED, CANCELLED)
#: States a worker may claim from.
CLAIMABLE = (SCHEDULED, RETRYING)
#: States that will not change without a person.
FINAL = (PUBLISHED, CANCELLED)

TRANSITIONS: dict[str, frozenset[str]] = {
    # a post that cannot be built fails unsent; a late answer is recorded as it is (see above)
    SCHEDULED: frozenset({PUBLISHING, HELD, CANCELLED, FAILED, PUBLISHED}),
    RETRYING: frozenset({PUBLISHING, HELD, CANCELLED, FAILED, PUBLISHED}),
    HELD: frozenset({SCHEDULED, RETRYING, CANCELLED}),
    PUBLISHING: frozenset({PUBLISHED, RETRYING, FAILED, UNCONFIRMED, SCHEDULED, HELD}),
    # reconcile: found -> published; proved absent -> retrying; a person may give up -> failed
    UNCONFIRMED: frozenset({PUBLISHED, RETRYING, FAILED, CANCELLED}),
    # a person retries a failure
    FAILED: frozenset({RETRYING, SCHEDULED, CANCELLED}),
    PUBLISHED: frozenset(),
    CANCELLED: frozenset(),
}

LABELS: dict[str, dict[str, str]] = {
    SCHEDULED: {"fr": "Programmée", "en": "Scheduled"},
    HELD: {"fr": "Retenue", "en": "Held"},
    PUBLISHING: {"fr": "En cours d'envoi", "en": "Publishing"},
    PUBLISHED: {"fr": "Publiée", "en": "Published"},
    RETRYING: {"fr": "Nouvel essai prévu", "en": "Retrying"},
    FAILED: {"fr": "Échec", "en": "Failed"},
    UNCONFIRMED: {"fr": "Non confirmée", "en": "Unconfirmed"},
    CANCELLED: {"fr": "Annulée", "en": "Cancelled"},
}


#: A published delivery whose post was removed by a retraction (``retracted_at`` set).
RETRACTED_LABEL: dict[str, str] = {"fr": "Retirée", "en": "Retracted"}


def label(state: str, language: str = "fr", *, retracted: bool = False) -> str:
    """A delivery's state in words; a retracted publication says so."""
    if retracted and state == PUBLISHED:
        return RETRACTED_LABEL[language]
    return LABELS.get(state, {}).get(language, state)


class HeldFor(enum.Enum):
    """Why a delivery is held."""

    #: its case is paused, has good news or is closed (detail: the case's status, then an optional
    #: note after ": ")
    CASE = "case"
    #: its account is unhealthy (detail: the account's last error)
    ACCOUNT = "account"
    #: its time passed while it was held: a person decides
    LATE = "late"
    #: a suspension of publishing is in force (detail: the suspension's number, then its reason
    #: after ": ")
    SUSPENDED = "suspended"
    #: its post breaks a consent withdrawn on a case (detail: the flag, then the case's slug after
    #: ": "; see services/consent.py)
    CONSENT = "consent"
    #: anything else (a reason stored by an older version)
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class HeldReason:
    """A held reason as a value. It is stored in ``delivery.held_reason`` as the text earlier
    versions wrote (``case paused: note``, ``account unhealthy: error``, ``late: waiting for a
    person``), so rows written before and after read the same; :meth:`parse` reads it back."""

    kind: HeldFor
    detail: str = ""

    @classmethod
    def case(cls, status: str, note: str = "") -> HeldReason:
        return cls(HeldFor.CASE, f"{status}: {note}" if note else status)

    @classmethod
    def account(cls, error: str) -> HeldReason:
        return cls(HeldFor.ACCOUNT, error)

    @classmethod
    def late(cls) -> HeldReason:
        return cls(HeldFor.LATE)

    @classmethod
    def suspended(cls, suspension_id: int, reason: str = "") -> HeldReason:
        return cls(HeldFor.SUSPENDED, f"{suspension_id}: {reason}" if reason else str(suspension_id))

    @classmethod
    def consent(cls, flag: str, case_slug: str) -> HeldReason:
        return cls(HeldFor.CONSENT, f"{flag}: {case_slug}")

    @property
    def suspension_id(self) -> int | None:
        """The number of the suspension that holds the delivery (``SUSPENDED`` only)."""
        if self.kind is not HeldFor.SUSPENDED:
            return None
        head = self.detail.partition(":")[0].strip()
        return int(head) if head.isdigit() else None

    def __str__(self) -> str:
        if self.kind is HeldFor.CASE:
            return f"case {self.detail}"
        if self.kind is HeldFor.ACCOUNT:
            return f"account unhealthy: {self.detail}"
        if self.kind is HeldFor.LATE:
            return "late: waiting for a person"
        if self.kind is HeldFor.SUSPENDED:
            return f"suspended {self.detail}"
        if self.kind is HeldFor.CONSENT:
            return f"consent {self.detail}"
        return self.detail

    @classmethod
    def parse(cls, stored: str) -> HeldReason:
        head, colon, rest = stored.partition(":")
        if head.startswith("case "):
            return cls(HeldFor.CASE, stored[len("case "):])
        if head == "account unhealthy":
            return cls(HeldFor.ACCOUNT, rest.strip())
        if head == "late" and colon:
            return cls(HeldFor.LATE)
        if head.startswith("suspended ") and head[len("suspended "):].strip().isdigit():
            return cls(HeldFor.SUSPENDED, stored[len("suspended "):])
        if head.startswith("consent ") and colon:
            return cls(HeldFor.CONSENT, stored[len("consent "):])
        return cls(HeldFor.OTHER, stored)


class InvalidTransition(ServiceError):
    """A move the diagram does not allow, such as a person retrying a delivery that went out
    meanwhile: a refusal shown in the reader's language, like any other."""

    def __init__(self, delivery_id: int | None, current: str, target: str) -> None:
        super().__init__(
            f"La livraison {delivery_id} ne peut pas passer de « {LABELS[current]['fr']} » à "
            f"« {LABELS[target]['fr']} ».",
            f"Delivery {delivery_id} cannot go from “{LABELS[current]['en']}” to “{LABELS[target]['en']}”.",
        )
        self.current = current
        self.target = target


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def requeue_state(attempts: int) -> str:
    """Where a delivery goes back to the queue: ``retrying`` once a try was charged to it."""
    return RETRYING if attempts else SCHEDULED


def transition(
    session: Session,
    delivery: Delivery,
    target: str,
    *,
    actor: str,
    outcome: str = "",
    detail: str = "",
    duration_ms: int | None = None,
    **changes: Any,
) -> Attempt:
    """Move ``delivery`` to ``target``, apply ``changes`` to it, and record the attempt row."""
    current = delivery.state
    if not can_transition(current, target):
        raise InvalidTransition(delivery.id, current, target)
    now = utcnow()
    delivery.state = target
    for name, value in changes.items():
        setattr(delivery, name, value)
    delivery.updated_at = now
    session.add(delivery)
    assert delivery.id is not None
    attempt = Attempt(
        delivery_id=delivery.id,
        at=now,
        actor=actor,
        from_state=current,
        to_state=target,
        outcome=outcome,
        detail=detail[:2000],
        duration_ms=duration_ms,
    )
    session.add(attempt)
    if target in _TOLD:
        from orchestrator.services.notify import emit_safely

        emit_safely(session, _TOLD[target], [_told(delivery.id, delivery.post_id, delivery.account_id,
                                                   changes.get("last_error") or detail)])
    log.info(
        "delivery %s: %s -> %s",
        delivery.id,
        current,
        target,
        extra={"event": "transition", "delivery_id": delivery.id, "from": current, "to": target,
               "outcome": outcome, "actor": actor},
    )
    return attempt


def transition_many(
    session: Session,
    rows: list[tuple[int, str, dict[str, Any]]],
    target: str,
    *,
    actor: str,
    outcome: str = "",
    **common: Any,
) -> None:
    """Many transitions to one ``target`` at once, for the worker's hot path (claiming a batch,
    recording a batch of publications): ``rows`` are (delivery id, current state, its own
    changes). Each is checked against the diagram exactly like :func:`transition`, then all are
    written with one UPDATE and one INSERT of attempt rows. Objects of these deliveries already
    in ``session`` are not refreshed: load them again to read the new values."""
    if not rows:
        return
    for delivery_id, current, _ in rows:
        if not can_transition(current, target):
            raise InvalidTransition(delivery_id, current, target)
    now = utcnow()
    durations = {delivery_id: changes.pop("duration_ms", None) for delivery_id, _, changes in rows}
    # Statements built once per set of columns; the per-row statements go to the driver's
    # executemany with values converted once per distinct value (SQLAlchemy's own executemany
    # converts every parameter of every row again, which cost more than the write itself).
    session.flush()  # pending ORM changes first, as the ORM's own bulk path would
    connection = session.connection()
    if all(not changes for _, _, changes in rows):  # a claim: the same values for all, one UPDATE
        values = {"state": target, "updated_at": now, **common}
        connection.execute(_update_by_ids(tuple(sorted(values))), {**values, "_ids": [r[0] for r in rows]})
    else:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for delivery_id, _, changes in rows:
            values = {"state": target, "updated_at": now, **common, **changes}
            groups.setdefault(tuple(sorted(values)), []).append({"_id": delivery_id, **values})
        for names, params in groups.items():
            db.write_many(connection, _update_each(names), params)
    db.write_many(
        connection,
        _INSERT_ATTEMPT,
        [{"delivery_id": delivery_id, "at": now, "actor": actor, "from_state": current, "to_state": target,
          "outcome": outcome, "detail": "", "duration_ms": durations[delivery_id]} for delivery_id, current, _ in rows],
    )
    if target in _TOLD and target != PUBLISHING:
        from orchestrator.services.notify import emit_safely

        table = Delivery.__table__  # type: ignore[attr-defined]
        post_ids = {int(i): int(p) for i, p in connection.execute(
            sa.select(table.c.id, table.c.post_id).where(table.c.id.in_([r[0] for r in rows])))
        } if target != PUBLISHED or _hooks_wanted(session) else {}
        if post_ids:
            emit_safely(session, _TOLD[target], [_told(i, post_ids.get(i), None, "") for i, _, _ in rows])
    if log.isEnabledFor(logging.INFO):  # one record for the batch, one line per transition
        log.info(
            "%d deliveries -> %s",
            len(rows),
            target,
            extra={"event": "transition", "event_message": "delivery {delivery_id}: {from} -> {to}",
                   "event_common": {"to": target, "outcome": outcome, "actor": actor},
                   "events": [{"delivery_id": delivery_id, "from": current} for delivery_id, current, _ in rows]},
        )


#: The transitions people (or integrations) are told of, and the event they are told as. An
#: unconfirmed delivery is told of when the reconciler leaves it for a person, not when the doubt
#: arises (most are settled by the reconciler within a minute).
_TOLD = {FAILED: "delivery_failed", PUBLISHED: "published"}


def _told(delivery_id: int | None, post_id: int | None, account_id: int | None, error: str) -> dict[str, Any]:
    return {"delivery_id": delivery_id, "post_id": post_id, "account_id": account_id, "error": (error or "")[:500]}


def _hooks_wanted(session: Session) -> bool:
    """Is any integration told of publications? (the hot path writes nothing when none is)"""
    from orchestrator.services.notify import _hook_addresses

    return bool(_hook_addresses(session, "published"))


_ATTEMPT_COLUMNS = ("delivery_id", "at", "actor", "from_state", "to_state", "outcome", "detail", "duration_ms")
_INSERT_ATTEMPT = sa.insert(Attempt.__table__).values(  # type: ignore[attr-defined]
    {name: sa.bindparam(name) for name in _ATTEMPT_COLUMNS})


@functools.lru_cache(maxsize=64)
def _update_by_ids(names: tuple[str, ...]) -> Any:
    """UPDATE delivery SET <names> WHERE id IN (:_ids): one row of values for many deliveries."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    return (table.update().where(table.c.id.in_(sa.bindparam("_ids", expanding=True)))
            .values({n: sa.bindparam(n) for n in names}))


@functools.lru_cache(maxsize=64)
def _update_each(names: tuple[str, ...]) -> Any:
    """UPDATE delivery SET <names> WHERE id = :_id, for an executemany (its own values per row)."""
    table = Delivery.__table__  # type: ignore[attr-defined]
    return table.update().where(table.c.id == sa.bindparam("_id")).values({n: sa.bindparam(n) for n in names})
