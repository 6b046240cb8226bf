"""Small builders for orchestrator tests: they go through the service layer, like staff do
(accounts come from tests/factories.py). Also a published delivery with figures, CSV bytes, and a
dump of every text in the database (to prove that personal data never got in), for the response
tests."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from orchestrator import db
from orchestrator.models import Delivery
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import utcnow
from tests.factories import add_account


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


NOWHERE = "http://127.0.0.1:9"  # accounts are never contacted in these tests


def published(engine: sa.Engine, *, kind: str = "x", case: str = "juan-lopez", name: str | None = None,
              views: int = 0, likes: int = 0, shares: int = 0, replies: int = 0,
              link: str | None = "https://amnistie.ca/ecrire") -> Delivery:
    name = name or f"{kind}-test"
    with db.session_scope(engine) as s:
        exists = s.execute(sa.text("SELECT 1 FROM account WHERE name = :n"), {"n": name}).first()
    if not exists:
        add_account(engine, kind, name=name, base_url=NOWHERE)
    post_id = approved_post(engine, text=f"Écrivez pour {case} ! #ÉcrireÇaLibère", case=case, link=link)
    delivery_id = schedule(engine, post_id, name)
    with db.session_scope(engine) as s:
        delivery = s.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.state = "published"
        delivery.views, delivery.likes, delivery.shares, delivery.replies = views, likes, shares, replies
        s.add(delivery)
    return delivery


def csv_bytes(*lines: str, encoding: str = "utf-8", sep: str = ",") -> bytes:
    return ("\n".join(line.replace(",", sep) if sep != "," else line for line in lines) + "\n").encode(encoding)


def every_text(engine: sa.Engine) -> str:
    """Every value of every table, as text: the haystack for privacy checks."""
    out = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                out.extend(str(value) for value in row)
    return "\n".join(out)
