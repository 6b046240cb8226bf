"""Listening on Bluesky through the real atproto client against the PDS emulator: searchPosts
with tags, listNotifications for answers; paging, resuming, kinds, privacy and errors."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from channels.base import (
    AccountConfig,
    ListeningUnavailable,
    ListenPage,
    PermanentError,
    PublicPost,
    PublishRequest,
    RateLimited,
)
from channels.bluesky import BlueskyChannel
from channels.sandbox import SandboxServer
from channels.sandbox.bluesky import BlueskyEmulator

HANDLE = "ecrire.bsky.social"
CREDENTIALS = {"handle": HANDLE, "app_password": "abcd-efgh-ijkl-mnop"}
TAG = "LiberezAicha"
SEARCH = "app.bsky.feed.searchPosts"
NOTIFICATIONS = "app.bsky.notification.listNotifications"


def make_channel(sandbox: SandboxServer) -> BlueskyChannel:
    return BlueskyChannel(AccountConfig("bluesky", "main", dict(CREDENTIALS), base_url=sandbox.url))


def emulator(sandbox: SandboxServer) -> BlueskyEmulator:
    emu = sandbox.sandbox.emulator("bluesky")
    assert isinstance(emu, BlueskyEmulator)
    return emu


def drain(
    channel: BlueskyChannel, cursor: str | None, *, term: str = TAG, hashtag: bool = True
) -> tuple[list[PublicPost], str | None, int]:
    found: list[PublicPost] = []
    calls = 0
    for _ in range(100):
        page = channel.listen(term, hashtag=hashtag, cursor=cursor)
        found += page.posts
        calls += page.calls
        cursor = page.cursor
        if not page.more:
            return found, cursor, calls
    raise AssertionError("the pass did not end")


def drain_answers(
    channel: BlueskyChannel, cursor: str | None
) -> tuple[list[PublicPost], str | None, int]:
    pages: list[ListenPage] = []
    for _ in range(100):
        pages.append(channel.listen_answers(cursor=cursor))
        cursor = pages[-1].cursor
        if not pages[-1].more:
            break
    return [p for page in pages for p in page.posts], cursor, sum(p.calls for p in pages)


def test_catch_up_returns_each_post_once_in_the_minimum_calls(sandbox: SandboxServer) -> None:
    uris = emulator(sandbox).inject_public(TAG, 1000, spread=6 * 3600)
    emulator(sandbox).inject_public("AutreSujet", 40)
    found, _, calls = drain(make_channel(sandbox), None)
    assert sorted(p.platform_id for p in found) == sorted(uris)
    assert len(found) == len({p.platform_id for p in found})
    assert calls == math.ceil(1000 / BlueskyChannel.listen_page_size)
    assert sandbox.sandbox.calls("bluesky", SEARCH) == calls


def test_a_saved_cursor_resumes_with_only_newer_posts(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    emu.inject_public(TAG, 150, spread=600)
    _, cursor, _ = drain(make_channel(sandbox), None)
    newer = emu.inject_public(TAG, 120)
    found, cursor, calls = drain(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in found) == sorted(newer)
    assert calls == 2
    again, _, _ = drain(make_channel(sandbox), cursor)
    assert again == []  # "since" is inclusive: the posts at the mark are not given twice


def test_a_pass_cut_short_resumes_after_the_last_page_recorded(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    uris = emu.inject_public(TAG, 430, spread=3600)
    first = make_channel(sandbox).listen(TAG, hashtag=True, cursor=None)
    assert first.more and len(first.posts) == 100
    during = emu.inject_public(TAG, 25)  # while the process is down
    rest, cursor, calls = drain(make_channel(sandbox), first.cursor)
    seen = [p.platform_id for p in (*first.posts, *rest)]
    assert sorted(seen) == sorted(uris) and len(seen) == len(set(seen))
    assert calls == 4
    later, _, _ = drain(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in later) == sorted(during)


def test_kinds_are_told_and_our_own_posts_left_out(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text=f"Écrivez pour Aïcha #{TAG}"))
    kinds = ("original", "photo", "reply", "quote")
    uris = emulator(sandbox).inject_public(TAG, 8, kinds=kinds, answers=ours.platform_id)
    found, _, _ = drain(channel, None)
    by_uri = {p.platform_id: p for p in found}
    assert ours.platform_id not in by_uri
    assert [by_uri[u].kind for u in uris] == list(kinds) * 2
    for uri in uris:
        answered = by_uri[uri].kind in ("reply", "quote")
        assert by_uri[uri].answers == (ours.platform_id if answered else None)


def test_answers_credit_replies_quotes_and_reposts_to_our_post(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text="Écrivez pour Aïcha"))
    other = channel.publish(PublishRequest(key="d2", text="Et pour Karim"))
    emu = emulator(sandbox)
    first = emu.inject_public(
        None, 150, kinds=("reply", "quote", "repost"), answers=ours.platform_id
    )
    found, cursor, calls = drain_answers(channel, None)
    assert sorted(p.platform_id for p in found) == sorted(first)
    assert {p.answers for p in found} == {ours.platform_id}
    assert [p.kind for p in sorted(found, key=lambda p: first.index(p.platform_id))] == [
        ("reply", "quote", "repost")[i % 3] for i in range(150)
    ]
    assert calls == 2
    second = emu.inject_public(None, 4, kinds=("reply",), answers=other.platform_id)
    found, cursor, calls = drain_answers(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in found) == sorted(second)
    assert {p.answers for p in found} == {other.platform_id} and calls == 1
    assert drain_answers(make_channel(sandbox), cursor)[0] == []


def test_nothing_about_the_author_or_the_text_is_kept(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text=f"Écrivez #{TAG}"))
    emu = emulator(sandbox)
    emu.inject_public(
        TAG, 12, kinds=("original", "reply", "quote", "repost"), answers=ours.platform_id
    )
    handles = {p["handle"] for p in emu.posts()} - {HANDLE}
    assert handles and all(h.startswith("soutien-") for h in handles)
    shown = repr(channel.listen(TAG, hashtag=True, cursor=None)) + repr(
        channel.listen_answers(cursor=None)
    )
    assert "PublicPost" in shown
    for handle in handles:
        assert handle not in shown
    assert "Solidarité" not in shown


def test_a_server_without_search_makes_listening_unavailable(sandbox: SandboxServer) -> None:
    emulator(sandbox).search_unavailable = True
    channel = make_channel(sandbox)
    with pytest.raises(ListeningUnavailable) as caught:
        channel.listen(TAG, hashtag=True, cursor=None)
    assert "recherche" in caught.value.message("fr") and "search" in caught.value.message("en")
    assert channel.publish(PublishRequest(key="d1", text="Toujours là")).platform_id


def test_429_is_rate_limited_with_the_reset(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    channel.whoami()
    sandbox.add_fault("rate_limit", platform="bluesky", path=SEARCH)
    with pytest.raises(RateLimited) as caught:
        channel.listen(TAG, hashtag=True, cursor=None)
    assert caught.value.reset_at is not None
    assert caught.value.reset_at > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("term", "code"),
    [
        ("2026", "hashtag_digits"),
        ("deux mots", "hashtag_space"),
        ("Aïcha!", "hashtag_punctuation"),
        ("a" * 65, "hashtag_too_long"),
        ("", "empty_term"),
    ],
)
def test_invalid_hashtags_are_refused_with_a_reason(
    sandbox: SandboxServer, term: str, code: str
) -> None:
    channel = make_channel(sandbox)
    problem = channel.validate_term(term, hashtag=True)
    assert problem is not None and problem.code == code and problem.fr != problem.en
    with pytest.raises(PermanentError):
        channel.listen(term, hashtag=True, cursor=None)
    assert sandbox.sandbox.calls("bluesky", SEARCH) == 0


def test_valid_hashtags_and_keywords_pass(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    assert channel.validate_term("LibérezAïcha", hashtag=True) is None
    assert channel.validate_term("a" * 64, hashtag=True) is None
    assert channel.validate_term("écrire pour Aïcha", hashtag=False) is None


def test_keywords_are_searched_too(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    uris = emu.inject_public("lettre pour Aïcha", 12, hashtag=False)
    emu.inject_public("autre chose", 5, hashtag=False)
    found, _, calls = drain(make_channel(sandbox), None, term="lettre pour Aïcha", hashtag=False)
    assert sorted(p.platform_id for p in found) == sorted(uris) and calls == 1


def test_a_short_page_with_a_cursor_is_not_the_end(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    uris = emu.inject_public(TAG, 150)
    gone = uris[-30:-20]  # deleted among the newest hundred: the first page comes back short
    with sandbox.sandbox.lock:
        for uri in gone:
            did, _, rkey = uri.removeprefix("at://").split("/")
            del emu.records[did][rkey]
    first = make_channel(sandbox).listen(TAG, hashtag=True, cursor=None)
    assert len(first.posts) == 90 and first.more
    rest, _, _ = drain(make_channel(sandbox), first.cursor)
    assert sorted(p.platform_id for p in (*first.posts, *rest)) == sorted(set(uris) - set(gone))


def test_the_live_public_posts_in_the_demo_and_not_in_tests(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest(key="d1", text=f"Écrivez pour Aïcha #{TAG}"))
    assert drain(channel, None)[0] == []
    monkeypatch.setenv("PORTEVOIX_SANDBOX_PUBLIC", "on")
    emulator(sandbox).live.reset()
    rate = emulator(sandbox).live.rate(f"#{TAG.lower()}")
    found, cursor, _ = drain(channel, None)
    searchable = sum(1 for i in range(rate) if i % 6 != 5)  # reposts are not posts
    assert searchable - 1 <= len(found) <= searchable
    assert {p.answers for p in found if p.kind in ("reply", "quote")} == {ours.platform_id}
    sandbox.sandbox.advance(1800)
    later, _, _ = drain(channel, cursor)
    assert later and not {p.platform_id for p in later} & {p.platform_id for p in found}
    answers, _, _ = drain_answers(channel, None)
    assert {p.kind for p in answers} == {"reply", "quote", "repost"}
    assert {p.answers for p in answers} == {ours.platform_id}


def test_a_post_indexed_late_behind_the_mark_is_still_found(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    emu.inject_public(TAG, 20, spread=600)
    sandbox.sandbox.advance(5)
    _, cursor, _ = drain(make_channel(sandbox), None)
    # created (and so sorted) 8 seconds before the newest post already read, indexed only now
    late = emu.inject_public(TAG, 1, lag=13)
    found, cursor, calls = drain(make_channel(sandbox), cursor)
    assert [p.platform_id for p in found] == late and calls == 1
    assert drain(make_channel(sandbox), cursor)[0] == []
