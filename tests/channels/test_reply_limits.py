"""Who may reply to a new post (``PublishRequest.reply_limit``), through each real client against
its emulator, checked on the platform's side: X's ``reply_settings`` (and replies from others
refused), Bluesky's thread-gate record (rkey = the root's, written once whatever the retries),
Mastodon's quote policy, Threads' ``reply_control``; on the first part only; Facebook posts go
out as before (it has no such setting)."""

from __future__ import annotations

from typing import Any

import pytest
from atproto import models
from atproto_client.models.utils import get_or_create

from channels import registry, reply_limits
from channels.base import AccountConfig, Part, PublishRequest
from channels.thread import NOTES, ReplyRefused

TEXTS = ("Juan López défend sa rivière. 1/2", "Écrivez pour lui. 2/2")
FAST = {"container_first_delay": 0.01, "container_wait": 5.0}

#: What each platform must hold for each of our values: written out here, not read from the
#: mapping, so that a change to the mapping fails these tests.
EXPECTED: dict[str, dict[str, Any]] = {
    "x": {"followers": "following", "mentioned": "mentionedUsers", "nobody": "mentionedUsers"},
    "bluesky": {"followers": ["app.bsky.feed.threadgate#followerRule"],
                "mentioned": ["app.bsky.feed.threadgate#mentionRule"], "nobody": []},
    "mastodon": {"followers": "followers", "mentioned": "nobody", "nobody": "nobody"},
    "threads": {"followers": "followers_only", "mentioned": "mentioned_only", "nobody": "parent_post_author_only"},
}
UNLIMITED: dict[str, Any] = {"x": None, "bluesky": None, "mastodon": "public", "threads": None}


def make(sandbox, kind: str, credentials: dict[str, str] | None = None) -> Any:
    cls = registry.channel_class(kind)
    options = FAST if kind == "threads" else {}
    return cls(AccountConfig(kind, f"{kind}-main", credentials or dict(cls.sandbox_credentials),
                             base_url=sandbox.url, options=options), timeout=3.0)


def thread_request(key: str = "pv-rl-1", **kw: Any) -> PublishRequest:
    return PublishRequest(key=key, text=TEXTS[0], parts=(Part(TEXTS[1]),), **kw)


def held(sandbox, kind: str) -> list[Any]:
    """What the platform holds of the limit, per post in order (first part first)."""
    posts = sandbox.sandbox.posts(kind)
    if kind == "x":
        return [p["reply_settings"] for p in posts]
    if kind == "mastodon":
        return [p["quote_approval_policy"] for p in posts]
    if kind == "threads":
        return [p["reply_control"] for p in sorted(posts, key=lambda p: p["created"])]
    emulator = sandbox.sandbox.emulator("bluesky")
    out = []
    for post in posts:
        gate = emulator.gate_of(post["id"])
        out.append(None if gate is None else [rule["$type"] for rule in gate.get("allow") or []])
    return out


@pytest.mark.parametrize("kind", sorted(EXPECTED))
@pytest.mark.parametrize("limit", reply_limits.LIMITS)
def test_the_first_part_carries_the_limit_and_the_platform_holds_it(sandbox, kind, limit) -> None:
    published = make(sandbox, kind).publish(thread_request(reply_limit=limit))
    assert len(published.part_ids) == 2  # our own second part still goes under the first
    assert held(sandbox, kind) == [EXPECTED[kind][limit], UNLIMITED[kind]]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_without_a_limit_nothing_is_sent(sandbox, kind) -> None:
    make(sandbox, kind).publish(thread_request())
    assert held(sandbox, kind) == [UNLIMITED[kind]] * 2


def test_a_broken_mapping_fails_the_check(sandbox, monkeypatch) -> None:
    """The check above can fail: with X's "nobody" mapped to "following" (anyone we follow could
    then reply), what X holds is no longer what it must be."""
    monkeypatch.setitem(reply_limits.X, "nobody", "following")  # type: ignore[index]
    make(sandbox, "x").publish(thread_request(reply_limit="nobody"))
    assert held(sandbox, "x")[0] != EXPECTED["x"]["nobody"]


