from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from orchestrator import db, states
from orchestrator.models import Attempt, Delivery
from orchestrator.timeutil import NaiveDatetimeError, at_local, parse_when
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, schedule


def test_every_state_has_its_transitions_and_labels() -> None:
    assert set(states.TRANSITIONS) == set(states.STATES)
    for state in states.STATES:
        assert states.LABELS[state]["fr"] and states.LABELS[state]["en"]
    assert not states.TRANSITIONS[states.PUBLISHED]  # nothing leaves published
    assert states.CANCELLED in states.TRANSITIONS[states.UNCONFIRMED]


def test_a_transition_outside_the_diagram_is_impossible_and_leaves_nothing(engine: sa.Engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    with pytest.raises(states.InvalidTransition, match="ne peut pas passer"), db.session_scope(engine) as session:
        row = session.get(Delivery, delivery_id)
        states.transition(session, row, states.UNCONFIRMED, actor="test")
    with db.session_scope(engine) as session:
        assert session.get(Delivery, delivery_id).state == states.SCHEDULED
        assert session.scalar(sa.select(sa.func.count()).select_from(Attempt)) == 0


def test_a_transition_outside_the_diagram_is_a_refusal_in_both_languages() -> None:
    """The dashboard shows it like any refusal, in the reader's language (it catches ServiceError
    and never imports the state machine)."""
    from orchestrator.services.auth import ServiceError

    refusal = states.InvalidTransition(7, states.PUBLISHED, states.RETRYING)
    assert isinstance(refusal, ServiceError)
    assert refusal.message("fr") == "La livraison 7 ne peut pas passer de « Publiée » à « Nouvel essai prévu »."
    assert refusal.message("en") == "Delivery 7 cannot go from “Published” to “Retrying”."


def test_each_transition_is_recorded(engine: sa.Engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    with db.session_scope(engine) as session:
        row = session.get(Delivery, delivery_id)
        states.transition(session, row, states.CANCELLED, actor="alice", outcome="cancelled")
    with db.session_scope(engine) as session:
        attempts = session.exec(sa.select(Attempt.from_state, Attempt.to_state, Attempt.actor)).all()
    assert [tuple(a) for a in attempts] == [("scheduled", "cancelled", "alice")]


def test_naive_datetimes_are_refused_at_the_boundary(engine: sa.Engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    post_id = approved_post(engine)
    with pytest.raises(NaiveDatetimeError, match="fuseau horaire"):
        schedule(engine, post_id, account, at=dt.datetime(2025, 12, 6, 12, 0))
    with pytest.raises(NaiveDatetimeError):
        parse_when("2025-12-06T12:00")
    assert parse_when("2025-12-06T12:00-05:00") == dt.datetime(2025, 12, 6, 17, 0, tzinfo=dt.UTC)


def test_times_survive_the_round_trip_as_aware_utc(engine: sa.Engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    at = dt.datetime(2025, 12, 6, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    delivery_id = schedule(engine, approved_post(engine), account, at=at)
    with db.session_scope(engine) as session:
        stored = session.get(Delivery, delivery_id).scheduled_at
    assert stored.tzinfo is not None and stored.utcoffset() == dt.timedelta(0)
    assert stored == at


def test_local_noon_across_the_dst_change_in_montreal() -> None:
    # DST ended on 2025-11-02 in America/Toronto: noon is 16:00 UTC before, 17:00 UTC after.
    before = at_local(dt.date(2025, 11, 1), dt.time(12), "America/Toronto")
    after = at_local(dt.date(2025, 11, 3), dt.time(12), "America/Toronto")
    assert before == dt.datetime(2025, 11, 1, 16, tzinfo=dt.UTC)
    assert after == dt.datetime(2025, 11, 3, 17, tzinfo=dt.UTC)


def test_held_reasons_are_values_stored_as_the_text_earlier_versions_wrote() -> None:
    HeldReason, HeldFor = states.HeldReason, states.HeldFor
    for reason, stored in [
        (HeldReason.case("paused"), "case paused"),
        (HeldReason.case("paused", "attente: avocat"), "case paused: attente: avocat"),
        (HeldReason.account("jeton : révoqué"), "account unhealthy: jeton : révoqué"),
        (HeldReason.late(), "late: waiting for a person"),
    ]:
        assert str(reason) == stored
        assert HeldReason.parse(stored) == reason
    assert HeldReason.parse("latency checks").kind is HeldFor.OTHER  # a prefix alone is not a kind
    assert HeldReason.parse("case closed").detail == "closed"


def test_a_retracted_delivery_stays_published_and_its_job_moves_only_forward() -> None:
    from orchestrator.models import RetractionJob
    from orchestrator.services import retractions
    from orchestrator.services.auth import ServiceError

    assert states.TRANSITIONS[states.PUBLISHED] == frozenset()  # a retraction changes no state
    assert states.label(states.PUBLISHED, "fr", retracted=True) == "Retirée"
    assert states.label(states.PUBLISHED, "en", retracted=True) == "Retracted"
    assert states.label(states.FAILED, "en", retracted=True) == "Failed"
    assert set(retractions.JOB_TRANSITIONS) == set(retractions.JOB_STATES)
    job = RetractionJob(id=1, retraction_id=1, delivery_id=1, account_id=1, state=retractions.QUEUED)
    retractions.move(job, retractions.DELETING)
    retractions.move(job, retractions.RETRACTED)
    for target in retractions.JOB_STATES:  # a recorded outcome is final: never run again
        with pytest.raises(ServiceError):
            retractions.move(job, target)
