"""The Mastodon channel, through the real Mastodon.py, against the sandbox's Mastodon emulator."""

from __future__ import annotations

import datetime as dt
import math
import socket
from collections.abc import Callable
from typing import Any

import pytest
from mastodon.errors import MastodonAPIError

from channels.base import (
    AccountConfig,
    AmbiguousError,
    AuthError,
    Image,
    PermanentError,
    PublishRequest,
    RateLimited,
    TransientError,
)
from channels.mastodon import InstanceLimits, MastodonChannel, status_length
from channels.sandbox import SandboxServer

TOKEN = "sandbox-mastodon"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff" + b"\x00" * 64
STATUSES = r"^/api/v1/statuses$"

Make = Callable[..., MastodonChannel]


@pytest.fixture
def make(sandbox: SandboxServer) -> Make:
    def build(
        token: str = TOKEN, *, timeout: float = 5.0, base_url: str | None = None, **options: Any
    ) -> MastodonChannel:
        account = AccountConfig(
            "mastodon", "test", {"access_token": token}, base_url or sandbox.url, options
        )
        return MastodonChannel(account, timeout=timeout)

    return build


def posts(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return sandbox.sandbox.posts("mastodon")


def request(
    key: str = "delivery-1", text: str = "Écrivez pour Rose Lokissim #EcrireCaLibere", **kw: Any
) -> PublishRequest:
    return PublishRequest(key=key, text=text, **kw)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- publishing -------------------------------------------------------------------------------


def test_it_publishes_text_link_and_images_with_alt(sandbox: SandboxServer, make: Make) -> None:
    images = (
        Image(PNG, "image/png", "Affiche de la campagne", "affiche.png"),
        Image(JPEG, "image/jpeg", "Portrait de Rose", "rose.jpg"),
    )
    published = make().publish(request(link="https://amnistie.ca/ecrire?source=m1", images=images))

    [post] = posts(sandbox)
    assert post["id"] == published.platform_id
    assert (
        post["text"]
        == "Écrivez pour Rose Lokissim #EcrireCaLibere\n\nhttps://amnistie.ca/ecrire?source=m1"
    )
    assert post["alts"] == ["Affiche de la campagne", "Portrait de Rose"]
    assert post["visibility"] == "public" and post["language"] == "fr"
    assert sandbox.sandbox.calls("mastodon", r"^/api/v2/media$") == 2
    assert published.url == f"{sandbox.url}/@sandbox_mastodon/{published.platform_id}"
    assert (
        published.published_at is not None and published.published_at.utcoffset() == dt.timedelta(0)
    )


def test_it_does_not_repeat_a_link_already_in_the_text(sandbox: SandboxServer, make: Make) -> None:
    make().publish(request(text="Signez : https://amnistie.ca/s", link="https://amnistie.ca/s"))
    assert posts(sandbox)[0]["text"] == "Signez : https://amnistie.ca/s"


def test_it_publishes_once_for_a_repeated_key(sandbox: SandboxServer, make: Make) -> None:
    channel = make()
    first = channel.publish(request())
    again = channel.publish(request())
    assert again.platform_id == first.platform_id
    assert len(posts(sandbox)) == 1
    assert MastodonChannel.retry_is_safe


def test_the_idempotency_key_lasts_one_hour(sandbox: SandboxServer, make: Make) -> None:
    channel = make()
    first = channel.publish(request())
    sandbox.sandbox.advance(3601)  # Mastodon forgets the key after an hour: reconcile first then
    assert channel.publish(request()).platform_id != first.platform_id
    assert len(posts(sandbox)) == 2


# -- counting and validating --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("a" * 500, 500),
        (
            "Lisez https://www.amnistie.ca/ecrire-ca-libere/2025/un-chemin-tres-long?source=abc",
            6 + 23,
        ),
        ("http://a.ca", 23),  # short URLs count 23 too
        ("voir www.amnistie.ca", 20),  # without a protocol it is plain text on Mastodon
        ("@alice@mastodon.social merci", len("@alice merci")),
        ("👩‍👩‍👧 é e\u0301", 5),  # graphemes: a family emoji and a decomposed é count one each
        ("   ", 0),
    ],
)
def test_it_counts_length_the_platform_way(make: Make, text: str, length: int) -> None:
    assert status_length(text) == length
    assert make().validate(text).length == length


def test_it_accepts_500_and_refuses_501_characters(sandbox: SandboxServer, make: Make) -> None:
    channel = make()
    text = "x" * 476 + " https://amnistie.ca/" + "a" * 80  # 477 + 23 = 500
    check = channel.validate(text)
    assert (check.valid, check.length, check.limit) == (True, 500, 500)
    channel.publish(request(text=text))  # the emulator counts the same way and accepts it
    refused = channel.validate(text + "!")
    assert not refused.valid and [p.code for p in refused.problems] == ["too_long"]
    assert "retirez-en 1" in refused.problems[0].fr