def test_x_refuses_replies_from_others_under_a_limited_post(sandbox) -> None:
    ours = make(sandbox, "x").publish(thread_request(reply_limit="nobody"))
    stranger = {"bearer_token": "someone-else"}
    with pytest.raises(ReplyRefused):
        make(sandbox, "x", stranger).publish(PublishRequest(key="pv-s-1", text="Non.", reply_to=ours.platform_id))
    open_post = make(sandbox, "x").publish(PublishRequest(key="pv-rl-2", text="Sans limite"))
    answered = make(sandbox, "x", stranger).publish(PublishRequest(key="pv-s-2", text="Oui.",
                                                                   reply_to=open_post.platform_id))
    assert answered.platform_id


def test_x_emulator_refuses_an_unknown_reply_setting(sandbox) -> None:
    channel = make(sandbox, "x")
    with pytest.raises(Exception, match="reply_settings|not one of"):
        channel.client.create_tweet(text="x", reply_settings="everyone", user_auth=channel.user_auth)
    assert sandbox.sandbox.posts("x") == []


def test_bluesky_gate_is_written_once_at_the_roots_key_whatever_the_retries(sandbox) -> None:
    channel = make(sandbox, "bluesky")
    first = channel.publish(thread_request(reply_limit="followers"))
    again = channel.publish(thread_request(reply_limit="followers"))  # a retry: same delivery
    NOTES.clear()  # another process, notes lost: the thread is found again, the gate rewritten
    third = make(sandbox, "bluesky").publish(thread_request(reply_limit="followers"))
    assert first.platform_id == again.platform_id == third.platform_id
    emulator = sandbox.sandbox.emulator("bluesky")
    did, rkey = first.platform_id.removeprefix("at://").split("/")[0], first.platform_id.rsplit("/", 1)[-1]
    assert [key for key in emulator.gates if key[0] == did] == [(did, rkey)]  # one gate, the root's
    gate = emulator.gate_of(first.platform_id)
    assert gate is not None and gate["post"] == first.platform_id
    record = get_or_create(gate, models.AppBskyFeedThreadgate.Record, strict=True)  # the lexicon's own shape
    assert [type(rule) for rule in record.allow or []] == [models.AppBskyFeedThreadgate.FollowerRule]


def test_bluesky_hiding_a_reply_keeps_the_limit(sandbox) -> None:
    channel = make(sandbox, "bluesky")
    root = channel.publish(PublishRequest(key="pv-rl-3", text=TEXTS[0], reply_limit="nobody")).platform_id
    reply = f"{root.rsplit('/', 3)[0]}/app.bsky.feed.post/3kabcdefghij2"
    channel.hide_reply(reply, root=root)
    gate = sandbox.sandbox.emulator("bluesky").gate_of(root)
    assert gate is not None and gate["allow"] == [] and gate["hiddenReplies"] == [reply]


@pytest.mark.parametrize("kind", ["facebook", "instagram"])
def test_platforms_without_the_setting_say_so(kind) -> None:
    assert registry.channel_class(kind).limits_replies == ""


def test_bluesky_a_post_found_after_a_lost_answer_gets_its_gate(sandbox) -> None:
    """The try's answer was lost after the post was made and before the gate: the reconciler's
    find writes the gate, at the root's key."""
    import datetime as dt

    channel = make(sandbox, "bluesky")
    request = PublishRequest(key="pv-rl-4", text=TEXTS[0], reply_limit="mentioned")
    root = channel.post_part(request, None).platform_id  # the post alone, as a lost try leaves it
    emulator = sandbox.sandbox.emulator("bluesky")
    assert emulator.gate_of(root) is None
    found = channel.find(request, since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    assert found.published is not None and found.published.platform_id == root
    gate = emulator.gate_of(root)
    assert gate is not None and [r["$type"] for r in gate["allow"]] == ["app.bsky.feed.threadgate#mentionRule"]
