"""What keeps the publishing path cheap without changing what it does: claims read the partial
indexes in order, SQLite writers of one process queue on a lock instead of sleeping, read-only
work takes no write lock, and a batch of transitions is one log record written as one line per
transition."""

from __future__ import annotations

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
from orchestrator.timeutil import utcnow
from tests.orchestrator.helpers import add_account, approved_post, schedule
from tests.orchestrator.test_worker import make_worker


def test_the_claimable_sql_names_the_claimable_states() -> None:
    named = CLAIMABLE_SQL.split("(")[1].rstrip(")").replace("'", "").split(", ")
    assert tuple(named) == states.CLAIMABLE


@pytest.mark.parametrize("per_account", [False, True])
def test_a_claim_walks_a_partial_index_in_order_without_sorting(engine, sandbox, per_account: bool) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite, whose planner needs the hint; PostgreSQL plans by statistics")
    account = add_account(engine, sandbox.url)
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
    account = add_account(engine, sandbox.url)
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


def test_a_claimed_batch_is_published_and_logged_once_per_delivery(engine, sandbox) -> None:
    account = add_account(engine, sandbox.url)
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
