"""Listening on a Facebook Page through the real facebook-sdk against the Graph emulator: the
Page's tagged and visitor posts, comments on our posts; paging, resuming, kinds, privacy, errors."""

from __future__ import annotations

import math

import pytest

from channels.base import (
    AccountConfig,
    AuthError,
    ListeningUnavailable,
    PermanentError,
    PublicPost,
    PublishRequest,
    RateLimited,
)
from channels.facebook import FacebookChannel
from channels.sandbox import SandboxServer
from channels.sandbox.facebook import FacebookEmulator

PAGE = "1000001"
TOKEN = "sandbox-fb-token"
TAG = "LiberezAicha"
EDGES = r"/(tagged|visitor_posts)$"


def make_channel(sandbox: SandboxServer) -> FacebookChannel:
    account = AccountConfig(
        "facebook", "fb", {"page_id": PAGE, "page_token": TOKEN}, base_url=sandbox.url
    )
    return FacebookChannel(account, timeout=5.0)


def emulator(sandbox: SandboxServer) -> FacebookEmulator:
    emu = sandbox.sandbox.emulator("facebook")
    assert isinstance(emu, FacebookEmulator)
    return emu


def drain(
    channel: FacebookChannel, cursor: str | None, *, term: str = TAG, hashtag: bool = True
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
    channel: FacebookChannel, cursor: str | None
) -> tuple[list[PublicPost], str | None, int]:
    found: list[PublicPost] = []
    calls = 0
    for _ in range(100):
        page = channel.listen_answers(cursor=cursor)
        found += page.posts
        calls += page.calls
        cursor = page.cursor
        if not page.more:
            return found, cursor, calls
    raise AssertionError("the pass did not end")


