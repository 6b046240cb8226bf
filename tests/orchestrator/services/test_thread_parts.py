"""A story as a thread: split to fit every chosen platform, checked per platform before approval
(X may post it as one post, Facebook's comments are text only, Instagram has no threads), kept
on the post under four eyes, published whole by the worker with its figures summed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from channels.base import Metrics
from orchestrator import db, states
from orchestrator.models import Delivery, Post, PostEdit
from orchestrator.services import compose, posts, thread_parts
from orchestrator.services.auth import Actor
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from orchestrator.worker.metrics import thread_metrics
from tests.factories import add_account
from tests.orchestrator.helpers import NOWHERE, delivery, schedule

EDITH = Actor("edith", "editor")
ELSA = Actor("elsa", "editor")
ALAIN = Actor("alain", "approver")
STORY = ("Juan López défendait la rivière Guapinol au Honduras. Il a été assassiné le 14 septembre 2024, "
         "en sortant de l'église de Tocoa. Les autorités n'ont arrêté que les exécutants ; ceux qui ont commandé "
         "le crime restent libres, et sa famille est menacée depuis. Écrivez au procureur général pour exiger une "
         "enquête complète et impartiale sur tous les responsables ! Chaque lettre compte : Amnistie remettra "
         "les signatures en mains propres. Signez sur amnistie.ca.")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
PARTS = [{"text": "Il a été assassiné le 14 septembre 2024. 2/3"}, {"text": "Écrivez pour lui. 3/3"}]


def _compose(s, **kw):
    values = {"actor": EDITH, "case_slug": "juan-lopez", "language": "fr",
              "text": "Juan López défendait sa rivière. 1/3", "parts": PARTS}
    values.update(kw)
    return compose.compose(s, **values)


def test_a_story_is_split_at_its_sentences_within_every_platforms_limit(engine) -> None:
    names = [add_account(engine, "x", name="x-t", base_url=NOWHERE),
             add_account(engine, "bluesky", name="bsky-t", base_url="https://pds.example")]
    with db.session_scope(engine) as s:
        parts = compose.split_for_accounts(s, text=STORY, account_names=names, numbered=True)
        rows = compose.preview(s, text=parts[0], link=None, case_slug="juan-lopez", account_names=names,
                               parts=[{"text": p} for p in parts[1:]])
    assert len(parts) >= 2 and parts[0].startswith("Juan López défendait")
    assert [p.rsplit(" ", 1)[1] for p in parts] == [f"{i}/{len(parts)}" for i in range(1, len(parts) + 1)]
    assert " ".join(p.rsplit(" ", 1)[0] for p in parts) == STORY  # nothing lost, nothing added but numbers
    for row in rows:  # every part fits every chosen platform, as its own validate counts it
        assert row["valid"], row
        assert all(part["valid"] for part in row["parts"]) and len(row["parts"]) == len(parts) - 1


def test_a_sentence_longer_than_a_part_is_cut_at_its_words() -> None:
    parts = thread_parts.split_story("un " * 60 + "fin.", lambda p: len(p) <= 50)
    assert all(len(p) <= 50 for p in parts) and " ".join(parts) == ("un " * 60 + "fin.").strip()


def test_before_approval_each_platform_says_what_it_does_with_a_thread(engine) -> None:
    names = {kind: add_account(engine, kind, name=f"{kind}-t", base_url=NOWHERE)
             for kind in ("x", "facebook", "instagram", "mastodon")}
    with db.session_scope(engine) as s:
        rows = {r["kind"]: r for r in compose.preview(
            s, text="Juan López défendait sa rivière. 1/3", link=None, case_slug="juan-lopez", language="en",
            account_names=list(names.values()),
            parts=[{"text": "Part 2", "images": [{"data": PNG, "alt": "Une rivière", "filename": "r.png"}]}])}
    assert any("may go out as a single post" in w for w in rows["x"]["warnings"])
    assert rows["x"]["valid"] and rows["mastodon"]["valid"] and not rows["mastodon"]["warnings"]
    assert not rows["facebook"]["valid"] and any("text only" in p for p in rows["facebook"]["problems"])
    assert not rows["instagram"]["valid"] and any("does not publish threads" in p for p in rows["instagram"]["problems"])


def test_parts_edited_after_approval_go_back_for_approval(engine) -> None:
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=ELSA, post_id=post_id, text="Juan López défendait sa rivière. 1/3",
                        parts=[PARTS[0], {"text": "Écrivez au procureur. 3/3"}])
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        assert post.status == posts.PENDING and post.approved_fingerprint is None
        assert post.parts[1]["text"] == "Écrivez au procureur. 3/3"
        [edit] = s.exec(select(PostEdit).where(PostEdit.post_id == post_id)).all()
        assert edit.changed == ["parts"] and edit.actor == "elsa"


def test_a_part_changed_behind_the_approval_sends_nothing(engine, sandbox) -> None:
    mastodon = add_account(engine, "mastodon", name="mastodon-t", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    delivery_id = schedule(engine, post_id, mastodon)
    with db.session_scope(engine) as s:  # a path that skips the services rewrites part 3
        s.execute(sa.text("UPDATE post SET parts = :p WHERE id = :i"),
                  {"p": '[{"text": "Autre chose.", "images": []}]', "i": post_id})
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    Worker(engine, settings=settings, worker_id="t-worker").run_once()
    assert sandbox.sandbox.posts("mastodon") == []
    assert delivery(engine, delivery_id).state != states.PUBLISHED
    with db.session_scope(engine) as s:
        assert s.get(Post, post_id).status == posts.PENDING


@pytest.mark.parametrize("kind", ["x", "mastodon", "bluesky", "facebook"])
def test_the_worker_publishes_the_thread_as_one_delivery(engine, sandbox, kind) -> None:
    account = add_account(engine, kind, name=f"{kind}-t", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    delivery_id = schedule(engine, post_id, account)
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01,
                                                 "metrics_first_poll_seconds": 0})
    worker = Worker(engine, settings=settings, worker_id="t-worker")
    worker.run_once()
    d = delivery(engine, delivery_id)
    assert d.state == states.PUBLISHED and len(d.part_ids) == 3 and d.part_ids[0] == d.platform_id
    with db.session_scope(engine) as s:  # figures: one delivery, the parts summed, each kept
        s.execute(sa.update(Delivery).values(next_metrics_at=sa.func.now()))
    worker.poll_metrics()
    d = delivery(engine, delivery_id)
    # Facebook's comments are not posts: Graph gives them no shares or reactions, and their
    # figures are not read (the post's are the thread's)
    assert set(d.part_metrics) == ({d.platform_id} if kind == "facebook" else set(d.part_ids))
    likes = [d.part_metrics[pid]["likes"] for pid in d.part_metrics]
    if all(v is not None for v in likes):
        assert d.likes == sum(likes)


def test_x_refusing_the_replies_publishes_the_first_part_and_says_so(engine, sandbox) -> None:
    account = add_account(engine, "x", name="x-t", base_url=sandbox.url)
    sandbox.sandbox.emulator("x").configure(reply_policy="none")
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    delivery_id = schedule(engine, post_id, account)
    Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 2.0}), worker_id="t").run_once()
    d = delivery(engine, delivery_id)
    assert d.state == states.PUBLISHED and d.part_ids == [d.platform_id]
    assert "1 partie(s) sur 3" in d.note["fr"] and "1 of 3" in d.note["en"]
    assert [p["text"] for p in sandbox.sandbox.posts("x")] == ["Juan López défendait sa rivière. 1/3"]


def test_thread_figures_are_summed_less_the_threads_own_replies() -> None:
    by_pid = {"a": Metrics("a", likes=3, replies=4, views=None), "b": Metrics("b", likes=2, replies=1, views=None),
              "c": Metrics("c", likes=None, replies=0, views=None)}
    m = thread_metrics(["a", "b", "c"], by_pid)
    assert m is not None and (m.likes, m.replies, m.views) == (5, 3, None)  # 4 + 1 + 0 less parts b and c
    assert thread_metrics(["z"], by_pid) is None


def test_the_preview_says_what_a_post_costs_on_x(engine) -> None:
    name = add_account(engine, "x", name="x-cost", base_url=NOWHERE)
    with db.session_scope(engine) as s:
        [row] = compose.preview(s, text="Signez : https://amnistie.ca/juan", link=None, case_slug="juan-lopez",
                                account_names=[name], language="en", parts=[{"text": "Merci."}])
    assert row["cost_usd"] == pytest.approx(0.215)  # one post with a link, one without


def test_a_thread_costs_one_publishing_call_per_part() -> None:
    """The publishing budget is spent per call: a thread of three parts takes three tokens, and
    waits when fewer are left rather than going out past the platform's limit."""
    import datetime as dt
    from types import SimpleNamespace

    from orchestrator.budgets import Bucket
    from orchestrator.timeutil import utcnow
    from orchestrator.worker.claimer import _take_calls

    now = utcnow()
    bucket = Bucket(id=1, capacity=100, window_seconds=900, tokens=4.0, updated_at=now, blocked_until=None)
    thread_row, single = SimpleNamespace(parts=[{}, {}]), SimpleNamespace(parts=[])
    assert _take_calls(bucket, now, [single, thread_row]) == (2, None) and bucket.tokens < 1  # 1 + 3
    bucket.tokens = 2.0
    allowed, next_free = _take_calls(bucket, now, [thread_row, single])
    assert allowed == 0 and next_free is not None and next_free > now - dt.timedelta(seconds=1)
    assert bucket.tokens >= 2.0  # the tokens the thread could not use are kept