def test_it_flags_images_without_alt_or_of_the_wrong_kind(make: Make) -> None:
    images = [Image(PNG, "image/png", "ok")] * 3 + [
        Image(PNG, "image/png", " "),
        Image(PNG, "image/bmp", "carte"),
    ]
    codes = {p.code for p in make().validate("Texte", images).problems}
    assert codes == {"too_many_images", "missing_alt", "image_type"}
    assert make().validate("", []).problems[0].code == "empty"
    assert make().validate("", [Image(PNG, "image/png", "ok")]).valid  # media alone is a status


def test_it_takes_limits_from_options_then_from_the_instance(
    sandbox: SandboxServer, make: Make
) -> None:
    channel = make(max_characters=1000, characters_reserved_per_url=30)
    assert channel.validate("b" * 900).valid
    assert channel.validate("https://a.ca").length == 30
    limits = channel.load_instance_limits()
    assert (
        limits.max_characters,
        limits.characters_reserved_per_url,
        limits.max_media_attachments,
    ) == (500, 23, 4)
    assert limits.version == "4.3.0" and "image/webp" in limits.image_mime_types
    assert not channel.validate("b" * 900).valid
    assert InstanceLimits.from_options(limits.as_options()) == limits


# -- metrics ----------------------------------------------------------------------------------


def test_it_batches_metrics_in_minimum_calls(sandbox: SandboxServer, make: Make) -> None:
    channel = make()
    ids = [
        channel.publish(request(key=f"k{i}", text=f"Publication {i}")).platform_id
        for i in range(45)
    ]
    sandbox.sandbox.advance(3600)
    before = sandbox.sandbox.calls("mastodon", STATUSES)

    metrics = channel.fetch_metrics(ids)

    assert sandbox.sandbox.calls("mastodon", STATUSES) - before == math.ceil(
        45 / MastodonChannel.metrics_batch_size
    )
    assert [m.platform_id for m in metrics] == ids
    assert any(m.likes for m in metrics) and all(
        m.shares is not None and m.replies is not None for m in metrics
    )
    assert all(m.views is None for m in metrics)  # Mastodon has no view counts


def test_it_reads_metrics_one_by_one_before_mastodon_4_3(
    sandbox: SandboxServer, make: Make
) -> None:
    channel = make(mastodon_version="4.2.10")
    ids = [
        channel.publish(request(key=f"k{i}", text=f"Publication {i}")).platform_id for i in range(3)
    ]
    channel.client.status_delete(ids[1])

    metrics = channel.fetch_metrics(ids)

    assert sandbox.sandbox.calls("mastodon", r"^/api/v1/statuses/\d+$") == 4  # 3 reads + 1 delete
    assert [m.platform_id for m in metrics] == [ids[0], ids[2]]  # a deleted status is left out


def test_the_emulator_refuses_more_than_20_ids(make: Make) -> None:
    with pytest.raises(MastodonAPIError, match="422"):
        make().client.statuses([str(i) for i in range(21)])


# -- errors -----------------------------------------------------------------------------------


def test_it_reports_429_as_rate_limited_with_reset(sandbox: SandboxServer, make: Make) -> None:
    sandbox.add_fault("rate_limit", platform="mastodon", method="POST", path=STATUSES)
    with pytest.raises(RateLimited) as caught:
        make().publish(request())
    reset = caught.value.reset_at
    assert reset is not None and now() < reset <= now() + dt.timedelta(minutes=5)
    assert posts(sandbox) == []


def test_it_reports_an_exhausted_budget_as_rate_limited(sandbox: SandboxServer, make: Make) -> None:
    emulator: Any = sandbox.sandbox.emulator("mastodon")
    emulator.enforce_budget, emulator.window_requests = True, 2
    channel = make()
    channel.whoami()
    channel.whoami()
    with pytest.raises(RateLimited):
        channel.whoami()
    infos = channel.take_rate_info()
    assert [i.remaining for i in infos] == [1, 0, 0]
    assert all(i.limit == 2 and i.reset_at is not None for i in infos)


def test_it_records_rate_limit_headers_per_endpoint(make: Make) -> None:
    channel = make()
    channel.fetch_metrics([channel.publish(request()).platform_id])
    endpoints = [i.endpoint for i in channel.take_rate_info()]
    # the two reads are the instance version check that picks the batch endpoint
    assert endpoints == ["publish", "read", "read", "metrics"]


def test_it_reports_bad_token_as_auth(sandbox: SandboxServer, make: Make) -> None:
    sandbox.sandbox.revoked.add("revoked-token")
    channel = make("revoked-token")
    with pytest.raises(AuthError) as caught:
        channel.whoami()
    assert "jeton" in caught.value.message_fr
    with pytest.raises(AuthError):
        channel.publish(request())


