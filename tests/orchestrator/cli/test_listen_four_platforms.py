"""``porte-voix listen --once`` end to end on the four platforms at once: accounts of X, Bluesky,
Facebook and Mastodon on the running sandbox, the public posting with the edition's and a case's
hashtags and answering our published posts; what the command prints per case and platform, what
the database keeps (public posts, listening responses by platform), and nothing counted twice on
a second pass, by the command or by the worker."""

from __future__ import annotations

import json

from sqlmodel import col, select
from typer.testing import CliRunner

from orchestrator import db
from orchestrator.cli import app
from orchestrator.models import Case, PublicPost, Response
from tests import factories
from tests.orchestrator.listen_helpers import (
    CASE,
    CASE_TAG,
    EDITION_TAG,
    make_worker,
    publish_one,
    setup_terms,
)

PLATFORMS = ("bluesky", "facebook", "mastodon", "x")


def _emulators(sandbox) -> dict:
    ems = {kind: sandbox.sandbox.emulator(kind) for kind in PLATFORMS}
    for em in ems.values():
        em.auto_public = False  # only what the test makes
    return ems


def _public(ems, ours: dict[str, str]) -> dict[str, dict[str, int]]:
    """The public's posts on each platform; what each should count for the case, by kind."""
    # X: originals by term; replies and quotes of our post name us (mentions)
    ems["x"].inject_public(CASE_TAG, 2, kinds=("original", "photo"))
    ems["x"].inject_public(EDITION_TAG, 1)
    ems["x"].inject_public(None, 2, kinds=("reply", "quote"), answers=ours["x"])
    # ... and a quote that names no one: only the search for quotes of our posts finds it
    ems["x"].inject_public(None, 1, kinds=("quote",), answers=ours["x"], mention=False)
    # Bluesky: term search; replies, quotes and reposts through the notifications
    ems["bluesky"].inject_public(CASE_TAG, 2, kinds=("original", "photo"))
    ems["bluesky"].inject_public(EDITION_TAG, 1)
    ems["bluesky"].inject_public(None, 3, kinds=("reply", "quote", "repost"), answers=ours["bluesky"])
    # Facebook: posts tagging the Page with the tag; comments on our post; a share of it
    ems["facebook"].inject_public(CASE_TAG, 1, page=factories.CREDS["facebook"]["page_id"])
    ems["facebook"].inject_public(EDITION_TAG, 1, page=factories.CREDS["facebook"]["page_id"])
    ems["facebook"].inject_public(None, 1, kinds=("reply",), answers=ours["facebook"])
    ems["facebook"].inject_public(CASE_TAG, 1, kinds=("repost",), answers=ours["facebook"])
    # Mastodon: the tag timelines; replies, quotes and boosts notify us
    ems["mastodon"].public_post(tag=CASE_TAG, author=1)
    ems["mastodon"].public_post(tag=CASE_TAG, kind="photo", author=2)
    ems["mastodon"].public_post(tag=EDITION_TAG, author=3)
    for n, kind in enumerate(("reply", "quote", "repost")):
        ems["mastodon"].public_post(kind=kind, answers=ours["mastodon"], author=10 + n)
    return {
        "x": {"original": 1, "photo": 1, "reply": 1, "quote": 2},
        "bluesky": {"original": 1, "photo": 1, "reply": 1, "quote": 1, "repost": 1},
        "facebook": {"original": 1, "reply": 1, "repost": 1},
        "mastodon": {"original": 1, "photo": 1, "reply": 1, "quote": 1, "repost": 1},
    }


def _setup(engine, sandbox):
    ems = _emulators(sandbox)
    names = {kind: factories.add_account(engine, kind, base_url=sandbox.url) for kind in PLATFORMS}
    setup_terms(engine)
    worker = make_worker(engine, name="publisher")
    ours = {kind: publish_one(engine, names[kind], worker) for kind in PLATFORMS}
    return ems, ours, worker


def _db(engine) -> tuple[dict[str, dict[str, int]], dict[str, int], int, set[str]]:
    with db.session_scope(engine) as session:
        case_id = session.exec(select(Case.id).where(Case.slug == CASE)).first()
        rows = session.exec(select(PublicPost)).all()
        by_platform: dict[str, dict[str, int]] = {}
        for row in rows:
            if row.case_id == case_id:
                kinds = by_platform.setdefault(row.platform, {})
                kinds[row.kind] = kinds.get(row.kind, 0) + 1
        edition = sum(1 for r in rows if r.case_id is None)
        responses: dict[str, int] = {}
        for r in session.exec(select(Response).where(Response.source_type == "listening")):
            assert r.case_id == case_id and r.kind == "social_action"
            responses[r.source] = responses.get(r.source, 0) + r.count
        answered = {r.platform for r in rows if r.delivery_id is not None}
    return by_platform, responses, edition, answered


def test_listen_once_on_the_four_platforms_counts_each_post_once(engine, sandbox) -> None:
    ems, ours, _ = _setup(engine, sandbox)
    expected = _public(ems, ours)
    result = CliRunner().invoke(app, ["listen", "--once", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["errors"] == [] and data["unavailable"] == [], data
    assert data["cases"][CASE] == expected
    assert data["cases"][""] == {kind: {"original": 1} for kind in PLATFORMS}
    assert data["new"] == sum(sum(k.values()) for k in expected.values()) + len(PLATFORMS)

    by_platform, responses, edition, answered = _db(engine)
    assert by_platform == expected and edition == len(PLATFORMS)
    assert responses == {kind: sum(kinds.values()) for kind, kinds in expected.items()}
    assert answered == set(PLATFORMS)  # every platform credited answers to our delivery

    text = CliRunner().invoke(app, ["listen", "--once"])  # a second pass: nothing new
    assert text.exit_code == 0 and "0 nouvelle(s) publication(s) du public" in text.output, text.output
    assert _db(engine)[:3] == (by_platform, responses, edition)


def test_the_worker_listens_on_the_four_platforms_and_prints_per_case(engine, sandbox) -> None:
    ems, ours, worker = _setup(engine, sandbox)
    expected = _public(ems, ours)
    text = CliRunner().invoke(app, ["listen", "--once", "--lang", "en"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    for kind in PLATFORMS:
        line = next(line for line in lines if CASE in line and f" {kind} " in f"{line} ")
        for public_kind, n in expected[kind].items():
            word = {"original": "post", "photo": "photo", "reply": "reply", "quote": "quote", "repost": "repost"}
            assert f"{n} {word[public_kind]}" in line, line
    before = _db(engine)
    # more of the public, read by the worker's own pass this time
    ems["x"].inject_public(CASE_TAG, 1)
    ems["bluesky"].inject_public(CASE_TAG, 1)
    ems["facebook"].inject_public(CASE_TAG, 1, page=factories.CREDS["facebook"]["page_id"])
    ems["mastodon"].public_post(tag=CASE_TAG, author=30)
    report = worker.listen()
    assert report.new == 4 and {p for (_, p) in report.found} == set(PLATFORMS)
    after = _db(engine)
    assert {k: sum(v.values()) for k, v in after[0].items()} == {
        k: sum(v.values()) + 1 for k, v in before[0].items()}
    assert after[1] == {k: n + 1 for k, n in before[1].items()}
    assert worker.listen().new == 0 and _db(engine)[1] == after[1]
    with db.session_scope(engine) as session:
        assert session.exec(select(PublicPost).where(col(PublicPost.kind).not_in(
            ["original", "photo", "reply", "quote", "repost"]))).all() == []
