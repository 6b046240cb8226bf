"""Credentials at rest: Fernet-encrypted JSON, with the key from the environment or a key file."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from orchestrator.settings import Settings, get_settings


class SecretKeyError(RuntimeError):
    pass


def ensure_key_file(path: Path) -> Path:
    """Create a key file readable only by its owner, if there is none."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path


def load_keys(settings: Settings | None = None) -> list[bytes]:
    """Current key first; older keys (comma-separated) still decrypt during a rotation."""
    settings = settings or get_settings()
    raw = settings.secret_key.strip()
    if not raw:
        path = settings.key_file()
        if not path.exists():
            raise SecretKeyError(
                "Aucune clé de chiffrement : définissez PORTEVOIX_SECRET_KEY ou lancez « porte-voix init ». "
                "(No encryption key: set PORTEVOIX_SECRET_KEY or run `porte-voix init`.)"
            )
        raw = path.read_text().strip()
    keys = [k.strip().encode() for k in raw.replace("\n", ",").split(",") if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise SecretKeyError("La clé de chiffrement est invalide. (The encryption key is invalid.)") from None
    return keys


def _fernet(settings: Settings | None = None) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in load_keys(settings)])


def encrypt(data: dict[str, str], settings: Settings | None = None) -> str:
    return _fernet(settings).encrypt(json.dumps(data, sort_keys=True).encode()).decode()


def decrypt(token: str, settings: Settings | None = None) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet(settings).decrypt(token.encode()))  # type: ignore[no-any-return]
    except InvalidToken:
        raise SecretKeyError(
            "Impossible de déchiffrer les identifiants : la clé a changé ? "
            "(Cannot decrypt credentials: was the key changed?)"
        ) from None


def mask(value: str) -> str:
    """What may be shown of a secret: never more than its last two characters."""
    return "••••" + value[-2:] if len(value) > 6 else "••••"
