"""What keeps the publishing path cheap without changing what it does: claims read the partial
indexes in order, SQLite writers of one process queue on a lock instead of sleeping, read-only
work takes no write lock, and a batch of transitions is one log record written as one line per
transition."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from orchestrator import db, logs, states
from orchestrator.models import CLAIMABLE_SQL
from orchestrator.timeutil import NaiveDatetimeError, utcnow
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule
from tests.orchestrator.worker.test_worker import make_worker


def test_the_claimable_sql_names_the_claimable_states() -> None:
    named = CLAIMABLE_SQL.split("(")[1].rstrip(")").replace("'", "").split(", ")
    assert tuple(named) == states.CLAIMABLE


@pytest.mark.parametrize("per_account", [False, True])
def test_a_claim_walks_a_partial_index_in_order_without_sorting(engine, sandbox, per_account: bool) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite, whose planner needs the hint; PostgreSQL plans by statistics")
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    for i in range(3):
        schedule(engine, approved_post(engine, text=f"Texte {i}"), account)
    worker = make_worker(engine)
    seen: list[str] = []

    def plan(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "ORDER BY delivery.due_at" in statement and not statement.startswith("EXPLAIN"):
            rows = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
            seen.extend(str(row[-1]) for row in rows)

    sa.event.listen(engine, "after_cursor_execute", plan)
    try:
        account_id = None
        if per_account:
            with engine.connect() as conn:
                account_id = conn.execute(sa.text("SELECT id FROM account")).scalar_one()
        claimed = worker.claim(account_id=account_id)
    finally:
        sa.event.remove(engine, "after_cursor_execute", plan)
    assert len(claimed) == 3
    index = "ix_delivery_claim_account" if per_account else "ix_delivery_claim_order"
    assert any(index in line for line in seen), seen
    assert not any("TEMP B-TREE" in line for line in seen), seen



def _account_id(engine: sa.Engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM account WHERE name = :n"), {"n": name}).scalar_one()


def test_a_tick_while_an_account_is_busy_claims_the_others_without_reading_its_backlog(engine, sandbox) -> None:
    busy = add_account(engine, "x", name="x-occupe", base_url=sandbox.url)
    free = add_account(engine, "mastodon", name="m-libre", base_url=sandbox.url)
    late = utcnow() - dt.timedelta(minutes=5)
    for i in range(40):  # the busy account's backlog comes first in the claiming order
        schedule(engine, approved_post(engine, text=f"Occupé {i}"), busy, at=late)
    waiting = [schedule(engine, approved_post(engine, text=f"Libre {i}"), free) for i in range(3)]
    worker = make_worker(engine)
    statements: list[str] = []
    plans: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("EXPLAIN"):
            return
        statements.append(statement)
        if engine.dialect.name == "sqlite" and "FROM delivery" in statement and statement.startswith("SELECT"):
            plans.extend(str(r[-1]) for r in cursor.connection.execute("EXPLAIN QUERY PLAN " + statement,
                                                                        parameters).fetchall())

    sa.event.listen(engine, "after_cursor_execute", seen)
    try:
        claimed = worker.claim(max_accounts=4, exclude={_account_id(engine, busy)})
    finally:
        sa.event.remove(engine, "after_cursor_execute", seen)
    assert sorted(c.delivery_id for c in claimed) == waiting
    assert {c.account_id for c in claimed} == {_account_id(engine, free)}
    if engine.dialect.name == "sqlite":
        # every read of the delivery table goes through an index: none walks the busy backlog
        assert not any(line.startswith("SCAN delivery") for line in plans), plans
        assert any("ix_delivery_claim_account" in line for line in plans), plans


def test_an_account_with_nothing_claimable_does_not_take_a_slot(engine, sandbox) -> None:
    """The accounts are asked one by one, earliest due first: one whose due post cannot go (its
    approval was withdrawn) does not keep a later account from being claimed in the same tick."""
    first = add_account(engine, "x", name="x-premier", base_url=sandbox.url)
    second = add_account(engine, "bluesky", name="b-second", base_url=sandbox.url)
    other = add_account(engine, "mastodon", name="m-occupe", base_url=sandbox.url)
    schedule(engine, approved_post(engine, text="Autre"), other)
    withdrawn = approved_post(engine, text="Retiré")
    stuck = schedule(engine, withdrawn, first, at=utcnow() - dt.timedelta(minutes=2))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE post SET status = 'submitted' WHERE id = :p"), {"p": withdrawn})
    fine = schedule(engine, approved_post(engine, text="Part"), second)
    claimed = make_worker(engine).claim(max_accounts=1, exclude={_account_id(engine, other)})
    assert [c.delivery_id for c in claimed] == [fine]
    assert stuck not in [c.delivery_id for c in claimed]


def test_rows_written_by_the_driver_read_back_as_the_orm_wrote_them(engine, sandbox) -> None:
    """The batch statements go to the driver with values converted by the columns' own types:
    what the ORM reads back is what it would have written itself."""
    from orchestrator.models import Attempt, Delivery

    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    ids = [schedule(engine, approved_post(engine, text=f"Pilote {i}"), account) for i in range(3)]
    at = utcnow().replace(microsecond=0) + dt.timedelta(microseconds=1)
    with db.session_scope(engine) as session:
        states.transition_many(session, [(i, states.SCHEDULED, {}) for i in ids], states.PUBLISHING,
                               actor="w1", outcome="claimed", worker_id="w1", lease_until=at)
    with db.session_scope(engine) as session:
        states.transition_many(session, [(i, states.PUBLISHING, {"platform_id": f"p{i}", "published_at": at,
                                                                  "duration_ms": 7 + n})
                                         for n, i in enumerate(ids)],
                               states.PUBLISHED, actor="w1", outcome="published", worker_id=None, lease_until=None)
    with db.session_scope(engine) as session:
        for n, i in enumerate(ids):
            delivery = session.get(Delivery, i)
            assert delivery is not None
            assert (delivery.state, delivery.platform_id, delivery.published_at, delivery.lease_until) == (
                states.PUBLISHED, f"p{i}", at, None)
            rows = session.exec(sa.select(Attempt).where(Attempt.delivery_id == i).order_by(Attempt.id)).scalars().all()
            assert [(r.from_state, r.to_state, r.actor) for r in rows][-2:] == [
                (states.SCHEDULED, states.PUBLISHING, "w1"), (states.PUBLISHING, states.PUBLISHED, "w1")]
            assert rows[-1].duration_ms == 7 + n and rows[-2].duration_ms is None
            assert rows[-1].at.tzinfo is not None and abs((rows[-1].at - utcnow()).total_seconds()) < 60
        # the stored times compare with bound times as the claim's query compares them
        due = session.exec(sa.select(sa.func.count()).select_from(Delivery).where(
            Delivery.published_at == at, Delivery.id.in_(ids))).scalar_one()
        assert due == 3


@pytest.mark.parametrize("own", [False, True], ids=["shared-values", "own-values"])
def test_a_naive_time_is_refused_on_the_driver_path_too(engine, sandbox, own: bool) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine, text="Naïf"), account)
    naive = {"lease_until": dt.datetime(2026, 12, 1)}
    with pytest.raises((NaiveDatetimeError, sa.exc.StatementError)) as raised, db.session_scope(engine) as session:
        states.transition_many(session, [(delivery_id, states.SCHEDULED, naive if own else {})], states.PUBLISHING,
                               actor="w1", outcome="claimed", worker_id="w1", **({} if own else naive))
    assert "fuseau" in str(raised.value)
    with engine.connect() as conn:
        state = conn.execute(sa.text("SELECT state FROM delivery WHERE id = :i"), {"i": delivery_id}).scalar_one()
    assert state == states.SCHEDULED  # nothing half-saved

def _sqlite_engine(tmp_path: Path) -> sa.Engine:
    engine = db.make_engine(f"sqlite:///{tmp_path}/w.db")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    return engine


def test_writers_of_one_process_queue_without_losing_a_row(tmp_path: Path) -> None:
    engine = _sqlite_engine(tmp_path)

    def write() -> None:
        for _ in range(100):
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO t VALUES (1)")

    threads = [threading.Thread(target=write) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.monotonic() - started
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 400
    # 400 short transactions: SQLite's own sleeps between tries would add up to seconds
    assert elapsed < 30
    engine.dispose()


def test_the_write_lock_is_let_go_after_a_failure_a_read_and_a_closed_connection(tmp_path: Path) -> None:
    engine = _sqlite_engine(tmp_path)
    lock = db._WRITERS[str(engine.url.database)]
    with pytest.raises(ValueError), engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert lock.locked()
        raise ValueError("boom")
    assert not lock.locked()
    with engine.connect() as conn:  # autobegun, never committed: given back to the pool
        conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
    assert not lock.locked()
    conn = engine.connect()
    conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    conn.invalidate()  # a connection lost mid-transaction
    assert not lock.locked()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
    engine.dispose()


def test_a_read_only_session_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    engine = _sqlite_engine(tmp_path)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (7)")
        # a writer holds the lock; a reader goes on (WAL), and sees the last committed state
        result: list[int] = []

        def read() -> None:
            with db.read_scope(engine) as session:
                result.append(session.execute(sa.text("SELECT count(*) FROM t")).scalar_one())

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=10)
        assert result == [0]
    engine.dispose()


def _capture(formatter: logging.Formatter) -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.RedactingFilter())
    handler.setFormatter(formatter)
    return handler, stream


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_batch_of_transitions_is_one_record_and_one_line_each(engine, sandbox, fmt: str) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    ids = [schedule(engine, approved_post(engine, text=f"Lot {i}"), account) for i in range(3)]
    formatter = logs.JsonFormatter() if fmt == "json" else logs.TextFormatter("%(levelname)s %(name)s: %(message)s")
    handler, stream = _capture(formatter)
    records: list[logging.LogRecord] = []
    counter = logging.Handler()
    counter.emit = records.append  # type: ignore[method-assign]
    delivery_log = logging.getLogger("porte_voix.delivery")
    old = delivery_log.level
    delivery_log.setLevel(logging.INFO)
    delivery_log.addHandler(handler)
    delivery_log.addHandler(counter)
    try:
        with db.session_scope(engine) as session:
            states.transition_many(session, [(i, states.SCHEDULED, {}) for i in ids], states.CANCELLED,
                                   actor="marie", outcome="cancelled")
    finally:
        delivery_log.removeHandler(handler)
        delivery_log.removeHandler(counter)
        delivery_log.setLevel(old)
    assert len(records) == 1
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    if fmt == "json":
        parsed = [json.loads(line) for line in lines]
        assert [p["delivery_id"] for p in parsed] == ids
        assert {(p["event"], p["from"], p["to"], p["actor"]) for p in parsed} == {
            ("transition", "scheduled", "cancelled", "marie")}
        assert parsed[0]["message"] == f"delivery {ids[0]}: scheduled -> cancelled"
    else:
        assert lines[1] == f"INFO porte_voix.delivery: delivery {ids[1]}: scheduled -> cancelled"


def test_events_of_a_batch_are_cleaned_like_extra_fields() -> None:
    handler, stream = _capture(logs.JsonFormatter())
    record = logging.makeLogRecord({
        "name": "porte_voix.test", "levelno": logging.INFO, "levelname": "INFO", "msg": "2 events",
        "event_message": "{what}", "events": [{"what": "a", "api_token": "s3cret"},
                                              {"what": "url?access_token=abcdef123456", "n": 1}],
    })
    handler.handle(record)
    text = stream.getvalue()
    assert "s3cret" not in text and "abcdef123456" not in text
    assert len(text.splitlines()) == 2


def test_fields_shared_by_a_batch_are_cleaned_once_and_written_on_every_line() -> None:
    handler, stream = _capture(logs.JsonFormatter())
    record = logging.makeLogRecord({
        "name": "porte_voix.test", "levelno": logging.INFO, "levelname": "INFO", "msg": "2 events",
        "event_message": "{n} {where}", "event_common": {"where": "https://x.test/?access_token=zz9secret",
                                                         "page_token": "tok"},
        "events": [{"n": 1}, {"n": 2, "where": "ici"}],
    })
    handler.handle(record)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "zz9secret" not in stream.getvalue() and '"tok"' not in stream.getvalue()
    assert [line["n"] for line in lines] == [1, 2]
    assert lines[0]["page_token"] == "«masqué»" and lines[1]["where"] == "ici"  # an event's own field wins
    assert lines[1]["message"] == "2 ici"


def test_a_claimed_batch_is_published_and_logged_once_per_delivery(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    for i in range(5):
        schedule(engine, approved_post(engine, text=f"Cinq {i}"), account, at=utcnow())
    handler, stream = _capture(logs.JsonFormatter())
    root = logging.getLogger()
    old = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        make_worker(engine).run_once()
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
    moves = [json.loads(line) for line in stream.getvalue().splitlines()]
    moves = [m for m in moves if m.get("event") == "transition"]
    assert sorted(m["to"] for m in moves) == ["published"] * 5 + ["publishing"] * 5
    assert len(sandbox.sandbox.posts("x")) == 5


_WRITER_CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from orchestrator import db
engine = db.make_engine(sys.argv[1])
for _ in range(150):
    with engine.begin() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one()
        conn.exec_driver_sql("INSERT INTO t VALUES (?)", (n,))
"""


