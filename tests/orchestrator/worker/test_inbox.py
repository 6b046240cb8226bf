"""The inbox end to end on the sandbox: the worker fetches replies and mentions on the four
platforms (each attached to the delivery and case it answers), never twice, resuming and paging
after downtime within the rate budget; texts and handles are purged after the retention period;
a viewer sees counts only; a reply written by an editor and approved by someone else is published
in the item's thread (checked on the emulator's side) and the item becomes ``done``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Delivery, InboxItem, Post, RateBucket
from orchestrator.services import inbox, posts
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, every_text, schedule

CASE = "juan-lopez"
QUESTION = "Où est-ce que je signe ?"
ABUSE = "Bande de traîtres, fermez-la"
TEXTS = (QUESTION, "Merci pour votre travail", ABUSE)
KINDS = ("x", "mastodon", "bluesky", "facebook")
EDITOR = Actor("eloise", "editor")
APPROVER = Actor("alain", "approver")
VIEWER = Actor("victor", "viewer")


def make_worker(engine: sa.Engine, **overrides: Any) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})
    return Worker(engine, settings=settings, worker_id="inbox-test")


def emulator(sandbox: Any, kind: str) -> Any:
    emu = sandbox.sandbox.emulator(kind)
    emu.auto_public = False
    return emu


def published_on(engine: sa.Engine, sandbox: Any, kind: str, worker: Worker) -> tuple[str, str]:
    """An account of ``kind`` on the sandbox and one post of ours about the case, published:
    (account name, platform id)."""
    name = add_account(engine, kind, name=f"{kind}-inbox", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine, case=CASE, text=f"Écrivez pour Juan ({kind})"), name)
    worker.run_once()
    with db.session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.platform_id
        return name, delivery.platform_id


def inject(sandbox: Any, kind: str, ours: str, n: int, kinds: tuple[str, ...] = ("reply",)) -> list[str]:
    return list(emulator(sandbox, kind).inject_public(None, n, kinds=kinds, answers=ours, texts=TEXTS))


def items(engine: sa.Engine) -> list[InboxItem]:
    with db.session_scope(engine) as session:
        found = list(session.exec(select(InboxItem).order_by(InboxItem.id)))
        session.expunge_all()
        return found


@pytest.mark.parametrize("kind", KINDS)
def test_each_platforms_replies_come_in_once_with_their_case(engine: sa.Engine, sandbox: Any, kind: str) -> None:
    worker = make_worker(engine)
    _, ours = published_on(engine, sandbox, kind, worker)
    made = inject(sandbox, kind, ours, 6, ("reply",) if kind == "facebook" else ("reply", "reply", "mention"))
    report = worker.inbox()
    assert report.new == 6 and not report.errors, report.as_dict()
    found = items(engine)
    assert sorted(i.platform_item_id or "" for i in found) == sorted(made)
    replies = [i for i in found if i.kind == "reply"]
    assert replies and all(i.delivery_id is not None and i.case_id is not None for i in replies)
    assert any(i.text and i.text.endswith(QUESTION) for i in found) and all(i.author for i in found)
    # a second pass, and the same page read again from an old cursor: nothing twice
    assert worker.inbox().new == 0
    with db.session_scope(engine) as session:
        session.execute(sa.text("UPDATE listen_cursor SET cursor = NULL WHERE stream = 'inbox'"))
    again = worker.inbox()
    assert again.new == 0 and len(items(engine)) == 6


def test_after_downtime_it_pages_a_bounded_number_of_pages_then_resumes(engine: sa.Engine, sandbox: Any) -> None:
    worker = make_worker(engine, inbox_max_pages=2)
    _, ours = published_on(engine, sandbox, "x", worker)
    inject(sandbox, "x", ours, 250)  # X's mentions: 100 a page
    first = worker.inbox()
    assert (first.pages, first.new) == (2, 200)
    second = worker.inbox()
    assert second.new == 50 and len(items(engine)) == 250


def test_the_inbox_keeps_the_publishing_reserve_of_the_budget(engine: sa.Engine, sandbox: Any) -> None:
    worker = make_worker(engine)
    name, ours = published_on(engine, sandbox, "x", worker)
    inject(sandbox, "x", ours, 3)
    with db.session_scope(engine) as session:
        for bucket in session.exec(select(RateBucket).where(RateBucket.endpoint == "mentions")):
            bucket.tokens = bucket.capacity * get_settings().listen_reserve  # nothing above the reserve
            bucket.updated_at = utcnow()
            session.add(bucket)
    report = worker.inbox()
    assert report.held_for_budget == [name] and report.calls == 0 and items(engine) == []


def test_flag_words_put_items_first(engine: sa.Engine, sandbox: Any) -> None:
    worker = make_worker(engine)
    _, ours = published_on(engine, sandbox, "mastodon", worker)
    with db.session_scope(engine) as session:
        from orchestrator.services.campaigns import current_campaign

        inbox.set_words(session, actor=SYSTEM, campaign=current_campaign(session), words=["traitres"])
    inject(sandbox, "mastodon", ours, 3)
    report = worker.inbox()
    assert report.flagged == 1
    with db.session_scope(engine) as session:
        first = inbox.page(session, actor=EDITOR, campaign_id=None, limit=3)
    assert first[0].text == ABUSE and first[0].flagged == ["traitres"]


def test_after_the_retention_period_no_text_or_handle_remains(engine: sa.Engine, sandbox: Any) -> None:
    worker = make_worker(engine, inbox_retention_days=30, inbox_unhandled_days=60)
    _, ours = published_on(engine, sandbox, "bluesky", worker)
    inject(sandbox, "bluesky", ours, 3, ("reply", "mention", "reply"))
    worker.inbox()
    found = items(engine)
    handles = {i.author for i in found if i.author}
    ids = {i.platform_item_id for i in found if i.platform_item_id}
    assert handles and len(found) == 3
    now = utcnow()
    with db.session_scope(engine) as session:
        inbox.set_state(session, actor=EDITOR, item_id=found[0].id or 0, state="done")
        inbox.set_state(session, actor=EDITOR, item_id=found[1].id or 0, state="ignored")
    # 29 days on: nothing purged yet (handled items are kept 30 days, unhandled ones 60)
    assert worker.inbox(now + dt.timedelta(days=29)).purged == 0
    assert all(text in every_text(engine) for text in handles)
    # 31 days on: the handled ones; 61 days on: the one nobody handled
    assert worker.inbox(now + dt.timedelta(days=31)).purged == 2
    assert worker.inbox(now + dt.timedelta(days=61)).purged == 1
    haystack = every_text(engine)
    for secret in [*TEXTS, *handles, *ids, *(h.split(".")[0] for h in handles)]:
        assert secret not in haystack, secret
    with db.session_scope(engine) as session:
        # the one nobody handled is closed with its words: nothing left waits as "nouveau"
        assert inbox.counts_by_state(session, campaign_id=None) == {"new": 0, "todo": 0, "done": 1, "ignored": 2}
    # an item purged is still recognised: read again, it is not stored again
    with db.session_scope(engine) as session:
        session.execute(sa.text("UPDATE listen_cursor SET cursor = NULL WHERE stream = 'inbox'"))
    assert worker.inbox(now + dt.timedelta(days=61)).new == 0


def test_a_viewer_sees_counts_not_texts(engine: sa.Engine, sandbox: Any) -> None:
    worker = make_worker(engine)
    _, ours = published_on(engine, sandbox, "mastodon", worker)
    inject(sandbox, "mastodon", ours, 2)
    worker.inbox()
    with db.session_scope(engine) as session:
        with pytest.raises(PermissionDenied):
            inbox.page(session, actor=VIEWER, campaign_id=None)
        with pytest.raises(PermissionDenied):
            inbox.set_state(session, actor=VIEWER, item_id=items(engine)[0].id or 0, state="done")
        assert sum(inbox.open_by_case(session, campaign_id=None).values()) == 2
        assert [r.text for r in inbox.page(session, actor=EDITOR, campaign_id=None)] == [TEXTS[1], TEXTS[0]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_reply_from_the_inbox_is_published_in_the_items_thread(engine: sa.Engine, sandbox: Any, kind: str) -> None:
    worker = make_worker(engine)
    _, ours = published_on(engine, sandbox, kind, worker)
    (question,) = inject(sandbox, kind, ours, 1)
    worker.inbox()
    (item,) = items(engine)
    with db.session_scope(engine) as session:
        answer = inbox.save_answer(session, actor=EDITOR, campaign_id=item.campaign_id or 0, language="fr",
                                   title="Où signer", text="Vous pouvez signer ici : https://amnistie.ca/juan")
        post = inbox.reply(session, actor=EDITOR, item_id=item.id or 0, text=answer.text)
        post_id = post.id or 0
        with pytest.raises(PermissionDenied):  # four eyes: not by its author
            posts.approve_post(session, actor=Actor(EDITOR.username, "approver"), post_id=post_id)
    worker.run_once()  # not approved yet: nothing goes out
    assert items(engine)[0].state == "todo"
    with db.session_scope(engine) as session:
        posts.approve_post(session, actor=APPROVER, post_id=post_id)
    worker.run_once()
    with db.session_scope(engine) as session:
        (delivery,) = session.exec(select(Delivery).where(Delivery.post_id == post_id)).all()
        assert delivery.state == "published", (delivery.state, delivery.last_error)
        reply_id = delivery.platform_id
        assert session.get(Post, post_id).reply_to == question  # type: ignore[union-attr]
    emu = emulator(sandbox, kind)
    if kind == "facebook":
        assert emu.comments()[reply_id]["parent"] == question
    elif kind == "bluesky":
        (mine,) = [p for p in emu.posts() if p["id"] == reply_id]
        assert mine["reply"]["parent"]["uri"] == question and mine["reply"]["root"]["uri"] == ours
    else:
        (mine,) = [p for p in emu.posts() if str(p["id"]) == reply_id]
        assert mine["in_reply_to"] == question
    report = worker.inbox()
    assert report.new == 0  # our own reply is not the public's
    (done,) = items(engine)
    assert (done.state, done.handled_by) == ("done", EDITOR.username)


def test_no_text_or_handle_reaches_the_logs(engine: sa.Engine, sandbox: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from orchestrator.logs import QUIET_LOGGERS

    worker = make_worker(engine)
    _, ours = published_on(engine, sandbox, "x", worker)
    inject(sandbox, "x", ours, 3, ("reply", "mention", "reply"))
    # as logs.setup() leaves them, even at DEBUG: the clients' loggers print whole responses
    before = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    try:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        with caplog.at_level(logging.DEBUG):
            report = worker.inbox()
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
    assert report.new == 3
    lines = "\n".join(r.getMessage() + " " + str(vars(r)) for r in caplog.records)
    assert "3 new items" in lines  # the pass is logged ...
    for item in items(engine):  # ... without anything of what the public wrote or who
        assert item.text and item.text not in lines and item.author and item.author not in lines


def test_hide_where_the_platform_allows_it_and_say_why_where_it_does_not(engine: sa.Engine, sandbox: Any) -> None:
    worker = make_worker(engine)
    for kind in ("x", "mastodon"):
        _, ours = published_on(engine, sandbox, kind, worker)
        inject(sandbox, kind, ours, 1)
    worker.inbox()
    by_platform = {i.platform: i for i in items(engine)}
    with db.session_scope(engine) as session:
        assert inbox.hide(session, actor=EDITOR, item_id=by_platform["x"].id or 0, timeout=2.0) == (True, {})
        ok, why = inbox.hide(session, actor=EDITOR, item_id=by_platform["mastodon"].id or 0, timeout=2.0)
        with pytest.raises(PermissionDenied):
            inbox.hide(session, actor=VIEWER, item_id=by_platform["x"].id or 0)
    assert not ok and "Signalez" in why["fr"] and "Report" in why["en"]
    hidden = [p for p in emulator(sandbox, "x").posts() if p["id"] == by_platform["x"].platform_item_id]
    assert [p["hidden"] for p in hidden] == [True]
    after = {i.platform: i for i in items(engine)}
    assert after["x"].hidden and not after["mastodon"].hidden and "Signalez" in after["mastodon"].hide_error
