"""Backup and restore of the embedded SQLite database, online, through SQLite's backup API.

The backup API copies the database page by page under a read transaction: with WAL the worker
keeps writing meanwhile, and the copy is the database as it was at one instant (never a file copy,
which can catch a half-written page or miss what is still in the -wal file).

The encryption key is *not* in the backup: a stolen backup alone gives no platform token. It is
written beside the backup only when asked (``--include-key``), and ``restore`` checks that the key
in force decrypts the restored credentials before touching anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from orchestrator import secrets
from orchestrator.services.auth import ServiceError
from orchestrator.services.keys import ENCRYPTED_COLUMNS, write_key_file
from orchestrator.settings import Settings, get_settings

POSTGRES_REFUSAL = ServiceError(
    "La base est PostgreSQL : utilisez pg_dump et pg_restore (voir docs/deploy.md, « Sauvegardes »).",
    "The database is PostgreSQL: use pg_dump and pg_restore (see docs/deploy.md, \"Backups\").",
)


def sqlite_path(settings: Settings) -> Path:
    url = settings.resolved_database_url()
    if not url.startswith("sqlite"):
        raise POSTGRES_REFUSAL
    path = url.removeprefix("sqlite:///")
    if not path or path.startswith(":memory:"):
        raise ServiceError("Une base en mémoire ne se sauvegarde pas.", "An in-memory database cannot be backed up.")
    return Path(path)


def key_path_for(backup: Path) -> Path:
    return backup.with_name(backup.name + ".key")


@contextlib.contextmanager
def _connect(path: Path, *, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    # Quoted: in a ``file:`` URI an unquoted "?" starts the options and "#" a fragment, so a
    # backup named "a?b.db" would be written to a stray file "a" and the named one left empty.
    quoted = urllib.parse.quote(str(path.resolve()))
    uri = f"file:{quoted}?mode=ro" if readonly else f"file:{quoted}"
    conn = sqlite3.connect(uri, uri=True, timeout=60)
    try:
        conn.execute("PRAGMA busy_timeout=60000")
        yield conn
    finally:
        conn.close()


def _check_file(path: Path) -> int:
    """A readable, intact Porte-voix database, or a clear refusal; returns its size in bytes as
    SQLite counts it (pages times page size)."""
    if not path.is_file() or path.stat().st_size == 0:
        raise ServiceError(f"{path} est vide ou absent.", f"{path} is empty or missing.")
    try:
        with _connect(path, readonly=True) as conn:
            result = conn.execute("PRAGMA integrity_check").fetchone()
            has_version = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
            pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise ServiceError(f"{path} n'est pas une base SQLite lisible ({exc}).",
                           f"{path} is not a readable SQLite database ({exc}).") from None
    if not result or result[0] != "ok":
        raise ServiceError(f"{path} est endommagée : {result}.", f"{path} is damaged: {result}.")
    if not has_version:
        raise ServiceError(f"{path} n'est pas une base Porte-voix (pas de table alembic_version).",
                           f"{path} is not a Porte-voix database (no alembic_version table).")
    return int(pages)


@dataclasses.dataclass
class BackupReport:
    path: Path
    size: int
    key_path: Path | None = None


def backup(target: Path, *, settings: Settings | None = None, include_key: bool = False,
           overwrite: bool = False) -> BackupReport:
    settings = settings or get_settings()
    source = sqlite_path(settings)
    if not source.exists():
        raise ServiceError(f"Pas de base à sauvegarder : {source} n'existe pas.", f"No database to back up: {source} does not exist.")
    target = target.resolve()
    if target == source.resolve():
        raise ServiceError("La sauvegarde ne peut pas remplacer la base elle-même.", "The backup cannot replace the database itself.")
    if target.exists() and not overwrite:
        raise ServiceError(f"{target} existe déjà (--force pour le remplacer).", f"{target} already exists (--force replaces it).")
    keys = secrets.load_keys(settings) if include_key else []  # fail before copying if the key is unreadable
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # The copy holds encrypted tokens, password hashes and the audit log: owner-only from the start.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        with _connect(source) as src, _connect(partial) as dst:
            src.backup(dst)  # one step: a consistent snapshot; WAL writers are not blocked
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        # The copy checks itself: it opens, passes SQLite's integrity check, is a Porte-voix
        # database, and its file holds every page SQLite counts in it.
        expected = _check_file(partial)
        if partial.stat().st_size != expected:
            raise ServiceError(f"La copie {partial} est incomplète ({partial.stat().st_size} octets au lieu de {expected}).",
                               f"The copy {partial} is incomplete ({partial.stat().st_size} bytes instead of {expected}).")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        for leftover in ("-journal", "-wal", "-shm"):
            partial.with_name(partial.name + leftover).unlink(missing_ok=True)
        raise
    key_file = None
    if include_key:
        key_file = key_path_for(target)
        write_key_file(key_file, keys)
    return BackupReport(path=target, size=target.stat().st_size, key_path=key_file)


def _unreadable(path: Path, keys: list[bytes]) -> tuple[int, int]:
    """(credentials found, credentials the keys cannot decrypt) in a database file."""
    fernet = MultiFernet([Fernet(k) for k in keys]) if keys else None
    total = bad = 0
    with _connect(path, readonly=True) as conn:
        for model, column in ENCRYPTED_COLUMNS:
            table = str(model.__tablename__)
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
                continue
            for (token,) in conn.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" != \'\''):
                total += 1
                try:
                    if fernet is None:
                        raise InvalidToken
                    fernet.decrypt(str(token).encode())
                except InvalidToken:
                    bad += 1
    return total, bad


@dataclasses.dataclass
class RestoreReport:
    path: Path
    credentials: int
    unreadable: int
    key_installed: Path | None = None


def _read_key_file(path: Path) -> list[bytes]:
    try:
        raw = path.read_text().strip()
    except OSError as exc:
        raise ServiceError(f"Fichier de clé illisible : {exc}.", f"Unreadable key file: {exc}.") from None
    keys = [k.strip().encode() for k in raw.replace("\n", ",").split(",") if k.strip()]
    try:
        MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ServiceError(f"{path} ne contient pas de clé valide.", f"{path} holds no valid key.") from None
    return keys


def restore(source: Path, *, settings: Settings | None = None, key_file: Path | None = None,
            overwrite: bool = False, accept_unreadable: bool = False) -> RestoreReport:
    """Copy a backup into the configured database. The key is checked first: a restore that would
    leave every credential unreadable is refused unless asked for, and nothing is touched."""
    settings = settings or get_settings()
    target = sqlite_path(settings)
    source = source.resolve()
    if not source.exists():
        raise ServiceError(f"Sauvegarde introuvable : {source}.", f"Backup not found: {source}.")
    _check_file(source)
    if target.exists() and target.stat().st_size > 0 and not overwrite:
        raise ServiceError(
            f"La base {target} existe déjà. Arrêtez le travailleur et le tableau de bord, puis relancez avec --force.",
            f"The database {target} already exists. Stop the worker and the dashboard, then run again with --force.",
        )
    from_env = bool(settings.secret_key.strip())
    keys = _read_key_file(key_file) if key_file else _current_keys(settings)
    total, bad = _unreadable(source, keys)
    if bad:
        message_fr = (f"{bad} identifiant(s) sur {total} de la sauvegarde ne se déchiffrent pas avec "
                      + ("la clé donnée" if key_file else "la clé actuelle")
                      + ". Donnez la clé sauvegardée avec elle (--key-file), ou --accept-unreadable-credentials "
                        "pour restaurer quand même et ressaisir les identifiants des comptes.")
        message_en = (f"{bad} of the backup's {total} credential(s) do not decrypt with "
                      + ("the given key" if key_file else "the current key")
                      + ". Give the key saved with it (--key-file), or --accept-unreadable-credentials to restore "
                        "anyway and enter the accounts' credentials again.")
        if not accept_unreadable:
            raise ServiceError(message_fr, message_en)
    from orchestrator.db import create_private_file

    create_private_file(target)  # a restore onto a new machine: owner-only from the start
    with _connect(source, readonly=True) as src, _connect(target) as dst:
        # Into the live file through the API (not a file copy): it takes the write lock, and the
        # -wal and -shm files stay consistent with the new content.
        src.backup(dst)
    installed = None
    # The key goes in after the data: a failed copy leaves the old database with its own key.
    if key_file and not from_env and not bad and _current_keys(settings) != keys:
        installed = settings.key_file()
        write_key_file(installed, keys)
    return RestoreReport(path=target, credentials=total, unreadable=bad, key_installed=installed)


def _current_keys(settings: Settings) -> list[bytes]:
    try:
        return secrets.load_keys(settings)
    except secrets.SecretKeyError:
        return []