def test_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    """Each child reads the count and writes it back in one transaction: were two transactions
    ever interleaved, two rows would carry the same number."""
    import subprocess
    import sys

    engine = _sqlite_engine(tmp_path)
    root = str(Path(__file__).resolve().parents[2])
    children = [subprocess.Popen([sys.executable, "-c", _WRITER_CHILD, str(engine.url), root]) for _ in range(2)]
    for child in children:
        assert child.wait(timeout=120) == 0
    with engine.connect() as conn:
        numbers = [row[0] for row in conn.exec_driver_sql("SELECT n FROM t ORDER BY n")]
    assert numbers == list(range(300))
    assert (tmp_path / "w.db.writer-lock").exists()
    engine.dispose()


def test_a_writer_gives_up_after_the_timeout_when_another_process_holds_the_lock(tmp_path: Path) -> None:
    import fcntl
    import os

    path = tmp_path / "x.db.writer-lock"
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another open file description: as another process would
    try:
        lock = db._WriterLock(str(path))
        started = time.monotonic()
        assert lock.acquire(timeout=0.3) is False
        assert 0.25 <= time.monotonic() - started < 5
        assert not lock.locked()  # the thread lock is given back too
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    assert lock.acquire(timeout=1) is True
    lock.release()


def _bulk_deliveries(engine: sa.Engine, sandbox_url: str, n: int) -> list[int]:
    """``n`` scheduled deliveries of one approved post, due in a shuffled order (one insert)."""
    from orchestrator.models import Delivery

    account = add_account(engine, "x", name="x-test", base_url=sandbox_url)
    post_id = approved_post(engine, text="En nombre")
    with engine.connect() as conn:
        account_id = conn.execute(sa.text("SELECT id FROM account WHERE name = :n"), {"n": account}).scalar_one()
    now = utcnow()
    rows = [{"post_id": post_id, "account_id": account_id, "state": states.SCHEDULED, "attempts": 0,
             "scheduled_at": now - dt.timedelta(seconds=(i * 7919) % n), "due_at": now - dt.timedelta(seconds=(i * 7919) % n),
             "source_code": f"n{i:05d}", "rendered_text": f"Texte {i}", "rendered_link": None if i % 3 else f"https://a.ca/{i}",
             "created_at": now, "updated_at": now, "last_error": "", "last_error_kind": "", "held_reason": ""}
            for i in range(n)]
    with engine.begin() as conn:
        conn.execute(sa.insert(Delivery), rows)
        return [r[0] for r in conn.execute(sa.text("SELECT id FROM delivery WHERE post_id = :p ORDER BY id"),
                                          {"p": post_id})]


