"""The API's fast write path: accepted tokens kept a few seconds (and forgotten when revoked), and
counts from concurrent requests written together by one thread, each request still counted once,
answered on its own, and refused on its own."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from orchestrator import db
from orchestrator.api import GroupWriter
from orchestrator.links import create_app
from orchestrator.models import ApiToken
from orchestrator.services import integrations
from orchestrator.timeutil import utcnow
from tests.orchestrator.notify.test_api import ADMIN, BASE, ITEM, auth, counts, stored, token


@pytest.fixture
def client(engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, notify_seconds=0)) as c:
        yield c


def row_of(engine: sa.Engine, token_id: int) -> ApiToken:
    with db.read_scope(engine) as s:
        return integrations.get_token(s, token_id)


def add(n: int = 1, **item: Any) -> dict[str, Any]:
    return {**ITEM, "count": n, **item}


# ---------------------------------------------------------------------------------------------
# tokens kept a few seconds


def test_a_token_revoked_in_this_process_is_refused_at_once(engine: sa.Engine, client: TestClient) -> None:
    token_id, secret = token(engine)
    assert client.post(f"{BASE}/responses", json=counts(ITEM, key="a"), headers=auth(secret)).status_code == 201
    assert integrations.cached_token(secret) is not None  # kept: the next request reads nothing
    with db.session_scope(engine) as s:
        integrations.revoke_token(s, actor=ADMIN, token_id=token_id)
    answer = client.post(f"{BASE}/responses", json=counts(ITEM, key="b"), headers=auth(secret))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "revoked_token"
    assert stored(engine) == (1, 12)


def test_a_token_read_while_its_revocation_commits_is_forgotten_at_the_commit(engine: sa.Engine) -> None:
    token_id, secret = token(engine)
    row = row_of(engine, token_id)
    with db.session_scope(engine) as s:
        integrations.revoke_token(s, actor=ADMIN, token_id=token_id)
        integrations.remember_token(secret, row, integrations.revocations())  # a request read it meanwhile
        assert integrations.cached_token(secret) is row
    assert integrations.cached_token(secret) is None


def test_a_token_revoked_elsewhere_stops_within_token_seconds(engine: sa.Engine, client: TestClient,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(integrations, "_clock", lambda: now[0])
    token_id, secret = token(engine)
    assert client.get(f"{BASE}/cases", headers=auth(secret)).status_code == 200
    with db.session_scope(engine) as s:  # as the dashboard's process would: this process is not told
        s.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow()))  # type: ignore[arg-type]
    now[0] += integrations.TOKEN_SECONDS - 0.5
    assert client.get(f"{BASE}/cases", headers=auth(secret)).status_code == 200  # within the stated bound
    now[0] += 0.5
    answer = client.get(f"{BASE}/cases", headers=auth(secret))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "revoked_token"
    assert integrations.TOKEN_SECONDS <= 5  # what the API's description promises


def test_a_kept_token_still_expires_on_time_and_a_revocation_during_a_read_wins(engine: sa.Engine) -> None:
    token_id, secret = token(engine, expires_at=utcnow() + dt.timedelta(minutes=5))
    row = row_of(engine, token_id)
    integrations.remember_token(secret, row, integrations.revocations())
    assert integrations.cached_token(secret) is row
    assert integrations.cached_token(secret, now=utcnow() + dt.timedelta(minutes=6)) == "expired_token"
    # read before a revocation in this process, kept after it: not kept
    _, other = token(engine, name="other")
    seen = integrations.revocations()
    integrations.forget_token(token_id)
    integrations.remember_token(other, row, seen)
    assert integrations.cached_token(other) is None


# ---------------------------------------------------------------------------------------------
# several requests in one transaction (write_requests)


def test_one_refused_request_leaves_the_others_written(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    requests = [
        (row, "a", counts(add(1), key="a", mode="add")),
        (row, "b", counts(add(2, email="marie@example.org"), key="b", mode="add")),  # personal data
        (row, "c", counts(add(4), key="c", mode="add")),
        (row, "d", counts(add(8, case="nobody"), key="d", mode="add")),
        (row, "", counts(add(16), key="", mode="add")),
        (row, "f", counts(add(32, day="2025-12-06"), key="f", mode="set")),
    ]
    with db.session_scope(engine) as s:
        results = integrations.write_requests(s, requests)
    codes = [r.code if isinstance(r, integrations.Refused) else type(r).__name__ for r in results]
    assert codes == ["Written", "personal_data", "Written", "unknown_case", "missing_key", "Written"]
    assert [r.total for r in results if isinstance(r, integrations.Written)] == [1, 4, 32]
    assert stored(engine) == (3, 37)


def test_the_same_key_twice_in_one_transaction_is_stored_once(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    body = counts(add(5), key="k", mode="add")
    with db.session_scope(engine) as s:
        results = integrations.write_requests(s, [(row, "k", body), (row, "k", dict(body)),
                                                  (row, "k", counts(add(6), key="k", mode="add"))])
    first, again, other = results
    assert isinstance(first, integrations.Written) and not first.duplicate
    assert isinstance(again, integrations.Written) and again.duplicate and again.import_id == first.import_id
    assert isinstance(other, integrations.Refused) and other.code == "key_reused"
    assert stored(engine) == (1, 5)


def test_adds_and_sets_in_one_transaction_end_as_one_by_one(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    steps = [("add", 3), ("add", 4), ("set", 10), ("add", 2), ("add", 1)]
    with db.session_scope(engine) as s:
        integrations.write_requests(s, [(row, f"k{i}", counts(add(n), key=f"k{i}", mode=mode))
                                        for i, (mode, n) in enumerate(steps)])
    assert stored(engine) == (5, 13)  # 3 + 4, replaced by 10, + 2 + 1


def test_a_key_stored_meanwhile_by_another_process_fails_only_its_request(engine: sa.Engine,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    with db.session_scope(engine) as s:
        integrations.write_counts(s, token=row, key="taken", body=counts(add(7), key="taken", mode="add"))
    # the other process stored "taken" after this one looked: the look finds nothing
    real, looks = integrations._earlier, []

    def first_blind(session: Any, digests: list[str]) -> dict[str, Any]:
        looks.append(digests)
        return {} if len(looks) == 1 else real(session, digests)

    monkeypatch.setattr(integrations, "_earlier", first_blind)
    with db.session_scope(engine) as s:
        results = integrations.write_requests(s, [(row, "n1", counts(add(1), key="n1", mode="add")),
                                                  (row, "taken", counts(add(7), key="taken", mode="add")),
                                                  (row, "n2", counts(add(2), key="n2", mode="add"))])
    assert isinstance(results[0], integrations.Written) and isinstance(results[2], integrations.Written)
    assert isinstance(results[1], integrations.Written) and results[1].duplicate  # answered as its replay
    assert stored(engine) == (3, 10)
    with db.session_scope(engine) as s:  # other figures under that key: refused, stored once still
        other = integrations.write_requests(s, [(row, "taken", counts(add(9), key="taken", mode="add")),
                                                (row, "n3", counts(add(1), key="n3", mode="add"))])
    assert isinstance(other[0], integrations.Refused) and other[0].code == "key_reused"
    assert isinstance(other[1], integrations.Written) and stored(engine) == (4, 11)


# ---------------------------------------------------------------------------------------------
# the writer thread


def test_concurrent_requests_are_each_counted_once_and_grouped(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    writer = GroupWriter(engine)
    start = threading.Barrier(8)

    def send(worker: int) -> list[Any]:
        start.wait()
        futures = [writer.submit(row, f"{worker}-{n}", counts(add(1), key=f"{worker}-{n}", mode="add"))
                   for n in range(25)]
        return [f.result(timeout=60) for f in futures]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = [r for rs in pool.map(send, range(8)) for r in rs]
    assert len(results) == 200 and all(isinstance(r, integrations.Written) and not r.duplicate for r in results)
    assert len({r.import_id for r in results}) == 200
    assert stored(engine) == (200, 200)
    assert writer.transactions < 200  # requests that waited went in together


def test_a_replayed_key_under_concurrency_is_counted_once(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    writer = GroupWriter(engine)
    body = counts(add(3), key="same", mode="add")
    start = threading.Barrier(10)

    def send(_: int) -> Any:
        start.wait()
        return writer.submit(row, "same", dict(body)).result(timeout=60)

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(send, range(10)))
    assert sorted(r.duplicate for r in results) == [False] + [True] * 9  # stored once, the others its replays
    assert len({r.import_id for r in results}) == 1
    assert stored(engine) == (1, 3)


def test_one_bad_request_in_the_writer_loses_no_other(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    writer = GroupWriter(engine)
    bodies = [counts(add(1, **({"prenom": "Marie"} if n % 5 == 0 else {})), key=f"k{n}", mode="add")
              for n in range(40)]
    futures = [writer.submit(row, b["key"], b) for b in bodies]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=60).total)
        except integrations.Refused as refused:
            outcomes.append(refused.code)
    assert outcomes == ["personal_data" if n % 5 == 0 else 1 for n in range(40)]
    assert stored(engine) == (32, 32)


def test_a_failed_commit_answers_every_request_with_its_error_and_stores_nothing(
        engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    writer = GroupWriter(engine)
    real = integrations.write_requests

    def failing(session: Any, requests: Any, **kw: Any) -> Any:
        real(session, requests, **kw)
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk full"))

    monkeypatch.setattr(integrations, "write_requests", failing)
    futures = [writer.submit(row, f"k{n}", counts(add(1), key=f"k{n}", mode="add")) for n in range(5)]
    for future in futures:
        with pytest.raises(sa.exc.OperationalError):
            future.result(timeout=60)
    assert stored(engine) == (0, 0)


def test_the_api_answers_through_the_writer(engine: sa.Engine, client: TestClient) -> None:
    _, secret = token(engine)
    first = client.post(f"{BASE}/responses", json=counts(add(2), key="w", mode="add"), headers=auth(secret))
    again = client.post(f"{BASE}/responses", json=counts(add(2), key="w", mode="add"), headers=auth(secret))
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["duplicate"] is True
    assert stored(engine) == (1, 2)


def test_a_lost_connection_is_tried_once_more_and_counts_once(engine: sa.Engine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    writer = GroupWriter(engine, idle=30)
    assert isinstance(writer.submit(row, "a", counts(add(1), key="a", mode="add")).result(timeout=60),
                      integrations.Written)  # the writer now keeps its connection
    real, calls = integrations.write_requests, []

    def flaky(session: Any, requests: Any, **kw: Any) -> Any:
        calls.append(1)
        out = real(session, requests, **kw)
        if len(calls) == 1:  # written, then the server went away before the commit
            raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))
        return out

    monkeypatch.setattr(integrations, "write_requests", flaky)
    written = writer.submit(row, "b", counts(add(2), key="b", mode="add")).result(timeout=60)
    assert isinstance(written, integrations.Written) and len(calls) == 2
    assert stored(engine) == (2, 3)


def test_postgresql_gets_several_writer_threads_and_sqlite_one(engine: sa.Engine) -> None:
    writer = GroupWriter(engine)
    assert writer.threads == (1 if engine.dialect.name == "sqlite" else 3)
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    gate = threading.Event()
    real = integrations.write_requests
    seen: set[str] = set()

    def slow(session: Any, requests: Any, **kw: Any) -> Any:
        seen.add(threading.current_thread().name + str(threading.get_ident()))
        gate.wait(5)
        return real(session, requests, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(integrations, "write_requests", slow)
        futures = []
        for n in range(6):
            futures.append(writer.submit(row, f"k{n}", counts(add(1), key=f"k{n}", mode="add")))
            threading.Event().wait(0.05)  # each arrives while the earlier ones are being written
        gate.set()
        assert all(isinstance(f.result(timeout=60), integrations.Written) for f in futures)
    assert len(seen) == writer.threads and stored(engine) == (6, 6)


def test_a_transaction_takes_no_more_counts_than_its_bound(engine: sa.Engine) -> None:
    token_id, _ = token(engine)
    row = row_of(engine, token_id)
    writer = GroupWriter(engine, most_counts=3, idle=0.01)
    writer._running = writer.threads  # queue them all first; one thread's loop then runs here
    futures = [writer.submit(row, f"k{n}", counts(add(1), add(1, day="2025-12-06"), key=f"k{n}", mode="add"))
               for n in range(4)]
    writer._run()
    assert [f.result(timeout=1).total for f in futures] == [2, 2, 2, 2]
    assert writer.transactions == 2 and stored(engine) == (4, 8)  # 2 + 2 items, then 2 + 2
