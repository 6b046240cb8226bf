"""Budgets from headers, metrics in the fewest calls, one Bluesky session for every worker, logs
without secrets, local time across the DST change, and workers sharing accounts fairly."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import math
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import select

from channels.base import Image, PublishRequest, RateInfo
from channels.registry import channel_class
from channels.sandbox import x as x_emulator
from orchestrator import budgets, db, logs, secrets, states
from orchestrator.models import Account, RateBucket, WorkerHeartbeat
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.timeutil import at_local, utcnow
from orchestrator.worker import Worker
from tests.channels.conftest import ImageServer, picture
from tests.conftest import TEST_KEY
from tests.factories import CREDS, add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule
from tests.proofs.faults.helpers import ALT, JPEG, PUBLISH_PATHS, MediaService

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def make_worker(engine: sa.Engine, name: str = "test-worker", **overrides) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})
    return Worker(engine, settings=settings, worker_id=name)


#: Container kinds' waits for a container to be ready, shortened (their first look still finds it
#: not ready: the emulator's "in progress" state is kept).
FAST_CONTAINERS = {"container_first_delay": 0.01}


@pytest.fixture
def media(engine: sa.Engine) -> Iterator[MediaService]:
    """The links service on this test's database, serving the images Instagram's emulator fetches."""
    with MediaService(engine) as service:
        yield service


def post_for(engine: sa.Engine, kind: str, text: str) -> int:
    """An approved post ``kind`` can publish: Instagram's carries a JPEG (it takes no text alone)."""
    if kind != "instagram":
        return approved_post(engine, text=text, link=None)
    with db.session_scope(engine) as session:
        post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text=text, submit=True, images=[
            {"data": base64.b64encode(JPEG).decode(), "alt": ALT, "filename": "juan.jpg"}])
        posts.approve_post(session, actor=SYSTEM, post_id=post.id)
        assert post.id is not None
        return post.id


def buckets(engine: sa.Engine, account: str) -> dict[str, RateBucket]:
    with db.session_scope(engine) as session:
        acc = session.exec(select(Account).where(Account.name == account)).one()
        return {b.endpoint: b for b in session.exec(select(RateBucket).where(RateBucket.account_id == acc.id))}


@pytest.mark.parametrize("kind", ["x", "mastodon", "bluesky", "facebook", "threads", "instagram"])
def test_every_budget_a_channel_reports_has_a_bucket_and_is_corrected(engine, sandbox, kind) -> None:
    name = add_account(engine, kind, name=f"{kind}-test", base_url=sandbox.url, options=FAST_CONTAINERS)
    with db.session_scope(engine) as session:
        account = session.exec(select(Account)).one()
    channel = make_worker(engine).channel(account, "check")
    images = ImageServer()  # Meta's platforms fetch the image from its address
    try:
        image = Image(PNG, "image/png", "Un carré", "carre.png")
        if kind in ("threads", "instagram"):
            image = Image(picture(320, 320), "image/jpeg", "Un carré", "carre.jpg",
                          url=images.add("carre.jpg", picture(320, 320)))
        published = channel.publish(PublishRequest(key="k1", text=f"Écrivez ! {kind}", images=(image,)))
    finally:
        images.stop()
    channel.fetch_metrics([published.platform_id])
    channel.find(PublishRequest(key="k1", text=f"Écrivez ! {kind}"), since=utcnow() - dt.timedelta(minutes=5))
    infos = channel.take_rate_info()
    reported = {i.endpoint for i in infos}
    # Threads and Instagram: the publishing quota, read from its own endpoint before each post
    # (their reads and metrics report no budget: Meta's usage headers are Facebook's)
    expected = {"x": {"publish", "metrics", "read"}, "mastodon": {"publish", "media", "metrics", "read"},
                "bluesky": {"publish", "metrics", "read", "login"}, "facebook": {"publish", "metrics", "read"},
                "threads": {"publish"}, "instagram": {"publish"}}[kind]
    assert expected <= reported, f"{kind} reports {sorted(reported)}"
    assert reported <= set(buckets(engine, name)), "a reported budget has no bucket: it would be ignored"
    last = budgets.latest(infos)
    with db.session_scope(engine) as session:
        budgets.correct(session, account_id=account.id, infos=infos)
    for endpoint, bucket in buckets(engine, name).items():
        info = last.get(endpoint)
        if info is not None and info.remaining is not None:
            scale = bucket.capacity / info.limit if info.limit else 1
            assert bucket.tokens <= max(0, info.remaining) * scale + 1


