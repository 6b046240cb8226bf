"""Builders for plan tests: accounts through the service layer, plans as CSV text, counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import func, select

from orchestrator import db
from orchestrator.models import Delivery, Post
from orchestrator.services.auth import SYSTEM, Actor
from orchestrator.services.plan_import import PlanResult, import_plan
from tests.factories import make_account

HEADER = "case,language,text,link,account,at"


def add_accounts(engine: sa.Engine, *kinds: str) -> list[str]:
    with db.session_scope(engine) as session:
        return [make_account(session, kind, base_url="http://127.0.0.1:9") for kind in kinds]


def later(days: float = 2, hour: int = 12) -> str:
    """An instant to come, written with Montréal's winter offset as staff would."""
    day = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-5))) + dt.timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


def csv_text(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def run(engine: sa.Engine, data: bytes, *, actor: Actor = SYSTEM, **options: Any) -> PlanResult:
    with db.session_scope(engine) as session:
        return import_plan(session, actor=actor, data=data, **options)


def counts(engine: sa.Engine) -> tuple[int, int]:
    with db.session_scope(engine) as session:
        return (session.exec(select(func.count()).select_from(Post)).one(),
                session.exec(select(func.count()).select_from(Delivery)).one())


def all_deliveries(engine: sa.Engine) -> list[Delivery]:
    with db.session_scope(engine) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))
