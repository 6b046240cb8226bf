"""The outbox: written with the event, sent once by the worker, grouped, retried, never in the way
of publishing. Against a real SMTP server (aiosmtpd) and a real HTTP receiver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, secrets, states
from orchestrator.errors import ServiceError
from orchestrator.models import Delivery, NotificationOutbox, Post, Response, WorkerHeartbeat
from orchestrator.services import notify, notify_send, posts, users
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied
from orchestrator.settings import Settings, get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.notifier import Notifier
from tests.orchestrator.notify.receivers import http_receiver, smtp_server
from tests.orchestrator.services.helpers import scheduled_post

EDITOR = Actor("edith", "editor")
APPROVER = Actor("alain", "approver")


@pytest.fixture
def settings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("PORTEVOIX_NOTIFY_GROUP_SECONDS", "0")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def staff(engine: sa.Engine, name: str, role: str, *, events: list[str] | None = None, email: str = "",
          webhook: str = "", fmt: str = "slack", language: str = "fr") -> str | None:
    """A staff member with their notification choices; returns the chat webhook's secret."""
    with db.session_scope(engine) as s:
        users.add_user(s, actor=SYSTEM, username=name, password=None, role=role, language=language)
        _, secret = notify.save_preference(s, actor=Actor(name, role), username=name,
                                           events=events if events is not None else list(notify.CHOOSABLE),
                                           email=email, webhook_url=webhook, webhook_format=fmt)
    return secret


def outbox(engine: sa.Engine, **where: Any) -> list[NotificationOutbox]:
    with db.session_scope(engine) as s:
        query = select(NotificationOutbox).order_by(NotificationOutbox.id)  # type: ignore[arg-type]
        for name, value in where.items():
            query = query.where(getattr(NotificationOutbox, name) == value)
        return list(s.exec(query))


def notifier(engine: sa.Engine, settings: Settings, port: int = 9, name: str = "w1", **kw: Any) -> Notifier:
    s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_tls": "none",
                                    "notify_backoff_base": 30.0, "webhooks_allow_private": True,
                                    **kw.pop("changes", {})})
    return Notifier(engine, s, name, **kw)


# ---------------------------------------------------------------------------------------------
# written with the event, to the right people


def test_submitting_tells_approvers_not_the_author_nor_editors(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "alain", "approver", email="alain@example.org")
    staff(engine, "ada", "admin", email="ada@example.org")
    staff(engine, "edith", "editor", email="edith@example.org")
    staff(engine, "nobody", "approver", events=[], email="nobody@example.org")  # chose nothing
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Écrivez pour Juan.", submit=True)
        post_id = post.id
    rows = outbox(engine, event="approval_requested")
    assert sorted(r.address for r in rows) == ["ada@example.org", "alain@example.org"]
    assert all(r.data["post_id"] == post_id for r in rows)


def test_an_approver_who_wrote_the_post_is_not_asked_to_approve_it(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "alain", "approver", email="alain@example.org")
    staff(engine, "ada", "admin", email="ada@example.org")
    with db.session_scope(engine) as s:
        posts.create_post(s, actor=APPROVER, case_slug="juan-lopez", text="Écrivez pour Juan.", submit=True)
    assert [r.address for r in outbox(engine, event="approval_requested")] == ["ada@example.org"]


def test_a_rolled_back_event_leaves_no_notification(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "alain", "approver", email="alain@example.org")
    with pytest.raises(RuntimeError), db.session_scope(engine) as s:
        posts.create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Écrivez pour Juan.", submit=True)
        raise RuntimeError("the event fails")
    assert outbox(engine) == []


