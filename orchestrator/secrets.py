"""Credentials at rest: Fernet-encrypted JSON, with the key from the environment or a key file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from channels.registry import public_credential_names
from orchestrator import logs
from orchestrator.settings import Settings, get_settings


class SecretKeyError(RuntimeError):
    """The key is missing, empty, malformed, or does not decrypt what is stored.

    ``missing`` is True when there is no key at all (neither the setting nor the file): what to
    advise then depends on whether the database already holds encrypted credentials, which only
    the caller can look at (see ``orchestrator.services.keys.missing_key_message``)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def ensure_key_file(path: Path) -> Path:
    """Create a key file readable only by its owner, if there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path


def parse_keys(raw: str, *, where: str) -> list[bytes]:
    """The keys of a key setting or file (comma- or line-separated), each checked; a clear
    message, never a bare ValueError, when there is none or one is malformed."""
    keys = [k.strip().encode() for k in raw.replace("\n", ",").split(",") if k.strip()]
    if not keys:
        raise SecretKeyError(
            f"{where} ne contient aucune clé de chiffrement (vide, ou seulement des virgules et des espaces). "
            "Remettez-y la clé depuis sa copie hors ligne. "
            f"({where} holds no encryption key (empty, or only commas and spaces). Put the key back from its "
            "offline copy.)"
        )
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyError(
                f"{where} contient une clé de chiffrement invalide (une clé Fernet fait 44 caractères). "
                f"({where} holds an invalid encryption key (a Fernet key is 44 characters long).)"
            ) from None
    return keys


def load_keys(settings: Settings | None = None) -> list[bytes]:
    """Current key first; older keys (comma-separated) still decrypt during a rotation."""
    settings = settings or get_settings()
    if settings.secret_key.strip():
        return parse_keys(settings.secret_key, where="PORTEVOIX_SECRET_KEY")
    path = settings.key_file()
    if not path.exists():
        raise SecretKeyError(
            f"Aucune clé de chiffrement : PORTEVOIX_SECRET_KEY n'est pas définie et le fichier {path} est absent. "
            f"(No encryption key: PORTEVOIX_SECRET_KEY is not set and {path} is missing.)",
            missing=True,
        )
    try:
        raw = path.read_text()
    except OSError as exc:
        raise SecretKeyError(f"Fichier de clé illisible : {exc}. (Unreadable key file: {exc}.)") from None
    return parse_keys(raw, where=str(path))


def _fernet(settings: Settings | None = None) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in load_keys(settings)])


def encrypt(data: dict[str, str], settings: Settings | None = None) -> str:
    return _fernet(settings).encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str, settings: Settings | None = None) -> dict[str, str]:
    if not token:
        return {}
    try:
        data: dict[str, str] = json.loads(_fernet(settings).decrypt(token.encode()))
    except InvalidToken:
        raise SecretKeyError(
            "Impossible de déchiffrer les identifiants avec la clé en place (clé perdue ou changée) : remettez la "
            "bonne clé, ou saisissez de nouveau les identifiants du compte. "
            "(Cannot decrypt the credentials with the key in force (lost or changed key): put the right key back, "
            "or enter the account's credentials again.)"
        ) from None
    # From now on these values are masked in every log line of this process, however they appear.
    # Only the fields every channel declares public (a Page's id, a handle) stay readable.
    public = public_credential_names()
    logs.remember_secrets(v for k, v in data.items() if k not in public)
    return data


def mask(value: str) -> str:
    """What may be shown of a secret: never more than its last two characters."""
    return "••••" + value[-2:] if len(value) > 6 else "••••"
