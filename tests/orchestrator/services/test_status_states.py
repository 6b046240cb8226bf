"""``porte-voix status`` counts deliveries by the state staff see: a pending post's deliveries
wait for approval (they are not "scheduled"), and nothing of it is "next due"."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from orchestrator import db
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.services.status import summary
from tests.factories import add_account


def test_a_pending_post_is_awaiting_approval_and_never_next_due(engine: sa.Engine) -> None:
    add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan !", submit=True)
        post.author = "someone"
        post_id = post.id
        deliveries.schedule(s, actor=SYSTEM, post_id=post_id, account_name="x-test",  # type: ignore[arg-type]
                            at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    with db.session_scope(engine) as s:
        data = summary(s)
    assert data["deliveries"] == {"awaiting_approval": 1}
    assert data["next_due"] is None
    with db.session_scope(engine) as s:
        posts.approve_post(s, actor=SYSTEM, post_id=post_id)  # type: ignore[arg-type]
    with db.session_scope(engine) as s:
        data = summary(s)
    assert data["deliveries"] == {"scheduled": 1} and data["next_due"] is not None
