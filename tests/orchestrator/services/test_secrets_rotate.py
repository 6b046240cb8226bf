"""``porte-voix secrets rotate``: every credential under a new key, readers never interrupted, and
the old key reads nothing afterwards."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from channels.sandbox import SandboxServer
from orchestrator import db, secrets
from orchestrator.models import Account, AuditEntry
from orchestrator.services.accounts import account_config
from orchestrator.services.auth import SYSTEM, ServiceError
from orchestrator.services.keys import rotate, undecryptable
from orchestrator.settings import get_settings
from tests.factories import CREDS, make_account
from tests.orchestrator.cli.helpers import cli


def _tokens(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT name, credentials FROM account")).all())


def _readable_by(key: bytes, tokens: dict[str, str]) -> list[str]:
    readable = []
    for name, token in tokens.items():
        try:
            Fernet(key).decrypt(token.encode())
            readable.append(name)
        except InvalidToken:
            pass
    return readable


@pytest.fixture
def keyfile_engine(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """A migrated database whose key is in the key file (not the environment), with four accounts."""
    monkeypatch.delenv("PORTEVOIX_SECRET_KEY")
    get_settings.cache_clear()
    secrets.ensure_key_file(get_settings().key_file())
    engine = db.get_engine()
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        for kind in CREDS:
            make_account(session, kind, language=None, base_url="http://127.0.0.1:9")
    yield engine
    engine.dispose()


def test_rotation_with_a_key_file_never_interrupts_a_running_reader(keyfile_engine: sa.Engine) -> None:
    key_file = get_settings().key_file()
    old_key = key_file.read_bytes().strip()
    before = _tokens(keyfile_engine)
    reads, errors, stop = [0], [], threading.Event()

    def worker_like_reader() -> None:
        # What the worker does before each publication: load the account, decrypt its credentials
        # with the key set it reads from the key file at that moment.
        while not stop.is_set():
            try:
                with db.session_scope(keyfile_engine) as session:
                    for account in session.exec(sa.select(Account)).scalars():
                        config = account_config(account)
                        assert config.credentials == CREDS[account.kind]
                        reads[0] += 1
            except Exception as exc:  # any failure is what the test is looking for
                errors.append(repr(exc))

    reader = threading.Thread(target=worker_like_reader)
    reader.start()
    try:
        reports = rotate(keyfile_engine, actor=SYSTEM, grace_seconds=0.3)
        reads_at_end = reads[0]
    finally:
        stop.set()
        reader.join(10)
    assert errors == []
    assert reads_at_end > 4  # the reader was really reading while the rotation ran
    assert [r.step for r in reports] == ["staged", "finished"]
    assert reports[1].rotated == len(CREDS)

    new_keys = secrets.load_keys()
    assert len(new_keys) == 1 and new_keys[0] != old_key
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    after = _tokens(keyfile_engine)
    assert set(after) == set(before) and all(after[n] != before[n] for n in before)
    assert _readable_by(old_key, after) == []  # the old key alone reads nothing any more
    assert sorted(_readable_by(new_keys[0], after)) == sorted(before)
    with db.session_scope(keyfile_engine) as session:
        assert undecryptable(session, new_keys) == []
        assert {a.kind: account_config(a).credentials for a in session.exec(sa.select(Account)).scalars()} == CREDS
        audit = session.exec(sa.select(AuditEntry).where(AuditEntry.action == "secrets.rotate")).scalars().one()
        assert audit.detail == {"rotated": len(CREDS)}
    assert not list(key_file.parent.glob(".key-*"))  # no temporary key file left behind


def test_a_reader_holding_old_and_new_keys_reads_before_during_and_after(keyfile_engine: sa.Engine) -> None:
    old_key = secrets.load_keys()[0]
    new_key = Fernet.generate_key()
    both = MultiFernet([Fernet(new_key), Fernet(old_key)])
    assert all(both.decrypt(t.encode()) for t in _tokens(keyfile_engine).values())
    rotate(keyfile_engine, actor=SYSTEM, grace_seconds=0, new_key=new_key)
    assert all(both.decrypt(t.encode()) for t in _tokens(keyfile_engine).values())
    assert secrets.load_keys() == [new_key]


def test_an_unreadable_credential_stops_the_rotation_and_changes_nothing(keyfile_engine: sa.Engine) -> None:
    stranger = Fernet(Fernet.generate_key()).encrypt(b'{"access_token": "t"}').decode()
    with keyfile_engine.begin() as conn:
        conn.execute(sa.text("UPDATE account SET credentials = :t WHERE name = 'mastodon-fr'"), {"t": stranger})
    old_key = secrets.load_keys()[0]
    key_file = get_settings().key_file()
    file_before = key_file.read_bytes()
    before = _tokens(keyfile_engine)
    with pytest.raises(ServiceError, match="rien n'a été changé"):
        rotate(keyfile_engine, actor=SYSTEM, grace_seconds=0)
    assert _tokens(keyfile_engine) == before
    # "Nothing was changed" holds for the key file too: not left staged as NEW,OLD.
    assert secrets.load_keys() == [old_key]
    assert key_file.read_bytes().strip() == file_before.strip()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(_readable_by(old_key, before)) == len(CREDS) - 1  # all but the stranger's


def test_a_credential_written_under_the_staged_key_is_put_back_under_the_old_one(
    keyfile_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the stage and the failure, a running process may save a credential with the new key
    (the first of NEW,OLD). Undoing the stage must not leave that row readable by nobody."""
    from orchestrator.services import keys

    old_key = secrets.load_keys()[0]

    def fails_after_a_write(session, keys_, **_kw):  # noqa: ANN001, ANN202
        assert len(secrets.load_keys()) == 2  # the key file is staged: NEW,OLD
        account = session.exec(sa.select(Account).where(Account.name == "x-fr")).scalars().one()
        account.credentials = secrets.encrypt({"bearer_token": "written-meanwhile"})  # under NEW
        session.add(account)
        session.commit()
        raise ServiceError("Identifiants illisibles : rien n'a été changé.", "unreadable")

    monkeypatch.setattr(keys, "reencrypt", fails_after_a_write)
    with pytest.raises(ServiceError):
        rotate(keyfile_engine, actor=SYSTEM, grace_seconds=0)
    assert secrets.load_keys() == [old_key]
    after = _tokens(keyfile_engine)
    assert sorted(_readable_by(old_key, after)) == sorted(after)  # every row readable with the old key alone
    with db.session_scope(keyfile_engine) as session:
        x = session.exec(sa.select(Account).where(Account.name == "x-fr")).scalars().one()
        assert account_config(x).credentials == {"bearer_token": "written-meanwhile"}


