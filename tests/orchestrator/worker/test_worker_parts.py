"""Each part of the worker alone, built from its constructor arguments: the platform is a stand-in
channel where a test needs to steer it, the database is real."""

from __future__ import annotations

import datetime as dt
import threading
import time

import sqlalchemy as sa

from channels.base import AuthError, Found, Metrics, Published, TransientError
from orchestrator import db, states
from orchestrator.models import Account, Attempt
from orchestrator.outcomes import ForAccount, Result
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from orchestrator.worker.channels import Channels
from orchestrator.worker.claimer import Claimer
from orchestrator.worker.metrics import MetricsPoller
from orchestrator.worker.publisher import Publisher, Runners
from orchestrator.worker.reconciler import Reconciler
from orchestrator.worker.recorder import Recorder, Success
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule


def settings(**overrides):
    return get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})


class Platform:
    """A stand-in channel: every post goes out after ``delay`` seconds; it counts the calls in
    flight at once."""

    #: The capabilities every channel declares (channels/base.py), at their cautious defaults.
    publish_is_idempotent = retry_is_safe = False
    idempotency_window = None

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0

    def __call__(self, account: Account) -> Platform:
        return self

    def publish(self, request) -> Published:
        with self.lock:
            self.now += 1
            self.calls += 1
            self.most = max(self.most, self.now)
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return Published(platform_id=f"p-{request.key}", url=None)

    def find(self, request, *, since) -> Found:
        return Found(published=Published(platform_id=f"p-{request.key}", url=None))

    def fetch_metrics(self, ids):
        return [Metrics(platform_id=i, likes=3) for i in ids]

    def take_rate_info(self) -> list:
        return []


def account_id(engine: sa.Engine, name: str) -> int:
    with db.session_scope(engine) as session:
        return session.exec(sa.select(Account.id).where(Account.name == name)).scalar_one()


def outcomes_of(engine: sa.Engine, delivery_id: int) -> list[str]:
    with db.session_scope(engine) as session:
        return list(session.exec(sa.select(Attempt.outcome).where(Attempt.delivery_id == delivery_id)
                                 .order_by(Attempt.id)).scalars())


def test_channels_keep_a_client_per_account_and_purpose_until_its_credentials_change(engine, sandbox) -> None:
    built = []
    channels = Channels(engine, settings(), factory=lambda account: built.append(account.name) or Platform())
    account = channels.account(account_id(engine, add_account(engine, "x", name="x-test", base_url=sandbox.url)))
    first = channels.get(account, "publish")
    assert channels.get(account, "publish") is first
    assert channels.get(account, "metrics") is not first
    account.credentials = "another token"
    assert channels.get(account, "publish") is not first
    assert len(built) == 3


def test_the_claimer_takes_what_is_due_and_gives_it_back(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    due = schedule(engine, approved_post(engine), name)
    later = schedule(engine, approved_post(engine, text="Plus tard"), name, at=utcnow() + dt.timedelta(hours=1))
    claimer = Claimer(engine, settings(), "w")
    [item] = claimer.claim()
    assert (item.delivery_id, item.request.key) == (due, f"pv-{delivery(engine, due).source_code}-{due}")
    assert (delivery(engine, due).state, delivery(engine, due).worker_id) == (states.PUBLISHING, "w")
    assert delivery(engine, later).state == states.SCHEDULED
    claimer.release([due])
    assert delivery(engine, due).state == states.SCHEDULED
    assert claimer.fair_share() == settings().publish_threads  # alone: every account it can run


def test_the_recorder_writes_successes_in_batches_and_failures_by_the_table(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    ids = [schedule(engine, approved_post(engine, text=f"Texte {i}"), name) for i in range(3)]
    items = {item.delivery_id: item for item in Claimer(engine, settings(), "w").claim()}
    recorder = Recorder(engine, settings(), "w", publishing=lambda: False, stopping=threading.Event())
    recorder.enqueue(Success(items[ids[0]], Published(platform_id="p-1", url=None), 5, []))
    assert recorder.flush(timeout=10)
    assert (delivery(engine, ids[0]).state, delivery(engine, ids[0]).attempts) == (states.PUBLISHED, 1)
    assert recorder.record_failure(items[ids[1]], TransientError("down"), duration_ms=5, infos=[],
                                   safe_retry=False) is ForAccount.GOES_ON
    assert delivery(engine, ids[1]).state == states.RETRYING
    assert recorder.record_failure(items[ids[2]], AuthError("revoked"), duration_ms=5, infos=[],
                                   safe_retry=False) is ForAccount.UNHEALTHY
    assert delivery(engine, ids[2]).state == states.FAILED
    with db.session_scope(engine) as session:
        assert not session.get(Account, account_id(engine, name)).healthy


def test_the_publisher_runs_each_account_that_has_work_at_once(engine, sandbox) -> None:
    names = [add_account(engine, "x", name=f"x-{i}", base_url=sandbox.url) for i in range(12)]
    ids = [schedule(engine, approved_post(engine, text=f"Texte {i}"), name) for i, name in enumerate(names * 2)]
    platform, stopping, runners = Platform(delay=0.3), threading.Event(), Runners()
    s = settings()
    channels = Channels(engine, s, factory=platform)
    claimer = Claimer(engine, s, "w")
    recorder = Recorder(engine, s, "w", publishing=runners.__bool__, stopping=stopping)
    publisher = Publisher(engine, s, "w", claimer=claimer, recorder=recorder, channels=channels, runners=runners,
                          stopping=stopping)
    assert publisher.dispatch(wait=True) == len(ids)
    assert platform.most == 12  # more than the eight accounts a worker used to run at once
    assert {delivery(engine, i).state for i in ids} == {states.PUBLISHED}
    publisher.stop()


def test_one_publish_call_ends_in_a_named_result(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), name)
    worker = Worker(engine, settings=settings(), worker_id="w", channel_factory=Platform())
    [item] = worker.claim()
    attempted = worker.publisher.publish_one(item, worker.channels.account(item.account_id))
    assert (attempted.result, attempted.account, attempted.published) == (Result.PUBLISHED, ForAccount.GOES_ON, True)
    worker.stop()
    assert delivery(engine, delivery_id).state == states.PUBLISHED


def test_the_reconciler_sweeps_an_expired_lease_and_finds_the_post(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), name)
    Claimer(engine, settings(), "gone").claim()  # a worker that died while publishing
    reconciler = Reconciler(engine, settings(reconcile_delay_seconds=0), "w",
                            channels=Channels(engine, settings(), factory=Platform()))
    assert reconciler.sweep(now=utcnow() + dt.timedelta(hours=1)) == 1
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    assert reconciler.reconcile(now=utcnow() + dt.timedelta(hours=2)) == 1  # after the look-at delay
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert outcomes_of(engine, delivery_id)[-2:] == ["lease_expired", "reconciled_found"]


def test_the_metrics_poller_refreshes_the_figures_of_a_published_post(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), name)
    worker = Worker(engine, settings=settings(), worker_id="w", channel_factory=Platform())
    worker.dispatch(wait=True)
    worker.stop()
    poller = MetricsPoller(engine, settings(), channels=Channels(engine, settings(), factory=Platform()))
    assert poller.poll(now=utcnow() + dt.timedelta(minutes=5)) == 1
    assert delivery(engine, delivery_id).likes == 3
    published = utcnow()
    assert poller.next_poll(published, published) == published + dt.timedelta(
        seconds=settings().metrics_first_poll_seconds)
