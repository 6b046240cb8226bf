"""Deleting our own post (``Channel.delete``) on each emulator: the post leaves the platform, a
second deletion is harmless (already gone counts as deleted), a throttle or a server error on
deletion is an error the worker retries, and Instagram says it must be removed by hand."""

from __future__ import annotations

import pytest

from channels.base import (
    AccountConfig,
    AmbiguousError,
    Channel,
    PermanentError,
    PublishRequest,
    RateLimited,
    TransientError,
)
from channels.containers import LEDGER
from channels.registry import channel_class
from channels.sandbox import SandboxServer
from channels.sandbox.core import Fault
from tests.factories import CREDS

KINDS = ("x", "facebook", "mastodon", "bluesky", "threads")
#: How each platform's deletion call is told apart, for fault injection.
DELETE_CALL = {"x": {"method": "DELETE"}, "facebook": {"method": "DELETE"}, "mastodon": {"method": "DELETE"},
               "threads": {"method": "DELETE"}, "bluesky": {"path": "deleteRecord"}}
FAST = {"container_first_delay": 0.01, "container_wait": 5.0}


def channel(sandbox: SandboxServer, kind: str) -> Channel:
    cls = channel_class(kind)
    return cls(AccountConfig(kind, f"{kind}-del", dict(CREDS[kind]), base_url=sandbox.url, options=dict(FAST)),
               timeout=5.0)


def texts(sandbox: SandboxServer, kind: str) -> list[str]:
    return [str(p.get("text") or p.get("message") or "") for p in sandbox.sandbox.posts(kind)]


def publish(sandbox: SandboxServer, kind: str, key: str) -> str:
    LEDGER.clear()
    text = f"Écrivez pour Juan López ({key})"
    published = channel(sandbox, kind).publish(PublishRequest(key=key, text=text))
    assert any(text in t for t in texts(sandbox, kind))
    return published.platform_id


@pytest.mark.parametrize("kind", KINDS)
def test_delete_removes_the_post_and_a_second_delete_is_harmless(sandbox: SandboxServer, kind: str) -> None:
    assert channel_class(kind).can_delete
    pid = publish(sandbox, kind, f"del-{kind}-1")
    kept = publish(sandbox, kind, f"del-{kind}-2")
    ch = channel(sandbox, kind)
    ch.delete(pid)
    remaining = texts(sandbox, kind)
    assert not any(f"(del-{kind}-1)" in t for t in remaining)  # gone from the platform
    assert any(f"(del-{kind}-2)" in t for t in remaining)  # the other one stays
    ch.delete(pid)  # already gone: counts as deleted, no error
    assert kept


@pytest.mark.parametrize("kind", KINDS)
def test_a_throttle_on_deletion_is_rate_limited(sandbox: SandboxServer, kind: str) -> None:
    pid = publish(sandbox, kind, f"del-{kind}-429")
    sandbox.sandbox.add_fault(Fault("rate_limit", platform=kind, **DELETE_CALL[kind]))
    with pytest.raises(RateLimited):
        channel(sandbox, kind).delete(pid)
    assert any(f"(del-{kind}-429)" in t for t in texts(sandbox, kind))  # still there: retried later
    channel(sandbox, kind).delete(pid)
    assert not any(f"(del-{kind}-429)" in t for t in texts(sandbox, kind))


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_error_on_deletion_is_retryable(sandbox: SandboxServer, kind: str) -> None:
    pid = publish(sandbox, kind, f"del-{kind}-503")
    sandbox.sandbox.add_fault(Fault("error", platform=kind, status=503, **DELETE_CALL[kind]))
    with pytest.raises((AmbiguousError, TransientError)):
        channel(sandbox, kind).delete(pid)
    # the answer after a write was lost: the deletion went through, and the retry finds it gone
    sandbox.sandbox.add_fault(Fault("error_after_write", platform=kind, status=502, **DELETE_CALL[kind]))
    with pytest.raises((AmbiguousError, TransientError)):
        channel(sandbox, kind).delete(pid)
    assert not any(f"(del-{kind}-503)" in t for t in texts(sandbox, kind))
    channel(sandbox, kind).delete(pid)  # the retry: already gone, done


def test_instagram_says_to_remove_by_hand(sandbox: SandboxServer) -> None:
    ch = channel(sandbox, "instagram")
    assert not ch.can_delete
    with pytest.raises(PermanentError) as refused:
        ch.delete("17900000000000001")
    assert "by hand" in refused.value.message_en and "à la main" in refused.value.message_fr
