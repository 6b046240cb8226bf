"""Proof 4: the worker's PostgreSQL connections are killed again and again mid-run
(``pg_terminate_backend``); the worker recovers by itself and loses nothing, on the four
platforms, Threads and Instagram (whose images the links service serves from the same database,
on connections of its own that are left alone: only the worker's are killed)."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.conftest import postgres_admin_url
from tests.proofs.faults.helpers import (
    ALL_KINDS,
    build_queue,
    check_exactly_once,
    start_worker,
    wait_for_heartbeat,
    wait_until_settled,
    worker_env,
)

APP = "porte-voix-proof-worker"


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_database_connections_lose_nothing(engine, sandbox, media, tmp_path) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    kinds = build_queue(engine, sandbox.url, n=400, spread_seconds=12, kinds=ALL_KINDS)
    url = engine.url.update_query_dict({"application_name": APP}).render_as_string(hide_password=False)
    env = worker_env(database_url=url, lease_seconds=6, request_timeout=2, **media.env())
    admin = sa.create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
    proc = start_worker(env, tmp_path / "worker.log")
    killed = 0
    try:
        wait_for_heartbeat(engine, proc.pid)
        for _ in range(12):
            time.sleep(0.8)
            with admin.connect() as conn:
                killed += conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :app AND pid <> pg_backend_pid()"), {"app": APP}).scalar() or 0
        published = wait_until_settled(engine, len(kinds), timeout=90)
        assert proc.poll() is None, "the worker died instead of recovering"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        admin.dispose()
    assert killed >= 10, f"only {killed} connections were killed: the test proved little"
    assert published == len(kinds), f"{published}/{len(kinds)} published; see {tmp_path / 'worker.log'}"
    check_exactly_once(engine, sandbox, kinds)