def test_catch_up_reads_both_edges_once_in_the_minimum_calls(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    tagged = emu.inject_public(TAG, 1000, spread=6 * 3600, page=PAGE)
    visitors = emu.inject_public(TAG, 230, spread=3600, page=PAGE, edge="visitor_posts")
    emu.inject_public("AutreSujet", 60, spread=600, page=PAGE)  # read, matched, dropped
    found, _, calls = drain(make_channel(sandbox), None)
    assert sorted(p.platform_id for p in found) == sorted(tagged + visitors)
    assert len(found) == len({p.platform_id for p in found})
    minimum = math.ceil(1060 / 100) + math.ceil(230 / 100)
    assert calls == minimum == sandbox.sandbox.calls("facebook", EDGES)


def test_a_saved_cursor_resumes_with_only_newer_posts(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    emu.inject_public(TAG, 150, spread=600, page=PAGE)
    _, cursor, _ = drain(make_channel(sandbox), None)
    newer = emu.inject_public(TAG, 40, page=PAGE) + emu.inject_public(
        TAG, 5, page=PAGE, edge="visitor_posts"
    )
    found, cursor, calls = drain(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in found) == sorted(newer)
    assert calls == 2
    assert drain(make_channel(sandbox), cursor)[0] == []


def test_a_pass_cut_short_resumes_after_the_last_page_recorded(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    ids = emu.inject_public(TAG, 350, spread=7200, page=PAGE)
    first = make_channel(sandbox).listen(TAG, hashtag=True, cursor=None)
    assert first.more and len(first.posts) == 100
    during = emu.inject_public(TAG, 20, page=PAGE)
    rest, cursor, calls = drain(make_channel(sandbox), first.cursor)
    seen = [p.platform_id for p in (*first.posts, *rest)]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert calls == 3 + 1  # three more pages of /tagged, one of /visitor_posts
    later, _, _ = drain(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in later) == sorted(during)


def test_kinds_and_shares_of_our_posts(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest("k1", f"Écrivez pour Aïcha #{TAG}"))
    kinds = ("original", "photo", "quote", "repost")
    ids = emulator(sandbox).inject_public(TAG, 8, kinds=kinds, answers=ours.platform_id)
    found, _, _ = drain(channel, None)
    by_id = {p.platform_id: p for p in found}
    assert ours.platform_id not in by_id  # our own post is on /feed, not /tagged
    assert [by_id[i].kind for i in ids] == list(kinds) * 2
    for i in ids:
        shared = by_id[i].kind in ("quote", "repost")
        assert by_id[i].answers == (ours.platform_id if shared else None)


def test_answers_are_comments_on_our_posts(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest("k1", "Écrivez pour Aïcha"))
    busy = channel.publish(PublishRequest("k2", "Et pour Karim"))
    emu = emulator(sandbox)
    few = emu.inject_public(None, 30, kinds=("reply",), answers=ours.platform_id)
    sandbox.sandbox.advance(120)
    many = emu.inject_public(None, 250, kinds=("reply",), answers=busy.platform_id, spread=60)
    found, cursor, calls = drain_answers(channel, None)
    assert sorted(p.platform_id for p in found) == sorted(few + many)
    assert {p.answers for p in found if p.platform_id in few} == {ours.platform_id}
    assert {p.answers for p in found if p.platform_id in many} == {busy.platform_id}
    assert {p.kind for p in found} == {"reply"}
    assert calls == 1 + 2  # one page of our posts, two more pages of the busy post's comments
    newer = emu.inject_public(None, 3, kinds=("reply",), answers=ours.platform_id)
    found, cursor, calls = drain_answers(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in found) == sorted(newer) and calls == 1
    assert drain_answers(make_channel(sandbox), cursor)[0] == []


def test_nothing_about_the_author_or_the_text_is_kept(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest("k1", f"Écrivez #{TAG}"))
    emu = emulator(sandbox)
    emu.inject_public(
        TAG, 12, kinds=("original", "photo", "quote", "reply"), answers=ours.platform_id
    )
    names = {
        body["from"]["name"]
        for body in [*emu._posts.values(), *emu._comment_bodies.values()]
        if body.get("from")
    }
    assert names and all(n.startswith("Soutien") for n in names)
    shown = repr(channel.listen(TAG, hashtag=True, cursor=None)) + repr(
        channel.listen_answers(cursor=None)
    )
    assert "PublicPost" in shown
    for name in names:
        assert name not in shown
    assert "Solidarité" not in shown


def test_a_page_without_the_permission_makes_listening_unavailable(
    sandbox: SandboxServer,
) -> None:
    emulator(sandbox).listen_denied.add(PAGE)
    channel = make_channel(sandbox)
    with pytest.raises(ListeningUnavailable) as caught:
        channel.listen(TAG, hashtag=True, cursor=None)
    assert not isinstance(caught.value, AuthError)
    assert "autorisation" in caught.value.message("fr")
    assert "permission" in caught.value.message("en")
    assert channel.publish(PublishRequest("k1", "Toujours là")).platform_id


def test_throttling_is_rate_limited(sandbox: SandboxServer) -> None:
    sandbox.add_fault("rate_limit", platform="facebook", path=EDGES)
    with pytest.raises(RateLimited) as caught:
        make_channel(sandbox).listen(TAG, hashtag=True, cursor=None)
    assert caught.value.reset_at is not None


@pytest.mark.parametrize(
    ("term", "code"),
    [
        ("2026", "hashtag_digits"),
        ("deux mots", "hashtag_characters"),
        ("libérez-aïcha", "hashtag_characters"),
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
    assert sandbox.sandbox.calls("facebook", EDGES) == 0


def test_hashtags_match_whole_tags_and_keywords_match_words(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    exact = emu.inject_public(TAG, 5, page=PAGE)
    emu.inject_public(TAG + "2026", 4, page=PAGE)  # another, longer hashtag
    found, _, _ = drain(make_channel(sandbox), None)
    assert sorted(p.platform_id for p in found) == sorted(exact)
    words = emu.inject_public("lettre pour Aïcha", 6, hashtag=False, page=PAGE)
    found, _, _ = drain(make_channel(sandbox), None, term="LETTRE pour aïcha", hashtag=False)
    assert sorted(p.platform_id for p in found) == sorted(words)
    assert make_channel(sandbox).validate_term("libérez_aïcha", hashtag=True) is None


def test_the_live_public_posts_in_the_demo_and_not_in_tests(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = make_channel(sandbox)
    ours = channel.publish(PublishRequest("k1", f"Écrivez pour Aïcha #{TAG}"))
    assert drain(channel, None)[0] == []
    monkeypatch.setenv("PORTEVOIX_SANDBOX_PUBLIC", "on")
    emulator(sandbox).live.reset()
    found, cursor, _ = drain(channel, None)
    assert found and {p.kind for p in found} >= {"original", "photo", "quote", "repost"}
    assert {p.answers for p in found if p.kind in ("quote", "repost")} == {ours.platform_id}
    comments, _, _ = drain_answers(channel, None)
    assert comments and {p.answers for p in comments} == {ours.platform_id}
    sandbox.sandbox.advance(1800)
    later, _, _ = drain(channel, cursor)
    assert later and not {p.platform_id for p in later} & {p.platform_id for p in found}


def test_a_new_pages_experience_page_is_read_through_tagged_alone(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    emu.new_pages.add(PAGE)
    ids = emu.inject_public(TAG, 120, page=PAGE)
    found, cursor, calls = drain(make_channel(sandbox), None)
    assert sorted(p.platform_id for p in found) == sorted(ids)
    assert calls == 3  # two pages of /tagged, one refused /visitor_posts
    newer = emu.inject_public(TAG, 3, page=PAGE)
    found, _, calls = drain(make_channel(sandbox), cursor)
    assert sorted(p.platform_id for p in found) == sorted(newer)
    assert calls == 1  # /visitor_posts is not asked again


def test_answers_reread_older_posts_once_an_hour_only(sandbox: SandboxServer, monkeypatch) -> None:
    """Between two full passes, only our posts of the last two days are read; a comment on an
    older post is found at the next full pass, an hour later at most, and never lost."""
    import time

    import channels.facebook as fb

    channel = make_channel(sandbox)
    old = channel.publish(PublishRequest("k1", "Écrivez pour Aïcha"))
    emu = emulator(sandbox)
    first = emu.inject_public(None, 2, kinds=("reply",), answers=old.platform_id)
    sandbox.sandbox.advance(3 * 86400)  # three days later: our post is older than the recent days
    clock = {"now": time.time() + 3 * 86400}
    monkeypatch.setattr(fb.time, "time", lambda: clock["now"])
    found, cursor, calls = drain_answers(channel, None)  # the first pass reads the whole window
    assert sorted(p.platform_id for p in found) == sorted(first) and calls == 1
    late = emu.inject_public(None, 1, kinds=("reply",), answers=old.platform_id)
    recent = channel.publish(PublishRequest("k2", "Et pour Karim"))
    on_recent = emu.inject_public(None, 1, kinds=("reply",), answers=recent.platform_id)
    sandbox.sandbox.advance(1800)
    clock["now"] += 1800
    found, cursor, calls = drain_answers(channel, cursor)
    assert [p.platform_id for p in found] == on_recent  # not yet the old post's late comment
    sandbox.sandbox.advance(1900)
    clock["now"] += 1900
    found, cursor, calls = drain_answers(channel, cursor)  # an hour on: the full window again
    assert set(late) <= {p.platform_id for p in found}
    assert drain_answers(channel, cursor)[0] == []


# -- every term at once (listen_all: the edges read once, not once per term) ---------------------

MANY = [f"Cas{n}" for n in range(19)] + [TAG]  # 20 terms; the posts carry the last one


def drain_all(
    channel: FacebookChannel, terms: list[tuple[str, bool]], cursor: str | None
) -> tuple[list[PublicPost], str | None, int]:
    found: list[PublicPost] = []
    calls = 0
    for _ in range(100):
        page = channel.listen_all(terms, cursor=cursor)
        found += page.posts
        calls += page.calls
        cursor = page.cursor
        if not page.more:
            return found, cursor, calls
    raise AssertionError("the pass did not end")


def test_twenty_terms_read_the_edges_once_not_twenty_times(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    ids = emu.inject_public(TAG, 450, spread=3600, page=PAGE)
    first = emu.inject_public("Cas3", 30, spread=600, page=PAGE)
    emu.inject_public("Personne", 20, spread=600, page=PAGE)  # read, matched by none, dropped
    terms = [(t, True) for t in MANY]
    found, cursor, calls = drain_all(make_channel(sandbox), terms, None)
    assert sorted(p.platform_id for p in found) == sorted(ids + first)
    assert len(found) == len({p.platform_id for p in found})
    # ceil(500 / 100) pages of /tagged and one (empty) of /visitor_posts: not 20 times that
    assert calls == math.ceil(500 / 100) + 1 == sandbox.sandbox.calls("facebook", EDGES)
    assert {p.term for p in found if p.platform_id in first} == {"#Cas3"}
    assert {p.term for p in found if p.platform_id in ids} == {f"#{TAG}"}
    newer = emu.inject_public("Cas7", 4, page=PAGE)
    found, _, calls = drain_all(make_channel(sandbox), terms, cursor)
    assert sorted(p.platform_id for p in found) == sorted(newer) and calls == 2


def test_a_post_with_two_terms_carries_the_first_given(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    both = emu.inject_public("Cas1 #" + TAG, 3, hashtag=False, page=PAGE)
    found, _, _ = drain_all(make_channel(sandbox), [(TAG, True), ("Cas1", False)], None)
    assert sorted(p.platform_id for p in found) == sorted(both)
    assert {p.term for p in found} == {f"#{TAG}"}
    found, _, _ = drain_all(make_channel(sandbox), [("cas1", False), (TAG, True)], None)
    assert {p.term for p in found} == {"cas1"}
    # a term Facebook cannot carry matches nothing and does not stop the others
    found, _, _ = drain_all(make_channel(sandbox), [("deux mots", True), (TAG, True)], None)
    assert {p.term for p in found} == {f"#{TAG}"}


def test_per_term_cursors_resume_as_one_from_the_oldest_mark(sandbox: SandboxServer) -> None:
    emu = emulator(sandbox)
    emu.inject_public(TAG, 5, page=PAGE)
    _, old, _ = drain(make_channel(sandbox), None)  # a term read before the upgrade
    sandbox.sandbox.advance(60)
    missed = emu.inject_public("Cas2", 3, page=PAGE)  # after the old term's mark
    _, newer, _ = drain(make_channel(sandbox), None, term="Cas2")
    channel = make_channel(sandbox)
    start = channel.listen_all_resume([newer, old])
    assert start is not None
    found, _, _ = drain_all(channel, [(TAG, True), ("Cas2", True)], start)
    assert set(missed) <= {p.platform_id for p in found}  # nothing after the oldest mark is lost
    # a cursor of a pass never finished: the whole window, once
    cut = make_channel(sandbox).listen(TAG, hashtag=True, cursor=None, limit=2)
    assert cut.more and channel.listen_all_resume([old, cut.cursor or ""]) is None