def test_it_reports_write_then_5xx_as_ambiguous(sandbox: SandboxServer, make: Make) -> None:
    sandbox.add_fault(
        "error_after_write", platform="mastodon", method="POST", path=STATUSES, status=503
    )
    with pytest.raises(AmbiguousError):
        make().publish(request())
    assert len(posts(sandbox)) == 1  # it did post


def test_it_reports_5xx_on_a_read_as_transient(sandbox: SandboxServer, make: Make) -> None:
    sandbox.add_fault("error", platform="mastodon", method="GET", path=STATUSES, status=502)
    with pytest.raises(TransientError):
        make().fetch_metrics(["1"])


def test_a_failed_image_upload_is_not_ambiguous(sandbox: SandboxServer, make: Make) -> None:
    sandbox.add_fault("error_after_write", platform="mastodon", path=r"/media$", status=500)
    with pytest.raises(TransientError):
        make().publish(request(images=(Image(PNG, "image/png", "Affiche"),)))
    assert posts(sandbox) == []  # an unattached upload is not a publication


def test_it_reports_write_then_timeout_as_ambiguous(sandbox: SandboxServer, make: Make) -> None:
    sandbox.add_fault(
        "timeout_after_write", platform="mastodon", method="POST", path=STATUSES, delay=1.5
    )
    with pytest.raises(AmbiguousError):
        make(timeout=0.5).publish(request())


def test_it_reports_connection_reset_on_a_write_as_ambiguous_and_on_a_read_as_transient(
    sandbox: SandboxServer, make: Make
) -> None:
    channel = make()
    sandbox.add_fault("reset", platform="mastodon", method="POST", path=STATUSES)
    with pytest.raises(AmbiguousError):
        channel.publish(request())
    sandbox.add_fault("reset", platform="mastodon", method="GET", path=STATUSES)
    with pytest.raises(TransientError):
        channel.fetch_metrics(["1"])


def test_it_reports_an_unreachable_instance_as_transient(make: Make) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: connection refused
    with pytest.raises(TransientError):
        make(base_url=f"http://127.0.0.1:{port}").publish(request())


def test_it_rejects_invalid_content_as_permanent(sandbox: SandboxServer, make: Make) -> None:
    with pytest.raises(PermanentError) as offline:
        make().publish(request(text="x" * 501))
    assert offline.value.platform_code == "validation"
    assert sandbox.sandbox.calls("mastodon") == 0  # refused before any call

    # Stale options say 5000: the instance's own 422 is a permanent refusal, explained.
    with pytest.raises(PermanentError) as online:
        make(max_characters=5000).publish(request(text="x" * 600))
    assert online.value.platform_code == 422
    assert "character limit of 500" in online.value.message_en
    assert "limite de 500 caractères" in online.value.message_fr


# -- reconciling ------------------------------------------------------------------------------


def test_find_locates_post_after_ambiguous_outcome(sandbox: SandboxServer, make: Make) -> None:
    since = now()
    channel = make(timeout=0.5)
    delivery = request(
        text="Libérez @rose@mastodon.social ! Écrivez <vite> & fort",
        link="https://amnistie.ca/rose?source=m2",
    )
    sandbox.add_fault(
        "timeout_after_write", platform="mastodon", method="POST", path=STATUSES, delay=1.5
    )
    with pytest.raises(AmbiguousError):
        channel.publish(delivery)

    found = channel.find(delivery, since=since)

    assert found.published is not None and found.published.platform_id == posts(sandbox)[0]["id"]
    assert channel.publish(delivery).platform_id == found.published.platform_id  # same key: no twin
    assert len(posts(sandbox)) == 1


def test_find_proves_absence(sandbox: SandboxServer, make: Make) -> None:
    channel = make()
    channel.publish(request(key="other", text="Une autre publication"))
    since = now()
    sandbox.add_fault("reset", platform="mastodon", method="POST", path=STATUSES)
    with pytest.raises(AmbiguousError):
        channel.publish(request())

    found = channel.find(request(), since=since)

    assert found.absent and found.published is None


def test_find_says_when_it_cannot_decide(make: Make) -> None:
    channel = make()
    since = now()
    for i in range(3):
        channel.publish(request(key=f"k{i}", text=f"Publication {i}"))
    channel.find_page_size, channel.find_max_pages = 2, 1  # type: ignore[misc]
    found = channel.find(request(text="Introuvable"), since=since)
    assert not found.absent and found.published is None and found.reason


def test_whoami_returns_the_handle(sandbox: SandboxServer, make: Make) -> None:
    assert make().whoami() == f"@sandbox_mastodon@127.0.0.1:{sandbox.port}"
