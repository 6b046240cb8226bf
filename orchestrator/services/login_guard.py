"""Signing in with a password, slowed down and then locked after repeated failures.

Two counters are kept for each attempt: one for the username typed, one for the browser session
(a random id the dashboard keeps in ``st.session_state``). The username counter stops guessing one
person's password from many browsers; the session counter stops one browser trying many
usernames. From ``login_slowdown_after`` failures in the window, each next try must wait a
doubling delay; at ``login_lock_after`` the counter locks for ``login_lock_minutes``. While a
counter waits or is locked, the password is not even checked, so guessing gains nothing.

The counters live in the database so that every dashboard process shares them. Rows are keyed by
a SHA-256 of the scope and the name, never by what was typed; no password is ever stored.

People who sign in through the organisation's identity provider (OIDC) are not counted here: the
provider has its own throttling and lockout, and Porte-voix never sees their password.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from orchestrator.models import LoginThrottle, User
from orchestrator.services import users
from orchestrator.services.auth import Actor, audit, require
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow


@dataclasses.dataclass(frozen=True)
class SignIn:
    """The outcome of one attempt: the person, or how long to wait (``locked`` for a lock)."""

    actor: Actor | None
    wait_seconds: int = 0
    locked: bool = False

    @property
    def throttled(self) -> bool:
        return self.wait_seconds > 0


def user_key(username: str) -> str:
    return hashlib.sha256(f"user:{username.strip().lower()}".encode()).hexdigest()


def session_key(session_id: str) -> str:
    return hashlib.sha256(f"session:{session_id}".encode()).hexdigest()


def _rows(session: Session, keys: dict[str, str]) -> list[LoginThrottle]:
    """The counters for these keys, created if missing and locked for this transaction, so that
    two processes checking the same username take turns (SQLite: BEGIN IMMEDIATE already
    serialises every writer; PostgreSQL: the row lock)."""
    values = [{"key": k, "scope": scope, "failures": 0, "locked": False} for k, scope in keys.items()]
    table = LoginThrottle.__table__  # type: ignore[attr-defined]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(table).values(values).on_conflict_do_nothing(index_elements=["key"]))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=["key"]))
    query = select(LoginThrottle).where(col(LoginThrottle.key).in_(list(keys))).with_for_update()
    return list(session.exec(query.execution_options(populate_existing=True)))


def _forget_stale(row: LoginThrottle, now: dt.datetime, settings: Settings) -> None:
    """A counter whose last failure is older than the window, and no longer waits, starts over."""
    window = dt.timedelta(minutes=settings.login_window_minutes)
    waiting = row.not_before is not None and row.not_before > now
    if row.last_failure_at is not None and row.last_failure_at < now - window and not waiting:
        row.failures, row.first_failure_at, row.not_before, row.locked = 0, None, None, False


def _count_failure(row: LoginThrottle, now: dt.datetime, settings: Settings) -> bool:
    """One more failure; True when it starts a lock."""
    row.failures += 1
    row.first_failure_at = row.first_failure_at or now
    row.last_failure_at = now
    if row.failures >= settings.login_lock_after:
        row.not_before = now + dt.timedelta(minutes=settings.login_lock_minutes)
        starts = not row.locked
        row.locked = True
        return starts
    if row.failures >= settings.login_slowdown_after:
        delay = settings.login_delay_seconds * 2 ** (row.failures - settings.login_slowdown_after)
        row.not_before = now + dt.timedelta(seconds=delay)
    return False


def _wait(rows: list[LoginThrottle], now: dt.datetime) -> tuple[int, bool]:
    waiting = [r for r in rows if r.not_before is not None and r.not_before > now]
    if not waiting:
        return 0, False
    until = max(r.not_before for r in waiting if r.not_before is not None)
    return max(1, math.ceil((until - now).total_seconds())), any(r.locked for r in waiting)


def sign_in(
    session: Session, *, username: str, password: str, session_id: str, now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> SignIn:
    """Check a password unless this username or this browser session must wait; count the failure
    or clear the counters on success. Successes, failures and the start of a lock are audited."""
    settings = settings or get_settings()
    now = now or utcnow()
    name = username.strip().lower()
    keys = {user_key(name): "user", session_key(session_id): "session"}
    rows = _rows(session, keys)
    for row in rows:
        _forget_stale(row, now, settings)
    wait, locked = _wait(rows, now)
    if wait:
        return SignIn(None, wait, locked)
    actor = users.authenticate(session, username=name, password=password)
    if actor is not None:
        session.execute(delete(LoginThrottle).where(col(LoginThrottle.key).in_(list(keys))))
        return SignIn(actor)
    known = session.exec(select(User.id).where(User.username == name)).first() is not None
    for row in rows:
        if _count_failure(row, now, settings):
            # An unknown name is not written down: it may be a password typed in the wrong box.
            target = (name[:64] if known else "?") if row.scope == "user" else row.key[:12]
            audit(session, actor=Actor("?", "viewer"), action="login_locked", target_type=row.scope,
                  target_id=target, failures=row.failures, minutes=settings.login_lock_minutes)
        session.add(row)
    _purge(session, now, settings)
    wait, locked = _wait(rows, now)
    return SignIn(None, wait, locked)


def _purge(session: Session, now: dt.datetime, settings: Settings) -> None:
    """Counters nobody has failed on for a while, and that no longer wait, go."""
    horizon = now - dt.timedelta(minutes=max(settings.login_window_minutes, settings.login_lock_minutes))
    session.execute(
        delete(LoginThrottle)
        .where(col(LoginThrottle.last_failure_at) < horizon)
        .where(sa.or_(col(LoginThrottle.not_before).is_(None), col(LoginThrottle.not_before) < now))
    )


def unlock(session: Session, *, actor: Actor, username: str) -> bool:
    """An admin lifts a person's lock at once (someone else's guessing locked them out)."""
    require(actor, "admin", "débloquer une personne", "unlock a user")
    user = users.get_user(session, username=username)
    result = session.execute(delete(LoginThrottle).where(col(LoginThrottle.key) == user_key(user.username)))
    audit(session, actor=actor, action="user_unlock", target_type="user", target_id=user.username)
    return bool(getattr(result, "rowcount", 0))


def lock_state(session: Session, *, username: str, now: dt.datetime | None = None) -> tuple[int, int]:
    """(failures counted, seconds still to wait) for a username: for the CLI and the tests."""
    now = now or utcnow()
    row = session.get(LoginThrottle, user_key(username))
    if row is None:
        return 0, 0
    wait, _ = _wait([row], now)
    return row.failures, wait
