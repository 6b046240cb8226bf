"""The encryption key at the command line: never a new key over encrypted credentials, clear
messages for a missing, empty or malformed key, and accounts that can be replaced or removed
without their old secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from channels.sandbox import SandboxServer
from tests.orchestrator.cli.helpers import cli


@pytest.fixture
def keyfile_env(sqlite_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A CLI environment whose key lives in the key file, as on a single server."""
    env = {k: v for k, v in sqlite_env.items() if k != "PORTEVOIX_SECRET_KEY"}
    env["PORTEVOIX_SECRET_KEY"] = ""
    return env


def _key_file(env: dict[str, str]) -> Path:
    return Path(env["PORTEVOIX_HOME"]) / "secret.key"


def _credentials(env: dict[str, str]) -> dict[str, str]:
    engine = sa.create_engine(env["PORTEVOIX_DATABASE_URL"])
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT name, credentials FROM account")).all())
    engine.dispose()
    return rows


def _add_mastodon(env: dict[str, str], name: str, base_url: str, token: str = "sandbox-mastodon-token") -> None:
    cli({**env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": token}, "account", "add", "mastodon", name, "--base-url", base_url)


def test_init_refuses_to_write_a_new_key_over_encrypted_credentials(keyfile_env: dict[str, str]) -> None:
    env = keyfile_env
    cli(env, "init")
    _add_mastodon(env, "masto-fr", "http://127.0.0.1:9")
    key = _key_file(env)
    key.unlink()  # lost (a new disk, a bad copy)
    before = _credentials(env)

    refused = cli(env, "init", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert not key.exists()  # no new key was written
    assert "1 identifiant(s) chiffré(s)" in refused.stderr
    assert "Remettez la clé en place" in refused.stderr and "account set-credentials" in refused.stderr
    assert "Rien n'a été changé" in refused.stderr
    assert _credentials(env) == before

    # Any other command says the same thing, and no longer advises `init`.
    other = cli(env, "account", "test", "masto-fr", check=False)
    assert other.returncode == 1 and "Remettez la clé en place" in other.stderr
    assert "lancez « porte-voix init »" not in other.stderr

    # The key is really lost: an explicit --new-key, then every account entered again.
    forced = cli(env, "init", "--new-key")
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert "ATTENTION" in forced.stderr and "1 identifiant(s)" in forced.stderr


def test_init_on_a_new_installation_creates_the_key_and_the_no_key_message_says_init(
    keyfile_env: dict[str, str], tmp_path: Path
) -> None:
    env = keyfile_env
    cli(env, "init")
    assert _key_file(env).exists()
    _key_file(env).unlink()
    # no credentials stored: a missing key is a new installation's, and `init` is the answer
    message = cli({**env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": "t"}, "account", "add", "mastodon", "m",
                  "--base-url", "http://127.0.0.1:9", check=False)
    assert message.returncode == 1 and "Traceback" not in message.stderr
    assert "lancez « porte-voix init »" in message.stderr and "Remettez la clé" not in message.stderr


@pytest.mark.parametrize("value", ["", " , ", "\n"])
def test_an_empty_key_file_gives_a_clear_message_not_a_value_error(keyfile_env: dict[str, str], value: str) -> None:
    env = keyfile_env
    cli(env, "init")
    _key_file(env).write_text(value)
    result = cli(env, "init", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "ValueError" not in result.stderr
    assert "ne contient aucune clé de chiffrement" in result.stderr


def test_a_blank_key_setting_gives_a_clear_message(sqlite_env: dict[str, str]) -> None:
    cli(sqlite_env, "init")
    for value in (" , ", ",,", "pas-une-cle"):
        env = {**sqlite_env, "PORTEVOIX_SECRET_KEY": value}
        added = cli({**env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": "t"}, "account", "add", "mastodon", "m",
                    "--base-url", "http://127.0.0.1:9", check=False)
        assert added.returncode == 1, value
        assert "Traceback" not in added.stderr and "ValueError" not in added.stderr
        assert "PORTEVOIX_SECRET_KEY" in added.stderr


def test_secrets_are_refused_on_the_command_line_and_read_from_stdin_or_the_environment(
    sqlite_env: dict[str, str], sandbox: SandboxServer
) -> None:
    env = sqlite_env
    cli(env, "init")
    refused = cli(env, "account", "add", "x", "x-fr", "--base-url", sandbox.url, "--bearer-token", "visible-in-ps",
                  check=False)
    assert refused.returncode == 1 and "--bearer-token" in refused.stderr and "visible-in-ps" not in refused.stderr
    assert _credentials(env) == {}
    help_text = cli({**env, "COLUMNS": "200"}, "account", "add", "--help").stdout
    assert "--credentials-stdin" in help_text and "PORTEVOIX_<KIND>_<CHAMP>" in help_text
    assert "--bearer-token" not in help_text

    stdin = subprocess.run(
        [sys.executable, "-m", "orchestrator", "account", "add", "x", "x-fr", "--base-url", sandbox.url,
         "--credentials-stdin"],
        env={**os.environ, **env}, input="bearer_token=sandbox-x-token\n", capture_output=True, text=True,
        timeout=60, check=True)
    assert "ajouté" in stdin.stdout
    assert "OK" in cli(env, "account", "test", "x-fr").stdout


def test_credentials_are_replaced_and_accounts_removed_without_the_old_secret(
    keyfile_env: dict[str, str], sandbox: SandboxServer
) -> None:
    env = keyfile_env
    cli(env, "init")
    _add_mastodon(env, "masto-fr", sandbox.url)
    _add_mastodon(env, "masto-old", sandbox.url)
    # The key is lost and replaced: the stored credentials can no longer be read.
    _key_file(env).write_text(Fernet.generate_key().decode())
    unreadable = cli(env, "account", "test", "masto-fr", check=False)
    assert unreadable.returncode == 1 and "Identifiants illisibles" in unreadable.stderr

    replaced = cli({**env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": "sandbox-mastodon-token"},
                   "account", "set-credentials", "masto-fr")
    assert "remplacés" in replaced.stdout
    assert "OK" in cli(env, "account", "test", "masto-fr").stdout

    incomplete = cli(env, "account", "set-credentials", "masto-old", check=False)
    assert incomplete.returncode == 1 and "incomplets" in incomplete.stderr

    needs_yes = cli(env, "account", "remove", "masto-old", check=False)
    assert needs_yes.returncode == 1 and "--yes" in needs_yes.stderr
    removed = cli(env, "account", "remove", "masto-old", "--yes")
    assert "supprimé" in removed.stdout
    assert set(_credentials(env)) == {"masto-fr"}
