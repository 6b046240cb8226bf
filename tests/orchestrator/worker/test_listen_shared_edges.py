"""The Listener on a channel that reads shared edges instead of searching (Facebook's Page edges):
one stream for all the terms, each post read once and recorded once under the first term it
matched (the cases' terms before the edition's), resumed after a crash mid-pass without counting
anything twice; and, on every channel, the streams least recently polled first, so a tight budget
rotates through all the terms over the passes."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import sqlalchemy as sa
from sqlmodel import select

from channels.base import AccountConfig
from channels.facebook import FacebookChannel
from orchestrator import db
from orchestrator.models import Account, Case, ListenCursor, PublicPost, Response
from orchestrator.services import listening
from orchestrator.timeutil import utcnow
from tests import factories
from tests.orchestrator.listen_helpers import (
    CASE,
    emulator,
    make_worker,
    mastodon_account,
    setup_terms,
)

PAGE = "1000001"  # the sandbox Page of FacebookChannel.sandbox_credentials
EDGES = r"/(tagged|visitor_posts)$"
CASE_TAGS = ["LiberezJuan", *(f"Juan{n}" for n in range(9))]
EDITION_TAGS = ["EcrireCaLibere", *(f"Edition{n}" for n in range(9))]  # 20 terms in all


def _facebook(engine, sandbox) -> None:
    factories.add_account(engine, "facebook", base_url=sandbox.url, options={"rate_limits": {"read": [400, 3600]}})
    setup_terms(engine, case_terms={"fr": {"hashtags": CASE_TAGS}}, edition_terms={"fr": {"hashtags": EDITION_TAGS}})


def _stored(engine) -> tuple[int, int, int, dict[str, int]]:
    """Posts stored, of them the case's, the case's listening responses, and posts per term."""
    with db.session_scope(engine) as session:
        case_id = session.exec(select(Case.id).where(Case.slug == CASE)).first()
        posts = list(session.exec(select(PublicPost)))
        counted = session.exec(select(sa.func.coalesce(sa.func.sum(Response.count), 0))
                               .where(Response.source_type == "listening")).one()
    terms: dict[str, int] = {}
    for p in posts:
        terms[p.term] = terms.get(p.term, 0) + 1
    return len(posts), sum(p.case_id == case_id for p in posts), int(counted), terms


def test_twenty_terms_read_the_page_once_and_record_each_post_once_under_its_first_term(engine, sandbox) -> None:
    _facebook(engine, sandbox)
    emu = sandbox.sandbox.emulator("facebook")
    edition = emu.inject_public("EcrireCaLibere", 600, spread=3 * 3600, page=PAGE)
    case = emu.inject_public("Juan4", 300, spread=3600, page=PAGE)
    both = emu.inject_public("LiberezJuan #EcrireCaLibere", 20, page=PAGE)  # the case's term wins
    report = make_worker(engine).listen()
    posts = 600 + 300 + 20
    edges = sandbox.sandbox.calls("facebook", EDGES)
    assert edges == math.ceil(posts / 100) + 1, f"{edges} reads of the edges for {posts} posts and 20 terms"
    assert report.calls == edges + 1  # and one for the comments on our posts
    assert report.new == posts and report.duplicates == 0
    stored, of_case, counted, terms = _stored(engine)
    assert stored == posts and of_case == 320 and counted == 320
    assert terms == {"#EcrireCaLibere": 600, "#Juan4": 300, "#LiberezJuan": 20}
    with db.session_scope(engine) as session:
        streams = set(session.exec(select(ListenCursor.stream)))
    assert streams == {listening.PAGE, listening.ANSWERS}
    assert (len(edition), len(case), len(both)) == (600, 300, 20) and not any(t.startswith("#Edition") for t in terms)
    # the next pass reads only what is new, once
    newer = emu.inject_public("Edition3", 5, page=PAGE)
    again = make_worker(engine).listen()
    assert again.new == len(newer) and sandbox.sandbox.calls("facebook", EDGES) == edges + 2


def test_a_crash_mid_pass_keeps_the_pages_recorded_and_counts_nothing_twice(engine, sandbox, monkeypatch) -> None:
    _facebook(engine, sandbox)
    emu = sandbox.sandbox.emulator("facebook")
    emu.inject_public("LiberezJuan", 350, spread=3600, page=PAGE)
    real = listening.record_page
    pages = {"n": 0}

    def crashing(session, **kwargs):
        recorded = real(session, **kwargs)
        pages["n"] += 1
        if pages["n"] == 2:
            raise RuntimeError("killed before the second page's commit")
        return recorded

    monkeypatch.setattr(listening, "record_page", crashing)
    with pytest.raises(RuntimeError):
        make_worker(engine).listen()
    stored, of_case, counted, _ = _stored(engine)
    assert stored == 100 and of_case == counted == 100, "the first page and its cursor, nothing of the second"
    monkeypatch.setattr(listening, "record_page", real)
    before = sandbox.sandbox.calls("facebook", EDGES)
    make_worker(engine).listen()
    assert sandbox.sandbox.calls("facebook", EDGES) - before == 3 + 1, "resumed at the page in flight"
    stored, of_case, counted, _ = _stored(engine)
    assert stored == of_case == counted == 350


def test_old_per_term_cursors_hand_over_to_the_page_stream(engine, sandbox) -> None:
    _facebook(engine, sandbox)
    emu = sandbox.sandbox.emulator("facebook")
    emu.inject_public("Juan1", 3, page=PAGE)
    channel = FacebookChannel(AccountConfig("facebook", "fb", {"page_id": PAGE, "page_token": "sandbox-fb-token"},
                                            base_url=sandbox.url), timeout=5.0)
    old = channel.listen("Juan1", hashtag=True, cursor=None)
    old = channel.listen("Juan1", hashtag=True, cursor=old.cursor)  # /visitor_posts: the pass ends
    assert not old.more
    with db.session_scope(engine) as session:  # as the per-term stream left it before the upgrade
        account = session.exec(select(Account).where(Account.kind == "facebook")).one()
        row = listening.cursor_row(session, account_id=account.id, stream="tag:juan1")
        row.cursor, row.last_ok_at = old.cursor, utcnow()
        session.add(row)
    sandbox.sandbox.advance(60)
    later = emu.inject_public("Juan2", 4, page=PAGE)
    report = make_worker(engine).listen()
    assert report.new == len(later), "the page stream starts at the old mark: neither re-counted nor lost"


def test_a_budget_of_one_call_a_pass_rotates_through_the_terms(engine, sandbox) -> None:
    emulator(sandbox)
    mastodon_account(engine, sandbox, options={"rate_limits": {"read": [2, 3600]}})
    setup_terms(engine, case_terms={"fr": {"hashtags": ["TermeA", "TermeB"]}},
                edition_terms={"fr": {"hashtags": ["TermeC"]}})
    worker = make_worker(engine, listen_reserve=0.5)  # a bucket of 2, one kept: one call a pass

    def calls() -> dict[str, int]:
        with db.session_scope(engine) as session:
            return {r.stream: r.calls_this_month for r in session.exec(select(ListenCursor))}

    start = utcnow()
    polled: list[str] = []
    for n in range(5):
        before = calls()
        report = worker.listen(now=start + dt.timedelta(seconds=2000 * n))  # a token back between passes
        after = calls()
        moved = [s for s in after if after[s] != before.get(s, 0)]
        assert report.calls == 1 and len(moved) == 1, (n, report.calls, moved)
        polled += moved
    terms = ["tag:termea", "tag:termeb", "tag:termec"]
    assert polled[:3] == terms, "three passes poll three different terms"
    assert polled[3:] == [listening.ANSWERS, "tag:termea"]


def test_the_account_page_names_the_page_stream_as_every_term() -> None:
    from orchestrator.services.listening_view import stream_term

    assert stream_term(listening.PAGE, {}) == ("page", "")
    assert stream_term("tag:juan1", {"tag:juan1": (True, "Juan1")}) == ("hashtag", "Juan1")
