"""Content warnings, visibility and self-labels as the platforms receive them: Mastodon's
``spoiler_text`` and ``visibility`` through the real Mastodon.py, Bluesky's self-labels on the
record through the real atproto client, each checked on the emulator's side."""

from __future__ import annotations

from typing import Any

import pytest
from atproto import models
from atproto_client.models.utils import get_or_create

from channels.base import AccountConfig, PermanentError, PublishRequest
from channels.bluesky import BlueskyChannel
from channels.mastodon import MastodonChannel
from channels.sandbox import SandboxServer

WARNING = "Violences policières, mort d'un manifestant"
TEXT = "Écrivez pour que justice soit rendue à Rose Lokissim #EcrireCaLibere"


def mastodon(sandbox: SandboxServer, **options: Any) -> MastodonChannel:
    return MastodonChannel(AccountConfig("mastodon", "test", {"access_token": "cw"}, sandbox.url, options),
                           timeout=5.0)


def bluesky(sandbox: SandboxServer) -> BlueskyChannel:
    creds = {"handle": "ecrire.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"}
    return BlueskyChannel(AccountConfig("bluesky", "main", creds, base_url=sandbox.url), timeout=5.0)


# -- Mastodon ---------------------------------------------------------------------------------


def test_mastodon_receives_the_warning_and_the_visibility(sandbox: SandboxServer) -> None:
    published = mastodon(sandbox).publish(PublishRequest(
        key="cw-1", text=TEXT, language="en", content_warning=WARNING, visibility="unlisted"))

    [post] = sandbox.sandbox.posts("mastodon")
    assert post["id"] == published.platform_id
    assert post["spoiler_text"] == WARNING and post["sensitive"] is True
    assert post["visibility"] == "unlisted" and post["language"] == "en"
    assert post["text"] == TEXT  # the warning is not folded into the text


def test_a_mastodon_post_without_a_warning_sends_none(sandbox: SandboxServer) -> None:
    mastodon(sandbox).publish(PublishRequest(key="cw-2", text=TEXT))

    [post] = sandbox.sandbox.posts("mastodon")
    assert post["spoiler_text"] == "" and post["sensitive"] is False
    assert post["visibility"] == "public" and post["language"] == "fr"


def test_the_warning_counts_toward_mastodons_limit(sandbox: SandboxServer) -> None:
    channel = mastodon(sandbox)
    text = "x" * 480
    assert channel.validate(text).valid
    check = channel.validate(text, spoiler_text="y" * 30)
    assert check.length == 510 and not check.valid
    [problem] = check.problems
    assert "l'avertissement en compte 30" in problem.fr and "the content warning counts 30" in problem.en

    with pytest.raises(PermanentError):
        channel.publish(PublishRequest(key="cw-3", text=text, content_warning="y" * 30))
    assert sandbox.sandbox.posts("mastodon") == []  # refused before anything was sent


def test_the_emulator_counts_the_warning_as_mastodon_does(sandbox: SandboxServer) -> None:
    """Were the channel's check skipped, the platform itself refuses (422), as Mastodon would."""
    channel = mastodon(sandbox)
    with pytest.raises(Exception, match="character limit"):
        channel.client.status_post("x" * 480, spoiler_text="y" * 30)
    assert sandbox.sandbox.posts("mastodon") == []


# -- Bluesky ----------------------------------------------------------------------------------


def test_bluesky_record_carries_the_self_labels(sandbox: SandboxServer) -> None:
    bluesky(sandbox).publish(PublishRequest(
        key="cw-4", text=TEXT, content_warning=WARNING, self_labels=("graphic-media",), language="fr"))

    [post] = sandbox.sandbox.posts("bluesky")
    assert post["labels"] == ["graphic-media"]
    assert post["langs"] == ["fr"]
    assert post["record"]["labels"] == {
        "$type": "com.atproto.label.defs#selfLabels",
        "values": [{"$type": "com.atproto.label.defs#selfLabel", "val": "graphic-media"}],
    }
    assert WARNING not in post["text"]  # Bluesky has no warning text: only the labels go
    # what the platform stored reads back as the library's own post record, labels included
    record = get_or_create(post["record"], models.AppBskyFeedPost.Record, strict=True)
    assert isinstance(record.labels, models.ComAtprotoLabelDefs.SelfLabels)
    assert [v.val for v in record.labels.values] == ["graphic-media"]


def test_a_bluesky_post_without_labels_sends_no_labels_field(sandbox: SandboxServer) -> None:
    bluesky(sandbox).publish(PublishRequest(key="cw-5", text=TEXT, content_warning=WARNING))

    [post] = sandbox.sandbox.posts("bluesky")
    assert post["labels"] == [] and "labels" not in post["record"]


def test_the_bluesky_emulator_refuses_labels_the_lexicon_refuses(sandbox: SandboxServer) -> None:
    channel = bluesky(sandbox)
    channel.whoami()
    body = {"repo": channel.did, "collection": "app.bsky.feed.post",
            "record": {"text": "x", "createdAt": "2026-12-05T12:00:00.000Z", "labels": ["graphic-media"]}}
    with pytest.raises(Exception, match="selfLabels"):
        channel._call(lambda client: client.com.atproto.repo.create_record(body), write=True)
    assert sandbox.sandbox.posts("bluesky") == []
