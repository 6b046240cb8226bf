"""Sign-in throttling in the service: per username and per browser session, shared through the
database (SQLite and PostgreSQL), with a clock given to each call."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from orchestrator import db
from orchestrator.models import AuditEntry, LoginThrottle
from orchestrator.services import login_guard
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied
from orchestrator.settings import Settings

GOOD = "un-mot-de-passe-long"
T0 = dt.datetime(2025, 12, 6, 15, 0, tzinfo=dt.UTC)
POLICY = Settings(login_window_minutes=15, login_slowdown_after=5, login_delay_seconds=2, login_lock_after=10,
                  login_lock_minutes=15)
#: The same rules, locking at the third failure: each checked attempt costs an Argon2 hash.
QUICK = POLICY.model_copy(update={"login_slowdown_after": 2, "login_lock_after": 3})


@pytest.fixture
def people(engine: sa.Engine) -> sa.Engine:
    from orchestrator.services.users import add_user

    with db.session_scope(engine) as s:
        add_user(s, actor=SYSTEM, username="edith", password=GOOD, role="editor")
        add_user(s, actor=SYSTEM, username="ada", password=GOOD, role="admin")
    return engine


def attempt(engine: sa.Engine, password: str, at: dt.datetime, *, user: str = "edith",
            browser: str = "browser-1", policy: Settings = POLICY) -> login_guard.SignIn:
    with db.session_scope(engine) as s:
        return login_guard.sign_in(s, username=user, password=password, session_id=browser, now=at,
                                   settings=policy)


def actions(engine: sa.Engine, action: str) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_right_password_signs_in_and_is_audited(people: sa.Engine) -> None:
    result = attempt(people, GOOD, T0)
    assert result.actor == Actor("edith", "editor") and not result.throttled
    assert [e.target_id for e in actions(people, "login")] == ["edith"]


def test_failures_slow_down_then_lock(people: sa.Engine) -> None:
    at = T0
    for _ in range(4):  # four failures: no waiting yet
        assert not attempt(people, "pas-le-bon", at).throttled
        at += dt.timedelta(seconds=1)
    fifth = attempt(people, "pas-le-bon", at)
    assert fifth.wait_seconds == 2 and not fifth.locked
    # Too early: refused without even checking the password, the right one included.
    assert attempt(people, GOOD, at + dt.timedelta(seconds=1)).actor is None
    waits = []
    for _ in range(4):  # failures 6 to 9: the wait doubles each time
        at += dt.timedelta(seconds=waits[-1] if waits else 2)
        waits.append(attempt(people, "pas-le-bon", at).wait_seconds)
    assert waits == [4, 8, 16, 32]
    at += dt.timedelta(seconds=32)
    tenth = attempt(people, "pas-le-bon", at)
    assert tenth.locked and tenth.wait_seconds == 15 * 60
    assert attempt(people, GOOD, at + dt.timedelta(minutes=14)).locked  # still locked, even with the password
    assert attempt(people, GOOD, at + dt.timedelta(minutes=15, seconds=1)).actor is not None
    assert len(actions(people, "login_failed")) == 10  # only the checked attempts
    locks = actions(people, "login_locked")
    assert {(e.target_type, e.target_id) for e in locks} >= {("user", "edith")}


def test_the_lock_follows_the_username_across_browsers(people: sa.Engine) -> None:
    for i in range(3):
        attempt(people, "pas-le-bon", T0 + dt.timedelta(minutes=i), browser=f"browser-{i}", policy=QUICK)
    assert attempt(people, GOOD, T0 + dt.timedelta(minutes=3), browser="fresh", policy=QUICK).locked
    # Another person is not affected from another browser.
    assert attempt(people, GOOD, T0 + dt.timedelta(minutes=3), user="ada", browser="fresh-2",
                   policy=QUICK).actor is not None


def test_one_browser_trying_many_usernames_is_locked(people: sa.Engine) -> None:
    for i in range(3):
        attempt(people, "pas-le-bon", T0 + dt.timedelta(minutes=i), user=f"nom-{i}", policy=QUICK)
    result = attempt(people, GOOD, T0 + dt.timedelta(minutes=3), user="ada", policy=QUICK)
    assert result.locked and result.actor is None
    assert attempt(people, GOOD, T0 + dt.timedelta(minutes=3), user="ada", browser="other",
                   policy=QUICK).actor is not None
    assert any(e.target_type == "session" for e in actions(people, "login_locked"))


def test_quiet_time_forgets_failures(people: sa.Engine) -> None:
    for i in range(4):
        attempt(people, "pas-le-bon", T0 + dt.timedelta(seconds=i))
    later = T0 + dt.timedelta(minutes=16)
    assert not attempt(people, "pas-le-bon", later).throttled  # counts as the first again
    with Session(people) as s:
        assert login_guard.lock_state(s, username="edith", now=later) == (1, 0)


def test_a_success_clears_the_counters(people: sa.Engine) -> None:
    for i in range(4):
        attempt(people, "pas-le-bon", T0 + dt.timedelta(seconds=i))
    assert attempt(people, GOOD, T0 + dt.timedelta(seconds=5)).actor is not None
    with Session(people) as s:
        assert s.exec(select(LoginThrottle)).all() == []


def test_what_was_typed_is_never_stored(people: sa.Engine) -> None:
    attempt(people, "mon-secret-tape", T0, user="mon-autre-secret")
    with people.connect() as conn:
        dump = " ".join(repr(tuple(r)) for t in ("login_throttle", "audit_entry")
                        for r in conn.execute(sa.text(f"SELECT * FROM {t}")))
    assert "mon-secret-tape" not in dump and "mon-autre-secret" not in dump


def test_an_admin_lifts_a_lock_and_a_viewer_cannot(people: sa.Engine) -> None:
    for i in range(3):
        attempt(people, "pas-le-bon", T0 + dt.timedelta(seconds=i * 40), browser=f"b{i}", policy=QUICK)
    with db.session_scope(people) as s, pytest.raises(PermissionDenied):
        login_guard.unlock(s, actor=Actor("victor", "viewer"), username="edith")
    with db.session_scope(people) as s:
        assert login_guard.unlock(s, actor=SYSTEM, username="edith")
    assert attempt(people, GOOD, T0 + dt.timedelta(minutes=7), browser="b-new").actor is not None
    assert actions(people, "user_unlock")


def test_old_counters_are_purged(people: sa.Engine) -> None:
    for i in range(3):
        attempt(people, "x", T0, user=f"inconnu-{i}", browser=f"b{i}")
    attempt(people, "x", T0 + dt.timedelta(hours=1), user="encore", browser="b-last")
    with Session(people) as s:
        assert len(s.exec(select(LoginThrottle)).all()) == 2  # only the last attempt's two counters
