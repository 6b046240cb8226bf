"""Threads and first comments on X, Mastodon, Bluesky and Facebook, through each real client
against its emulator: the structure on the platform's side (each part's parent, the root, the
order), what each part keeps (language, content warning, labels, images with alt text), the
answer to a given post (``reply_to``), a per-part key, a resumed thread, X's refused replies,
and Bluesky's records read back as the lexicon's own models."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import tweepy

from channels import registry, thread
from channels.base import (
    AccountConfig,
    AmbiguousError,
    Image,
    Part,
    PublishRequest,
    use_progress_record,
)
from channels.bluesky import record_key_for
from channels.thread import NOTES, ReplyRefused, part_key
from channels.x import XChannel

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
KINDS = ("x", "mastodon", "bluesky", "facebook")
TEXTS = ("Juan López défend sa rivière. 1/3", "Il a été arrêté en 2024. 2/3", "Écrivez pour lui. 3/3")


def make(sandbox, kind: str) -> Any:
    cls = registry.channel_class(kind)
    return cls(AccountConfig(kind, f"{kind}-main", dict(cls.sandbox_credentials), base_url=sandbox.url), timeout=3.0)


def thread_request(key: str = "pv-t-1", **kw: Any) -> PublishRequest:
    return PublishRequest(key=key, text=TEXTS[0], parts=tuple(Part(t) for t in TEXTS[1:]), **kw)


def structure(sandbox, kind: str) -> list[tuple[str, str, str | None, str | None]]:
    from tests.proofs.faults.helpers import thread_on_platform

    return thread_on_platform(sandbox, kind)


def since() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_thread_goes_out_in_order_each_part_under_the_one_before(sandbox, kind) -> None:
    published = make(sandbox, kind).publish(thread_request())
    posts = structure(sandbox, kind)
    assert [text for _, text, _, _ in posts] == list(TEXTS)
    ids = [pid for pid, _, _, _ in posts]
    assert published.platform_id == ids[0] and published.part_ids == tuple(ids)
    parents = [parent for _, _, parent, _ in posts]
    if kind == "facebook":  # the post, then the Page's first comments under it
        assert parents == [None, ids[0], ids[0]]
    else:
        assert parents == [None, ids[0], ids[1]]
    if kind in ("x", "bluesky"):
        assert [root for _, _, _, root in posts][1:] == [ids[0], ids[0]]


@pytest.mark.parametrize("kind", KINDS)
def test_a_finished_thread_is_found_whole_even_without_its_notes(sandbox, kind) -> None:
    channel = make(sandbox, kind)
    published = channel.publish(thread_request())
    NOTES.clear()  # another process, the notes lost: found from the platform, part by part
    found = channel.find(thread_request(), since=since())
    assert found.published is not None and found.published.part_ids == published.part_ids


@pytest.mark.parametrize("kind", ["mastodon", "bluesky"])
def test_each_part_keeps_language_warning_labels_and_images(sandbox, kind) -> None:
    image = Image(PNG, "image/png", "Juan López au bord de la rivière")
    request = PublishRequest(key="pv-t-2", text=TEXTS[0], language="es", content_warning="Violence policière",
                             self_labels=("graphic-media",),
                             parts=(Part(TEXTS[1], (image,)), Part(TEXTS[2])))
    make(sandbox, kind).publish(request)
    posts = sandbox.sandbox.posts(kind)
    assert len(posts) == 3
    if kind == "mastodon":
        assert {p["language"] for p in posts} == {"es"} and {p["spoiler_text"] for p in posts} == {"Violence policière"}
    else:
        assert [p["langs"] for p in posts] == [["es"]] * 3 and [p["labels"] for p in posts] == [["graphic-media"]] * 3
    assert [p["alts"] for p in posts] == [[], ["Juan López au bord de la rivière"], []]


def test_x_parts_carry_their_images(sandbox) -> None:
    image = Image(PNG, "image/png", "Une bougie allumée")
    make(sandbox, "x").publish(PublishRequest(key="k", text=TEXTS[0], parts=(Part(TEXTS[1], (image,)),)))
    assert [p["alts"] for p in sandbox.sandbox.posts("x")] == [[], ["Une bougie allumée"]]


def test_facebook_comments_carry_text_only_and_say_so_before_sending(sandbox) -> None:
    from channels.base import PermanentError

    image = Image(PNG, "image/png", "Une bougie allumée")
    with pytest.raises(PermanentError) as err:
        make(sandbox, "facebook").publish(PublishRequest(key="k", text=TEXTS[0], parts=(Part(TEXTS[1], (image,)),)))
    assert err.value.platform_code == "comment_images"
    assert len(sandbox.sandbox.posts("facebook")) == 1  # the post is out; the comment was refused before sending


@pytest.mark.parametrize("kind", KINDS)
def test_reply_to_answers_the_given_post(sandbox, kind) -> None:
    channel = make(sandbox, kind)
    first = channel.publish(PublishRequest(key="pv-a", text="Une publication à laquelle répondre"))
    channel.publish(PublishRequest(key="pv-b", text="Merci pour votre soutien !", reply_to=first.platform_id))
    posts = structure(sandbox, kind)
    answer = next(p for p in posts if p[1] == "Merci pour votre soutien !")
    assert answer[2] == first.platform_id


def test_each_part_has_its_own_key_on_mastodon_and_bluesky(sandbox) -> None:
    make(sandbox, "mastodon").publish(thread_request())
    emulator = sandbox.sandbox.emulator("mastodon")
    assert len(emulator.idempotency) == 3  # one Idempotency-Key per part
    make(sandbox, "bluesky").publish(thread_request())
    rkeys = [p["rkey"] for p in sandbox.sandbox.posts("bluesky")]
    assert rkeys == [record_key_for(part_key("pv-t-1", i)) for i in range(3)]
    assert part_key("pv-t-1", 0) == "pv-t-1"  # the first part: the single post's own key


def test_bluesky_records_are_the_lexicons_models(sandbox) -> None:
    from atproto_client import models
    from atproto_client.models.utils import get_or_create

    make(sandbox, "bluesky").publish(thread_request(self_labels=("graphic-media",)))
    posts = sandbox.sandbox.posts("bluesky")
    for i, post in enumerate(posts):
        record = get_or_create({"$type": "app.bsky.feed.post", **post["record"]}, models.AppBskyFeedPost.Record,
                               strict=True, strict_string_format=True)
        assert isinstance(record, models.AppBskyFeedPost.Record)
        if i == 0:
            assert record.reply is None
            continue
        assert isinstance(record.reply, models.AppBskyFeedPost.ReplyRef)
        assert (record.reply.root.uri, record.reply.root.cid) == (posts[0]["id"], posts[0]["cid"])
        assert (record.reply.parent.uri, record.reply.parent.cid) == (posts[i - 1]["id"], posts[i - 1]["cid"])
    # a wrong shape fails the same validation: a reply whose parent has no cid
    wrong = {**posts[1]["record"], "$type": "app.bsky.feed.post",
             "reply": {"root": posts[1]["record"]["reply"]["root"], "parent": {"uri": posts[0]["id"]}}}
    with pytest.raises(Exception):  # noqa: B017, PT011 - pydantic's ValidationError, wrapped by atproto
        get_or_create(wrong, models.AppBskyFeedPost.Record, strict=True, strict_string_format=True)
    # and a reply naming its parent at another cid is refused by the emulator, as the PDS would
    from channels.base import PermanentError

    wrong_cid = thread.Target(parent=posts[0]["id"], root=posts[0]["id"], parent_ref=posts[1]["cid"],
                              root_ref=posts[0]["cid"])
    with pytest.raises(PermanentError):
        make(sandbox, "bluesky").post_part(PublishRequest(key="pv-wrong", text="Réponse"), wrong_cid)
    assert len(sandbox.sandbox.posts("bluesky")) == 3


def test_a_thread_cut_after_part_two_resumes_with_part_three_from_the_durable_notes(sandbox) -> None:
    """Part 3's answer is lost (X wrote it, the answer never came); the process dies. The next
    try, in a new process, reads the notes from the durable record: part 3 is looked for, found,
    and only the rest is sent."""
    stored: dict[tuple[str, str, str], dict[str, Any]] = {}

    class Record:
        def load(self, kind: str, account: str, key: str) -> dict[str, Any] | None:
            return stored.get((kind, account, key))

        def save(self, kind: str, account: str, key: str, data: dict[str, Any]) -> None:
            stored[(kind, account, key)] = dict(data)

        def forget(self, kind: str, account: str, key: str) -> None:
            stored.pop((kind, account, key), None)

    use_progress_record(Record())
    channel = make(sandbox, "x")
    request = PublishRequest(key="pv-t-9", text=TEXTS[0], parts=(Part(TEXTS[1]), Part(TEXTS[2]), Part("Merci. 4/4")))
    sandbox.add_fault("timeout_after_write", platform="x", method="POST", path=r"^/2/tweets$", skip=2, delay=4)
    with pytest.raises(AmbiguousError):
        channel.publish(request)
    [note] = stored.values()
    assert (len(note["parts"]), note["pending"]) == (2, 2)
    NOTES.clear()  # a new process: nothing in memory
    published = make(sandbox, "x").publish(request)
    texts = [p["text"] for p in sandbox.sandbox.posts("x")]
    assert texts == [*TEXTS, "Merci. 4/4"]  # part 3 found, not posted again; parts 1-2 never again
    assert len(published.part_ids) == 4


def test_a_thread_whose_notes_cannot_be_written_sends_nothing_more(sandbox) -> None:
    class Broken:
        def load(self, *args: Any) -> None:
            return None

        def save(self, *args: Any) -> None:
            raise OSError("database gone")

        def forget(self, *args: Any) -> None:
            pass

    from channels.base import TransientError

    use_progress_record(Broken())
    with pytest.raises(TransientError):
        make(sandbox, "mastodon").publish(thread_request())
    assert sandbox.sandbox.posts("mastodon") == []


# -- X since 2026-02-23: replies only where the parent's author summoned the account ------------


def test_x_refusing_the_reply_ends_the_thread_with_its_first_part_and_says_so(sandbox) -> None:
    sandbox.sandbox.emulator("x").configure(reply_policy="none")
    published = make(sandbox, "x").publish(thread_request())
    assert [p["text"] for p in sandbox.sandbox.posts("x")] == [TEXTS[0]]  # the rest never sent blindly
    assert published.part_ids == (published.platform_id,)
    assert published.note is not None
    assert "1 partie(s) sur 3" in published.note.text("fr") and "1 of 3" in published.note.text("en")
    # a retry of the same delivery does not try the refused replies again
    again = make(sandbox, "x").publish(thread_request())
    assert again.platform_id == published.platform_id and len(sandbox.sandbox.posts("x")) == 1


def test_x_self_threads_pass_where_only_summoned_replies_are_accepted(sandbox) -> None:
    emulator = sandbox.sandbox.emulator("x")
    emulator.configure(reply_policy="summoned")
    channel = make(sandbox, "x")
    assert len(channel.publish(thread_request()).part_ids) == 3
    [public] = emulator.inject_public("EcrireCaLibere", 1, kinds=["original"])  # someone else's post
    with pytest.raises(ReplyRefused) as err:
        channel.publish(PublishRequest(key="pv-r", text="Merci !", reply_to=str(public)))
    assert err.value.platform_code == "reply_refused" and "février 2026" in err.value.message_fr


def test_x_error_table_maps_the_refused_reply() -> None:
    import requests

    response = requests.Response()
    response.status_code = 403
    response._content = (b'{"title": "Forbidden", "detail": "Reply to this conversation is not allowed because you '
                         b'have not been mentioned or otherwise engaged by the author of the post you are replying '
                         b'to.", "type": "about:blank", "status": 403}')
    mapped = XChannel.map_error(tweepy.Forbidden(response), write=True)
    assert isinstance(mapped, ReplyRefused)


def test_threads_by_meta_chains_each_part_by_reply_to_id(sandbox) -> None:
    published = make(sandbox, "threads").publish(thread_request())
    posts = sandbox.sandbox.posts("threads")
    assert [p["text"] for p in posts] == list(TEXTS)
    assert [p["reply_to"] for p in posts] == [None, posts[0]["id"], posts[1]["id"]]
    assert published.part_ids == tuple(p["id"] for p in posts)


def test_instagram_refuses_a_thread_before_anything_is_sent(sandbox) -> None:
    from channels.base import PermanentError

    with pytest.raises(PermanentError) as err:
        make(sandbox, "instagram").publish(thread_request())
    assert err.value.platform_code == "no_thread"
    assert sandbox.sandbox.calls("instagram") == 0
