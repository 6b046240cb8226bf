"""``porte-voix backup`` / ``restore``: an online, consistent copy of the SQLite database, with the
key kept out of it unless asked for."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from orchestrator import db
from orchestrator.services.auth import SYSTEM, ServiceError
from orchestrator.services.backup import backup, key_path_for, restore
from orchestrator.settings import get_settings
from tests.conftest import TEST_KEY
from tests.factories import CREDS, add_account
from tests.orchestrator.cli.helpers import cli
from tests.orchestrator.helpers import approved_post, schedule
from tests.orchestrator.seed import fill_empty_tables, snapshot


def _point_at(monkeypatch: pytest.MonkeyPatch, folder: Path, key: str = TEST_KEY) -> None:
    monkeypatch.setenv("PORTEVOIX_DATABASE_URL", f"sqlite:///{folder / 'porte-voix.db'}")
    monkeypatch.setenv("PORTEVOIX_HOME", str(folder))
    monkeypatch.setenv("PORTEVOIX_SECRET_KEY", key)
    get_settings.cache_clear()
    db._cached_engine.cache_clear()


def _takes_text(kind: str) -> bool:
    from channels.base import AccountConfig
    from channels.registry import channel_class

    cls = channel_class(kind)
    offline = AccountConfig(kind, "offline", dict(cls.offline_credentials), base_url="https://offline.example")
    return cls(offline).validate("Écrivez pour Juan López. #ÉcrireÇaLibère").valid


@pytest.fixture
def filled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """An SQLite database with the 2025 campaign, four accounts, posts, deliveries, and one row in
    every other table (responses included, whenever that table exists)."""
    from content.loader import load_all
    from orchestrator.services.campaigns import load_content

    _point_at(monkeypatch, tmp_path / "live")
    engine = db.get_engine()
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        for campaign in load_all():
            load_content(session, actor=SYSTEM, content=campaign)
    names = [add_account(engine, kind, name=f"{kind}-test", base_url="http://127.0.0.1:9") for kind in CREDS]
    # a text alone goes to the platforms that publish text alone (not Instagram, photos only)
    texts = [name for name, kind in zip(names, CREDS, strict=True) if _takes_text(kind)]
    for n in range(3):
        post_id = approved_post(engine, text=f"Écrivez pour Juan López, message {n}. #ÉcrireÇaLibère")
        for name in texts:
            schedule(engine, post_id, name)
    with engine.begin() as conn:
        fill_empty_tables(conn)
    yield engine
    engine.dispose()
    get_settings.cache_clear()
    db._cached_engine.cache_clear()


def test_a_backup_taken_while_writing_restores_everything_into_an_empty_place(
    filled: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with filled.connect() as conn:
        before = snapshot(conn)
    from orchestrator import models

    expected = ["campaign", "case", "post", "account", "delivery"] + (["response"] if hasattr(models, "Response") else [])
    assert all(before[t] for t in expected)
    assert all(before.values()), [t for t, rows in before.items() if not rows]

    # A writer inserts pairs of audit rows in one transaction each, all through the backup: the
    # copy must hold whole pairs only (one instant of the database, not a torn read).
    stop, written = threading.Event(), [0]

    def writer() -> None:
        while not stop.is_set():
            with filled.begin() as conn:
                for half in ("a", "b"):
                    conn.execute(sa.text(
                        "INSERT INTO audit_entry (at, actor, action, target_type, target_id, detail) "
                        "VALUES (CURRENT_TIMESTAMP, 'writer', 'pair', :half, :n, '{}')"), {"half": half, "n": written[0]})
            written[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 20:
            stop.wait(0.01)
        report = backup(tmp_path / "saves" / "backup.db")
        at_backup = written[0]
        while written[0] < at_backup + 20:  # the writer went on after the copy
            stop.wait(0.01)
    finally:
        stop.set()
        thread.join(10)
    assert stat.S_IMODE(os.stat(report.path).st_mode) == 0o600
    assert report.key_path is None and not key_path_for(report.path).exists()
    assert TEST_KEY.encode() not in report.path.read_bytes()

    _point_at(monkeypatch, tmp_path / "empty")
    result = restore(report.path)
    assert result.credentials == len(CREDS) and result.unreadable == 0
    restored = db.get_engine()
    with restored.connect() as conn:
        after = snapshot(conn)
        pairs = conn.execute(sa.text(
            "SELECT target_type, count(*) FROM audit_entry WHERE actor = 'writer' GROUP BY target_type")).all()
    for table, rows in before.items():
        assert rows <= after[table], f"{table}: rows lost in the backup"
    counts = dict(pairs)
    assert counts["a"] == counts["b"] >= 20  # whole transactions only
    assert counts["a"] < written[0]  # and the writer really ran past the copy
    # The restored database is usable: the service layer reads credentials with the key in force.
    from orchestrator.services.accounts import account_config, list_accounts

    with db.session_scope(restored) as session:
        assert {a.kind: account_config(a).credentials for a in list_accounts(session) if a.kind in CREDS
                and a.name.endswith("-test")} == CREDS


def test_restore_refuses_when_the_key_does_not_decrypt_and_changes_nothing(
    filled: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = backup(tmp_path / "backup.db", include_key=True)
    assert report.key_path is not None and stat.S_IMODE(os.stat(report.key_path).st_mode) == 0o600
    assert report.key_path.read_text().strip() == TEST_KEY

    target = tmp_path / "other"
    _point_at(monkeypatch, target, key=Fernet.generate_key().decode())
    with pytest.raises(ServiceError, match="ne se déchiffrent pas avec la clé actuelle") as refused:
        restore(report.path)
    assert "--key-file" in refused.value.en
    assert not (target / "porte-voix.db").exists()

    result = restore(report.path, key_file=report.key_path)
    assert result.unreadable == 0 and result.key_installed is None  # the key is in the environment

    monkeypatch.delenv("PORTEVOIX_SECRET_KEY")
    get_settings.cache_clear()
    with pytest.raises(ServiceError, match="--force"):
        restore(report.path, key_file=report.key_path)
    result = restore(report.path, key_file=report.key_path, overwrite=True)
    assert result.key_installed == target / "secret.key"
    assert stat.S_IMODE(os.stat(result.key_installed).st_mode) == 0o600


@pytest.mark.slow
def test_backup_and_restore_from_the_command_line(sqlite_env: dict[str, str], tmp_path: Path) -> None:
    cli(sqlite_env, "init")
    cli({**sqlite_env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": "tok-backup-cli"}, "account", "add", "mastodon", "masto-fr",
        "--base-url", "http://127.0.0.1:9")
    saved = cli(sqlite_env, "backup", str(tmp_path / "b.db"), "--include-key")
    assert "ATTENTION" in saved.stderr and "WARNING" in saved.stderr
    assert TEST_KEY not in saved.stdout + saved.stderr
    again = cli(sqlite_env, "backup", str(tmp_path / "b.db"), check=False)
    assert again.returncode == 1 and "existe déjà" in again.stderr

    elsewhere = {**sqlite_env, "PORTEVOIX_DATABASE_URL": f"sqlite:///{tmp_path / 'new' / 'pv.db'}"}
    restored = cli(elsewhere, "restore", str(tmp_path / "b.db"))
    assert "Identifiants : 1, illisibles avec la clé : 0" in restored.stdout
    assert "masto-fr" in cli(elsewhere, "account", "list").stdout


def test_backup_and_restore_refuse_postgresql_and_point_to_the_recipe(tmp_path: Path) -> None:
    env = {"PORTEVOIX_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/none",
           "PORTEVOIX_SECRET_KEY": TEST_KEY, "PORTEVOIX_HOME": str(tmp_path)}
    for args in (("backup", str(tmp_path / "b.db")), ("restore", str(tmp_path / "b.db"))):
        result = cli(env, *args, check=False)
        assert result.returncode == 1
        assert "pg_dump" in result.stderr and "docs/deploy.md" in result.stderr
        assert not (tmp_path / "b.db").exists()


@pytest.mark.parametrize("name", ["sauvegarde#1.db", "copie?du=5.db", "déc 6 #2?.db"])
def test_a_backup_path_with_uri_characters_is_the_file_written_and_checked(
    filled: sa.Engine, tmp_path: Path, name: str
) -> None:
    folder = tmp_path / "sauvegardes #décembre"
    before = set(tmp_path.rglob("*"))
    report = backup(folder / name)
    assert report.path == (folder / name).resolve()
    assert report.size == report.path.stat().st_size > 4096  # its real size, not a stray file's
    assert stat.S_IMODE(report.path.stat().st_mode) == 0o600
    # nothing else was written: no stray file cut at the "#" or "?", no partial file left
    assert set(tmp_path.rglob("*")) - before == {folder, report.path}
    conn = sqlite3.connect(f"file:{urllib.parse.quote(str(report.path))}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT count(*) FROM account").fetchone() == (len(CREDS),)
    finally:
        conn.close()


def test_a_backup_that_fails_its_own_check_leaves_no_file(filled: sa.Engine, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.services import backup as backup_module

    def damaged(path: Path) -> int:
        raise ServiceError(f"{path} est endommagée.", f"{path} is damaged.")

    monkeypatch.setattr(backup_module, "_check_file", damaged)
    target = tmp_path / "out" / "b.db"
    with pytest.raises(ServiceError, match="endommagée"):
        backup(target)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_database_file_is_created_readable_by_its_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        engine = db.make_engine(f"sqlite:///{tmp_path / 'neuve' / 'porte-voix.db'}")
        db.upgrade(engine)
        with engine.begin() as conn:  # a write: the -wal and -shm files exist now too
            conn.exec_driver_sql("CREATE TABLE essai (x INTEGER)")
        files = sorted((tmp_path / "neuve").glob("porte-voix.db*"))
        assert files and {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}, \
            {f.name: oct(f.stat().st_mode) for f in files}
        engine.dispose()
    finally:
        os.umask(old)