def test_a_correction_scales_a_percent_budget_and_blocks_at_zero(engine, sandbox) -> None:
    name = add_account(engine, "facebook", name="facebook-test", base_url=sandbox.url)
    reset = utcnow() + dt.timedelta(minutes=5)
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        budgets.correct(session, account_id=account_id, infos=[
            RateInfo("publish", 40, 100, None), RateInfo("publish", 10, 100, None),  # the last word wins
            RateInfo("read", 0, 100, reset), RateInfo("unknown", 0, 5, reset),
        ])
    got = buckets(engine, name)
    assert got["publish"].tokens == pytest.approx(got["publish"].capacity * 0.10, abs=1)
    assert got["read"].tokens == 0 and got["read"].blocked_until == reset
    assert got["metrics"].blocked_until is None


def test_a_metrics_refresh_makes_ceil_n_over_batch_calls_per_account(engine, sandbox, media, monkeypatch) -> None:
    monkeypatch.setattr(sandbox.sandbox.emulator("x"), "limits", {**x_emulator.LIMITS, "POST /2/tweets": 10_000})
    # Instagram batches 50 insights a call: a batch of 2 here shows the split without 51 posts
    monkeypatch.setattr(channel_class("instagram"), "metrics_batch_size", 2)
    wide = {"rate_limits": {"publish": [1000, 900]}, **FAST_CONTAINERS}
    counts = {"x": 101, "mastodon": 21, "bluesky": 26, "facebook": 51, "threads": 3, "instagram": 5}
    for kind, n in counts.items():
        account = add_account(engine, kind, name=f"{kind}-test", base_url=sandbox.url, options=wide,
                              is_sandbox=kind == "instagram")
        for i in range(n):
            schedule(engine, post_for(engine, kind, f"Message {i} pour {kind} #W4R"), account)
    worker = make_worker(engine, **media.env())
    worker.run_once()
    with db.session_scope(engine) as session:
        assert {s for (s,) in session.execute(sa.text("SELECT DISTINCT state FROM delivery"))} == {"published"}
    sandbox.sandbox.request_log.clear()
    assert worker.poll_metrics(now=utcnow() + dt.timedelta(minutes=2)) == sum(counts.values())
    paths = {"x": r"^/2/tweets$", "mastodon": r"^/api/v1/statuses$", "bluesky": r"getPosts$",
             "facebook": r"^/v\d+\.\d+/?$", "threads": r"/insights$", "instagram": r"^/v\d+\.\d+/?$"}
    for kind, n in counts.items():
        batch = channel_class(kind).metrics_batch_size
        assert sandbox.sandbox.calls(kind, paths[kind]) == math.ceil(n / batch), kind
    # Instagram's saves are kept with its other figures, on the delivery and its snapshot; the
    # platforms that do not give them leave them empty
    with db.session_scope(engine) as session:
        saves = dict(session.execute(sa.text(
            "SELECT a.kind, count(d.saves) FROM delivery d JOIN account a ON a.id = d.account_id GROUP BY a.kind")).all())
        snapshots = dict(session.execute(sa.text(
            "SELECT a.kind = 'instagram', count(m.saves) = count(*) FROM metric_snapshot m "
            "JOIN delivery d ON d.id = m.delivery_id JOIN account a ON a.id = d.account_id "
            "GROUP BY a.kind = 'instagram'")).all())
    assert saves.pop("instagram") == counts["instagram"] and set(saves.values()) == {0}
    assert snapshots[True] and not snapshots[False]  # every Instagram snapshot has them, no other


