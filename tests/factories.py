"""Accounts of every kind for tests, made through the service layer as staff make them.

The sandbox credentials of each kind are written here once; helpers and tests import them.
``make_account`` (in a session, returns the name), ``new_account`` (in a session, returns the
account, to change it further), ``add_account`` (in its own transaction on an engine) and
``numbered_credentials`` (a distinct sandbox identity per account, for many accounts of a kind).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from channels.registry import KINDS, channel_class
from orchestrator import db
from orchestrator.models import Account
from orchestrator.services import accounts
from orchestrator.services.auth import SYSTEM

#: Sandbox credentials of every registered kind, as each channel declares them (fake values its
#: emulator accepts).
CREDS: dict[str, dict[str, str]] = {kind: dict(channel_class(kind).sandbox_credentials) for kind in KINDS}


def _numbered(value: str, n: int) -> str:
    if value.isdigit():  # an identifier that must stay a number (a Page id)
        return str(int(value) + n)
    head, dot, rest = value.partition(".")  # a handle keeps its domain: ecrire-3.sandbox.bsky
    return f"{head}-{n}{dot}{rest}"


def numbered_credentials(kind: str, n: int) -> dict[str, str]:
    """Sandbox credentials of ``kind`` distinct for each ``n``: each is its own account on the emulator."""
    return {field: _numbered(value, n) for field, value in CREDS[kind].items()}


def new_account(session: Session, kind: str = "x", *, name: str | None = None, language: str | None = "fr",
                base_url: str | None = None, credentials: dict[str, str] | None = None, **fields: Any) -> Account:
    """Add an account of ``kind`` (default name ``{kind}-fr``) with its sandbox credentials; return it."""
    return accounts.add_account(session, actor=SYSTEM, kind=kind, name=name or f"{kind}-fr", language=language,
                                base_url=base_url,
                                credentials=dict(credentials if credentials is not None else CREDS[kind]), **fields)


def make_account(session: Session, kind: str = "x", *, name: str | None = None, language: str | None = "fr",
                 base_url: str | None = None, credentials: dict[str, str] | None = None, **fields: Any) -> str:
    """Add an account of ``kind`` (default name ``{kind}-fr``) with its sandbox credentials; return its name."""
    return new_account(session, kind, name=name, language=language, base_url=base_url, credentials=credentials,
                       **fields).name


def add_account(engine: sa.Engine, kind: str = "x", **options: Any) -> str:
    """``make_account`` in its own transaction on ``engine``."""
    with db.session_scope(engine) as session:
        return make_account(session, kind, **options)
