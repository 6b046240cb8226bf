"""The Listener wired to the budgets and to the channels' real costs: every call a page made is
charged to the stream's own bucket, an account older than the listening endpoints still gets
their buckets, X's first poll reads one smallest page (not the seven-day window) and counts the
rest, and two workers never count a post twice nor poll one stream at once."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import db
from orchestrator.models import Account, ListenCursor, PublicPost, RateBucket, Response
from orchestrator.services import listening
from tests import factories
from tests.orchestrator.listen_helpers import CASE_TAG, EDITION_TAG, make_worker, setup_terms


def _x(sandbox):
    em = sandbox.sandbox.emulator("x")
    em.auto_public = False
    return em


def _bucket(engine, endpoint: str) -> RateBucket | None:
    with db.session_scope(engine) as session:
        row = session.exec(select(RateBucket).where(RateBucket.endpoint == endpoint)).first()
        if row is not None:
            session.expunge(row)
        return row


def _cursor(engine, stream: str) -> ListenCursor | None:
    with db.session_scope(engine) as session:
        row = session.exec(select(ListenCursor).where(ListenCursor.stream == stream)).first()
        if row is not None:
            session.expunge(row)
        return row


def test_every_call_of_a_page_is_charged_to_its_streams_bucket(engine, sandbox) -> None:
    em = _x(sandbox)
    factories.add_account(engine, "x", base_url=sandbox.url)  # OAuth 2.0: our id costs GET /2/users/me once
    setup_terms(engine, edition_terms={})
    em.inject_public(CASE_TAG, 3)
    report = make_worker(engine).listen()
    assert report.new == 3
    search, mentions, counts = _bucket(engine, "search"), _bucket(engine, "mentions"), _bucket(engine, "counts")
    # the term's first poll: /users/me + one search; the answers: one mentions call; one count
    assert search.capacity - search.tokens == pytest.approx(2, abs=0.1)
    assert mentions.capacity - mentions.tokens == pytest.approx(1, abs=0.1)
    assert counts.capacity - counts.tokens == pytest.approx(1, abs=0.1)
    assert report.calls == 4


def test_an_account_without_the_listening_buckets_gets_them_and_is_limited(engine, sandbox) -> None:
    _x(sandbox)
    factories.add_account(engine, "x", base_url=sandbox.url)
    setup_terms(engine, edition_terms={})
    with db.session_scope(engine) as session:  # as an account added before listening existed
        for row in session.exec(select(RateBucket).where(col(RateBucket.endpoint).in_(["search", "mentions", "counts"]))):
            session.delete(row)
    make_worker(engine).listen()
    for endpoint in ("search", "mentions", "counts"):
        bucket = _bucket(engine, endpoint)
        assert bucket is not None and bucket.capacity == 300 and bucket.tokens < 300, endpoint


def test_listening_keeps_the_reserve_counting_the_calls_it_needs_ahead(engine, sandbox) -> None:
    """Two calls ahead (our id unknown yet) with a bucket of 3 and half in reserve: none is made."""
    em = _x(sandbox)
    factories.add_account(engine, "x", base_url=sandbox.url, options={"rate_limits": {"search": [3, 900]}})
    setup_terms(engine, edition_terms={})
    em.inject_public(CASE_TAG, 2)
    report = make_worker(engine, listen_reserve=0.5).listen()
    assert report.new == 0 and report.held_for_budget
    assert _bucket(engine, "search").tokens == pytest.approx(3, abs=0.1)


def test_x_first_poll_reads_one_smallest_page_and_counts_the_window(engine, sandbox) -> None:
    em = _x(sandbox)
    factories.add_account(engine, "x", base_url=sandbox.url)
    setup_terms(engine, edition_terms={})
    em.inject_public(CASE_TAG, 60, spread=3600)
    worker = make_worker(engine)
    first = worker.listen()
    assert first.new == 10  # not 60: X bills each post read
    row = _cursor(engine, f"tag:{CASE_TAG.lower()}")
    assert row.posts_read_this_month == 10
    count = _cursor(engine, f"count:tag:{CASE_TAG.lower()}")
    assert listening.counted(count)[0] == 60 and count.calls_this_month == 1
    assert first.counted == {("x-fr", f"tag:{CASE_TAG.lower()}"): 60}
    em.inject_public(CASE_TAG, 3)
    second = worker.listen()
    assert second.new == 3 and second.counted == {}  # counted once a day
    with db.session_scope(engine) as session:
        account = session.exec(select(Account)).one()
        state = listening.account_states(session, account=account)
    assert state["count_calls_this_month"] == 1
    estimate = state["reading_estimates"][0]
    assert estimate["posts"] == 60 and estimate["cost_per_month_usd"] > 0


def test_x_first_poll_with_nothing_found_starts_from_now(engine, sandbox) -> None:
    em = _x(sandbox)
    factories.add_account(engine, "x", base_url=sandbox.url)
    setup_terms(engine, edition_terms={})
    worker = make_worker(engine)
    assert worker.listen().new == 0
    em.inject_public(CASE_TAG, 4)
    assert worker.listen().new == 4
    assert worker.listen().new == 0


def _counted_once(engine) -> tuple[int, int]:
    with db.session_scope(engine) as session:
        posts = len(session.exec(select(PublicPost).where(col(PublicPost.case_id).is_not(None))).all())
        total = sum(r.count for r in session.exec(select(Response).where(Response.source_type == "listening")))
    return posts, total


def test_two_workers_listening_at_once_count_each_post_once(engine, sandbox) -> None:
    em = sandbox.sandbox.emulator("mastodon")
    em.auto_public = False
    factories.add_account(engine, "mastodon", name="mastodon-test", base_url=sandbox.url)
    setup_terms(engine)
    for i in range(30):
        em.public_post(tag=CASE_TAG, author=i)
        em.public_post(tag=EDITION_TAG, author=i)
    workers = [make_worker(engine, name=f"w{i}") for i in range(2)]
    errors: list[BaseException] = []

    def run(worker) -> None:
        try:
            worker.listen()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert _counted_once(engine) == (30, 30)
    for worker in workers:
        worker.listen()
    assert _counted_once(engine) == (30, 30)


def test_cursor_rows_made_by_two_sessions_at_once_are_one_row(engine) -> None:
    factories.add_account(engine, "mastodon")
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
    first = Session(engine)
    try:
        row = listening.cursor_row(first, account_id=account_id, stream="tag:x")  # not committed yet
        assert row.id is not None
        done: list[int] = []

        def other() -> None:
            with db.session_scope(engine) as session:
                done.append(listening.cursor_row(session, account_id=account_id, stream="tag:x").id)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)  # waits on the first session's insert (PostgreSQL) or the write lock (SQLite)
        first.commit()
        thread.join(30)
        assert done == [row.id]
    finally:
        first.close()
    with db.session_scope(engine) as session:
        assert len(session.exec(select(ListenCursor)).all()) == 1


def test_a_stream_another_worker_is_polling_is_left_to_it(engine, sandbox) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's (SQLite has one writer)")
    import zlib

    em = sandbox.sandbox.emulator("mastodon")
    em.auto_public = False
    factories.add_account(engine, "mastodon", name="mastodon-test", base_url=sandbox.url)
    setup_terms(engine, edition_terms={})
    em.public_post(tag=CASE_TAG, author=1)
    with db.session_scope(engine) as session:
        account_id = session.exec(select(Account)).one().id
    stream = f"tag:{CASE_TAG.lower()}"
    with engine.connect() as other:
        key = zlib.crc32(stream.encode()) - (1 << 31)
        assert other.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": account_id, "b": key}).scalar()
        report = make_worker(engine).listen()
        assert report.new == 0 and report.busy == [("mastodon-test", stream)]
        other.execute(sa.text("SELECT pg_advisory_unlock(:a, :b)"), {"a": account_id, "b": key})
        other.commit()
    assert make_worker(engine).listen().new == 1


def test_calls_a_page_made_beyond_the_one_taken_are_charged_after_it(engine, sandbox) -> None:
    """Facebook's answers: one call for our posts, one more for a post's further comments."""
    from tests.orchestrator.listen_helpers import publish_one

    em = sandbox.sandbox.emulator("facebook")
    em.auto_public = False
    name = factories.add_account(engine, "facebook", base_url=sandbox.url)
    setup_terms(engine, case_terms={}, edition_terms={})
    worker = make_worker(engine)
    ours = publish_one(engine, name, worker)
    em.inject_public(n=150, kinds=("reply",), answers=ours)
    with db.session_scope(engine) as session:  # the bucket full, so the arithmetic is plain
        bucket = session.exec(select(RateBucket).where(RateBucket.endpoint == "read")).one()
        bucket.tokens = float(bucket.capacity)
        session.add(bucket)
    report = worker.listen()
    assert report.answers == 150 and report.pages == 1 and report.calls == 2
    read = _bucket(engine, "read")
    assert read.capacity - read.tokens == pytest.approx(2, abs=0.2)
    assert _cursor(engine, "answers").calls_this_month == 2
