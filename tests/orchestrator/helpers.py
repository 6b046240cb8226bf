"""Small builders for orchestrator tests: they go through the service layer, like staff do."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from orchestrator import db
from orchestrator.models import Delivery
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import utcnow
from tests import factories
from tests.factories import CREDS

__all__ = ["CREDS"]



def add_account(engine: sa.Engine, base_url: str, kind: str = "x", name: str | None = None,
                options: dict | None = None) -> str:
    return factories.add_account(engine, kind, name=name or f"{kind}-test", base_url=base_url, options=options)


def approved_post(engine: sa.Engine, text: str = "Écrivez pour Juan López. #ÉcrireÇaLibère",
                  case: str = "juan-lopez", link: str | None = "https://amnistie.ca/ecrire") -> int:
    with db.session_scope(engine) as session:
        post = posts.create_post(session, actor=SYSTEM, case_slug=case, text=text, link=link, submit=True)
        posts.approve_post(session, actor=SYSTEM, post_id=post.id)
        assert post.id is not None
        return post.id


def schedule(engine: sa.Engine, post_id: int, account: str, at: dt.datetime | None = None) -> int:
    with db.session_scope(engine) as session:
        delivery = deliveries.schedule(session, actor=SYSTEM, post_id=post_id, account_name=account, at=at or utcnow())
        assert delivery.id is not None
        return delivery.id


def delivery(engine: sa.Engine, delivery_id: int) -> Delivery:
    with db.session_scope(engine) as session:
        found = session.get(Delivery, delivery_id)
        assert found is not None
        return found
