"""XChannel through the real tweepy client against the X emulator on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import socket
import time
from typing import Any

import pytest
import requests
import tweepy
import twitter_text

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
from channels.sandbox import SandboxServer
from channels.sandbox.x import XEmulator
from channels.x import XChannel, weighted_length

BEARER = {"bearer_token": "sandbox-x"}
OAUTH1 = {
    "consumer_key": "ck-sandbox",
    "consumer_secret": "cs-sandbox",
    "access_token": "424242-sandbox",
    "access_token_secret": "ats-sandbox",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
LINK = "https://amnistie.ca/ecrire/cas?source=x-42&utm_medium=social"


def make_channel(
    sandbox: SandboxServer, credentials: dict[str, str] | None = None, **kwargs: Any
) -> XChannel:
    options = kwargs.pop("options", {})
    account = AccountConfig(
        "x", "test", credentials or BEARER, base_url=sandbox.url, options=options
    )
    return XChannel(account, **kwargs)


def emulator(sandbox: SandboxServer) -> XEmulator:
    emu = sandbox.sandbox.emulator("x")
    assert isinstance(emu, XEmulator)
    return emu


def request(
    text: str = "Écrivez pour Aïcha & les autres", key: str = "d1", **kwargs: Any
) -> PublishRequest:
    return PublishRequest(key=key, text=text, **kwargs)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- publishing -------------------------------------------------------------------------------


def test_it_publishes_text_link_and_images_with_alt(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    images = (
        Image(PNG, "image/png", "Affiche : une main tient une plume"),
        Image(JPEG, "image/jpeg", "Portrait d'Aïcha"),
    )
    published = channel.publish(request(link=LINK, images=images))

    [post] = sandbox.sandbox.posts("x")
    assert post["id"] == published.platform_id
    assert post["text"] == f"Écrivez pour Aïcha & les autres\n\n{LINK}"
    assert post["alts"] == ["Affiche : une main tient une plume", "Portrait d'Aïcha"]
    assert published.url == f"https://x.com/i/web/status/{published.platform_id}"
    assert published.published_at is not None and published.published_at.tzinfo is not None


def test_it_publishes_with_oauth1_user_context(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox, OAUTH1)
    channel.publish(request(images=(Image(PNG, "image/png", "Une affiche"),)))
    [post] = sandbox.sandbox.posts("x")
    assert post["author_id"] == "424242"  # the emulator read the signed OAuth 1.0a token
    assert post["alts"] == ["Une affiche"]


def test_it_does_not_repeat_a_link_already_in_the_text(sandbox: SandboxServer) -> None:
    make_channel(sandbox).publish(request(f"Signez : {LINK} merci", link=LINK))
    assert sandbox.sandbox.posts("x")[0]["text"].count(LINK) == 1


def test_it_refuses_invalid_content_before_calling_x(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    with pytest.raises(PermanentError) as err:
        channel.publish(request("a" * 281))
    assert "281" in err.value.message_fr
    with pytest.raises(PermanentError):
        channel.publish(request(images=(Image(PNG, "image/png", " "),)))
    assert sandbox.sandbox.calls("x") == 0


def test_it_rejects_invalid_content_as_permanent(sandbox: SandboxServer) -> None:
    # A channel configured for long posts lets 300 characters through; the platform refuses them.
    channel = make_channel(sandbox, options={"text_limit": 25_000})
    with pytest.raises(PermanentError) as err:
        channel.publish(request("é" * 300))
    assert "too long" in err.value.message_en
    assert sandbox.sandbox.calls("x", r"^/2/tweets$") == 1
    assert sandbox.sandbox.posts("x") == []


def test_it_reports_duplicate_content_as_permanent(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    channel.publish(request())
    with pytest.raises(PermanentError) as err:
        channel.publish(request(key="d2"))
    assert err.value.platform_code == "duplicate"
    assert "identique" in err.value.message_fr
    make_channel(sandbox, OAUTH1).publish(request())  # another account may say the same thing


# -- validation -------------------------------------------------------------------------------


def test_it_counts_length_the_platform_way(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    assert channel.validate("a" * 280).valid
    too_long = channel.validate("a" * 281)
    assert (too_long.length, too_long.limit, too_long.valid) == (281, 280, False)
    assert channel.validate("Lisez " + LINK).length == 6 + 23  # every link counts 23
    assert channel.validate("日本語").length == 6  # CJK counts 2
    assert channel.validate("👨‍👩‍👧‍👦").length == 2  # one emoji sequence counts 2
    assert channel.validate("©").length == 2
    assert not channel.validate("日" * 141).valid


def test_its_fast_count_agrees_with_twitter_text() -> None:
    rng = random.Random(7)
    pool = [chr(i) for i in range(0x20, 0x2100) if chr(i).isprintable()] + [" ", "\n", "\r\n"] * 20
    pool += [
        " https://a.co/x ",
        " amnistie.ca ",
        "😀",
        "日",
        "©",
        "\u1100\u1161",
        "e\u0301",
        "1\u20e3",
    ] * 10
    samples = [
        "Écrire, ça libère ! " * 12,
        "café ® " + LINK,
        "x" * 100 + " a.co b.ca",
        "1\u20e3 #\ufe0f\u20e3",
    ]
    samples += ["".join(rng.choice(pool) for _ in range(rng.randint(0, 200))) for _ in range(200)]
    for text in samples:
        assert weighted_length(text) == twitter_text.parse_tweet(text).weightedLength, text


def test_it_explains_image_problems(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    gif = Image(b"GIF89a" + b"\x00" * 10, "image/gif", "Animation")
    check = channel.validate("Bonjour", [Image(PNG, "image/png", "")] * 4 + [gif])
    codes = {p.code for p in check.problems}
    assert {"too_many_images", "missing_alt", "image_type"} <= codes
    assert (
        channel.validate("Bonjour", [Image(PNG, "image/png", "x" * 1001)]).problems[0].code
        == "alt_too_long"
    )
    # X allows image-only posts
    assert channel.validate("", [Image(PNG, "image/png", "Affiche")]).valid
    assert channel.validate("  ").problems[0].code == "empty"


# -- metrics ----------------------------------------------------------------------------------


def test_it_batches_metrics_in_minimum_calls(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator(sandbox), "enforce_limits", False)
    channel = make_channel(sandbox)
    ids = [channel.publish(request(f"Message {i}", key=f"d{i}")).platform_id for i in range(205)]
    sandbox.sandbox.advance(3600)
    before = sandbox.sandbox.calls("x", r"^/2/tweets$")
    metrics = channel.fetch_metrics(ids + ["1"])  # an unknown id is left out, not zeroed
    calls = sandbox.sandbox.calls("x", r"^/2/tweets$") - before
    assert calls == math.ceil(206 / XChannel.metrics_batch_size) == 3
    assert [m.platform_id for m in metrics] == ids
    post = sandbox.sandbox.posts("x")[0]
    figures = sandbox.sandbox.metrics_for("x", post["id"], post["created"])
    first = metrics[0]
    assert first.views == figures["views"] > 0
    assert (first.likes, first.shares, first.replies, first.quotes) == (
        figures["likes"],
        figures["shares"],
        figures["replies"],
        figures["quotes"],
    )


def test_it_records_rate_limit_headers(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    published = channel.publish(request())
    channel.fetch_metrics([published.platform_id])
    infos = {info.endpoint: info for info in channel.take_rate_info()}
    assert infos["publish"].remaining == 99 and infos["publish"].limit == 100
    assert infos["metrics"].remaining == 4999
    reset_at = infos["publish"].reset_at
    assert reset_at is not None and now() < reset_at <= now() + dt.timedelta(minutes=15, seconds=1)


# -- errors -----------------------------------------------------------------------------------


def test_it_reports_429_as_rate_limited_with_reset(sandbox: SandboxServer) -> None:
    sandbox.add_fault("rate_limit", platform="x", method="POST", path=r"^/2/tweets$")
    with pytest.raises(RateLimited) as err:
        make_channel(sandbox).publish(request())
    reset_at = err.value.reset_at
    assert reset_at is not None and now() < reset_at <= now() + dt.timedelta(minutes=15, seconds=1)
    assert sandbox.sandbox.calls("x", r"^/2/tweets$") == 1  # tweepy did not retry on its own
    assert sandbox.sandbox.posts("x") == []


def test_it_enforces_the_per_user_post_budget(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator(sandbox), "enforce_limits", True)
    monkeypatch.setitem(XEmulator.limits, "POST /2/tweets", 3)
    channel = make_channel(sandbox)
    for i in range(3):
        channel.publish(request(f"Message {i}", key=f"d{i}"))
    with pytest.raises(RateLimited) as err:
        channel.publish(request("Message 3", key="d3"))
    assert err.value.reset_at is not None
    assert len(sandbox.sandbox.posts("x")) == 3
    make_channel(sandbox, OAUTH1).publish(request("Message 3", key="d3"))  # budgets are per user


def test_it_reports_bad_token_as_auth(sandbox: SandboxServer) -> None:
    sandbox.sandbox.revoked.add(BEARER["bearer_token"])
    with pytest.raises(AuthError):
        make_channel(sandbox).whoami()
    with pytest.raises(AuthError):
        make_channel(sandbox).publish(request())
    sandbox.sandbox.revoked.add(OAUTH1["access_token"])
    with pytest.raises(AuthError):
        make_channel(sandbox, OAUTH1).whoami()
    with pytest.raises(AuthError):
        make_channel(sandbox, {}).whoami()
    assert sandbox.sandbox.posts("x") == []


def test_it_reports_revoked_access_mid_campaign_as_auth(sandbox: SandboxServer) -> None:
    sandbox.add_fault("revoke", platform="x", path=r"^/2/tweets$")
    with pytest.raises(AuthError) as err:
        make_channel(sandbox, OAUTH1).publish(request())
    assert err.value.platform_code == 401


def test_it_reports_write_then_5xx_as_ambiguous(sandbox: SandboxServer) -> None:
    sandbox.add_fault(
        "error_after_write", platform="x", method="POST", path=r"^/2/tweets$", status=503
    )
    with pytest.raises(AmbiguousError):
        make_channel(sandbox).publish(request())
    assert len(sandbox.sandbox.posts("x")) == 1  # it did go out


def test_it_reports_5xx_on_a_read_as_transient(sandbox: SandboxServer) -> None:
    sandbox.add_fault("error", platform="x", method="GET", path=r"^/2/tweets$", status=500)
    with pytest.raises(TransientError):
        make_channel(sandbox).fetch_metrics(["1900000000000000001"])


def test_it_reports_write_then_timeout_as_ambiguous(sandbox: SandboxServer) -> None:
    sandbox.add_fault(
        "timeout_after_write", platform="x", method="POST", path=r"^/2/tweets$", delay=1.5
    )
    started = time.monotonic()
    with pytest.raises(AmbiguousError) as err:
        make_channel(sandbox, timeout=0.5).publish(request())
    assert time.monotonic() - started < 1.4  # our timeout, not the server's silence
    assert "peut-être" in err.value.message_fr
    assert len(sandbox.sandbox.posts("x")) == 1


def test_it_reports_connection_reset_on_a_write_as_ambiguous(sandbox: SandboxServer) -> None:
    sandbox.add_fault("reset", platform="x", method="POST", path=r"^/2/tweets$")
    with pytest.raises(AmbiguousError):
        make_channel(sandbox).publish(request())


def test_it_reports_connection_reset_on_a_read_as_transient(sandbox: SandboxServer) -> None:
    sandbox.add_fault("reset", platform="x", path=r"^/2/users/me$")
    with pytest.raises(TransientError):
        make_channel(sandbox).whoami()


def test_it_reports_connection_refused_as_transient() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = AccountConfig("x", "test", BEARER, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientError):
        XChannel(account, timeout=2).publish(request())


def test_it_treats_a_failed_media_upload_as_transient_not_ambiguous(sandbox: SandboxServer) -> None:
    sandbox.add_fault("error_after_write", platform="x", path=r"^/2/media/upload$", status=503)
    with pytest.raises(TransientError):
        make_channel(sandbox).publish(request(images=(Image(PNG, "image/png", "Affiche"),)))
    assert sandbox.sandbox.calls("x", r"^/2/tweets$") == 0


def test_it_maps_permission_403s_to_auth_and_others_to_permanent() -> None:
    def forbidden(body: dict[str, object]) -> tweepy.Forbidden:
        response = requests.Response()
        response.status_code, response._content = 403, json.dumps(body).encode()
        return tweepy.Forbidden(response)

    read_only = {
        "title": "Forbidden",
        "status": 403,
        "type": "https://api.twitter.com/2/problems/oauth1-permissions",
        "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
    }
    other = {
        "title": "Forbidden",
        "status": 403,
        "type": "about:blank",
        "detail": "You are not permitted to perform this action.",
    }
    assert isinstance(XChannel.map_error(forbidden(read_only), write=True), AuthError)
    assert isinstance(XChannel.map_error(forbidden(other), write=True), PermanentError)


# -- reconciling and identity -----------------------------------------------------------------


def test_find_locates_post_after_ambiguous_outcome(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox, OAUTH1)
    since = now()
    images = (Image(PNG, "image/png", "Affiche"),)
    sandbox.add_fault(
        "error_after_write", platform="x", method="POST", path=r"^/2/tweets$", status=500
    )
    delivery = request("Écrire & <libérer>   ensemble", link=LINK, images=images)
    with pytest.raises(AmbiguousError):
        channel.publish(delivery)
    channel.publish(request("Un autre message", key="d9"))

    found = channel.find(delivery, since=since)  # X shows t.co links and &amp;: still recognised
    [post] = [p for p in sandbox.sandbox.posts("x") if "libérer" in p["text"]]
    assert found.published is not None and found.published.platform_id == post["id"]
    assert found.published.published_at is not None


def test_find_proves_absence(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    since = now()
    channel.publish(request("Un message déjà publié", key="d0"))
    sandbox.add_fault("reset", platform="x", method="POST", path=r"^/2/tweets$")
    delivery = request("Le message perdu", link=LINK)
    with pytest.raises(AmbiguousError):
        channel.publish(delivery)
    found = channel.find(delivery, since=since)
    assert found.absent and found.published is None


def test_find_reads_every_page_of_the_timeline(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator(sandbox), "enforce_limits", False)
    channel = make_channel(sandbox)
    since = now()
    target = request("Le tout premier", key="first")
    channel.publish(target)
    for i in range(120):
        channel.publish(request(f"Suite {i}", key=f"d{i}"))
    before = sandbox.sandbox.calls("x", r"^/2/users/\d+/tweets$")
    assert channel.find(target, since=since).published is not None
    assert sandbox.sandbox.calls("x", r"^/2/users/\d+/tweets$") - before == 2
    assert channel.find(request("Jamais publié", key="never"), since=since).absent


def test_find_is_undecidable_when_the_timeline_cannot_be_read(sandbox: SandboxServer) -> None:
    sandbox.add_fault("error", platform="x", path=r"^/2/users/\d+/tweets$", status=503)
    found = make_channel(sandbox).find(request(), since=now())
    assert not found.absent and found.published is None and "503" in found.reason


def test_whoami_returns_the_handle(sandbox: SandboxServer) -> None:
    assert make_channel(sandbox).whoami() == "@sandbox_x"
    assert make_channel(sandbox, OAUTH1).whoami() == "@424242_sandbox"


def test_the_emulator_refuses_more_than_100_ids(sandbox: SandboxServer) -> None:
    channel = make_channel(sandbox)
    with pytest.raises(tweepy.BadRequest):
        channel.client.get_tweets(ids=[str(i) for i in range(1, 102)], user_auth=False)


def test_its_problems_write_numbers_as_each_language_does(sandbox: SandboxServer) -> None:
    """« 1 000 » and « 5,2 Mo » in French, "1,000" and "5.2 MB" in English (issue 15, defect 13)."""
    channel = make_channel(sandbox)
    (long,) = channel.validate("a" * 1000).problems
    assert "compte 1\xa0000 caractères" in long.fr and "retirez-en 720" in long.fr
    assert "counts 1,000 characters" in long.en and "remove 720" in long.en
    heavy = Image(PNG + b"\x00" * 6_100_000, "image/png", "Affiche")
    (size,) = channel.validate("Bonjour", [heavy]).problems
    assert "pèse 6,1 Mo" in size.fr and "au plus 5,2 Mo" in size.fr
    assert "is 6.1 MB" in size.en and "at most 5.2 MB" in size.en
    (alt,) = channel.validate("Bonjour", [Image(PNG, "image/png", "x" * 1500)]).problems
    assert "compte 1\xa0500 caractères" in alt.fr and "has 1,500 characters" in alt.en
