"""Publishing first: a listening page waits while the publisher has accounts at work, bounded so
that a steady stream of due posts slows listening without stopping it."""

from __future__ import annotations

import threading
import time

from orchestrator.settings import get_settings
from orchestrator.worker.listen import Listener
from tests.orchestrator.worker.test_worker import make_worker


def _listener(busy: threading.Event, seconds: float) -> Listener:
    settings = get_settings().model_copy(update={"listen_yield_seconds": seconds})
    return Listener(None, settings, channels=None, publishing=busy.is_set)  # type: ignore[arg-type]


def test_a_page_waits_until_the_publisher_is_idle() -> None:
    busy = threading.Event()
    busy.set()
    threading.Timer(0.3, busy.clear).start()
    waited = _listener(busy, 5.0).give_way()
    # it returned because the publisher went idle, long before its 5 s bound, not before
    assert not busy.is_set()
    assert 0.1 <= waited < 2.0


def test_the_wait_is_bounded_when_posts_keep_going_out() -> None:
    busy = threading.Event()
    busy.set()
    started = time.monotonic()
    waited = _listener(busy, 0.2).give_way()
    assert waited >= 0.15 and time.monotonic() - started < 1.0


def test_no_wait_when_nothing_is_going_out() -> None:
    assert _listener(threading.Event(), 5.0).give_way() < 0.05


def test_the_worker_s_listener_watches_its_publisher(engine) -> None:
    worker = make_worker(engine)
    assert worker.listener._publishing() is False
    worker.runners.add(1)
    assert worker.listener._publishing() is True


def test_a_page_waits_for_a_delivery_about_to_fall_due_and_not_for_one_left_overdue(engine, monkeypatch) -> None:
    import datetime as dt

    from orchestrator.timeutil import utcnow

    settings = get_settings().model_copy(update={"listen_yield_seconds": 5.0, "listen_yield_ahead_seconds": 0.5})
    listener = Listener(engine, settings, channels=None)  # type: ignore[arg-type]
    assert listener._next_due() is None and listener.give_way() < 0.05  # nothing scheduled
    due = [utcnow() + dt.timedelta(seconds=0.3)]
    monkeypatch.setattr(listener, "_next_due", lambda: due[0])
    waited = listener.give_way()
    assert 0.2 <= waited < 2.0, "it waits until the due time has passed"
    # overdue beyond the dispatcher's next look: it waits for its account's pace, not for the
    # database (a queue full of those once held every listening write for its whole bound)
    for overdue in (0.5, 30):
        due[0] = utcnow() - dt.timedelta(seconds=overdue)
        assert listener.give_way() < 0.05
    due[0] = utcnow() + dt.timedelta(seconds=60)  # not soon
    assert listener.give_way() < 0.05


def test_the_next_due_time_is_read_from_the_claimable_deliveries(engine) -> None:
    import datetime as dt

    from orchestrator.timeutil import utcnow
    from tests.factories import add_account
    from tests.orchestrator.helpers import approved_post, schedule

    settings = get_settings().model_copy(update={"listen_yield_ahead_seconds": 0.5})
    listener = Listener(engine, settings, channels=None)  # type: ignore[arg-type]
    name = add_account(engine, "mastodon")
    at = utcnow() + dt.timedelta(minutes=5)
    schedule(engine, approved_post(engine), name, at=at)
    found = listener._next_due()
    assert found is not None and abs((found - at).total_seconds()) < 1
