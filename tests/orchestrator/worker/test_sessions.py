"""A Bluesky account's session is created once and reused for every post of a burst: a client
that saved a refreshed session stays current, so the next post of the same batch does not build
a new client that logs in again (createSession is limited to 30 per 5 minutes per handle)."""

from __future__ import annotations

from orchestrator import logs, states
from orchestrator.timeutil import utcnow
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule
from tests.orchestrator.worker.test_worker import make_worker


def test_a_burst_on_one_bluesky_account_logs_in_once(engine, sandbox) -> None:
    account = add_account(engine, "bluesky", name="bluesky-rafale", base_url=sandbox.url)
    ids = [schedule(engine, approved_post(engine, text=f"Rafale {i}"), account, at=utcnow()) for i in range(6)]
    emulator = sandbox.sandbox.emulator("bluesky")
    before = emulator.sessions_created
    make_worker(engine).run_once()
    assert [delivery(engine, i).state for i in ids] == [states.PUBLISHED] * 6
    assert len(sandbox.sandbox.posts("bluesky")) == 6
    assert emulator.sessions_created - before == 1


def test_the_next_run_reuses_the_stored_session(engine, sandbox) -> None:
    account = add_account(engine, "bluesky", name="bluesky-reprise", base_url=sandbox.url)
    schedule(engine, approved_post(engine, text="Premier"), account, at=utcnow())
    make_worker(engine).run_once()
    emulator = sandbox.sandbox.emulator("bluesky")
    before = emulator.sessions_created
    later = schedule(engine, approved_post(engine, text="Second"), account, at=utcnow())
    make_worker(engine).run_once()  # a new process: its clients start from the stored session
    assert delivery(engine, later).state == states.PUBLISHED
    assert emulator.sessions_created == before


def test_remembered_secrets_are_masked_and_bounded(monkeypatch) -> None:
    monkeypatch.setattr(logs, "_KNOWN", {})
    monkeypatch.setattr(logs, "_KNOWN_MAX", 3)
    monkeypatch.setattr(logs, "_known_stale", False)
    monkeypatch.setattr(logs, "_known_pattern", None)
    assert logs.redact("jeton tok-secret-0001 ici") == "jeton tok-secret-0001 ici"
    logs.remember_secrets([f"tok-secret-000{i}" for i in range(1, 6)])
    assert len(logs._KNOWN) == 3
    assert logs.redact("jeton tok-secret-0005 ici") == "jeton «masqué» ici"
    assert logs.redact("jeton tok-secret-0001 ici") == "jeton tok-secret-0001 ici"  # forgotten: the oldest
    # a short extra field cleaned before a secret is remembered is cleaned again after
    assert logs._redact_value("tok-later-0009") == "tok-later-0009"
    logs.remember_secrets(["tok-later-0009"])
    assert logs._redact_value("tok-later-0009") == "«masqué»"
