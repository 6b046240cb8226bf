"""The worker's Listener alone: the publishing reserve of each budget, refusals written for the
account page, and streams a platform does not give this account."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from orchestrator import db
from orchestrator.models import Account, Delivery, ListenCursor, RateBucket
from orchestrator.services import accounts, listening
from orchestrator.services.accounts import build_channel
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import utcnow
from tests.orchestrator.helpers import approved_post, schedule
from tests.orchestrator.listen_helpers import (
    CASE,
    CASE_TAG,
    EDITION_TAG,
    emulator,
    make_worker,
    mastodon_account,
    setup_terms,
)

MANY_TAGS = [f"W4R{n}" for n in range(12)]


def shared_budget(account: Account):
    """A Mastodon client whose listening is charged to the very bucket publishing spends (as on
    a platform with one budget for every call)."""
    channel = build_channel(account, timeout=2.0)
    channel.listen_endpoint = "publish"
    return channel


def _tokens(engine, endpoint: str) -> float:
    with db.session_scope(engine) as session:
        return session.exec(select(RateBucket).where(RateBucket.endpoint == endpoint)).one().tokens


def _publish_now(engine, name: str, worker) -> str:
    delivery_id = schedule(engine, approved_post(engine, case=CASE), name)
    worker.run_once()
    with db.session_scope(engine) as session:
        return session.get(Delivery, delivery_id).state


def _tight_budget_pass(engine, sandbox, reserve: float):
    emulator(sandbox)
    name = mastodon_account(engine, sandbox, options={"rate_limits": {"publish": [10, 3600]}})
    setup_terms(engine, edition_terms={"fr": {"hashtags": MANY_TAGS}})
    worker = make_worker(engine, factory=shared_budget, listen_reserve=reserve)
    report = worker.listen()
    return name, worker, report


def test_with_a_tight_shared_budget_listening_keeps_the_reserve_and_publishing_goes_through(engine, sandbox) -> None:
    name, worker, report = _tight_budget_pass(engine, sandbox, reserve=0.5)
    assert report.calls == 5, "listening spent beyond half of a 10-call budget"
    assert report.held_for_budget == {name: len(MANY_TAGS) + 2 - 5}
    assert _tokens(engine, "publish") >= 5 - 0.1
    assert _publish_now(engine, name, worker) == "published"


def test_without_the_reserve_the_same_listening_would_have_starved_publishing(engine, sandbox) -> None:
    # the control of the test above: it shows what the reserve prevents
    name, worker, report = _tight_budget_pass(engine, sandbox, reserve=0.0)
    assert report.calls == 10
    assert _publish_now(engine, name, worker) != "published"


def test_a_stream_the_platform_does_not_offer_is_said_plainly_and_not_polled_until_the_account_is_retested(engine, sandbox) -> None:
    emulator(sandbox)
    name = mastodon_account(engine, sandbox)
    setup_terms(engine, case_terms={"fr": {"hashtags": [CASE_TAG], "keywords": ["Juan López"]}})
    worker = make_worker(engine)
    first = worker.listen()
    assert first.unavailable == [(name, "keyword:juan lópez")] and first.errors == []
    with db.session_scope(engine) as session:
        account = session.exec(select(Account).where(Account.name == name)).one()
        state = listening.account_states(session, account=account)
    assert state["unavailable"] == ["keyword:juan lópez"]
    assert "mots-clés" in state["unavailable_reason"]["fr"] and "keywords" in state["unavailable_reason"]["en"]
    assert state["last_error"] == {} and state["last_ok_at"] is not None
    second = worker.listen()
    assert second.calls == first.calls - 1 and second.unavailable == first.unavailable
    with db.session_scope(engine) as session:
        ok, _ = accounts.test_account(session, actor=SYSTEM, name=name, timeout=2.0)
    assert ok
    third = worker.listen()
    assert third.calls == first.calls


def test_a_rate_limit_or_an_outage_is_written_for_the_account_page_and_retried_later(engine, sandbox) -> None:
    em = emulator(sandbox)
    name = mastodon_account(engine, sandbox)
    setup_terms(engine)
    em.public_post(tag=CASE_TAG, author=1)
    sandbox.add_fault("rate_limit", platform="mastodon", path="timelines/tag", count=1)
    sandbox.add_fault("error", platform="mastodon", path="notifications", status=503, count=1)
    worker = make_worker(engine)
    report = worker.listen()
    codes = {stream: error["code"] for _, stream, error in report.errors}
    # a rate limit stops the account's listening until Mastodon's reset: the rest waits
    assert codes == {f"tag:{CASE_TAG.lower()}": "rate_limited"} and report.held_for_budget == {name: 2}
    later = utcnow() + dt.timedelta(minutes=6)
    second = worker.listen(now=later)
    assert second.new == 1
    assert {stream: error["code"] for _, stream, error in second.errors} == {"answers": "transient"}
    with db.session_scope(engine) as session:
        account = session.exec(select(Account).where(Account.name == name)).one()
        state = listening.account_states(session, account=account, now=later)
        rows = {r.stream: r for r in session.exec(select(ListenCursor))}
    assert state["last_error"]["code"] == "transient"
    assert "indisponible" in state["last_error"]["fr"] and "unavailable" in state["last_error"]["en"]
    assert not rows[f"tag:{CASE_TAG.lower()}"].last_error, "a good poll clears the stream's error"
    assert rows["answers"].calls_this_month == 1 and rows["answers"].month == later.strftime("%Y-%m")
    # the outage over, the next pass is clean
    assert worker.listen(now=later).errors == []
    with db.session_scope(engine) as session:
        assert all(not r.last_error for r in session.exec(select(ListenCursor)))


def test_a_backlog_is_caught_up_oldest_first_in_bounded_pages(engine, sandbox) -> None:
    em = emulator(sandbox)
    mastodon_account(engine, sandbox)
    setup_terms(engine, case_terms={}, edition_terms={"fr": {"hashtags": [EDITION_TAG]}})
    worker = make_worker(engine, listen_max_pages=2)
    em.public_post(tag=EDITION_TAG, author=0)
    assert worker.listen().new == 1  # the first pass starts from the recent window
    for n in range(130):
        em.public_post(tag=EDITION_TAG, author=n)
    first = worker.listen()
    assert first.new == 80, "two pages of 40 per stream and pass"
    second = worker.listen()
    assert second.new == 50 and worker.listen().new == 0


def test_a_paged_backlog_takes_each_next_call_in_the_page_s_own_write_and_keeps_the_reserve(
        engine, sandbox, monkeypatch) -> None:
    from orchestrator.worker.listen import Listener

    em = emulator(sandbox)
    name = mastodon_account(engine, sandbox, options={"rate_limits": {"publish": [10, 3600]}})
    setup_terms(engine, case_terms={}, edition_terms={"fr": {"hashtags": [EDITION_TAG]}})
    worker = make_worker(engine, factory=shared_budget, listen_reserve=0.5, listen_max_pages=8)
    em.public_post(tag=EDITION_TAG, author=0)
    worker.listen()  # the stream's cursor
    for n in range(300):
        em.public_post(tag=EDITION_TAG, author=n)
    takes: list[int] = []
    real_take = Listener._take
    monkeypatch.setattr(Listener, "_take", lambda self, *a, **k: takes.append(1) or real_take(self, *a, **k))
    before = _tokens(engine, "publish")
    report = worker.listen()
    spent = before - _tokens(engine, "publish")
    # the pages read stop at the reserve, and every call made was paid for
    assert _tokens(engine, "publish") >= 5 - 0.1
    assert report.pages >= 2 and report.new == 40 * report.pages
    assert spent >= report.calls - 0.1
    # the first page of each stream takes its own tokens; every later page's were taken with the
    # previous page's posts, in one write
    assert len(takes) < report.pages, (len(takes), report.pages)
    assert name in report.held_for_budget or report.pages == 8
