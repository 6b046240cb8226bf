"""Rotating the credentials key without stopping the worker.

Every process reads its key set on each encryption or decryption (orchestrator.secrets): the first
key encrypts, every key decrypts. A rotation therefore goes in three steps, each safe for a worker
that keeps running:

1. **stage** — a new key is put *in front of* the old one (``NEW,OLD``). Processes that read the
   key file pick it up at their next decryption; processes that take the key from
   ``PORTEVOIX_SECRET_KEY`` are given the new set in a file and restarted by the operator.
2. **re-encrypt** — in one transaction, every stored token is rotated to the new key
   (``MultiFernet.rotate``). Readers with ``NEW,OLD`` decrypt both before and after.
3. **finish** — the old key is dropped (``NEW`` alone). Nothing stored is readable with it any more;
   old backups still need it (see docs/security.md).

Which step runs is decided by the key set in force: one key → stage; several keys → re-encrypt and
finish. With a key file both happen in one command (``rotate``), separated by a short grace so a
process that read the old set just before the stage has finished its write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlmodel import Session, SQLModel, select

from orchestrator import secrets
from orchestrator.models import Account
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.settings import Settings, get_settings

#: Every column that holds a Fernet token. A new encrypted column must be added here, or a rotation
#: would leave it readable only with the old key (the tests check every row after a rotation).
ENCRYPTED_COLUMNS: list[tuple[type[SQLModel], str]] = [(Account, "credentials")]


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace ``path`` atomically: a reader sees the old set or the new one, never half a file.
    The file is created 0600 before any byte of key is written to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=".key-", dir=path.parent)
    try:
        # A replaced file keeps its owner, group and group-read bit (e.g. root:porte-voix 0640 on a
        # server, so the services still read it); never anything for others. A new file is 0600.
        os.fchmod(fd, (previous.st_mode & 0o640) | 0o600 if previous else 0o600)
        if previous is not None:
            with contextlib.suppress(PermissionError):
                os.fchown(fd, previous.st_uid, previous.st_gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(b",".join(keys) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


@dataclasses.dataclass
class RotationReport:
    step: str  # "staged", "finished"
    rotated: int = 0
    key_written_to: str = ""
    next_action_fr: str = ""
    next_action_en: str = ""


def _tokens(session: Session, *, lock: bool) -> list[tuple[Any, str, str]]:
    """(row, column, token) for every non-empty encrypted value."""
    found = []
    for model, column in ENCRYPTED_COLUMNS:
        query = select(model).where(getattr(model, column) != "")
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()  # a concurrent edit waits for the rotation
        for row in session.exec(query):
            found.append((row, column, getattr(row, column)))
    return found


def undecryptable(session: Session, keys: list[bytes]) -> list[str]:
    """The rows no key of ``keys`` can read, as ``table:id``."""
    fernet = MultiFernet([Fernet(k) for k in keys])
    bad = []
    for row, column, token in _tokens(session, lock=False):
        try:
            fernet.decrypt(token.encode())
        except InvalidToken:
            bad.append(f"{row.__tablename__}.{column}:{row.id}")
    return bad


def reencrypt(session: Session, keys: list[bytes], *, actor: Actor) -> int:
    """Step 2: every token under ``keys[0]``, in the caller's transaction. Refuses, changing
    nothing, if a token is readable by none of ``keys``."""
    require(actor, "admin", "changer la clé de chiffrement", "rotate the encryption key")
    if len(keys) < 2:
        raise ServiceError("Il faut la nouvelle clé et l'ancienne pour rechiffrer.",
                           "Re-encrypting needs the new key and the old one.")
    fernet = MultiFernet([Fernet(k) for k in keys])
    count = 0
    for row, column, token in _tokens(session, lock=True):
        try:
            setattr(row, column, fernet.rotate(token.encode()).decode())
        except InvalidToken:
            raise ServiceError(
                f"Identifiants illisibles avec les clés actuelles ({row.__tablename__} {row.id}) : rien n'a été changé.",
                f"Credentials unreadable with the current keys ({row.__tablename__} {row.id}): nothing was changed.",
            ) from None
        session.add(row)
        count += 1
    audit(session, actor=actor, action="secrets.rotate", target_type="secret_key", rotated=count)
    return count


def encrypted_rows(engine: sa.Engine) -> int:
    """How many non-empty encrypted values the database holds (0 for a database not created
    yet): a new key written over them would leave every one unreadable."""
    inspector = sa.inspect(engine)
    total = 0
    with engine.connect() as connection:
        for model, column in ENCRYPTED_COLUMNS:
            table = model.__table__  # type: ignore[attr-defined]
            if not inspector.has_table(table.name):
                continue
            total += connection.execute(
                sa.select(sa.func.count()).select_from(table).where(table.c[column] != "")).scalar_one()
    return total


def missing_key_message(engine: sa.Engine, settings: Settings | None = None) -> str:
    """What to say when there is no key at all: a new installation runs ``init``; one with
    encrypted credentials must get its key back (or enter the credentials again), never a new key."""
    settings = settings or get_settings()
    path = settings.key_file()
    try:
        count = encrypted_rows(engine)
    except sa.exc.SQLAlchemyError:
        count = 0
    if not count:
        return (f"aucune clé de chiffrement (ni PORTEVOIX_SECRET_KEY, ni {path}) : sur une installation neuve, "
                "lancez « porte-voix init », qui en crée une. "
                f"(No encryption key (neither PORTEVOIX_SECRET_KEY nor {path}): on a new installation, run "
                "`porte-voix init`, which creates one.)")
    return (f"aucune clé de chiffrement (ni PORTEVOIX_SECRET_KEY, ni {path}), alors que la base contient "
            f"{count} identifiant(s) chiffré(s) avec une clé. Remettez la clé en place : sa copie hors ligne, "
            "ou le fichier .key écrit à côté d'une sauvegarde (--include-key), dans "
            f"{path} (mode 0600) ou dans PORTEVOIX_SECRET_KEY. Si elle est perdue pour de bon : "
            "« porte-voix init --new-key », puis « porte-voix account set-credentials NOM … » pour chaque compte. "
            f"(No encryption key, but the database holds {count} credential(s) encrypted with one. Put the key "
            f"back from its offline copy or a backup's .key file, in {path} (mode 0600) or PORTEVOIX_SECRET_KEY. "
            "If it is lost for good: `porte-voix init --new-key`, then `porte-voix account set-credentials NAME …` "
            "for each account.)")


def _run(engine: sa.Engine, fn: Callable[[Session], Any]) -> Any:
    from orchestrator import db

    with db.session_scope(engine) as session:
        return fn(session)


def _unstage(engine: sa.Engine, target: Path, *, original: list[bytes], staged: list[bytes],
             grace_seconds: float) -> None:
    """Undo a stage after a failed re-encryption, safely for running processes: between the stage
    and now, a process may have written a credential under the new key. So the old key goes back
    in front (the new one still decrypts), those rows are re-encrypted under the old key, and only
    then is the key file exactly what it was."""
    back = [*original, staged[0]]
    write_key_file(target, back)
    time.sleep(grace_seconds)
    fernet = MultiFernet([Fernet(k) for k in back])
    before = MultiFernet([Fernet(k) for k in original])

    def revert(session: Session) -> None:
        for row, column, token in _tokens(session, lock=True):
            try:
                before.decrypt(token.encode())
                continue  # untouched since the stage: left exactly as it was
            except InvalidToken:
                pass
            try:
                setattr(row, column, fernet.rotate(token.encode()).decode())
            except InvalidToken:
                continue  # unreadable before the rotation too: the reason it stopped
            session.add(row)

    _run(engine, revert)
    write_key_file(target, original)


def rotate(
    engine: sa.Engine,
    *,
    actor: Actor,
    settings: Settings | None = None,
    new_key_file: Path | None = None,
    stage_only: bool = False,
    grace_seconds: float = 2.0,
    new_key: bytes | None = None,
) -> list[RotationReport]:
    """Run the steps the key set in force calls for (see the module docstring)."""
    require(actor, "admin", "changer la clé de chiffrement", "rotate the encryption key")
    settings = settings or get_settings()
    from_env = bool(settings.secret_key.strip())
    if from_env and new_key_file is None:
        raise ServiceError(
            "La clé vient de PORTEVOIX_SECRET_KEY : indiquez --new-key-file CHEMIN, où la nouvelle valeur "
            "sera écrite (elle n'est jamais affichée).",
            "The key comes from PORTEVOIX_SECRET_KEY: give --new-key-file PATH, where the new value is "
            "written (it is never printed).",
        )
    target = new_key_file if from_env else settings.key_file()
    assert target is not None
    keys = secrets.load_keys(settings)
    reports: list[RotationReport] = []
    if len(keys) == 1:
        staged = [new_key or Fernet.generate_key(), keys[0]]
        write_key_file(target, staged)
        if from_env or stage_only:
            return [RotationReport(
                "staged", key_written_to=str(target),
                next_action_fr=(f"Mettez le contenu de {target} dans PORTEVOIX_SECRET_KEY de chaque service "
                                "(travailleurs, tableau de bord), redémarrez-les, puis relancez "
                                "« porte-voix secrets rotate »." if from_env else
                                f"Copiez {target} sur chaque machine qui fait tourner Porte-voix, puis relancez "
                                "« porte-voix secrets rotate »."),
                next_action_en=(f"Put the content of {target} in PORTEVOIX_SECRET_KEY for every service, restart "
                                "them, then run `porte-voix secrets rotate` again." if from_env else
                                f"Copy {target} to every machine running Porte-voix, then run "
                                "`porte-voix secrets rotate` again."),
            )]
        reports.append(RotationReport("staged", key_written_to=str(target)))
        time.sleep(grace_seconds)  # a process that read the one-key file just before has written by now
        keys = staged
    try:
        count = _run(engine, lambda s: reencrypt(s, keys, actor=actor))
    except Exception:
        if reports:  # staged by this very command: put the key file back as it was
            try:
                _unstage(engine, target, original=keys[1:], staged=keys, grace_seconds=grace_seconds)
            except Exception:  # the database is gone too: NEW,OLD still decrypts everything
                logging.getLogger("porte_voix.keys").exception("could not undo the staged key in %s", target)
        raise
    # A process that still held the old set could have written under the old key after the
    # re-encryption committed; catch such rows before the old key is dropped.
    for _ in range(3):
        if not _run(engine, lambda s: undecryptable(s, keys[:1])):
            break
        count += _run(engine, lambda s: reencrypt(s, keys, actor=actor))
    else:
        raise ServiceError("Des identifiants restent chiffrés avec l'ancienne clé ; elle est gardée. Réessayez.",
                           "Some credentials are still under the old key; it is kept. Try again.")
    write_key_file(target, keys[:1])
    reports.append(RotationReport(
        "finished", rotated=count, key_written_to=str(target),
        next_action_fr=(f"Mettez le contenu de {target} dans PORTEVOIX_SECRET_KEY de chaque service et "
                        "redémarrez-les ; l'ancienne clé ne déchiffre plus rien." if from_env else
                        "L'ancienne clé ne déchiffre plus rien. Les sauvegardes antérieures demandent encore l'ancienne clé."),
        next_action_en=(f"Put the content of {target} in PORTEVOIX_SECRET_KEY for every service and restart them; "
                        "the old key no longer decrypts anything." if from_env else
                        "The old key no longer decrypts anything. Earlier backups still need the old key."),
    ))
    return reports
