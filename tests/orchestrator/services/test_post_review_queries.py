"""A post's previews read its edition and case once, whatever the number of its deliveries: the
Posts and Approvals pages preview thirty posts at a time, and a read per delivery made the Posts
page miss its 1.5 s target with 100,000 deliveries (docs/benchmarks.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlmodel import Session

from orchestrator import db
from orchestrator.models import Post
from orchestrator.services import deliveries, post_review, posts
from orchestrator.services.auth import SYSTEM, Actor
from orchestrator.timeutil import utcnow
from tests.factories import add_account


@contextmanager
def statements(engine: sa.Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_previews_of_a_post_read_its_case_once_not_once_per_delivery(engine: sa.Engine) -> None:
    add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez",
                                 text="Écrivez pour Juan López.", submit=True)
        post.author = "edith"
        posts.approve_post(s, actor=SYSTEM, post_id=post.id or 0)
        for hours in range(1, 21):  # the same post, every hour on one account
            deliveries.schedule(s, actor=SYSTEM, post_id=post.id or 0, account_name="x-test",
                                at=utcnow() + dt.timedelta(hours=hours))
        post_id = post.id or 0
    with Session(engine) as s, statements(engine) as seen:
        fresh = s.get(Post, post_id)
        assert fresh is not None
        rows = post_review.previews(s, post=fresh)
    assert len(rows) == 20 and all(r["valid"] for r in rows), rows
    reads_of_case = [q for q in seen if 'FROM "case"' in q or "FROM case" in q]
    assert len(reads_of_case) <= 1, f"{len(reads_of_case)} reads of the case for one post's previews"