@pytest.mark.slow
def test_rotation_with_the_key_in_the_environment_goes_through_files_and_never_prints_a_key(
    sqlite_env: dict[str, str], sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = sqlite_env
    cli(env, "init")
    cli({**env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": "sandbox-mastodon-token"}, "account", "add", "mastodon", "masto-fr",
        "--base-url", sandbox.url)
    old_key = env["PORTEVOIX_SECRET_KEY"].encode()
    engine = sa.create_engine(env["PORTEVOIX_DATABASE_URL"])
    before = _tokens(engine)

    refused = cli(env, "secrets", "rotate", check=False)
    assert refused.returncode == 1 and "--new-key-file" in refused.stderr

    staged_file = tmp_path / "keys" / "staged.key"
    staged = cli(env, "secrets", "rotate", "--new-key-file", str(staged_file))
    assert stat.S_IMODE(os.stat(staged_file).st_mode) == 0o600
    staged_keys = staged_file.read_bytes().strip().split(b",")
    assert len(staged_keys) == 2 and staged_keys[1] == old_key
    assert _tokens(engine) == before  # step 1 touches no row: workers on the old key go on

    # The operator puts the staged set in every service's environment, restarts, runs again.
    staged_env = {**env, "PORTEVOIX_SECRET_KEY": staged_file.read_text().strip()}
    assert "OK" in cli(staged_env, "account", "test", "masto-fr").stdout
    final_file = tmp_path / "keys" / "final.key"
    finished = cli(staged_env, "secrets", "rotate", "--new-key-file", str(final_file))
    assert "1 identifiant(s) rechiffré(s)" in finished.stdout
    assert "OK" in cli(staged_env, "account", "test", "masto-fr").stdout  # still running on both keys
    final_key = final_file.read_bytes().strip()
    assert final_key == staged_keys[0]
    after = _tokens(engine)
    engine.dispose()
    assert _readable_by(old_key, after) == []
    assert _readable_by(final_key, after) == ["masto-fr"]

    final_env = {**env, "PORTEVOIX_SECRET_KEY": final_key.decode()}
    assert "OK" in cli(final_env, "account", "test", "masto-fr").stdout
    stale = cli(env, "account", "test", "masto-fr", check=False)  # a process left on the old key
    assert stale.returncode != 0 and "illisibles" in stale.stderr and "Traceback" not in stale.stderr

    for result in (staged, finished):
        for key in (old_key, staged_keys[0]):
            assert key.decode() not in result.stdout + result.stderr


def test_a_replaced_key_file_keeps_its_group_read_bit_and_never_opens_to_others(tmp_path: Path) -> None:
    from orchestrator.services.keys import write_key_file

    path = tmp_path / "secret.key"
    write_key_file(path, [Fernet.generate_key()])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o644)  # someone loosened it: the rewrite keeps group read, drops the rest
    write_key_file(path, [Fernet.generate_key()])
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
