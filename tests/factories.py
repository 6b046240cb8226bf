"""Accounts of every kind for tests, made through the service layer as staff make them.

The sandbox credentials of each kind are written here once; helpers and tests import them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from orchestrator import db
from orchestrator.services import accounts
from orchestrator.services.auth import SYSTEM

#: Sandbox credentials of each of the four kinds (fake values the channel sandboxes accept).
CREDS: dict[str, dict[str, str]] = {
    "x": {"bearer_token": "tok-x"},
    "mastodon": {"access_token": "tok-mastodon"},
    "bluesky": {"handle": "w4r.test", "app_password": "pw-bluesky"},
    "facebook": {"page_id": "4242", "page_token": "tok-facebook"},
}


def make_account(session: Session, kind: str = "x", *, name: str | None = None, language: str = "fr",
                 base_url: str | None = None, credentials: dict[str, str] | None = None, **fields: Any) -> str:
    """Add an account of ``kind`` (default name ``{kind}-fr``) with its sandbox credentials; return its name."""
    name = name or f"{kind}-fr"
    accounts.add_account(session, actor=SYSTEM, kind=kind, name=name, language=language, base_url=base_url,
                         credentials=dict(credentials if credentials is not None else CREDS[kind]), **fields)
    return name


def add_account(engine: sa.Engine, kind: str = "x", **options: Any) -> str:
    """``make_account`` in its own transaction on ``engine``."""
    with db.session_scope(engine) as session:
        return make_account(session, kind, **options)