def test_one_bluesky_session_serves_every_worker(engine, sandbox) -> None:
    account = add_account(engine, "bluesky", name="bluesky-test", base_url=sandbox.url)
    first = schedule(engine, approved_post(engine, text="Un"), account)
    make_worker(engine, name="w-1").run_once()
    assert delivery(engine, first).state == states.PUBLISHED
    assert sandbox.sandbox.calls("bluesky", "createSession") == 1
    with db.session_scope(engine) as session:
        stored = secrets.decrypt(session.exec(select(Account)).one().credentials)
    assert stored["session_string"] and stored["app_password"] == CREDS["bluesky"]["app_password"]
    second = schedule(engine, approved_post(engine, text="Deux"), account)
    make_worker(engine, name="w-2").run_once()  # another process: nothing shared but the database
    assert delivery(engine, second).state == states.PUBLISHED
    assert sandbox.sandbox.calls("bluesky", "createSession") == 1
    assert len(sandbox.sandbox.posts("bluesky")) == 2


def test_logs_have_one_line_per_transition_and_no_secret(engine, sandbox) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RedactingFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        for kind in ("x", "bluesky", "mastodon", "facebook"):
            schedule(engine, approved_post(engine, text=f"Bonjour {kind}"), add_account(engine, kind, name=f"{kind}-test", base_url=sandbox.url))
        sandbox.add_fault("error_after_write", platform="x", method="POST", path=r"^/2/tweets$", status=503)
        worker = make_worker(engine, reconcile_delay_seconds=0)
        worker.run_once()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    moves = [line for line in lines if line.get("event") == "transition"]
    assert len([m for m in moves if m["to"] == "published"]) == 4
    for move in moves:
        assert {"delivery_id", "from", "to", "outcome", "actor"} <= set(move)
    assert any(m["to"] == "unconfirmed" for m in moves)
    with db.session_scope(engine) as session:
        bsky = session.exec(select(Account).where(Account.kind == "bluesky")).one()
        session_string = secrets.decrypt(bsky.credentials)["session_string"]
    text = stream.getvalue()
    secret_values = [v for creds in CREDS.values() for k, v in creds.items() if k not in ("handle", "page_id")]
    for secret in [*secret_values, TEST_KEY, *session_string.split(":::")[2:4]]:
        assert secret not in text


