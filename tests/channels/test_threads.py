"""ThreadsChannel (its own small client on a requests session) against the sandbox's Threads
emulator, which downloads the images from a local public image server."""

from __future__ import annotations

import datetime as dt

import pytest

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
from channels.containers import LEDGER
from channels.sandbox import SandboxServer
from channels.threads import ThreadsChannel, threads_length
from tests.channels.conftest import ImageServer, picture

USER = "25900000000000001"
TOKEN = "sandbox-threads-token"
JPEG = picture(1080, 1350)
FAST = {"container_first_delay": 0.01, "container_wait": 5.0}


def channel(sandbox: SandboxServer, *, timeout: float = 5.0, **options: object) -> ThreadsChannel:
    account = AccountConfig("threads", "th", {"user_id": USER, "access_token": TOKEN},
                            base_url=sandbox.url, options={**FAST, **options})
    return ThreadsChannel(account, timeout=timeout)


def emulator(sandbox: SandboxServer):  # type: ignore[no-untyped-def]
    return sandbox.sandbox.emulator("threads")


def posts(sandbox: SandboxServer) -> list[dict]:
    return sandbox.sandbox.posts("threads")


def image(images: ImageServer, name: str = "t.jpg", data: bytes = JPEG, alt: str = "Des lettres",
          ctype: str = "image/jpeg") -> Image:
    return Image(data, ctype, alt, url=images.add(name, data, ctype))


def a_minute_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


# -- publishing ---------------------------------------------------------------------------------


def test_it_publishes_text_image_and_carousel(sandbox: SandboxServer, image_server: ImageServer) -> None:
    th = channel(sandbox)
    emulator(sandbox).pending_polls = 2

    text = th.publish(PublishRequest("k1", "Écrivez pour Narges", link="https://amnistie.ca/ecrire"))
    one = th.publish(PublishRequest("k2", "Une photo", images=(image(image_server),)))
    png = image(image_server, "p.png", picture(800, 800, "PNG"), "Un dessin", "image/png")
    many = th.publish(PublishRequest("k3", "Trois", images=(image(image_server, "a.jpg"), png,
                                                           image(image_server, "b.jpg"))))

    by_id = {p["id"]: p for p in posts(sandbox)}
    assert by_id[text.platform_id]["text"] == "Écrivez pour Narges\n\nhttps://amnistie.ca/ecrire"
    assert by_id[text.platform_id]["media_type"] == "TEXT"
    assert by_id[one.platform_id]["media_type"] == "IMAGE" and by_id[one.platform_id]["alts"] == ["Des lettres"]
    assert by_id[many.platform_id]["media_type"] == "CAROUSEL" and len(by_id[many.platform_id]["children"]) == 3
    assert text.url == by_id[text.platform_id]["url"]
    assert text.url.startswith("https://www.threads.net/@ecrire.sandbox.0001/post/")
    assert sandbox.sandbox.calls("facebook") == 0  # the Threads host never reaches the Facebook emulator


def test_it_publishes_a_reply_thread(sandbox: SandboxServer) -> None:
    th = channel(sandbox)
    parts = [PublishRequest(f"part{i}", f"Partie {i}/3 de l'histoire de Narges") for i in range(1, 4)]

    published = th.publish_thread(parts)

    by_id = {p["id"]: p for p in posts(sandbox)}
    ids = [p.platform_id for p in published]
    assert by_id[ids[0]]["reply_to"] is None
    assert by_id[ids[1]]["reply_to"] == ids[0] and by_id[ids[2]]["reply_to"] == ids[1]
    assert sandbox.sandbox.calls("threads", r"/threads_publish$") == 3
    # replies count against the replies' quota (1,000 a day), not the posts' (250)
    limit = th.client.get(f"{USER}/threads_publishing_limit", fields="quota_usage,reply_quota_usage")["data"][0]
    assert (limit["quota_usage"], limit["reply_quota_usage"]) == (1, 2)


def test_a_crash_between_create_and_publish_resumes_the_container(sandbox: SandboxServer) -> None:
    request = PublishRequest("k", "Sans doublon")
    sandbox.add_fault("reset", platform="threads", method="POST", path=r"/threads_publish$")

    with pytest.raises(AmbiguousError):
        channel(sandbox).publish(request)
    assert posts(sandbox) == []
    assert channel(sandbox).find(request, since=a_minute_ago()).absent

    published = channel(sandbox).publish(request)

    assert [p["id"] for p in posts(sandbox)] == [published.platform_id]
    assert sandbox.sandbox.calls("threads", r"/threads$") == 1  # one container, resumed


def test_a_container_not_ready_in_time_is_resumed(sandbox: SandboxServer, image_server: ImageServer) -> None:
    emulator(sandbox).pending_polls = 4
    request = PublishRequest("k", "Patience", images=(image(image_server),))

    with pytest.raises(TransientError):
        channel(sandbox, container_polls=2).publish(request)
    channel(sandbox).publish(request)

    assert len(posts(sandbox)) == 1
    assert sandbox.sandbox.calls("threads", r"/threads$") == 1


