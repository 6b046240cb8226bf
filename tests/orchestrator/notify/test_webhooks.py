"""Outgoing webhooks: integrations told of publications, failures and milestones, signed, retried,
with their delivery log."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, states
from orchestrator.errors import ServiceError
from orchestrator.models import Delivery, NotificationOutbox
from orchestrator.services import integrations, notify, notify_send
from orchestrator.services.auth import Actor, PermissionDenied
from tests.orchestrator.notify.receivers import http_receiver
from tests.orchestrator.notify.test_outbox import notifier, outbox, settings  # noqa: F401 - fixture
from tests.orchestrator.services.helpers import scheduled_post

ADMIN = Actor("ada", "admin")


def test_only_admins_add_webhooks_and_events_are_checked(engine: sa.Engine) -> None:
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        integrations.add_webhook(s, actor=Actor("edith", "editor"), name="crm", url="https://crm.example.org/h",
                                 events=["published"])
    with db.session_scope(engine) as s, pytest.raises(ServiceError):
        integrations.add_webhook(s, actor=ADMIN, name="crm", url="https://crm.example.org/h", events=["everything"])
    with db.session_scope(engine) as s, pytest.raises(ServiceError):
        integrations.add_webhook(s, actor=ADMIN, name="crm", url="ftp://crm.example.org/h", events=["published"])


def test_publications_and_failures_reach_the_webhook_signed(engine: sa.Engine, settings) -> None:  # noqa: F811
    _, first = scheduled_post(engine)
    _, second = scheduled_post(engine, text="Écrivez encore pour Juan López.")
    with http_receiver() as receiver:
        with db.session_scope(engine) as s:
            hook, secret = integrations.add_webhook(s, actor=ADMIN, name="site", url=receiver.url,
                                                    events=["published", "failed"])
        receiver.statuses = [502]  # the first try fails: retried
        with db.session_scope(engine) as s:  # the worker's batch path (claim, then record)
            rows = [(d.id, d.state, {}) for d in s.exec(select(Delivery).where(Delivery.id == first))]
            states.transition_many(s, rows, states.PUBLISHING, actor="w")
            states.transition_many(s, [(first, states.PUBLISHING, {"platform_id": "1"})], states.PUBLISHED, actor="w")
            d2 = s.get(Delivery, second)
            assert d2 is not None
            states.transition(s, d2, states.FAILED, actor="w", last_error="refused")
        assert {r.event for r in outbox(engine)} == {"published", "failed"}
        n = notifier(engine, settings)
        n.send_due()
        import datetime as dt

        from orchestrator.timeutil import utcnow

        n.send_due(utcnow() + dt.timedelta(hours=1))
        assert len(receiver.requests) == 3  # published failed once, then went; failed went
        bodies = receiver.bodies()
        for request in receiver.requests:
            headers = request["headers"]
            assert notify_send.verify(secret, headers[notify_send.TIMESTAMP], request["body"], headers[notify_send.SIGNATURE])
    events = {b["event"]: b for b in bodies}
    assert events["published"]["events"] == [{"delivery_id": first, "post_id": events["published"]["events"][0]["post_id"],
                                              "account_id": None, "error": ""}]
    assert events["failed"]["events"][0]["delivery_id"] == second
    with db.read_scope(engine) as s:
        log = notify.recent(s, recipient_prefix=f"webhook:{hook.id}")
    assert {r.state for r in log} == {"sent"} and max(r.attempts for r in log) == 1


def test_no_webhook_no_row_on_the_publishing_path(engine: sa.Engine, settings) -> None:  # noqa: F811
    _, delivery_id = scheduled_post(engine)
    with db.session_scope(engine) as s:
        states.transition_many(s, [(delivery_id, states.SCHEDULED, {})], states.PUBLISHING, actor="w")
        states.transition_many(s, [(delivery_id, states.PUBLISHING, {"platform_id": "1"})], states.PUBLISHED,
                               actor="w")
    with db.session_scope(engine) as s:
        assert s.exec(select(sa.func.count()).select_from(NotificationOutbox)).one() == 0
