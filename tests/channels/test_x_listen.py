"""Listening on X through the real tweepy client against the X emulator: recent search, counts,
mentions; paging, resuming, kinds, privacy and the errors a listening pass meets."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
import requests

from channels.base import (
    AccountConfig,
    ListeningUnavailable,
    ListenPage,
    PermanentError,
    PublicPost,
    PublishRequest,
    RateLimited,
)
from channels.sandbox import SandboxServer
from channels.sandbox.x import XEmulator
from channels.x import XChannel, decode_cursor

BEARER = {"bearer_token": "sandbox-x"}
OAUTH1 = {
    "consumer_key": "ck-sandbox",
    "consumer_secret": "cs-sandbox",
    "access_token": "424242-sandbox",
    "access_token_secret": "ats-sandbox",
}
TAG = "LiberezAicha"
SEARCH = r"/2/tweets/search/recent"


def make_channel(sandbox: SandboxServer, credentials: dict[str, str] | None = None) -> XChannel:
    return XChannel(AccountConfig("x", "test", credentials or OAUTH1, base_url=sandbox.url))


def emulator(sandbox: SandboxServer) -> XEmulator:
    emu = sandbox.sandbox.emulator("x")
    assert isinstance(emu, XEmulator)
    return emu


def drain(
    channel: XChannel, cursor: str | None, *, term: str = TAG, pages: int = 100
) -> tuple[list[PublicPost], str | None, int]:
    """Listen until the pass is over (bounded); every post, the last cursor, the calls made."""
    found: list[PublicPost] = []
    calls = 0
    for _ in range(pages):
        page = channel.listen(term, hashtag=True, cursor=cursor)
        found += page.posts
        calls += page.calls
        cursor = page.cursor
        if not page.more:
            return found, cursor, calls
    raise AssertionError("the pass did not end")


def test_catch_up_returns_each_post_once_in_the_minimum_calls(sandbox: SandboxServer) -> None:
    ids = emulator(sandbox).inject_public(TAG, 1000, spread=6 * 3600)
    emulator(sandbox).inject_public("AutreSujet", 50)  # another campaign's posts stay out
    channel = make_channel(sandbox)
    found, cursor, calls = drain(channel, None)
    assert [p.platform_id for p in found].count(ids[0]) == 1
    assert sorted(p.platform_id for p in found) == sorted(ids)
    assert (
        calls == math.ceil(1000 / XChannel.listen_page_size) == sandbox.sandbox.calls("x", SEARCH)
    )
    assert decode_cursor(cursor) == {"since": ids[-1]}


def test_a_saved_cursor_resumes_with_only_newer_posts(sandbox: SandboxServer) -> None:
    emulator(sandbox).inject_public(TAG, 120)
    _, cursor, _ = drain(make_channel(sandbox), None)
    newer = emulator(sandbox).inject_public(TAG, 130)
    before = sandbox.sandbox.calls("x", SEARCH)
    found, _, calls = drain(make_channel(sandbox), cursor)  # a new channel: after a restart
    assert sorted(p.platform_id for p in found) == sorted(newer)
    assert calls == 2 == sandbox.sandbox.calls("x", SEARCH) - before


def test_a_pass_cut_short_resumes_after_the_last_page_recorded(sandbox: SandboxServer) -> None:
    ids = emulator(sandbox).inject_public(TAG, 450)
    channel = make_channel(sandbox)
    first = channel.listen(TAG, hashtag=True, cursor=None)
    second = channel.listen(TAG, hashtag=True, cursor=first.cursor)
    assert first.more and second.more
    # the process dies here; posts keep coming while it is down
    during = emulator(sandbox).inject_public(TAG, 30)
    rest, cursor, calls = drain(make_channel(sandbox), second.cursor)
    seen = [p.platform_id for p in (*first.posts, *second.posts, *rest)]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert calls == 3  # 450 posts: five pages in all
    later, _, _ = drain(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in later) == sorted(during)


def test_kinds_are_told_and_answers_point_at_our_post(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text=f"Écrivez pour Aïcha #{TAG}"))
    emu = emulator(sandbox)
    kinds = ("original", "photo", "reply", "quote", "repost")
    ids = emu.inject_public(TAG, 10, kinds=kinds, answers=ours.platform_id)
    found, _, _ = drain(channel, None)
    by_id = {p.platform_id: p for p in found}
    assert ours.platform_id not in by_id  # our own post is not the public's
    assert [by_id[i].kind for i in ids] == list(kinds) * 2
    for i in ids:
        expected = ours.platform_id if by_id[i].kind in ("reply", "quote", "repost") else None
        assert by_id[i].answers == expected
        assert by_id[i].created_at.tzinfo is not None


def test_nothing_about_the_author_or_the_text_is_kept(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text=f"Écrivez #{TAG}"))
    emu = emulator(sandbox)
    emu.inject_public(TAG, 20, kinds=("original", "reply", "repost"), answers=ours.platform_id)
    handles = {p["username"] for p in emu.posts()} - {
        emu.user_for(OAUTH1["access_token"])["username"]
    }
    assert any(h.startswith("soutien_") for h in handles)
    page = channel.listen(TAG, hashtag=True, cursor=None)
    answers = channel.listen_answers(cursor=None)
    shown = repr(page) + repr(answers)
    assert page.posts and answers.posts
    for handle in handles:
        assert handle not in shown
    assert "Solidarité" not in shown and "@" not in shown
    assert {f for p in page.posts for f in vars(p)} == {
        "platform_id",
        "kind",
        "created_at",
        "answers",
        "term",  # which of *our* terms it matched (set by channels reading shared edges), never its text
    }
    assert {p.term for p in page.posts} == {None}


def test_listen_answers_credits_replies_and_quotes_to_our_post(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text="Écrivez pour Aïcha"))
    other = channel.publish(PublishRequest(key="d2", text="Et pour Karim"))
    emu = emulator(sandbox)
    replies = emu.inject_public(None, 120, kinds=("reply", "quote"), answers=ours.platform_id)
    later = emu.inject_public(None, 3, kinds=("reply",), answers=other.platform_id)
    pages: list[ListenPage] = []
    cursor = None
    for _ in range(10):
        pages.append(channel.listen_answers(cursor=cursor))
        cursor = pages[-1].cursor
        if not pages[-1].more:
            break
    found = [p for page in pages for p in page.posts]
    assert sorted(p.platform_id for p in found) == sorted(replies + later)
    assert {p.answers for p in found if p.platform_id in replies} == {ours.platform_id}
    assert {p.answers for p in found if p.platform_id in later} == {other.platform_id}
    assert sum(page.calls for page in pages) == 2
    assert channel.listen_answers(cursor=cursor).posts == ()


def test_count_term_counts_without_reading(sandbox: SandboxServer) -> None:
    emulator(sandbox).inject_public(TAG, 37, spread=3 * 86400)
    channel = make_channel(sandbox, {**BEARER})
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    assert channel.count_term(TAG, hashtag=True, since=since) == math.ceil(37 / 3)
    week = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    assert channel.count_term(TAG, hashtag=True, since=week) == 37
    assert sandbox.sandbox.calls("x", SEARCH) == 0
    # the counts endpoint takes no OAuth 1.0a signature
    assert make_channel(sandbox).count_term(TAG, hashtag=True, since=since) is None


def test_an_account_without_search_access_says_so_and_still_publishes(
    sandbox: SandboxServer,
) -> None:
    channel = make_channel(sandbox, {"bearer_token": "nosearch-account"})
    with pytest.raises(ListeningUnavailable) as caught:
        channel.listen(TAG, hashtag=True, cursor=None)
    assert "recherche" in caught.value.message("fr") and "search" in caught.value.message("en")
    assert caught.value.kind == "permanent"
    with pytest.raises(ListeningUnavailable):
        channel.count_term(TAG, hashtag=True, since=dt.datetime.now(dt.UTC))
    assert channel.publish(PublishRequest(key="d1", text="Toujours là")).platform_id


def test_429_is_rate_limited_with_the_reset(sandbox: SandboxServer) -> None:
    sandbox.add_fault("rate_limit", platform="x", path=SEARCH)
    with pytest.raises(RateLimited) as caught:
        make_channel(sandbox).listen(TAG, hashtag=True, cursor=None)
    reset = caught.value.reset_at
    assert reset is not None and reset > dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("term", "hashtag", "code"),
    [
        ("123", True, "hashtag_characters"),
        ("libérez-aïcha", True, "hashtag_characters"),
        ("deux mots", True, "hashtag_characters"),
        ("", True, "empty_term"),
        ("x" * 101, True, "hashtag_too_long"),
        ("y" * 600, False, "keyword_too_long"),
    ],
)
def test_invalid_terms_are_refused_with_a_reason(
    sandbox: SandboxServer, term: str, hashtag: bool, code: str
) -> None:
    channel = make_channel(sandbox)
    problem = channel.validate_term(term, hashtag=hashtag)
    assert problem is not None and problem.code == code
    assert problem.fr != problem.en and problem.fr and problem.en
    with pytest.raises(PermanentError):
        channel.listen(term, hashtag=hashtag, cursor=None)
    assert sandbox.sandbox.calls("x", SEARCH) == 0


@pytest.mark.parametrize("term", ["LiberezAicha", "libérez_aïcha", "Amnistie2026"])
def test_valid_terms_pass(sandbox: SandboxServer, term: str) -> None:
    assert make_channel(sandbox).validate_term(term, hashtag=True) is None


def test_keywords_are_searched_too(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    ids = emu.inject_public("écrire pour Aïcha", 15, hashtag=False)
    emu.inject_public("sans rapport", 5, hashtag=False)
    found: list[Any] = []
    page = make_channel(sandbox).listen("écrire pour Aïcha", hashtag=False, cursor=None)
    found += page.posts
    assert sorted(p.platform_id for p in found) == sorted(ids) and not page.more


def test_the_control_api_makes_the_public_post(sandbox: SandboxServer) -> None:
    answer = requests.post(
        f"{sandbox.url}/_sandbox/public/x",
        json={"term": TAG, "n": 25, "kinds": ["original", "photo"]},
        timeout=5,
    )
    assert answer.status_code == 201 and answer.json()["count"] == 25
    found, _, _ = drain(make_channel(sandbox), None)
    assert sorted(p.platform_id for p in found) == sorted(answer.json()["ids"])
    assert {p.kind for p in found} == {"original", "photo"}
    refused = requests.post(f"{sandbox.url}/_sandbox/public/x", json={"colour": 1}, timeout=5)
    assert refused.status_code == 400
    unknown = requests.post(f"{sandbox.url}/_sandbox/public/nowhere", json={}, timeout=5)
    assert unknown.status_code == 404


def test_the_live_public_posts_in_the_demo_and_not_in_tests(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text=f"Écrivez pour Aïcha #{TAG}"))
    assert drain(channel, None)[0] == []  # the tests' sandbox: nobody posts unless told
    monkeypatch.setattr(emulator(sandbox), "auto_public", True)  # as porte-voix up sets it
    emulator(sandbox).live.reset()
    rate = emulator(sandbox).live.rate(f"#{TAG.lower()}")
    found, cursor, _ = drain(channel, None)  # an hour of backlog at the seeded rate
    assert rate - 1 <= len(found) <= rate
    assert {p.kind for p in found} == {"original", "photo", "reply", "quote", "repost"}
    assert {p.answers for p in found if p.kind != "original" and p.kind != "photo"} == {
        ours.platform_id
    }
    sandbox.sandbox.advance(1800)
    later, _, _ = drain(channel, cursor)
    assert rate // 2 - 1 <= len(later) <= rate // 2 + 1
    assert not {p.platform_id for p in later} & {p.platform_id for p in found}
    answers = channel.listen_answers(cursor=None)
    assert answers.posts and {p.answers for p in answers.posts} == {ours.platform_id}


def test_with_an_oauth2_token_finding_our_id_costs_one_call_once(sandbox: SandboxServer) -> None:
    ids = emulator(sandbox).inject_public(TAG, 250)
    channel = make_channel(sandbox, dict(BEARER))
    found, _, calls = drain(channel, None)
    assert sorted(p.platform_id for p in found) == sorted(ids)
    assert calls == 3 + 1 == sandbox.sandbox.calls("x")  # three pages and one GET /2/users/me
    emulator(sandbox).inject_public(TAG, 5)
    assert channel.listen(TAG, hashtag=True, cursor=None).calls == 1


def test_listen_quotes_finds_the_quotes_that_name_no_one(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="q1", text="Écrivez pour Aïcha"))
    other = channel.publish(PublishRequest(key="q2", text="Et pour Karim"))
    emu = emulator(sandbox)
    silent = emu.inject_public(None, 2, kinds=("quote",), answers=ours.platform_id, mention=False)
    named = emu.inject_public(None, 1, kinds=("quote",), answers=other.platform_id)
    emu.inject_public(None, 1, kinds=("reply",), answers=ours.platform_id)  # a reply: the mentions' own
    mentions = channel.listen_answers(cursor=None)
    assert not set(silent) & {p.platform_id for p in mentions.posts}  # what the mentions miss
    page = channel.listen_quotes([other.platform_id, ours.platform_id], cursor=None)
    assert sorted(p.platform_id for p in page.posts) == sorted(silent + named)
    assert {p.answers for p in page.posts if p.platform_id in silent} == {ours.platform_id}
    assert {p.kind for p in page.posts} == {"quote"} and page.calls == 1 and not page.more
    assert channel.listen_quotes([other.platform_id, ours.platform_id], cursor=page.cursor).posts == ()
    again = emu.inject_public(None, 1, kinds=("quote",), answers=ours.platform_id, mention=False)
    newer = channel.listen_quotes([ours.platform_id], cursor=page.cursor)
    assert [p.platform_id for p in newer.posts] == again
    assert channel.listen_quotes([], cursor=None) == ListenPage((), None, calls=0)
