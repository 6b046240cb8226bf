"""Mastodon listening through the real Mastodon.py against the sandbox: tag timelines paged
forward with min_id, notifications for the answers to our statuses, hashtag rules."""

from __future__ import annotations

import pytest

from channels.base import AccountConfig, ListeningUnavailable, PermanentError, PublishRequest
from channels.mastodon import MastodonChannel
from channels.sandbox import SandboxServer


@pytest.fixture
def channel(sandbox: SandboxServer) -> MastodonChannel:
    return MastodonChannel(AccountConfig("mastodon", "test", {"access_token": "tok-listen"}, sandbox.url, {}), timeout=5.0)


@pytest.fixture
def public(sandbox: SandboxServer):
    em = sandbox.sandbox.emulator("mastodon")
    em.auto_public = False
    return em


def test_a_backlog_is_read_oldest_page_first_and_each_page_resumes_after_the_last(channel, public, sandbox) -> None:
    ids = [public.public_post(tag="W4R", author=n, kind="photo" if n % 2 else "original") for n in range(90)]
    pages, cursor = [], ids[0]  # resume just after the first post
    for _ in range(5):
        page = channel.listen("W4R", hashtag=True, cursor=cursor)
        pages.append(page)
        cursor = page.cursor
        if not page.more:
            break
    got = [p.platform_id for page in pages for p in page.posts]
    assert [len(page.posts) for page in pages] == [40, 40, 9]
    assert sorted(got, key=int) == ids[1:] and len(set(got)) == 89
    assert [p.more for p in pages] == [True, True, False] and pages[-1].cursor == ids[-1]
    assert max(int(p.platform_id) for p in pages[0].posts) < min(int(p.platform_id) for p in pages[1].posts)
    kinds = {p.platform_id: p.kind for page in pages for p in page.posts}
    assert kinds[ids[1]] == "photo" and kinds[ids[2]] == "original"
    # the emulator pages with Link headers, as Mastodon does
    assert sandbox.sandbox.calls("mastodon", r"/timelines/tag/") == 3


def test_without_a_cursor_the_recent_window_and_never_our_own_statuses(channel, public) -> None:
    ours = channel.publish(PublishRequest(key="k", text="Écrivez ! #W4R"))
    theirs = public.public_post(tag="w4r", author=2)
    page = channel.listen("W4R", hashtag=True, cursor=None)
    assert [p.platform_id for p in page.posts] == [theirs] and ours.platform_id != theirs
    assert page.cursor == max(ours.platform_id, theirs, key=int) and page.more is False


def test_replies_boosts_and_quotes_of_our_statuses_name_the_status_they_answer(channel, public) -> None:
    ours = channel.publish(PublishRequest(key="k", text="Écrivez pour Juan ! #W4R")).platform_id
    reply = public.public_post(kind="reply", answers=ours, author=1)
    quote = public.public_post(kind="quote", answers=ours, author=2)
    public.public_post(kind="repost", answers=ours, author=3)
    page = channel.listen_answers(cursor=None)
    found = {(p.kind, p.answers) for p in page.posts}
    assert found == {("reply", ours), ("quote", ours), ("repost", ours)}
    ids = {p.kind: p.platform_id for p in page.posts}
    assert ids["reply"] == reply and ids["quote"] == quote and ids["repost"].startswith("reblog:")
    # a quote found in a tag timeline also names our status
    tagged = public.public_post(tag="W4R", kind="quote", answers=ours, author=4)
    in_tag = {p.platform_id: p for p in channel.listen("W4R", hashtag=True, cursor=None).posts}
    assert in_tag[tagged].kind == "quote" and in_tag[tagged].answers == ours
    assert channel.listen_answers(cursor=page.cursor).posts[0].platform_id == tagged


@pytest.mark.parametrize("term", ["Écrire ça libère", "W4R-2025", "#W4R", "2025", ""])
def test_hashtags_mastodon_cannot_have_are_refused_with_the_reason(channel, term) -> None:
    problem = channel.validate_term(term, hashtag=True)
    assert problem is not None and problem.fr != problem.en and "Mastodon" in problem.en
    with pytest.raises(PermanentError):
        channel.listen(term, hashtag=True, cursor=None)


@pytest.mark.parametrize("term", ["ÉcrireÇaLibère", "W4R2025", "write_for_rights"])
def test_hashtags_mastodon_accepts(channel, term) -> None:
    assert channel.validate_term(term, hashtag=True) is None


def test_keywords_are_not_searchable_on_mastodon_and_it_says_so(channel, sandbox) -> None:
    assert channel.validate_term("Juan López", hashtag=False) is None  # other platforms search them
    with pytest.raises(ListeningUnavailable) as unavailable:
        channel.listen("Juan López", hashtag=False, cursor=None)
    assert "mots-clés" in unavailable.value.message("fr") and "keywords" in unavailable.value.message("en")


def test_the_demo_public_posts_as_time_passes_deterministically_and_boundedly(channel, sandbox) -> None:
    em = sandbox.sandbox.emulator("mastodon")
    em.auto_public, em.public_max = True, 30
    first = channel.listen("W4R", hashtag=True, cursor=None)
    assert 1 <= len(first.posts) <= 10  # a short backlog at first
    sandbox.sandbox.advance(em.public_every * 100 / sandbox.sandbox.speed)  # much simulated time
    rest = channel.listen("W4R", hashtag=True, cursor=first.cursor)
    assert len(first.posts) + len(rest.posts) == 30, "never more than public_max per tag"
    kinds = [p.kind for p in sorted([*first.posts, *rest.posts], key=lambda p: int(p.platform_id))]
    assert set(kinds) <= {"original", "photo"} and "photo" in kinds
    # the same seed gives the same public
    sandbox.sandbox.clear()
    em.auto_public, em.public_max = True, 30
    channel.listen("W4R", hashtag=True, cursor=None)
    sandbox.sandbox.advance(em.public_every * 100 / sandbox.sandbox.speed)
    again = channel.listen("W4R", hashtag=True, cursor="0")
    assert [p.kind for p in again.posts[::-1]] == kinds
    # and it answers our statuses, a few times each
    ours = channel.publish(PublishRequest(key="demo", text="Écrivez !")).platform_id
    answers = channel.listen_answers(cursor=None).posts
    assert all(p.answers == ours for p in answers) and len(answers) <= 4


def test_inject_public_spreads_a_backlog_in_time_and_the_timeline_pages_it_once(channel, public, sandbox) -> None:
    import httpx

    first = public.inject_public("W4R", 1)
    sandbox.sandbox.advance(3600)  # an hour without listening
    made = public.inject_public("W4R", 100, kinds=["original", "photo"], spread=3600)
    # another process asks the same through the control endpoint
    more = httpx.post(f"{sandbox.url}/_sandbox/public/mastodon", json={"term": "W4R", "n": 3}, timeout=5).json()
    assert more["count"] == 3 and len(made) == len(set(made)) == 100
    times = [public.public[i]["created"] for i in made]
    assert times == sorted(times) and times[-1] - times[0] > 3000
    cursor, got = first[0], []
    for _ in range(10):
        page = channel.listen("W4R", hashtag=True, cursor=cursor)
        got += [p.platform_id for p in page.posts]
        cursor = page.cursor
        if not page.more:
            break
    # each page newest first, as Mastodon; every post once, the backlog then the three after it
    assert sorted(got, key=int) == made + more["ids"] and len(set(got)) == 103
    assert sum(bool(public.public[i]["media"]) for i in made) == 50