def test_find_reconciles_an_ambiguous_publish(sandbox: SandboxServer) -> None:
    since = a_minute_ago()
    request = PublishRequest("k", "Libérez-la ✊")
    sandbox.add_fault("error_after_write", platform="threads", method="POST", path=r"/threads_publish$", status=502)
    with pytest.raises(AmbiguousError):
        channel(sandbox).publish(request)
    LEDGER.clear()

    found = channel(sandbox).find(request, since=since)

    (post,) = posts(sandbox)
    assert found.published is not None and found.published.platform_id == post["id"]
    assert channel(sandbox).find(PublishRequest("x", "Autre"), since=since).absent


def test_an_exhausted_quota_is_rate_limited(sandbox: SandboxServer) -> None:
    import requests

    th = channel(sandbox)
    # the emulator's knobs, as a test or demo in another process sets them
    answer = requests.post(f"{sandbox.url}/_sandbox/settings/threads", json={"quota": {USER: 1}}, timeout=5)
    assert answer.status_code == 200 and answer.json()["quota"] == {USER: 1}
    th.publish(PublishRequest("a", "Une"))

    with pytest.raises(RateLimited) as caught:
        th.publish(PublishRequest("b", "Deux"))

    assert caught.value.reset_at is not None
    assert caught.value.reset_at > dt.datetime.now(dt.UTC) + dt.timedelta(hours=23)
    assert len(posts(sandbox)) == 1


def test_the_emulator_refuses_bad_images_and_too_many_links(sandbox: SandboxServer, image_server: ImageServer) -> None:
    th = channel(sandbox)
    gif = Image(b"GIF89a" + b"\x00" * 50, "image/gif", "gif", url=image_server.add("g.gif", b"GIF89a" + b"\x00" * 50))
    with pytest.raises(PermanentError) as bad:
        th.publish(PublishRequest("k1", "GIF", images=(gif,)))
    assert bad.value.platform_code == 2207005

    links = " ".join(f"https://exemple.org/{i}" for i in range(6))
    with pytest.raises(PermanentError) as too_many:
        th.publish(PublishRequest("k2", links))
    assert "LINK_LIMIT" in str(too_many.value)
    assert posts(sandbox) == []


# -- validation ---------------------------------------------------------------------------------


def test_it_validates_threads_limits(sandbox: SandboxServer, image_server: ImageServer) -> None:
    th = channel(sandbox)

    assert th.validate("a" * 500).valid
    assert [p.code for p in th.validate("a" * 501).problems] == ["too_long"]
    assert threads_length("✊" * 2) == 6 and threads_length("é") == 1  # an emoji counts its UTF-8 bytes
    link = "https://amnistie.ca/ecrire-pour-les-droits"
    assert th.validate("x" * (500 - len(link)) + link).valid
    assert not th.validate("x" * (501 - len(link)) + link).valid  # links are counted in full
    five = " ".join(f"https://exemple.org/{i}" for i in range(5))
    assert th.validate(five).valid and th.validate(five + " https://exemple.org/0").valid
    assert [p.code for p in th.validate(five + " https://exemple.org/9").problems] == ["too_many_links"]
    assert [p.code for p in th.validate(" ").problems] == ["empty"]
    good = image(image_server)
    assert [p.code for p in th.validate("Vingt et une", [good] * 21).problems] == ["too_many_images"]
    tall = Image(picture(100, 1100), "image/jpeg", "haute", url="https://m.example/t.jpg")
    assert [p.code for p in th.validate("Haute", [tall]).problems] == ["image_ratio"]
    assert th.validate("Sans adresse", [Image(JPEG, "image/jpeg", "x")]).valid  # the worker gives the address


# -- metrics, delete, whoami, errors ------------------------------------------------------------


def test_it_reads_metrics_and_leaves_out_deleted_posts(sandbox: SandboxServer) -> None:
    th = channel(sandbox)
    kept = th.publish(PublishRequest("k1", "Reste")).platform_id
    gone = th.publish(PublishRequest("k2", "Supprimée")).platform_id
    th.delete(gone)
    sandbox.sandbox.advance(3 * 3600)

    metrics = th.fetch_metrics([kept, gone])

    assert [m.platform_id for m in metrics] == [kept]
    created = {p["id"]: p["created"] for p in posts(sandbox)}
    expected = sandbox.sandbox.metrics_for("threads", kept, created[kept])
    (m,) = metrics
    assert (m.views, m.likes, m.replies, m.shares, m.quotes) == (
        expected["views"], expected["likes"], expected["replies"], expected["shares"], expected["quotes"])
    assert [p["id"] for p in posts(sandbox)] == [kept]


def test_whoami_and_a_revoked_token(sandbox: SandboxServer) -> None:
    th = channel(sandbox)
    assert th.whoami() == "@ecrire.sandbox.0001"
    sandbox.add_fault("revoke", platform="threads")
    with pytest.raises(AuthError):
        th.whoami()


def test_a_write_then_timeout_is_ambiguous_and_a_read_fault_transient(sandbox: SandboxServer) -> None:
    sandbox.add_fault("timeout_after_write", platform="threads", method="POST", path=r"/threads_publish$",
                      delay=1.5)
    with pytest.raises(AmbiguousError):
        channel(sandbox, timeout=0.5).publish(PublishRequest("k", "Lente"))
    assert len(posts(sandbox)) == 1

    sandbox.add_fault("error", platform="threads", method="GET", status=503)
    with pytest.raises(TransientError):
        channel(sandbox).whoami()


def test_missing_credentials_are_an_auth_error() -> None:
    with pytest.raises(AuthError):
        ThreadsChannel(AccountConfig("threads", "th", {"access_token": TOKEN}))
