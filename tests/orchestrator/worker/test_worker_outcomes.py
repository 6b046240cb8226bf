"""What the worker does with each doubtful outcome, through the real clients and the emulators:
safe retries where the platform deduplicates, reconciling where it does not, and a person when
nobody can tell."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import select

from channels.base import AccountConfig, PublishRequest
from channels.registry import channel_class
from orchestrator import db, states
from orchestrator.models import Account, Attempt, AuditEntry, Delivery, RateBucket
from orchestrator.services import accounts, status
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import CREDS, add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule

X_POST = r"^/2/tweets$"
X_TIMELINE = r"^/2/users/\d+/tweets$"


def make_worker(engine: sa.Engine, name: str = "test-worker", **overrides) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})
    return Worker(engine, settings=settings, worker_id=name)


def outcomes(engine: sa.Engine, delivery_id: int) -> list[str]:
    with db.session_scope(engine) as session:
        return [a.outcome for a in session.exec(select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.id))]


def make_due(engine: sa.Engine, delivery_id: int) -> None:
    with db.session_scope(engine) as session:
        session.get(Delivery, delivery_id).due_at = utcnow()


def test_an_ambiguous_bluesky_post_is_retried_with_its_fixed_key_and_posted_once(engine, sandbox) -> None:
    account = add_account(engine, "bluesky", name="bluesky-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("timeout_after_write", platform="bluesky", method="POST", path="createRecord", delay=0.2)
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    row = delivery(engine, delivery_id)
    assert (row.state, row.attempts, row.last_error_kind) == (states.RETRYING, 1, "ambiguous")
    assert outcomes(engine, delivery_id)[-1] == "ambiguous_safe_retry"  # no timeline look needed
    make_due(engine, delivery_id)
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert len(sandbox.sandbox.posts("bluesky")) == 1


def test_an_ambiguous_mastodon_post_is_retried_with_its_idempotency_key_and_posted_once(engine, sandbox) -> None:
    account = add_account(engine, "mastodon", name="mastodon-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("timeout_after_write", platform="mastodon", method="POST", path=r"^/api/v1/statuses$", delay=0.2)
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.RETRYING
    make_due(engine, delivery_id)
    worker.dispatch(wait=True)
    row = delivery(engine, delivery_id)
    assert row.state == states.PUBLISHED
    posts = sandbox.sandbox.posts("mastodon")
    assert len(posts) == 1 and row.platform_id == str(posts[0]["id"])


def test_a_mastodon_retry_after_the_idempotency_window_looks_before_posting(engine, sandbox) -> None:
    account = add_account(engine, "mastodon", name="mastodon-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("timeout_after_write", platform="mastodon", method="POST", path=r"^/api/v1/statuses$", delay=0.2)
    worker = make_worker(engine)
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.RETRYING
    with db.session_scope(engine) as session:  # the retry was delayed past Mastodon's hour
        for attempt in session.exec(select(Attempt).where(Attempt.delivery_id == delivery_id)):
            attempt.at = attempt.at - dt.timedelta(hours=2)
            session.add(attempt)
        session.get(Delivery, delivery_id).due_at = utcnow()
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    assert sandbox.sandbox.calls("mastodon", r"^/api/v1/statuses$") == 1  # not sent again blindly
    make_due(engine, delivery_id)
    worker.reconcile()
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert len(sandbox.sandbox.posts("mastodon")) == 1


def test_an_x_doubt_is_looked_at_only_after_the_reconcile_delay(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("error_after_write", platform="x", method="POST", path=X_POST, status=503)
    worker = make_worker(engine, reconcile_delay_seconds=25)
    worker.dispatch(wait=True)
    row = delivery(engine, delivery_id)
    assert row.state == states.UNCONFIRMED
    assert 20 < (row.due_at - utcnow()).total_seconds() <= 25  # X's timeline may lag the write
    assert worker.reconcile() == 0
    assert worker.reconcile(now=utcnow() + dt.timedelta(seconds=30)) == 1
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert len(sandbox.sandbox.posts("x")) == 1


def test_a_doubt_nobody_can_settle_is_left_for_a_person_with_the_reason(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("error_after_write", platform="x", method="POST", path=X_POST, status=503)
    sandbox.add_fault("error", platform="x", method="GET", path=X_TIMELINE, status=500, count=100)
    worker = make_worker(engine, reconcile_delay_seconds=0, reconcile_interval_seconds=60, reconcile_max_tries=3)
    worker.dispatch(wait=True)
    now = utcnow()
    for look in range(3):
        assert worker.reconcile(now=now + dt.timedelta(minutes=2 * look)) == 1
    row = delivery(engine, delivery_id)
    assert (row.state, row.last_error_kind) == (states.UNCONFIRMED, "undecidable")
    assert "vérifiez sur le compte" in row.last_error and "500" in row.last_error
    assert worker.reconcile(now=now + dt.timedelta(days=1)) == 0  # no more looks: a person decides
    with db.session_scope(engine) as session:
        looks = session.exec(select(AuditEntry).where(AuditEntry.action == "reconcile_undecidable")).all()
        data = status.summary(session)
    assert len(looks) == 3
    assert any("vérification à la main" in p for p in status.health_problems(data))
    assert len(sandbox.sandbox.posts("x")) == 1


def test_a_refused_token_while_reconciling_holds_the_account_until_tested(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    doubtful = schedule(engine, approved_post(engine, text="Un"), account)
    later = schedule(engine, approved_post(engine, text="Deux"), account, at=utcnow() + dt.timedelta(hours=1))
    sandbox.add_fault("error_after_write", platform="x", method="POST", path=X_POST, status=503)
    worker = make_worker(engine, reconcile_delay_seconds=0)
    worker.dispatch(wait=True)
    sandbox.sandbox.revoked.add(CREDS["x"]["bearer_token"])
    worker.reconcile()
    assert delivery(engine, doubtful).state == states.UNCONFIRMED
    assert delivery(engine, later).state == states.HELD
    with db.session_scope(engine) as session:
        assert session.exec(select(Account)).one().healthy is False
    assert worker.reconcile() == 0  # not while the account is refused
    sandbox.sandbox.revoked.clear()
    with db.session_scope(engine) as session:
        assert accounts.test_account(session, actor=SYSTEM, name=account)[0]
    assert worker.reconcile() == 1
    assert delivery(engine, doubtful).state == states.PUBLISHED
    assert delivery(engine, later).state == states.SCHEDULED
    assert len(sandbox.sandbox.posts("x")) == 1


def test_a_rate_limit_while_reconciling_waits_for_the_reset(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    sandbox.add_fault("error_after_write", platform="x", method="POST", path=X_POST, status=503)
    sandbox.add_fault("rate_limit", platform="x", method="GET", path=X_TIMELINE)
    worker = make_worker(engine, reconcile_delay_seconds=0)
    worker.dispatch(wait=True)
    worker.reconcile()
    row = delivery(engine, delivery_id)
    assert row.state == states.UNCONFIRMED and row.due_at > utcnow() + dt.timedelta(minutes=1)
    with db.session_scope(engine) as session:
        read = session.exec(select(RateBucket).where(RateBucket.endpoint == "read")).one()
        assert read.blocked_until is not None and read.blocked_until > utcnow()
    assert worker.reconcile(now=row.due_at + dt.timedelta(seconds=1)) == 1
    assert delivery(engine, delivery_id).state == states.PUBLISHED


def test_a_duplicate_refusal_after_an_earlier_try_is_found_not_failed(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    row = delivery(engine, delivery_id)
    # an earlier try went out but its answer was lost (and, here, nobody looked)
    channel = channel_class("x")(AccountConfig("x", "x", CREDS["x"], base_url=sandbox.url), timeout=2)
    channel.publish(PublishRequest(key="earlier", text=row.rendered_text, link=row.rendered_link))
    with db.session_scope(engine) as session:
        session.get(Delivery, delivery_id).attempts = 1
    worker = make_worker(engine, reconcile_delay_seconds=0)
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    assert outcomes(engine, delivery_id)[-1] == "refused_as_duplicate"
    worker.reconcile()
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert len(sandbox.sandbox.posts("x")) == 1


def test_a_runner_never_publishes_what_was_swept_from_it(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    worker = make_worker(engine)
    items = worker.claim()
    items[0].lease_until = utcnow()  # the runner stalled past its lease ...
    make_worker(engine, name="other").sweep(now=utcnow() + dt.timedelta(hours=1))  # ... and was swept
    assert worker.publisher.publish_batch(items) is False
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    assert sandbox.sandbox.posts("x") == []


def test_a_lease_shorter_than_a_call_is_refused(engine) -> None:
    import pytest

    with pytest.raises(ValueError, match="bail"):
        make_worker(engine, lease_seconds=5, request_timeout=5)
