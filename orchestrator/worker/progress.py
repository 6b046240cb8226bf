"""The database behind channels' notes on publications in several calls (``ProgressRecord`` in
channels/base.py): one row per (platform, account, request key), each write in its own short
transaction, so a note is there for any worker as soon as the channel has written it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels import thread
from orchestrator.db import retry_db, session_scope
from orchestrator.models import PublishProgress
from orchestrator.timeutil import utcnow

#: Notes older than this are dropped when a new one is written: Meta's containers expire after
#: 24 hours, so an older note can only name a container that no longer exists. A thread's note
#: (``channels.thread.KIND``) is kept: it is what stops a retry, however late (a person retrying
#: a failed thread days later), from posting its first parts again.
KEEP = dt.timedelta(days=2)
KEPT_KINDS = (thread.KIND,)


class DatabaseProgress:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def load(self, kind: str, account: str, key: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            with session_scope(self.engine) as session:
                row = session.exec(select(PublishProgress).where(
                    PublishProgress.kind == kind, PublishProgress.account == account,
                    PublishProgress.request_key == key)).first()
                return dict(row.data) if row is not None else None
        return retry_db(read, "publication progress")

    def save(self, kind: str, account: str, key: str, data: dict[str, Any]) -> None:
        def write() -> None:
            now = utcnow()
            with session_scope(self.engine) as session:
                row = session.exec(select(PublishProgress).where(
                    PublishProgress.kind == kind, PublishProgress.account == account,
                    PublishProgress.request_key == key)).first()
                if row is None:
                    row = PublishProgress(kind=kind, account=account, request_key=key, data=data, updated_at=now)
                else:
                    row.data, row.updated_at = dict(data), now
                session.add(row)
                session.execute(sa.delete(PublishProgress).where(
                    PublishProgress.updated_at < now - KEEP,  # type: ignore[arg-type]
                    col(PublishProgress.kind).not_in(KEPT_KINDS)))
        retry_db(write, "publication progress")

    def forget(self, kind: str, account: str, key: str) -> None:
        def delete() -> None:
            with session_scope(self.engine) as session:
                session.execute(sa.delete(PublishProgress).where(
                    PublishProgress.kind == kind, PublishProgress.account == account,  # type: ignore[arg-type]
                    PublishProgress.request_key == key))  # type: ignore[arg-type]
        retry_db(delete, "publication progress")
