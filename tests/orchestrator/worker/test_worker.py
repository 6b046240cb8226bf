"""The worker's promises, through the real X client against the emulator."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Account, Attempt, Case, Delivery, RateBucket
from orchestrator.services import accounts, deliveries
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import CREDS, add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule

POST = r"^/2/tweets$"


def make_worker(engine: sa.Engine, **overrides) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})
    return Worker(engine, settings=settings, worker_id="test-worker")


def test_it_publishes_what_is_due_and_nothing_early(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    due = schedule(engine, approved_post(engine, text="Maintenant #W4R"), account)
    later = schedule(engine, approved_post(engine, text="Plus tard #W4R"), account, at=utcnow() + dt.timedelta(hours=1))
    make_worker(engine).run_once()
    assert delivery(engine, due).state == states.PUBLISHED
    assert delivery(engine, later).state == states.SCHEDULED
    assert [p["text"].split("\n")[0] for p in sandbox.sandbox.posts("x")] == ["Maintenant #W4R"]


def test_an_unapproved_post_is_never_published(engine, sandbox) -> None:
    from orchestrator.services import posts

    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    with db.session_scope(engine) as session:
        post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text="Pas encore approuvée", submit=True)
    delivery_id = schedule(engine, post.id, account)
    make_worker(engine).run_once()
    assert delivery(engine, delivery_id).state == states.SCHEDULED
    assert sandbox.sandbox.posts("x") == []


def test_a_cancelled_delivery_never_goes_out(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    with db.session_scope(engine) as session:
        deliveries.cancel(session, actor=SYSTEM, delivery_id=delivery_id)
    make_worker(engine).run_once()
    assert delivery(engine, delivery_id).state == states.CANCELLED
    assert sandbox.sandbox.posts("x") == []


def test_pausing_a_case_holds_its_queue_and_resuming_releases_it(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    on_time = schedule(engine, approved_post(engine, text="À l'heure"), account)
    too_late = schedule(engine, approved_post(engine, text="Trop tard"), account, at=utcnow() - dt.timedelta(hours=5))
    other_case = schedule(engine, approved_post(engine, text="Autre cas", case="sonia-dahmani"), account)
    with db.session_scope(engine) as session:
        case = session.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        case.status = "paused"
        assert deliveries.hold_case(session, case=case, actor=SYSTEM, reason="nouvelles du terrain") == 2
    make_worker(engine).run_once()
    assert delivery(engine, on_time).state == states.HELD
    assert delivery(engine, other_case).state == states.PUBLISHED
    with db.session_scope(engine) as session:
        case = session.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        case.status = "active"
        assert deliveries.release_case(session, case=case, actor=SYSTEM) == 1
    make_worker(engine).run_once()
    assert delivery(engine, on_time).state == states.PUBLISHED
    late = delivery(engine, too_late)
    assert late.state == states.HELD and "person" in late.held_reason  # waits for a person
    assert len(sandbox.sandbox.posts("x")) == 2


def test_it_backs_off_on_429_without_charging_an_attempt(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("rate_limit", platform="x", method="POST", path=POST)
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    row = delivery(engine, delivery_id)
    assert row.state == states.SCHEDULED
    assert row.attempts == 0
    assert row.due_at > utcnow()  # waits for the platform's reset
    with db.session_scope(engine) as session:
        bucket = session.exec(select(RateBucket).where(RateBucket.endpoint == "publish")).one()
        assert bucket.blocked_until is not None and bucket.blocked_until > utcnow()
    assert sandbox.sandbox.posts("x") == []


def test_it_retries_a_transient_failure_with_backoff_then_fails(engine) -> None:
    # Nothing listens on this port: the connection is refused before anything is sent.
    account = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    delivery_id = schedule(engine, approved_post(engine), account)
    worker = make_worker(engine, max_attempts=3, backoff_base=0.0)
    for expected in (1, 2):
        worker.dispatch(wait=True)
        row = delivery(engine, delivery_id)
        assert (row.state, row.attempts, row.last_error_kind) == (states.RETRYING, expected, "transient")
    worker.dispatch(wait=True)
    row = delivery(engine, delivery_id)
    assert row.state == states.FAILED and row.attempts == 3 and row.last_error


def test_write_then_5xx_is_unconfirmed_then_reconciled_without_duplicate(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("error_after_write", platform="x", method="POST", path=POST, status=503)
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    with db.session_scope(engine) as session:
        session.get(Delivery, delivery_id).due_at = utcnow()
    worker.reconcile()
    row = delivery(engine, delivery_id)
    assert row.state == states.PUBLISHED
    posts = sandbox.sandbox.posts("x")
    assert len(posts) == 1 and row.platform_id == posts[0]["id"]


def test_a_5xx_before_the_write_is_proved_absent_and_published_once(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("error", platform="x", method="POST", path=POST, status=503)
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    with db.session_scope(engine) as session:
        session.get(Delivery, delivery_id).due_at = utcnow()
    worker.reconcile()
    assert delivery(engine, delivery_id).state == states.RETRYING
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert len(sandbox.sandbox.posts("x")) == 1


def test_a_revoked_token_fails_and_holds_the_account_queue_until_tested(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    first = schedule(engine, approved_post(engine, text="Un"), account)
    second = schedule(engine, approved_post(engine, text="Deux"), account)  # same batch as the first
    later = schedule(engine, approved_post(engine, text="Trois"), account, at=utcnow() + dt.timedelta(hours=1))
    sandbox.sandbox.revoked.add(CREDS["x"]["bearer_token"])
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    assert delivery(engine, first).state == states.FAILED
    assert delivery(engine, first).last_error_kind == "auth"
    assert delivery(engine, second).state == states.HELD
    assert delivery(engine, later).state == states.HELD
    with db.session_scope(engine) as session:
        assert session.exec(select(Account)).one().healthy is False
        ok, _ = accounts.test_account(session, actor=SYSTEM, name=account)
        assert not ok
    sandbox.sandbox.revoked.clear()
    with db.session_scope(engine) as session:
        ok, handle = accounts.test_account(session, actor=SYSTEM, name=account)
        assert ok and handle
    assert delivery(engine, second).state == states.SCHEDULED
    assert delivery(engine, later).state == states.SCHEDULED
    make_worker(engine).run_once()
    assert delivery(engine, second).state == states.PUBLISHED
    assert delivery(engine, later).state == states.SCHEDULED  # still waits for its time


def test_an_expired_lease_becomes_unconfirmed_never_a_blind_retry(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    worker = make_worker(engine)
    claimed = worker.claim()  # the worker "dies" here, before publishing
    assert [c.delivery_id for c in claimed] == [delivery_id]
    assert worker.sweep(now=utcnow() + dt.timedelta(hours=1)) == 1
    row = delivery(engine, delivery_id)
    assert row.state == states.UNCONFIRMED
    assert make_worker(engine).claim() == []  # not claimable as is
    with db.session_scope(engine) as session:
        outcomes = [a.outcome for a in session.exec(select(Attempt).order_by(Attempt.id))]
    assert outcomes == ["claimed", "lease_expired"]


def test_metrics_are_polled_on_a_decaying_cadence_and_stop_after_the_horizon(engine, sandbox) -> None:
    worker = make_worker(engine)
    published = utcnow()
    first = worker.next_poll(published, published)
    assert first == published + dt.timedelta(seconds=worker.settings.metrics_first_poll_seconds)
    early = worker.next_poll(published, published + dt.timedelta(minutes=10)) - (published + dt.timedelta(minutes=10))
    late = worker.next_poll(published, published + dt.timedelta(days=3)) - (published + dt.timedelta(days=3))
    assert early < late
    assert worker.next_poll(published, published + dt.timedelta(days=worker.settings.metrics_horizon_days + 1)) is None


def test_a_metrics_failure_never_touches_publishing(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("error", platform="x", method="GET", path=r"^/2/tweets$", status=500, count=5)
    make_worker(engine).run_once()
    row = delivery(engine, delivery_id)
    assert row.state == states.PUBLISHED
    assert row.metrics_at is None and row.next_metrics_at is not None
