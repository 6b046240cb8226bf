"""The dashboard's side of the security baseline, through Streamlit's AppTest: the sign-in form
slows down and locks, idle sessions expire, signing out forgets everything.

Time is moved by ageing what was recorded (the throttling rows in the database, the session's
last activity), which is what the code compares with the clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from orchestrator.models import AuditEntry, LoginThrottle
from orchestrator.services import login_guard
from orchestrator.settings import get_settings
from tests.dashboard.conftest import APP, PASSWORD, app, bare_engine, campaign, db_url, people  # noqa: F401
from tests.dashboard.helpers import texts


def submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, [e.value for e in at.exception]
    return at


def age(engine: sa.Engine, minutes: float) -> None:  # noqa: F811
    """As if ``minutes`` had passed since every recorded failure."""
    delta = dt.timedelta(minutes=minutes)
    with Session(engine) as s:
        for row in s.exec(select(LoginThrottle)):
            row.first_failure_at = row.first_failure_at and row.first_failure_at - delta
            row.last_failure_at = row.last_failure_at and row.last_failure_at - delta
            row.not_before = row.not_before and row.not_before - delta
            s.add(row)
        s.commit()


def test_the_form_slows_down_after_five_failures(people, campaign) -> None:  # noqa: F811
    at = AppTest.from_file(APP, default_timeout=60).run()
    for _ in range(4):
        submit(at, "edith", "pas-le-bon-mot")
        assert "incorrect" in texts(at)
    submit(at, "edith", "pas-le-bon-mot")
    assert "Trop d'essais : réessayez dans 2 secondes." in texts(at)
    submit(at, "edith", PASSWORD)  # too early: not even checked
    assert "actor" not in at.session_state
    assert "Trop d'essais" in texts(at)


def test_a_lock_is_explained_in_minutes_then_lifts(people, campaign, bare_engine) -> None:  # noqa: F811
    with Session(bare_engine) as s:  # nine failures already counted for edith, none waiting
        s.add(LoginThrottle(key=login_guard.user_key("edith"), scope="user", failures=9,
                            first_failure_at=dt.datetime.now(dt.UTC), last_failure_at=dt.datetime.now(dt.UTC)))
        s.commit()
    at = AppTest.from_file(APP, default_timeout=60).run()
    submit(at, "edith", "pas-le-bon-mot")
    assert "Trop d'essais : réessayez dans 15 minutes." in texts(at)
    submit(at, "edith", PASSWORD)
    assert "actor" not in at.session_state  # the right password too, while locked
    with Session(bare_engine) as s:
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "login_locked")).first() is not None
    age(bare_engine, 16)
    submit(at, "edith", PASSWORD)
    assert at.session_state["actor"] == {"username": "edith", "role": "editor"}


def test_the_message_follows_the_language(people, campaign, bare_engine) -> None:  # noqa: F811
    with Session(bare_engine) as s:
        s.add(LoginThrottle(key=login_guard.user_key("edith"), scope="user", failures=10, locked=True,
                            last_failure_at=dt.datetime.now(dt.UTC),
                            not_before=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=12)))
        s.commit()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    submit(at, "edith", PASSWORD)
    assert "Too many attempts: try again in 12 minutes." in texts(at)


def test_an_idle_session_expires_and_forgets_everything_but_the_language(app) -> None:  # noqa: F811
    at = app("edith", lang="en")
    at.session_state["compose_text"] = "brouillon confidentiel"
    at.session_state["last_active"] = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61)
    at.run()
    assert "actor" not in at.session_state and "compose_text" not in at.session_state
    assert at.session_state["lang"] == "en"
    assert "Session expired: please sign in again." in texts(at)


def test_the_idle_time_is_a_setting_and_activity_resets_it(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("PORTEVOIX_SESSION_IDLE_MINUTES", "5")
    get_settings.cache_clear()
    at = app("edith")
    at.session_state["last_active"] = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    at.run()  # a click four minutes later: still signed in, and the clock starts again
    assert at.session_state["actor"]["username"] == "edith"
    assert dt.datetime.now(dt.UTC) - at.session_state["last_active"] < dt.timedelta(minutes=1)
    at.session_state["last_active"] = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)
    at.run()
    assert "actor" not in at.session_state
    assert "Session expirée, reconnectez-vous." in texts(at)
    get_settings.cache_clear()


def test_signing_out_clears_what_the_session_held(app) -> None:  # noqa: F811
    at = app("edith", "queue")
    at.session_state["compose_text"] = "brouillon confidentiel"
    at.session_state["campaign_id"] = 1
    at.button(key="logout").click().run()
    assert not at.exception
    for key in ("actor", "compose_text", "campaign_id", "queue_pick", "flash"):
        assert key not in at.session_state, key
    assert at.session_state["lang"] == "fr"
    assert "Se connecter" in [b.label for b in at.button]


def _signed_in(username: str = "edith") -> AppTest:
    """A browser session signed in through the form, as a person does."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    submit(at, username, PASSWORD)
    assert at.session_state["actor"]["username"] == username
    return at


def test_a_password_reset_by_an_admin_ends_the_open_sessions(people, campaign, bare_engine) -> None:  # noqa: F811
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.users import set_password

    at, other_tab = _signed_in(), _signed_in()
    with Session(bare_engine) as s:
        set_password(s, actor=SYSTEM, username="edith", password="un-tout-nouveau-secret-2026")
        s.commit()
    for browser in (at, other_tab):
        browser.run()
        assert "actor" not in browser.session_state
        assert "Session terminée" in texts(browser)
    fresh = submit(AppTest.from_file(APP, default_timeout=60).run(), "edith", "un-tout-nouveau-secret-2026")
    assert fresh.session_state["actor"]["username"] == "edith"  # the new password works


def test_a_session_does_not_outlive_a_disable_and_enable_it_slept_through(people, campaign, bare_engine) -> None:  # noqa: F811
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.users import set_disabled

    at = _signed_in()
    with Session(bare_engine) as s:
        set_disabled(s, actor=SYSTEM, username="edith", disabled=True)
        set_disabled(s, actor=SYSTEM, username="edith", disabled=False)
        s.commit()
    at.run()
    assert "actor" not in at.session_state


def test_system_cannot_be_a_staff_account(people, bare_engine) -> None:  # noqa: F811
    from orchestrator.services.auth import SYSTEM, ServiceError
    from orchestrator.services.users import add_user

    for name in ("system", " System ", "?"):
        with Session(bare_engine) as s, pytest.raises(ServiceError, match="réservé"):
            add_user(s, actor=SYSTEM, username=name, password="un-mot-de-passe-long-2026", role="admin")
