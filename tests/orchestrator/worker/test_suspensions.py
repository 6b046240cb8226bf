"""A suspension of publishing (the organisation, one edition, one account) holds what it covers
at the claim, whatever is scheduled; lifting it settles what came due (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from orchestrator import db, states
from orchestrator.models import Campaign
from orchestrator.services import suspensions
from orchestrator.services.auth import Actor
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from orchestrator.worker.claimer import Claimer
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule

ADMIN = Actor("alice", "admin")


def claimer(engine: sa.Engine) -> Claimer:
    return Claimer(engine, get_settings(), "test-claimer")


def suspend(engine: sa.Engine, **scope: str) -> int:
    with db.session_scope(engine) as session:
        return suspensions.suspend(session, actor=ADMIN, reason="Crise : on se tait", **scope).id  # type: ignore[return-value]


def lift(engine: sa.Engine, suspension_id: int, choice: str, spacing: int = 10) -> int:
    with db.session_scope(engine) as session:
        return suspensions.lift(session, actor=ADMIN, suspension_id=suspension_id, choice=choice,
                                spacing_minutes=spacing)[1]


def test_an_organisation_suspension_claims_nothing_and_holds_what_is_due(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    due = schedule(engine, approved_post(engine), account)
    later = schedule(engine, approved_post(engine, text="Plus tard"), account, at=utcnow() + dt.timedelta(hours=1))
    number = suspend(engine)
    assert claimer(engine).claim() == []
    held = delivery(engine, due)
    assert held.state == states.HELD
    assert states.HeldReason.parse(held.held_reason).suspension_id == number
    assert delivery(engine, later).state == states.SCHEDULED  # not due yet: untouched
    # an hour on, still suspended: the later one is held too, whatever was scheduled
    assert claimer(engine).claim(utcnow() + dt.timedelta(hours=2)) == []
    assert delivery(engine, later).state == states.HELD


def test_an_edition_suspension_holds_that_edition_only(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    due = schedule(engine, approved_post(engine), account)
    with db.session_scope(engine) as session:
        session.add(Campaign(slug="autre-edition", name={"fr": "Autre", "en": "Other"}))
    other = suspend(engine, campaign="autre-edition")
    assert [c.delivery_id for c in claimer(engine).claim()] == [due]  # another edition's stop: goes out
    with db.session_scope(engine) as session:
        suspensions.lift(session, actor=ADMIN, suspension_id=other, choice="publish")
    due2 = schedule(engine, approved_post(engine, text="Deuxième"), account)
    suspend(engine, campaign="ecrire-2025")
    assert claimer(engine).claim() == []
    assert delivery(engine, due2).state == states.HELD


def test_an_account_suspension_holds_that_account_only(engine) -> None:
    stopped = add_account(engine, "x", name="x-stopped")
    running = add_account(engine, "mastodon", name="m-running")
    post = approved_post(engine)
    held = schedule(engine, post, stopped)
    goes = schedule(engine, post, running)
    suspend(engine, account="x-stopped")
    assert [c.delivery_id for c in claimer(engine).claim()] == [goes]
    assert delivery(engine, held).state == states.HELD


def test_lifting_publish_now_releases_and_the_worker_sends(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    old = schedule(engine, approved_post(engine, text="Prévue il y a longtemps"), account,
                   at=utcnow() - dt.timedelta(hours=6))
    number = suspend(engine)
    worker = Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 2.0}), worker_id="w")
    worker.run_once()
    assert delivery(engine, old).state == states.HELD and sandbox.sandbox.posts("x") == []
    with db.session_scope(engine) as session:
        assert [d.id for d in suspensions.overdue(session, suspension_id=number)] == [old]
    assert lift(engine, number, "publish") == 1  # late as it is: a person chose to send it
    worker.run_once()
    assert delivery(engine, old).state == states.PUBLISHED
    assert len(sandbox.sandbox.posts("x")) == 1


def test_lifting_reschedule_spreads_from_now_per_account(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    ids = [schedule(engine, approved_post(engine, text=f"Message {i}"), account, at=utcnow() - dt.timedelta(minutes=5 - i))
           for i in range(3)]
    number = suspend(engine)
    claimer(engine).claim()
    assert all(delivery(engine, i).state == states.HELD for i in ids)
    before = utcnow()
    assert lift(engine, number, "reschedule", spacing=15) == 3
    rows = [delivery(engine, i) for i in ids]
    assert all(r.state == states.SCHEDULED and r.held_reason == "" for r in rows)
    gaps = [(r.due_at - before).total_seconds() / 60 for r in rows]
    assert 0 <= gaps[0] < 1 and 15 <= gaps[1] < 16 and 30 <= gaps[2] < 31
    assert [c.delivery_id for c in claimer(engine).claim()] == [ids[0]]  # the others wait their turn


def test_lifting_cancel_cancels_what_it_held_only(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    held = schedule(engine, approved_post(engine), account)
    later = schedule(engine, approved_post(engine, text="Demain"), account, at=utcnow() + dt.timedelta(days=1))
    number = suspend(engine)
    claimer(engine).claim()
    assert lift(engine, number, "cancel") == 1
    assert delivery(engine, held).state == states.CANCELLED
    assert delivery(engine, later).state == states.SCHEDULED
    with db.session_scope(engine) as session:
        assert suspensions.in_force(session) == []


def test_another_suspension_still_in_force_holds_again(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    due = schedule(engine, approved_post(engine), account)
    everything = suspend(engine)
    by_account = suspend(engine, account="x-test")
    claimer(engine).claim()
    assert states.HeldReason.parse(delivery(engine, due).held_reason).suspension_id == everything
    lift(engine, everything, "publish")
    assert claimer(engine).claim() == []
    assert states.HeldReason.parse(delivery(engine, due).held_reason).suspension_id == by_account


def test_a_claim_racing_a_suspension_being_set_waits_for_it_and_claims_nothing(engine) -> None:
    """PostgreSQL: a claim that starts while a suspension is being written (not yet committed)
    waits for it and then sees it: after ``suspend`` returns, nothing it covers is claimed.
    (SQLite has one writer at a time: the claim's BEGIN IMMEDIATE waits the same way.)"""
    import threading
    import time

    account = add_account(engine, "x", name="x-test")
    due = schedule(engine, approved_post(engine), account)
    written, release = threading.Event(), threading.Event()

    def slow_suspend() -> None:
        with db.session_scope(engine) as session:
            suspensions.suspend(session, actor=ADMIN, reason="Crise")
            session.flush()
            written.set()
            release.wait(10)

    writer = threading.Thread(target=slow_suspend)
    writer.start()
    try:
        assert written.wait(10)
        result: list = []
        claim = threading.Thread(target=lambda: result.extend(claimer(engine).claim()))
        claim.start()
        time.sleep(0.5)
        assert claim.is_alive()  # waiting for the suspension's transaction
        release.set()
        claim.join(20)
        assert not claim.is_alive() and result == []
    finally:
        release.set()
        writer.join(20)
    assert delivery(engine, due).state == states.HELD