def _count_statements(engine: sa.Engine, words: str, counted: list[str]):  # noqa: ANN202
    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith(words):
            counted.append("many" if executemany else "one")
    sa.event.listen(engine, "before_cursor_execute", seen)
    return lambda: sa.event.remove(engine, "before_cursor_execute", seen)


def test_many_rows_go_in_a_few_statements_on_sqlite_and_read_back_as_written(engine, sandbox) -> None:
    """On SQLite a batch is written a few hundred rows per statement (the driver steps once per
    statement, not once per row); every row gets its own values and its attempt row."""
    from orchestrator.models import Attempt, Delivery

    ids = _bulk_deliveries(engine, sandbox.url, 450)
    inserts: list[str] = []
    updates: list[str] = []
    stop = [_count_statements(engine, "INSERT INTO attempt", inserts), _count_statements(engine, "UPDATE delivery", updates)]
    try:
        with db.session_scope(engine) as session:
            states.transition_many(session, [(i, states.SCHEDULED, {}) for i in ids], states.PUBLISHING,
                                   actor="w1", outcome="claimed", worker_id="w1", lease_until=utcnow())
        with db.session_scope(engine) as session:
            states.transition_many(session, [(i, states.PUBLISHING, {"platform_id": f"p{i}", "attempts": n % 5,
                                                                      "duration_ms": n})
                                             for n, i in enumerate(ids)],
                                   states.PUBLISHED, actor="w1", outcome="published", worker_id=None, lease_until=None)
    finally:
        for remove in stop:
            remove()
    if engine.dialect.name == "sqlite":
        per = db.SQLITE_ROWS_PER_STATEMENT
        assert inserts == ["one"] * (2 * -(-450 // per))  # claimed and published, in chunks
        assert updates == ["one"] * (1 + -(-450 // per))  # the claim: one UPDATE for all
    with db.session_scope(engine) as session:
        got = {d.id: (d.state, d.platform_id, d.attempts, d.worker_id)
               for d in session.exec(sa.select(Delivery).where(Delivery.id.in_(ids))).scalars()}
        assert got == {i: (states.PUBLISHED, f"p{i}", n % 5, None) for n, i in enumerate(ids)}
        durations = dict(session.exec(sa.select(Attempt.delivery_id, Attempt.duration_ms).where(
            Attempt.to_state == states.PUBLISHED, Attempt.delivery_id.in_(ids))).all())
        assert durations == {i: n for n, i in enumerate(ids)}


def test_rows_fetched_at_once_are_the_rows_of_the_query_in_its_order(engine, sandbox) -> None:
    """``db.fetch_rows`` gives what the driver gives row by row (dates, JSON, booleans, nulls), in
    the query's order; on SQLite in one statement step."""
    from orchestrator.worker.claimer import _due_statement

    _bulk_deliveries(engine, sandbox.url, 300)
    query = _due_statement(False, False, engine.dialect.name == "postgresql")
    params = {"now": utcnow(), "limit": 250}
    statements: list[str] = []
    stop = _count_statements(engine, "SELECT", statements)
    try:
        with db.read_scope(engine) as session:
            fetched = db.fetch_rows(session.connection(), query, params)
    finally:
        stop()
    with db.read_scope(engine) as session:
        plain = list(session.connection().execute(query, params))
    assert len(fetched) == 250
    assert [tuple(row) for row in fetched] == [tuple(row) for row in plain]
    assert [row.rendered_link for row in fetched[:3]] == [row.rendered_link for row in plain[:3]]
    assert {type(row.images) for row in fetched} == {list}
    if engine.dialect.name == "sqlite":
        assert statements == ["one"]


def test_the_recorder_writes_at_once_when_no_runner_is_publishing(engine, sandbox, monkeypatch) -> None:
    """Successes wait to be written together only while runners of the process are publishing;
    the last ones of a burst, or a single post's, are written at once."""
    from channels.base import Published
    from orchestrator.worker import recorder as worker_record
    from orchestrator.worker.claimer import Claimed

    monkeypatch.setattr(worker_record, "GATHER_SECONDS", 60.0)
    account = add_account(engine, "x", name="x-test", base_url=sandbox.url)
    first, second = (schedule(engine, approved_post(engine, text=f"Seul {i}"), account) for i in range(2))
    worker = make_worker(engine)
    claimed = {c.delivery_id: c for c in worker.claim()}
    assert set(claimed) == {first, second}

    def success(delivery_id: int) -> worker_record.Success:
        item: Claimed = claimed[delivery_id]
        return worker_record.Success(item, Published(platform_id=f"id-{delivery_id}", url=None), 5, [])

    worker.runners.add(claimed[first].account_id)  # a runner is publishing: the recorder gathers
    worker.recorder.enqueue(success(first))
    assert not worker.flush(timeout=0.5)
    worker.runners.clear()  # the runner ends, and says so
    worker.recorder.record_soon()
    assert worker.flush(timeout=10)
    worker.recorder.enqueue(success(second))  # nothing publishing: written without gathering
    assert worker.flush(timeout=10)
    assert delivery(engine, first).state == delivery(engine, second).state == states.PUBLISHED
    worker.stop()