def test_noon_in_montreal_stays_noon_across_the_dst_change(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    days = [dt.date(2025, 11, 1), dt.date(2025, 11, 2), dt.date(2025, 11, 3)]
    ids = [schedule(engine, approved_post(engine, text=f"Midi le {d.day}"), account,
                    at=at_local(d, dt.time(12), "America/Toronto")) for d in days]
    stored = [delivery(engine, i).scheduled_at for i in ids]
    assert [s.hour for s in stored] == [16, 17, 17]  # EDT (UTC-4) before, EST (UTC-5) after
    worker = make_worker(engine)

    def claimed_at(utc: dt.datetime) -> list[int]:
        items = worker.claim(now=utc)
        worker.claimer.release([i.delivery_id for i in items])
        return [i.delivery_id for i in items]

    assert claimed_at(dt.datetime(2025, 11, 1, 15, 59, tzinfo=dt.UTC)) == []
    assert claimed_at(dt.datetime(2025, 11, 1, 16, 0, 1, tzinfo=dt.UTC)) == ids[:1]
    # 16:30 UTC on 2 Nov is 11:30 in Montréal: the clock went back, noon has not come yet
    assert claimed_at(dt.datetime(2025, 11, 2, 16, 30, tzinfo=dt.UTC)) == ids[:1]
    assert claimed_at(dt.datetime(2025, 11, 2, 17, 0, 1, tzinfo=dt.UTC)) == ids[:2]
    assert claimed_at(dt.datetime(2025, 11, 3, 17, 0, 1, tzinfo=dt.UTC)) == ids  # in order


def test_workers_split_the_accounts_that_have_work(engine, sandbox) -> None:
    for n in range(4):
        account = add_account(engine, "x", name=f"x-{n}", base_url=sandbox.url)
        schedule(engine, approved_post(engine, text=f"Compte {n}"), account)
    alone = make_worker(engine, name="w-1", publish_threads=8)
    alone.heartbeat()
    assert alone.claimer.fair_share() == 8
    with db.session_scope(engine) as session:
        session.add(WorkerHeartbeat(id="w-2", last_seen=utcnow()))
        session.add(WorkerHeartbeat(id="w-gone", last_seen=utcnow() - dt.timedelta(hours=1)))
    assert alone.claimer.fair_share() == 2
    assert alone.dispatch(wait=True) == 2  # two accounts now; the rest is the other worker's share
    with db.session_scope(engine) as session:
        session.delete(session.get(WorkerHeartbeat, "w-2"))
    alone.run_once()
    assert len(sandbox.sandbox.posts("x")) == 4


def test_a_held_late_delivery_is_not_claimed(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account, at=utcnow() - dt.timedelta(hours=5))
    with db.session_scope(engine) as session:
        deliveries._hold(session, [session.get(deliveries.Delivery, delivery_id)], actor="t", reason="case paused")
    assert make_worker(engine).claim() == []


def test_a_correction_that_changes_nothing_writes_nothing_and_refills_the_same(engine, sandbox) -> None:
    """Only a correction that lowers the tokens or blocks is written: refilling later from the
    untouched row gives what refilling from a written refill would have given."""
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        bucket = session.exec(select(RateBucket).where(RateBucket.account_id == account_id,
                                                       RateBucket.endpoint == "publish")).one()
        bucket.tokens, bucket.updated_at = 3.0, utcnow() - dt.timedelta(seconds=30)
        session.add(bucket)
    before = buckets(engine, name)["publish"]
    with db.session_scope(engine) as session:
        budgets.correct(session, account_id=account_id, infos=[RateInfo("publish", before.capacity, None, None)])
    after = buckets(engine, name)["publish"]
    assert (after.tokens, after.updated_at) == (before.tokens, before.updated_at)
    now = utcnow()
    budgets.refill(before, now)
    stepwise = budgets.Bucket(0, after.capacity, after.window_seconds, after.tokens, after.updated_at, None)
    budgets.refill(stepwise, now - dt.timedelta(seconds=10))
    budgets.refill(stepwise, now)
    assert stepwise.tokens == pytest.approx(before.tokens)
    with db.session_scope(engine) as session:  # a lower figure is written
        budgets.correct(session, account_id=account_id, infos=[RateInfo("publish", 1, after.capacity, None)])
    assert buckets(engine, name)["publish"].tokens == 1.0


# ---------------------------------------------------------------------------------------------
# The rate budget is a promise to the platforms: it must show when it is not kept. The platforms'
# own 429s are handled too, so these count what the emulator received, with its limits far above
# ours: only our budget can stop the worker.


def test_a_worker_never_calls_a_platform_more_than_the_publish_budget_allows(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url, options={"rate_limits": {"publish": [3, 3600]}})
    ids = [schedule(engine, approved_post(engine, text=f"Écrivez pour Juan, message {n}. #W4R"), name)
           for n in range(8)]
    started = utcnow()
    make_worker(engine).run_once()
    posted = [path for _kind, method, path in sandbox.sandbox.request_log if method == "POST" and path == "/2/tweets"]
    assert len(posted) == 3  # what the platform received, not what we recorded
    assert len(sandbox.sandbox.posts("x")) == 3
    rows = [delivery(engine, i) for i in ids]
    assert [d.state for d in rows].count(states.PUBLISHED) == 3
    waiting = [d for d in rows if d.state != states.PUBLISHED]
    assert {d.state for d in waiting} == {states.SCHEDULED}
    # What the budget cannot cover waits for its next token (one every 20 minutes here), not refused.
    assert all(d.due_at >= started + dt.timedelta(minutes=19) for d in waiting)
    assert buckets(engine, name)["publish"].tokens < 1


def test_a_container_platform_gets_no_more_posts_than_the_publish_budget_allows(engine, sandbox, media) -> None:
    """Two steps per post (a container, then its publishing): the budget is spent before the
    first, so what it cannot cover makes no container either. Threads and Instagram at once."""
    ids = {}
    for kind in ("threads", "instagram"):
        name = add_account(engine, kind, name=f"{kind}-test", base_url=sandbox.url, is_sandbox=kind == "instagram",
                           options={**FAST_CONTAINERS, "rate_limits": {"publish": [3, 3600]}})
        ids[kind] = [schedule(engine, post_for(engine, kind, f"Écrivez pour Juan, message {n}. #W4R"), name)
                     for n in range(5)]
    started = utcnow()
    make_worker(engine, **media.env()).run_once()
    for kind, create in (("threads", r"/threads$"), ("instagram", r"/media$")):
        posted = [path for platform, method, path in sandbox.sandbox.request_log
                  if platform == kind and method == "POST" and re.search(create, path)]
        assert len(posted) == 3, (kind, posted)  # containers made: what the platform received
        assert sandbox.sandbox.calls(kind, PUBLISH_PATHS[kind]) == 3, kind
        assert len(sandbox.sandbox.posts(kind)) == 3, kind
        rows = [delivery(engine, i) for i in ids[kind]]
        assert [d.state for d in rows].count(states.PUBLISHED) == 3, kind
        waiting = [d for d in rows if d.state != states.PUBLISHED]
        assert {d.state for d in waiting} == {states.SCHEDULED}, kind
        assert all(d.due_at >= started + dt.timedelta(minutes=19) for d in waiting), kind
    assert media.served == 3  # each of Instagram's images fetched by the platform from the links service


def test_the_budget_refills_at_its_rate_and_no_faster(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url, options={"rate_limits": {"publish": [2, 600]}})
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        now = utcnow()
        bucket = budgets.read_bucket(session, account_id=account_id, endpoint="publish")
        assert bucket is not None and bucket.tokens == 2
        assert budgets.take(bucket, now, 5) == (2, now + dt.timedelta(seconds=300))  # one token per 300 s
        assert budgets.take(bucket, now + dt.timedelta(seconds=299), 1)[0] == 0
        taken, next_free = budgets.take(bucket, now + dt.timedelta(seconds=300), 1)
        assert (taken, next_free) == (1, None)
        assert budgets.take(bucket, now + dt.timedelta(seconds=300), 1)[0] == 0
        # a long pause never fills the bucket beyond its capacity
        assert budgets.take(bucket, now + dt.timedelta(days=1), 10)[0] == 2
        budgets.write_bucket(session, bucket)
    assert buckets(engine, name)["publish"].tokens == 0


def test_a_blocked_budget_gives_nothing_until_the_platform_resets_it(engine, sandbox) -> None:
    add_account(engine, "x", name="x-test", base_url=sandbox.url)
    reset = utcnow() + dt.timedelta(minutes=5)
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        budgets.block_until(session, account_id=account_id, endpoint="publish", until=reset)
    with db.session_scope(engine) as session:
        bucket = budgets.read_bucket(session, account_id=account_id, endpoint="publish")
        assert bucket is not None
        assert budgets.take(bucket, reset - dt.timedelta(seconds=1), 1) == (0, reset)
        assert budgets.spend(session, account_id=account_id, endpoint="publish", now=reset - dt.timedelta(seconds=1)) \
            == (False, reset)
        assert budgets.take(bucket, reset + dt.timedelta(seconds=30), 1)[0] == 1  # refilled from the reset


def test_spending_takes_all_or_nothing_and_says_when_to_come_back(engine, sandbox) -> None:
    """``spend`` is the budget of reconciling (``read``) and metrics: the same promise as publishing."""
    add_account(engine, "x", name="x-a", base_url=sandbox.url, options={"rate_limits": {"read": [2, 60]}})
    add_account(engine, "x", name="x-b", base_url=sandbox.url, options={"rate_limits": {"read": [2, 60]}})
    with db.session_scope(engine) as session:
        a, b = (session.exec(select(Account).where(Account.name == n)).one().id for n in ("x-a", "x-b"))
        now = utcnow()
        assert budgets.spend(session, account_id=a, endpoint="read", now=now) == (True, None)  # one by default
        assert budgets.spend(session, account_id=a, endpoint="read", n=1, now=now) == (True, None)  # exactly the rest
        # empty: one token comes back every 30 s; a wait is never announced shorter than a second
        assert budgets.spend(session, account_id=a, endpoint="read", now=now) == (False, now + dt.timedelta(seconds=30))
        assert budgets.spend(session, account_id=a, endpoint="read", n=1, now=now + dt.timedelta(seconds=29.5)) \
            == (False, now + dt.timedelta(seconds=30.5))
        assert budgets.spend(session, account_id=a, endpoint="read", now=now + dt.timedelta(seconds=30))[0]
        assert budgets.spend(session, account_id=b, endpoint="read", n=2, now=now) == (True, None)  # its own bucket
        assert budgets.spend(session, account_id=b, endpoint="nothing-limits-this", n=99, now=now) == (True, None)
        assert budgets.spend(session, account_id=b, endpoint="read")[0] is False  # "now" by default is now
    assert buckets(engine, "x-a")["read"].tokens == pytest.approx(0, abs=0.1)


def test_a_block_empties_the_bucket_and_holds_until_the_reset(engine, sandbox) -> None:
    add_account(engine, "x", name="x-test", base_url=sandbox.url, options={"rate_limits": {"read": [60, 60]}})
    reset = utcnow() + dt.timedelta(seconds=10)
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        budgets.block_until(session, account_id=account_id, endpoint="read", until=reset)
    with db.session_scope(engine) as session:
        assert budgets.spend(session, account_id=account_id, endpoint="read", now=reset - dt.timedelta(seconds=1)) \
            == (False, reset)
        bucket = budgets.lock_bucket(session, account_id=account_id, endpoint="read")
        assert bucket is not None
        since = (reset - bucket.updated_at).total_seconds()  # emptied at the block, refilled at 1 a second
        assert budgets.spend(session, account_id=account_id, endpoint="read", n=int(since) + 1, now=reset)[0] is False
        assert budgets.spend(session, account_id=account_id, endpoint="read", n=int(since), now=reset) == (True, None)


def test_the_budget_at_its_edges(engine, sandbox) -> None:
    """Edges found by mutation testing: the default of one token, the instant of a reset, a
    fraction of a token already there, a second asked twice, a bucket that allows nothing."""
    add_account(engine, "x", name="x-test", base_url=sandbox.url, options={"rate_limits": {"publish": [2, 600], "read": [60, 60],
                                                              "metrics": [0, 60]}})
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        now = utcnow()
        publish = budgets.read_bucket(session, account_id=account_id, endpoint="publish")
        assert publish is not None
        assert budgets.take(publish, now) == (1, None)  # one token unless told otherwise
        assert budgets.take(publish, now) == (1, None)
        # 150 s later half a token is back (one every 300 s): the next is 150 s away, not 450
        assert budgets.take(publish, now + dt.timedelta(seconds=150), 1) == (0, now + dt.timedelta(seconds=300))
        publish.blocked_until = now + dt.timedelta(seconds=900)
        assert budgets.take(publish, now + dt.timedelta(seconds=900), 1) == (1, None)  # free at the reset itself
        read = budgets.read_bucket(session, account_id=account_id, endpoint="read")
        assert read is not None
        assert budgets.take(read, now, 60) == (60, None)
        assert budgets.take(read, now, 1) == (0, now + dt.timedelta(seconds=1))  # the same instant refills nothing
        nothing = budgets.read_bucket(session, account_id=account_id, endpoint="metrics")
        assert nothing is not None
        assert budgets.take(nothing, now, 1) == (0, now + dt.timedelta(seconds=60))  # never: look again in a minute
        assert budgets.spend(session, account_id=account_id, endpoint="metrics", now=now) == \
            (False, now + dt.timedelta(seconds=60))


def test_a_correction_for_an_endpoint_without_a_bucket_does_not_stop_the_others(engine, sandbox) -> None:
    name = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
        budgets.correct(session, account_id=account_id, infos=[RateInfo("aaa-unknown", 0, 5, None),
                                                               RateInfo("publish", 3, 100, None)])
    assert buckets(engine, name)["publish"].tokens == 3
