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
