"""An account whose credentials the key in force cannot decrypt: nothing of it is claimed, it is
marked unhealthy with the reason, its queue is held, and ``worker --once`` fails."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Account, Attempt
from orchestrator.services import accounts
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule


def _foreign_credentials(engine: sa.Engine, name: str) -> None:
    """The account's credentials as another key wrote them (a restored backup, a lost key)."""
    stranger = Fernet(Fernet.generate_key()).encrypt(b'{"bearer_token": "sandbox-x-token"}').decode()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE account SET credentials = :t WHERE name = :n"), {"t": stranger, "n": name})


def make_worker(engine: sa.Engine) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    return Worker(engine, settings=settings, worker_id="test-worker")


def test_an_undecryptable_account_is_held_and_nothing_of_it_is_claimed(engine, sandbox) -> None:
    bad = add_account(engine, "x", name="x-bad", base_url=sandbox.url)
    good = add_account(engine, "mastodon", name="masto-ok", base_url=sandbox.url)
    held = [schedule(engine, approved_post(engine, text=f"Écrivez pour Juan {n} #W4R"), bad) for n in range(3)]
    sent = schedule(engine, approved_post(engine, text="Pour Mastodon #W4R"), good)
    _foreign_credentials(engine, bad)

    worker = make_worker(engine)
    worker.run_once()

    assert sandbox.sandbox.calls("x") == 0  # nothing was even tried
    assert delivery(engine, sent).state == states.PUBLISHED  # the other accounts go on
    assert all(delivery(engine, i).state == states.HELD for i in held)
    with db.read_scope(engine) as session:
        account = session.exec(select(Account).where(Account.name == bad)).one()
        assert not account.healthy and account.last_error == accounts.UNREADABLE_FR
        for delivery_id in held:
            moves = [a.to_state for a in session.exec(select(Attempt).where(Attempt.delivery_id == delivery_id))]
            assert states.PUBLISHING not in moves and states.UNCONFIRMED not in moves
    assert list(worker.key_problems) == [bad]

    # The right credentials entered again (no old secret needed), a successful test releases the queue.
    with db.session_scope(engine) as session:
        accounts.set_credentials(session, actor=SYSTEM, name=bad, credentials={"bearer_token": "sandbox-x-token"})
        ok, _ = accounts.test_account(session, actor=SYSTEM, name=bad)
        assert ok
    make_worker(engine).run_once()
    assert all(delivery(engine, i).state == states.PUBLISHED for i in held)


def test_a_key_change_while_running_is_caught_at_claim_time(engine, sandbox) -> None:
    bad = add_account(engine, "x", name="x-bad", base_url=sandbox.url)
    worker = make_worker(engine)
    worker.check_credentials()  # readable at start
    delivery_id = schedule(engine, approved_post(engine), bad)
    _foreign_credentials(engine, bad)
    assert worker.claim() == []
    assert delivery(engine, delivery_id).state == states.HELD
    assert sandbox.sandbox.calls("x") == 0


def test_worker_once_exits_non_zero_and_says_why(engine, sandbox, env) -> None:
    bad = add_account(engine, "x", name="x-bad", base_url=sandbox.url)
    schedule(engine, approved_post(engine), bad)
    _foreign_credentials(engine, bad)
    for _ in range(2):  # the second run finds the account already unhealthy: still a failure
        result = subprocess.run([sys.executable, "-m", "orchestrator", "worker", "--once"], env={**os.environ, **env},
                                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        assert result.returncode == 1, result.stderr
        assert "x-bad" in result.stderr and "illisibles" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.sandbox.calls("x") == 0
