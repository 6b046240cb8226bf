"""The table of outcomes: every result a channel can give has a line, duplicates are known by
their class, and no transition is written only to satisfy the diagram."""

from __future__ import annotations

import inspect

import pytest
import sqlalchemy as sa
from sqlmodel import select

import channels.base
from channels.base import ChannelError, DuplicateRefused, PermanentError, Published
from orchestrator import db, outcomes, states
from orchestrator.models import Attempt, Delivery
from orchestrator.outcomes import Facts, ForAccount, Result, When
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule


class Refusing:
    """The platform's side of a channel that answers every post with ``error``."""

    #: The capabilities every channel declares (channels/base.py), at their cautious defaults.
    publish_is_idempotent = retry_is_safe = False
    idempotency_window = None

    def __init__(self, error: Exception) -> None:
        self.error = error

    def publish(self, request: object) -> Published:
        raise self.error

    def take_rate_info(self) -> list:
        return []


def rows(engine: sa.Engine, delivery_id: int) -> list[tuple[str, str, str]]:
    with db.session_scope(engine) as session:
        found = session.exec(select(Attempt).where(Attempt.delivery_id == delivery_id).order_by(Attempt.id))
        return [(a.from_state, a.to_state, a.outcome) for a in found]


def test_every_error_class_of_the_channels_has_its_own_result() -> None:
    # ListeningUnavailable is raised by listening only, HideRefused by the inbox's hide only; were
    # a publish to raise either, it is a refusal a person must look at, like any other permanent one.
    apart = (channels.base.ListeningUnavailable, channels.base.HideRefused)
    classes = [c for _, c in inspect.getmembers(channels.base, inspect.isclass)
               if issubclass(c, ChannelError) and c is not ChannelError and c not in apart]
    results = [Result.of(c("x")) for c in classes]
    assert Result.UNKNOWN not in results and len(set(results)) == len(classes)
    assert Result.of(ValueError("a bug")) is Result.UNKNOWN
    for only_elsewhere in apart:
        assert Result.of(only_elsewhere("x")) is Result.PERMANENT


def test_every_result_has_a_line_for_every_case_and_each_line_follows_the_diagram() -> None:
    assert set(outcomes.OUTCOMES) == set(Result)
    for result, lines in outcomes.OUTCOMES.items():
        assert lines[-1][0] is When.ALWAYS, result  # the last line always holds
        for _, then in lines:
            target = states.PUBLISHING if then.state == outcomes.REQUEUE else then.state
            origin = states.UNCONFIRMED if result in (Result.FOUND, Result.ABSENT) else states.PUBLISHING
            if then.state != outcomes.REQUEUE:
                assert states.can_transition(origin, target), (result, then)


@pytest.mark.parametrize(("result", "facts", "state", "account"), [
    (Result.RATE_LIMITED, Facts(attempts=0), outcomes.REQUEUE, ForAccount.PAUSED),
    (Result.TRANSIENT, Facts(attempts=1, max_attempts=5), states.RETRYING, ForAccount.GOES_ON),
    (Result.TRANSIENT, Facts(attempts=5, max_attempts=5), states.FAILED, ForAccount.GOES_ON),
    (Result.AMBIGUOUS, Facts(attempts=1, safe_retry=True), states.RETRYING, ForAccount.GOES_ON),
    (Result.AMBIGUOUS, Facts(attempts=1), states.UNCONFIRMED, ForAccount.GOES_ON),
    (Result.UNKNOWN, Facts(attempts=1), states.UNCONFIRMED, ForAccount.GOES_ON),
    (Result.AUTH, Facts(attempts=1), states.FAILED, ForAccount.UNHEALTHY),
    (Result.DUPLICATE_REFUSED, Facts(attempts=2, tried_before=True), states.UNCONFIRMED, ForAccount.GOES_ON),
    (Result.DUPLICATE_REFUSED, Facts(attempts=1), states.FAILED, ForAccount.GOES_ON),
    (Result.ABSENT, Facts(attempts=5, max_attempts=5), states.FAILED, ForAccount.GOES_ON),
])
def test_the_table_decides(result: Result, facts: Facts, state: str, account: ForAccount) -> None:
    then = outcomes.decide(result, facts)
    assert (then.state, then.account) == (state, account)
    assert outcomes.target_state(outcomes.decide(Result.RATE_LIMITED, facts), 0) == states.SCHEDULED
    assert outcomes.target_state(outcomes.decide(Result.RATE_LIMITED, facts), 2) == states.RETRYING


@pytest.mark.parametrize(("error", "state"), [
    # a refusal that happens to say "duplicate" is an ordinary refusal ...
    (PermanentError("Refused: duplicate hashtag in the text"), states.FAILED),
    # ... and a duplicate refusal is known by its class, whatever its words
    (DuplicateRefused("Ce texte a déjà été publié"), states.UNCONFIRMED),
])
def test_a_duplicate_refusal_is_known_by_its_class_not_its_words(engine, sandbox, error, state) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    with db.session_scope(engine) as session:
        session.get(Delivery, delivery_id).attempts = 1  # an earlier try may have gone out
    settings = get_settings().model_copy(update={"request_timeout": 2.0})
    worker = Worker(engine, settings=settings, worker_id="w", channel_factory=lambda _account: Refusing(error))
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == state
    worker.stop()


def test_a_late_answer_is_recorded_without_a_publishing_step_that_never_happened(engine, sandbox) -> None:
    from orchestrator.worker.recorder import Success

    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    worker = Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 2.0}), worker_id="w")
    [item] = worker.claim()
    with db.session_scope(engine) as session:  # the lease ran out and the delivery went back to the queue
        row = session.get(Delivery, delivery_id)
        states.transition(session, row, states.UNCONFIRMED, actor="sweeper", worker_id=None, lease_until=None)
        states.transition(session, row, states.RETRYING, actor="reconciler", outcome="reconciled_absent")
    worker.recorder.enqueue(Success(item, Published(platform_id="late-1", url=None), 5, []))
    assert worker.flush(timeout=10)
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert rows(engine, delivery_id)[-1] == (states.RETRYING, states.PUBLISHED, "late_outcome")
    assert (states.RETRYING, states.PUBLISHING, "late_outcome") not in rows(engine, delivery_id)
    worker.stop()


def test_a_post_that_cannot_be_built_fails_unsent_without_a_publishing_step(engine, sandbox) -> None:
    from orchestrator.models import Post

    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    post_id = approved_post(engine)
    delivery_id = schedule(engine, post_id, account)
    with db.session_scope(engine) as session:  # its image file went away after approval
        post = session.get(Post, post_id)
        post.images = [{"path": "/nonexistent/porte-voix/juan.png", "alt": "Juan López"}]
        session.add(post)
    worker = Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 2.0}), worker_id="w")
    assert worker.claim() == []
    row = delivery(engine, delivery_id)
    assert (row.state, row.last_error_kind, row.worker_id) == (states.FAILED, "permanent", None)
    assert "juan.png" in row.last_error
    assert rows(engine, delivery_id) == [(states.SCHEDULED, states.FAILED, "permanent")]
    assert sandbox.sandbox.posts("x") == []
    worker.stop()
