from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from channels.sandbox import SandboxServer, start_sandbox
from orchestrator.services.auth import SYSTEM

TEST_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = start_sandbox(seed=7)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """A running sandbox with no posts, faults or revoked tokens left by another test."""
    sandbox_server.sandbox.clear()
    yield sandbox_server
    sandbox_server.sandbox.clear()


# ---------------------------------------------------------------------------------------------
# Databases: every test that takes ``database_url`` runs on SQLite, and on PostgreSQL when a
# server is reachable (CI sets PORTEVOIX_REQUIRE_POSTGRES=1, which turns a skip into a failure).


def postgres_admin_url() -> str:
    return os.environ.get("PORTEVOIX_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def postgres_unavailable() -> str | None:
    url = sa.engine.make_url(postgres_admin_url())
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            pass
    except OSError as exc:
        return f"no PostgreSQL server at {url.host}:{url.port} ({exc}); set PORTEVOIX_TEST_DATABASE_URL"
    return None


def _require_or_skip(reason: str) -> None:
    if os.environ.get("PORTEVOIX_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def fresh_postgres_database() -> tuple[str, object]:
    """Create an empty database; return its URL and a function that drops it."""
    reason = postgres_unavailable()
    if reason:
        _require_or_skip(reason)
    admin_url = sa.engine.make_url(postgres_admin_url())
    name = f"pv_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'porte-voix.db'}"
        return
    url, drop = fresh_postgres_database()
    try:
        yield url
    finally:
        from orchestrator import db

        db._cached_engine.cache_clear()
        drop()  # type: ignore[operator]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    """PORTEVOIX_* settings for one test (a fresh database and home), caches cleared."""
    from orchestrator import db
    from orchestrator.settings import get_settings

    values = {
        "PORTEVOIX_DATABASE_URL": database_url,
        "PORTEVOIX_HOME": str(tmp_path / "home"),
        "PORTEVOIX_SECRET_KEY": TEST_KEY,
        "PORTEVOIX_LOG_LEVEL": "WARNING",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    yield values
    get_settings.cache_clear()
    db._cached_engine.cache_clear()


def _build_sample(url: str, *, load: bool = True) -> None:
    """Migrate an empty database to the head and (unless ``load`` is false) load the bundled
    campaigns into it."""
    from content.loader import load_all
    from orchestrator import db
    from orchestrator.services.campaigns import load_content

    eng = db.make_engine(url)
    db.upgrade(eng)
    with db.session_scope(eng) as session:
        for campaign in load_all() if load else []:
            load_content(session, actor=SYSTEM, content=campaign)
    sqlite = eng.dialect.name == "sqlite"
    eng.dispose()
    if sqlite:  # fold the write-ahead log into the file, so that copying the file copies it all
        conn = sqlite3.connect(sa.engine.make_url(url).database or "", isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()


@pytest.fixture(scope="session")
def sqlite_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file built through the migrations per session; each test gets a copy of it."""
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    _build_sample(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def sqlite_empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to the head with nothing in it, per session: the dashboard's
    ``bare_engine`` copies it (running the migrations per page test cost half a second each)."""
    path = tmp_path_factory.mktemp("empty") / "empty.db"
    _build_sample(f"sqlite:///{path}", load=False)
    return path


@pytest.fixture(scope="session")
def postgres_sample() -> Iterator[str]:
    """One PostgreSQL database built through the migrations per session, used as a template."""
    url, drop = fresh_postgres_database()
    _build_sample(url)
    yield sa.engine.make_url(url).database or ""
    drop()  # type: ignore[operator]


@pytest.fixture
def engine(env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """What ``engine`` means in every folder: an engine on a database this test owns, migrated to the
    head, with the bundled campaigns loaded and nothing else (no account, post, delivery or user).

    Copied from a per-session sample built the same way: a migration or load per test would cost
    minutes. A folder that overrides ``engine`` keeps this meaning; a different setup gets another name."""
    from orchestrator import db

    url = sa.engine.make_url(env["PORTEVOIX_DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_sample"), url.database or "")
    else:
        template = request.getfixturevalue("postgres_sample")
        admin = sa.create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}"')
            conn.exec_driver_sql(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"')
        admin.dispose()
    eng = db.get_engine()
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """Argon2 at its default cost takes about 0.15 s a hash on purpose, and most tests create four
    people: in this process, hashes are made at the lowest cost argon2id allows. Checking a password
    reads the cost from the stored hash, so a hash made here verifies anywhere; the cost used in
    production is checked by tests/proofs/security/test_password_cost.py in a separate process."""
    from argon2 import PasswordHasher

    from orchestrator.services import users

    production = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users._hasher = production


@pytest.fixture(autouse=True)
def _no_progress_record_between_tests() -> Iterator[None]:
    """A worker installs the database as the channels' progress record for its process; a later
    test (another database, or none) starts without it, and without containers in memory."""
    from channels.base import use_progress_record
    from channels.containers import LEDGER
    from channels.thread import NOTES

    yield
    use_progress_record(None)
    LEDGER.clear()
    NOTES.clear()


@pytest.fixture(autouse=True)
def _link_cards_read_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Approving a post reads its link's page (link cards): in the tests, names are never looked
    up (an address such as https://amnistie.ca/ecrire stays unreadable, fast, on any machine);
    addresses written as numbers (the tests' own pages on 127.0.0.1) are read as usual."""
    from orchestrator.services import link_cards

    def numeric_only(host: str, port: int, *args: object, **kwargs: object) -> list:
        kwargs["flags"] = socket.AI_NUMERICHOST
        return socket.getaddrinfo(host, port, *args, **kwargs)  # a name: socket.gaierror

    monkeypatch.setattr(link_cards, "_resolve", numeric_only)