def test_rejection_tells_its_author_only(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    staff(engine, "eric", "editor", email="eric@example.org")
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Écrivez pour Juan.", submit=True)
        posts.reject_post(s, actor=APPROVER, post_id=post.id or 0, comment="Le lien manque.")
    rows = outbox(engine, event="rejected")
    assert [r.address for r in rows] == ["edith@example.org"]
    assert rows[0].data["comment"] == "Le lien manque."


def test_a_failed_delivery_is_told_in_its_transaction(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    staff(engine, "victor", "viewer", email="victor@example.org")  # failures are for editors and up
    _, delivery_id = scheduled_post(engine)
    with db.session_scope(engine) as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        states.transition(s, d, states.FAILED, actor="w", last_error="image gone")
    rows = outbox(engine, event="delivery_failed")
    assert [(r.address, r.data["delivery_id"], r.data["error"]) for r in rows] == [
        ("edith@example.org", delivery_id, "image gone")]


def test_an_unconfirmed_delivery_is_told_when_it_is_left_for_a_person(engine: sa.Engine, settings: Settings) -> None:
    from orchestrator.models import Account
    from orchestrator.worker.reconciler import Reconciler

    staff(engine, "edith", "editor", email="edith@example.org")
    _, delivery_id = scheduled_post(engine)
    with db.session_scope(engine) as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        states.transition(s, d, states.PUBLISHING, actor="w")
        states.transition(s, d, states.UNCONFIRMED, actor="w", last_error="timeout")
    assert outbox(engine) == []  # a doubt the reconciler usually settles: nobody is disturbed yet
    reconciler = Reconciler(engine, settings, "w", channels=None)  # type: ignore[arg-type]
    for look in range(settings.reconcile_max_tries):
        with db.session_scope(engine) as s:
            d = s.get(Delivery, delivery_id)
            account = s.get(Account, d.account_id)  # type: ignore[union-attr]
            reconciler._undecidable(s, d, account, "the timeline cannot tell", utcnow())  # type: ignore[arg-type]
        told = outbox(engine, event="delivery_unconfirmed")
        assert len(told) == (1 if look == settings.reconcile_max_tries - 1 else 0)
    assert told[0].data["delivery_id"] == delivery_id and told[0].address == "edith@example.org"


def test_a_notification_that_cannot_be_written_never_costs_the_publication(
        engine: sa.Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    _, delivery_id = scheduled_post(engine)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise sa.exc.OperationalError("INSERT", {}, Exception("outbox broken"))

    monkeypatch.setattr(notify, "emit_many", broken)
    with db.session_scope(engine) as s:
        d = s.get(Delivery, delivery_id)
        assert d is not None
        states.transition(s, d, states.FAILED, actor="w", last_error="x")
    with db.session_scope(engine) as s:
        assert s.get(Delivery, delivery_id).state == states.FAILED  # type: ignore[union-attr]
    assert outbox(engine) == []


# ---------------------------------------------------------------------------------------------
# sent: e-mail through a real SMTP server, chat through a real HTTP receiver


def test_email_goes_through_smtp_once_and_fifty_failures_make_one_message(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org", language="en")
    with db.session_scope(engine) as s:
        notify.emit_many(s, "delivery_failed", [{"delivery_id": i, "post_id": 1, "error": "boom"} for i in range(50)],
                         settings=settings.model_copy(update={"notify_group_seconds": 60}))
    rows = outbox(engine)
    assert len(rows) == 50 and len({r.due_at for r in rows}) == 1  # one group, one due time
    with smtp_server() as (port, box):
        n = notifier(engine, settings, port)
        assert n.send_due(utcnow()).messages == 0  # not due yet: the group waits its minute
        report = n.send_due(utcnow() + dt.timedelta(seconds=61))
        assert (report.messages, report.sent) == (1, 50)
        assert n.send_due(utcnow() + dt.timedelta(hours=2)).messages == 0  # never twice
        assert len(box.messages) == 1
        mail = box.messages[0]
    assert mail["To"] == "edith@example.org"
    assert "Delivery failed (50)" in mail["Subject"]
    assert mail["Message-ID"].startswith(f"<porte-voix-{rows[0].id}@")
    assert all(r.state == "sent" for r in outbox(engine))


def test_chat_webhook_is_signed_and_shaped_for_each_tool(engine: sa.Engine, settings: Settings) -> None:
    with http_receiver() as receiver:
        secrets_of = {fmt: staff(engine, f"p-{fmt}", "editor", webhook=receiver.url + fmt, fmt=fmt)
                      for fmt in ("slack", "mattermost", "teams")}
        with db.session_scope(engine) as s:
            notify.emit(s, "delivery_unconfirmed", {"delivery_id": 7, "post_id": 3, "error": "timeout"})
        report = notifier(engine, settings).send_due()
        assert report.sent == 3
        by_path = {r["path"].removeprefix("/hook"): r for r in receiver.requests}
    for fmt, secret in secrets_of.items():
        request = by_path[fmt]
        headers = request["headers"]
        assert secret and notify_send.verify(secret, headers[notify_send.TIMESTAMP], request["body"],
                                             headers[notify_send.SIGNATURE])
        assert not notify_send.verify(secret, headers[notify_send.TIMESTAMP], request["body"] + b" ",
                                      headers[notify_send.SIGNATURE])
        assert not notify_send.verify("wrong", headers[notify_send.TIMESTAMP], request["body"],
                                      headers[notify_send.SIGNATURE])
    import json

    assert json.loads(by_path["teams"]["body"])["@type"] == "MessageCard"
    assert "non confirmé" in json.loads(by_path["slack"]["body"])["text"]
    assert json.loads(by_path["mattermost"]["body"])["username"] == "Porte-voix"


def test_the_webhook_secret_is_stored_encrypted(engine: sa.Engine, settings: Settings) -> None:
    secret = staff(engine, "edith", "editor", webhook="https://chat.example.org/hooks/1")
    with db.session_scope(engine) as s:
        stored = notify.preference(s, username="edith").webhook_secret
    assert secret and secret not in stored and secrets.decrypt(stored)["secret"] == secret


def test_a_refusing_address_is_retried_with_backoff_then_sent_once(engine: sa.Engine, settings: Settings) -> None:
    with http_receiver() as receiver:
        staff(engine, "edith", "editor", webhook=receiver.url)
        receiver.statuses = [503, 500]
        with db.session_scope(engine) as s:
            notify.emit(s, "account_unhealthy", {"account": "x-main", "kind": "x", "error": "token revoked"})
        n = notifier(engine, settings)
        now = utcnow()
        assert n.send_due(now).retried == 1
        row = outbox(engine)[0]
        assert (row.state, row.attempts, row.last_error) == ("pending", 1, "HTTP 503")
        assert row.due_at >= now + dt.timedelta(seconds=29)
        assert n.send_due(now + dt.timedelta(seconds=10)).messages == 0  # waits its back-off
        assert n.send_due(now + dt.timedelta(seconds=31)).retried == 1
        assert outbox(engine)[0].due_at >= now + dt.timedelta(seconds=31 + 59)  # twice as long
        assert n.send_due(now + dt.timedelta(seconds=200)).sent == 1
        assert n.send_due(now + dt.timedelta(hours=5)).messages == 0
        assert len(receiver.requests) == 3
        ids = {r["headers"][notify_send.MESSAGE_ID] for r in receiver.requests}
    assert len(ids) == 1  # the same message each time: a receiver can drop a repeat


def test_a_permanent_refusal_ends_at_once_and_too_many_errors_end_too(engine: sa.Engine, settings: Settings) -> None:
    with http_receiver() as receiver:
        staff(engine, "edith", "editor", webhook=receiver.url)
        receiver.statuses = [404]
        with db.session_scope(engine) as s:
            notify.emit(s, "worker_down", {"since": "now"})
        assert notifier(engine, settings).send_due().failed == 1
    assert outbox(engine)[0].state == "failed"


def test_a_webhook_into_the_servers_own_network_is_refused(engine: sa.Engine, settings: Settings) -> None:
    with http_receiver() as receiver:
        staff(engine, "edith", "editor", webhook=receiver.url)
        with db.session_scope(engine) as s:
            notify.emit(s, "worker_down", {"since": "now"})
        report = notifier(engine, settings, changes={"webhooks_allow_private": False}).send_due()
        assert report.failed == 1 and receiver.requests == []
    assert "private address refused" in outbox(engine)[0].last_error


def test_a_send_error_never_reaches_the_caller(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    with db.session_scope(engine) as s:
        notify.emit(s, "worker_down", {"since": "now"})

    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the mail library")

    report = notifier(engine, settings, email=explode).send_due()  # returns, does not raise
    assert report.retried == 1 and outbox(engine)[0].state == "pending"


# ---------------------------------------------------------------------------------------------
# never twice, never lost


def test_two_senders_never_take_the_same_row(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    with db.session_scope(engine) as s:
        notify.emit(s, "worker_down", {"since": "now"})
    first = notifier(engine, settings, name="w1").claim()
    second = notifier(engine, settings, name="w2").claim()
    assert len(first) == 1 and second == []


def test_a_sender_that_dies_after_claiming_loses_nothing(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    with db.session_scope(engine) as s:
        notify.emit(s, "worker_down", {"since": "now"})
    dead = notifier(engine, settings, name="dead")
    [group] = dead.claim()  # ... and the process is killed before sending
    with smtp_server() as (port, box):
        other = notifier(engine, settings, port, name="w2")
        assert other.send_due().messages == 0  # its lease still runs: not taken from under it
        later = utcnow() + dt.timedelta(seconds=settings.notify_lease_seconds + 1)
        assert other.send_due(later).sent == 1
        assert dead.finish(group, None) == "sent"  # a late end of the dead one changes nothing ...
        assert len(box.messages) == 1
    row = outbox(engine)[0]
    assert row.worker_id is None and row.state == "sent" and row.message_id == group[0].id


# ---------------------------------------------------------------------------------------------
# what no single action announces


def test_no_worker_alive_is_told_once_per_outage(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org")
    n = notifier(engine, settings)
    assert n.watch_workers() is False  # none ever started: nothing to say
    old = utcnow() - dt.timedelta(minutes=10)
    with db.session_scope(engine) as s:
        s.add(WorkerHeartbeat(id="w-old", last_seen=old, started_at=old))
    assert n.watch_workers() and n.watch_workers()
    assert len(outbox(engine, event="worker_down")) == 1
    with db.session_scope(engine) as s:
        s.add(WorkerHeartbeat(id="w-new", last_seen=utcnow(), started_at=utcnow()))
    assert n.watch_workers() is False


def test_a_milestone_is_told_once_with_a_post_offered_for_approval(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "victor", "viewer", email="victor@example.org", events=["milestone"])
    staff(engine, "alain", "approver", email="alain@example.org", events=["approval_requested"])
    with db.session_scope(engine) as s:
        from orchestrator.models import Case

        case = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        s.add(Response(case_id=case.id or 0, kind="letter", count=1_040, day=dt.date(2025, 12, 5),
                       source_type="tally"))
    n = notifier(engine, settings)
    n.milestones()
    n.milestones()
    rows = outbox(engine, event="milestone")
    assert [(r.address, r.data["milestone"]) for r in rows] == [("victor@example.org", 1_000)]
    with db.session_scope(engine) as s:
        offered = list(s.exec(select(Post).where(Post.author == "system", Post.status == "pending")))
    assert len(offered) == 1 and offered[0].text.startswith("1\u202f000 actions pour")
    assert "##" not in offered[0].text and "#ÉcrireÇaLibère" in offered[0].text, offered[0].text  # one "#" a tag
    assert [r.address for r in outbox(engine, event="approval_requested")] == ["alain@example.org"]


def test_the_daily_digest_is_written_once(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "victor", "viewer", email="victor@example.org", events=["digest"])
    n = notifier(engine, settings.model_copy(update={"notify_digest_hour": 0}))
    n.daily()
    n.daily()
    rows = outbox(engine, event="digest")
    assert len(rows) == 1 and {"published", "failed", "actions", "tomorrow"} <= set(rows[0].data)


def test_cases_behind_their_pace_are_told_once_a_day_while_the_campaign_runs(engine: sa.Engine,
                                                                             settings: Settings) -> None:
    staff(engine, "victor", "viewer", email="victor@example.org", events=["behind_pace"])
    n = notifier(engine, settings.model_copy(update={"notify_digest_hour": 0}))
    running = dt.datetime(2025, 12, 1, 17, 0, tzinfo=dt.UTC)  # noon in Montréal, the edition running
    n.daily(running)
    n.daily(running + dt.timedelta(hours=2))
    first = outbox(engine, event="behind_pace")
    assert first and len({r.data["slug"] for r in first}) == len(first)  # each case once
    n.daily(running + dt.timedelta(days=1))
    assert len(outbox(engine, event="behind_pace")) == 2 * len(first)  # the next day again
    after = dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC)  # the edition is over: no pace to keep
    n.daily(after)
    assert len(outbox(engine, event="behind_pace")) == 2 * len(first)


# ---------------------------------------------------------------------------------------------
# preferences


def test_preferences_are_ones_own_unless_admin(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor")
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        notify.save_preference(s, actor=Actor("eric", "editor"), username="edith", events=[])
    with db.session_scope(engine) as s, pytest.raises(ServiceError):
        notify.save_preference(s, actor=EDITOR, username="edith", events=["everything"])
    with db.session_scope(engine) as s, pytest.raises(ServiceError):
        notify.save_preference(s, actor=EDITOR, username="edith", events=[], email="not an address")
    with db.session_scope(engine) as s:
        notify.save_preference(s, actor=Actor("ada", "admin"), username="edith", events=["digest"])


def test_send_a_test_reaches_only_the_one_who_asked(engine: sa.Engine, settings: Settings) -> None:
    staff(engine, "edith", "editor", email="edith@example.org", events=[])
    staff(engine, "eric", "editor", email="eric@example.org")
    with db.session_scope(engine) as s:
        assert notify.send_test(s, actor=EDITOR) == 1
    with smtp_server() as (port, box):
        assert notifier(engine, settings, port).send_due().sent == 1
        assert [m["To"] for m in box.messages] == ["edith@example.org"]
        assert "Essai" in box.messages[0]["Subject"]


CHILD = """
import os, sys
from orchestrator import db
from orchestrator.settings import get_settings
from orchestrator.worker.notifier import Notifier

settings = get_settings().model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": int(sys.argv[1]),
                                             "smtp_tls": "none"})
notifier = Notifier(db.get_engine(), settings, "doomed")
for group in notifier.claim():
    notifier.send_group(group)  # sent ...
os._exit(9)  # ... and killed before writing so
"""


def test_a_sender_killed_between_sending_and_recording_loses_nothing(engine: sa.Engine, settings: Settings) -> None:
    """A real process is killed after its message left: the row waits for its lease, then goes out
    again under the same Message-ID (a mail client shows it once); nothing is lost, and no
    other row is sent twice."""
    import subprocess
    import sys

    staff(engine, "edith", "editor", email="edith@example.org")
    with db.session_scope(engine) as s:
        notify.emit(s, "worker_down", {"since": "now"})
    with smtp_server() as (port, box):
        child = subprocess.run([sys.executable, "-c", CHILD, str(port)], capture_output=True, text=True, timeout=60)
        assert child.returncode == 9, child.stderr
        assert len(box.messages) == 1
        [row] = outbox(engine)
        assert (row.state, row.worker_id) == ("sending", "doomed")
        n = notifier(engine, settings, port)
        assert n.send_due().messages == 0  # the lease still runs
        assert n.send_due(utcnow() + dt.timedelta(seconds=settings.notify_lease_seconds + 1)).sent == 1
        assert n.send_due(utcnow() + dt.timedelta(hours=3)).messages == 0
        ids = [m["Message-ID"] for m in box.messages]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert outbox(engine)[0].state == "sent"
