"""InstagramChannel through the real facebook-sdk against the sandbox's Instagram emulator, which
downloads the images from a local public image server."""

from __future__ import annotations

import datetime as dt
import math

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
from channels.instagram import InstagramChannel
from channels.sandbox import SandboxServer
from tests.channels.conftest import ImageServer, picture

USER = "17841400000000001"
TOKEN = "sandbox-ig-token"
JPEG = picture(1080, 1080)
FAST = {"container_first_delay": 0.01, "container_wait": 5.0}


def channel(sandbox: SandboxServer, *, timeout: float = 5.0, **options: object) -> InstagramChannel:
    account = AccountConfig("instagram", "ig", {"ig_user_id": USER, "access_token": TOKEN},
                            base_url=sandbox.url, options={**FAST, **options})
    return InstagramChannel(account, timeout=timeout)


def emulator(sandbox: SandboxServer):  # type: ignore[no-untyped-def]
    return sandbox.sandbox.emulator("instagram")


def posts(sandbox: SandboxServer) -> list[dict]:
    return sandbox.sandbox.posts("instagram")


def image(images: ImageServer, name: str = "a.jpg", data: bytes = JPEG, alt: str = "Une bougie allumée",
          ctype: str = "image/jpeg") -> Image:
    return Image(data, ctype, alt, url=images.add(name, data, ctype))


def a_minute_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


# -- publishing ---------------------------------------------------------------------------------


def test_it_publishes_one_photo_with_caption_and_alt(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    emulator(sandbox).pending_polls = 2  # "not ready yet" twice, then ready

    published = ig.publish(PublishRequest("k1", "Écrivez pour Narges", link="https://amnistie.ca/ecrire",
                                          images=(image(image_server),)))

    (post,) = posts(sandbox)
    assert post["id"] == published.platform_id
    assert post["text"] == "Écrivez pour Narges\n\nhttps://amnistie.ca/ecrire"
    assert post["alts"] == ["Une bougie allumée"]
    assert published.url == post["url"] and published.url.startswith("https://www.instagram.com/p/")
    assert published.published_at is not None and published.published_at.tzinfo is not None
    assert "/a.jpg" in image_server.hits  # the platform fetched the image itself
    assert sandbox.sandbox.calls("instagram", r"/\d+$") >= 3  # status read until FINISHED, then permalink
    (quota,) = ig.take_rate_info()  # the platform's quota, read before the container was made
    assert (quota.endpoint, quota.remaining, quota.limit) == ("publish", 50, 50)


def test_it_publishes_a_carousel(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    images = tuple(image(image_server, f"c{i}.jpg", alt=f"Photo {i}") for i in range(3))

    published = ig.publish(PublishRequest("k", "Trois visages", images=images))

    (post,) = posts(sandbox)
    assert post["id"] == published.platform_id and post["media_type"] == "CAROUSEL"
    assert len(post["children"]) == 3 and post["alts"] == ["Photo 0", "Photo 1", "Photo 2"]
    assert sandbox.sandbox.calls("instagram", r"/media_publish$") == 1


def test_a_container_never_ready_stops_then_is_resumed(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox, container_polls=2)
    emulator(sandbox).pending_polls = 3
    request = PublishRequest("k", "Patience", images=(image(image_server),))

    with pytest.raises(TransientError) as caught:
        ig.publish(request)
    assert caught.value.platform_code == "IN_PROGRESS"
    assert posts(sandbox) == []

    ig.publish(request)  # resumes the same container

    assert len(posts(sandbox)) == 1
    assert sandbox.sandbox.calls("instagram", r"/media$") == 1  # one container made, not two


def test_a_crash_between_create_and_publish_resumes_the_container(sandbox: SandboxServer,
                                                                  image_server: ImageServer) -> None:
    request = PublishRequest("k", "Sans doublon", images=(image(image_server),))
    sandbox.add_fault("reset", platform="instagram", method="POST", path=r"/media_publish$")

    with pytest.raises(AmbiguousError):
        channel(sandbox).publish(request)  # the connection dropped before Instagram published
    assert posts(sandbox) == []

    again = channel(sandbox)  # a new client for the same account, as after a restart
    assert again.find(request, since=a_minute_ago()).absent  # the container was never published
    published = again.publish(request)

    assert [p["id"] for p in posts(sandbox)] == [published.platform_id]
    assert sandbox.sandbox.calls("instagram", r"/media$") == 1  # the container was resumed


def test_a_published_container_is_never_published_again(sandbox: SandboxServer, image_server: ImageServer) -> None:
    request = PublishRequest("k", "Une seule fois", images=(image(image_server),))
    sandbox.add_fault("error_after_write", platform="instagram", method="POST", path=r"/media_publish$", status=500)

    with pytest.raises(AmbiguousError):
        channel(sandbox).publish(request)
    (post,) = posts(sandbox)

    published = channel(sandbox).publish(request)  # a blind retry finds the post instead

    assert published.platform_id == post["id"]
    assert len(posts(sandbox)) == 1
    assert sandbox.sandbox.calls("instagram", r"/media_publish$") == 1


def test_find_reconciles_an_ambiguous_publish_by_recent_media(sandbox: SandboxServer,
                                                               image_server: ImageServer) -> None:
    ig = channel(sandbox)
    since = a_minute_ago()
    ig.publish(PublishRequest("other", "Une autre", images=(image(image_server, "o.jpg"),)))
    request = PublishRequest("k", "Libérez-la", images=(image(image_server),))
    sandbox.add_fault("timeout_after_write", platform="instagram", method="POST", path=r"/media_publish$",
                      delay=1.5)
    with pytest.raises(AmbiguousError):
        channel(sandbox, timeout=0.5).publish(request)
    LEDGER.clear()  # the process that made the container is gone: only the media list is left

    found = channel(sandbox).find(request, since=since)

    (posted,) = [p for p in posts(sandbox) if p["text"] == "Libérez-la"]
    assert found.published is not None and found.published.platform_id == posted["id"]
    assert found.published.url == posted["url"]


def test_find_proves_absence(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    for i in range(3):
        ig.publish(PublishRequest(f"o{i}", f"Autre {i}", images=(image(image_server, f"o{i}.jpg"),)))

    found = ig.find(PublishRequest("k", "Jamais partie", images=(image(image_server),)), since=a_minute_ago())

    assert found.absent and found.published is None


def test_an_error_container_is_permanent(sandbox: SandboxServer, image_server: ImageServer) -> None:
    emulator(sandbox).fail_containers = 1

    with pytest.raises(PermanentError):
        channel(sandbox).publish(PublishRequest("k", "Abîmée", images=(image(image_server),)))

    assert posts(sandbox) == []


# -- quota --------------------------------------------------------------------------------------


def test_an_exhausted_quota_is_rate_limited_until_the_oldest_post_leaves(
    sandbox: SandboxServer, image_server: ImageServer
) -> None:
    ig = channel(sandbox)
    emulator(sandbox).quota[USER] = 2
    first = ig.publish(PublishRequest("a", "Un", images=(image(image_server),)))
    ig.publish(PublishRequest("b", "Deux", images=(image(image_server),)))

    with pytest.raises(RateLimited) as caught:
        ig.publish(PublishRequest("c", "Trois", images=(image(image_server),)))

    assert caught.value.platform_code == 2207042
    assert first.published_at is not None and caught.value.reset_at is not None
    assert abs(caught.value.reset_at - (first.published_at + dt.timedelta(days=1))) < dt.timedelta(minutes=2)
    assert sandbox.sandbox.calls("instagram", r"/media$") == 2 + 1  # two containers; one list read
    assert len(posts(sandbox)) == 2


def test_the_emulator_enforces_the_quota_on_publish(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    request = PublishRequest("k", "Dernière", images=(image(image_server),))
    emulator(sandbox).quota[USER] = 0
    sandbox.add_fault("error", platform="instagram", method="GET", path="content_publishing_limit", status=500)
    with pytest.raises(TransientError):  # the quota could not be read: nothing made
        ig.publish(request)

    with pytest.raises(RateLimited):
        ig.publish(request)  # read as used up before a container is made
    assert sandbox.sandbox.calls("instagram", r"/media$") == 1  # the list read, no container


# -- images and validation ----------------------------------------------------------------------


def test_the_emulator_refuses_what_it_cannot_fetch_or_read(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    png = picture(1080, 1080, "PNG")

    with pytest.raises(PermanentError) as not_jpeg:
        ig.publish(PublishRequest("k1", "PNG", images=(image(image_server, "p.png", png, ctype="image/png"),)))
    assert not_jpeg.value.platform_code == 2207005
    assert "JPEG" in not_jpeg.value.message_fr

    missing = Image(JPEG, "image/jpeg", "absente", url=f"{image_server.base}/nowhere.jpg")
    with pytest.raises(PermanentError) as unfetchable:
        ig.publish(PublishRequest("k2", "Absente", images=(missing,)))
    assert unfetchable.value.platform_code == 2207052
    assert "PORTEVOIX_MEDIA_BASE_URL" in unfetchable.value.message_fr

    wide = picture(2000, 800)
    with pytest.raises(PermanentError) as ratio:
        ig.publish(PublishRequest("k3", "Large", images=(image(image_server, "w.jpg", wide),)))
    assert ratio.value.platform_code == 2207009
    assert posts(sandbox) == []


def test_an_image_without_a_public_address_says_which_setting_is_missing(sandbox: SandboxServer) -> None:
    ig = channel(sandbox)
    bare = Image(JPEG, "image/jpeg", "Une photo")

    # approval sees images before the worker gives them their address: not a problem there
    assert ig.validate("Texte", [bare]).valid
    with pytest.raises(PermanentError) as caught:
        ig.publish(PublishRequest("k", "Texte", images=(bare,)))

    assert "PORTEVOIX_MEDIA_BASE_URL" in caught.value.message_fr and "PORTEVOIX_MEDIA_BASE_URL" in str(caught.value)
    assert sandbox.sandbox.calls("instagram") == 0


def test_it_validates_instagram_limits(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    good = image(image_server)

    assert ig.validate("a" * 2_200, [good]).valid
    assert [p.code for p in ig.validate("a" * 2_201, [good]).problems] == ["too_long"]
    assert ig.validate("#un #deux #trois #quatre #cinq", [good]).valid
    six = ig.validate("#un #deux #trois #quatre #cinq #six", [good])
    assert six.valid and [p.code for p in six.warnings] == ["too_many_hashtags"]  # warned, not refused
    assert "5" in six.warnings[0].fr and "5" in six.warnings[0].en
    many = ig.validate(" ".join(f"#mot{n}" for n in range(31)), [good])
    assert [p.code for p in many.problems] == ["too_many_hashtags"] and not many.warnings
    assert ig.validate(" ".join(f"#mot{n}" for n in range(30)), [good]).valid
    assert [p.code for p in ig.validate("Texte seul").problems] == ["image_required"]
    assert [p.code for p in ig.validate("Dix, plus une", [good] * 11).problems] == ["too_many_images"]
    png = Image(picture(1080, 1080, "PNG"), "image/png", "png", url="https://m.example/p.png")
    assert [p.code for p in ig.validate("PNG", [png]).problems] == ["image_type"]
    big = Image(JPEG + b"\x00" * (8 * 1024 * 1024), "image/jpeg", "grosse", url="https://m.example/g.jpg")
    assert [p.code for p in ig.validate("Grosse", [big]).problems] == ["image_size"]
    for width, height, ok in ((1080, 1350, True), (1080, 1351, False), (1910, 1000, True), (1920, 1000, False)):
        pic = Image(picture(width, height), "image/jpeg", "photo", url="https://m.example/r.jpg")
        assert ig.validate("Proportions", [pic]).valid is ok, (width, height)
    long_alt = Image(JPEG, "image/jpeg", "a" * 1_001, url="https://m.example/a.jpg")
    assert [p.code for p in ig.validate("Alt", [long_alt]).problems] == ["alt_too_long"]


# -- metrics ------------------------------------------------------------------------------------


def test_it_batches_insights(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    emulator(sandbox).pending_polls = 0
    emulator(sandbox).quota[USER] = 100
    url = image_server.add("m.jpg", JPEG)
    ids = [ig.publish(PublishRequest(f"k{i}", f"Publication {i}", images=(Image(JPEG, "image/jpeg", "m", url=url),)))
           .platform_id for i in range(60)]
    sandbox.sandbox.advance(3 * 3600)

    metrics = ig.fetch_metrics(ids)

    assert sandbox.sandbox.calls("instagram", r"^/v\d+\.\d+/$") == math.ceil(60 / 50)
    assert [m.platform_id for m in metrics] == ids
    created = {p["id"]: p["created"] for p in posts(sandbox)}
    expected = sandbox.sandbox.metrics_for("instagram", ids[0], created[ids[0]])
    first = metrics[0]
    assert first.views == expected["views"]  # reach
    assert (first.likes, first.replies, first.shares) == (expected["likes"], expected["replies"], expected["shares"])
    assert first.quotes is None
    assert first.saves == expected["likes"] // 4  # the emulator's "saved"
    assert sum(m.likes or 0 for m in metrics) > 0 and sum(m.saves or 0 for m in metrics) > 0


def test_metrics_leave_out_unknown_media(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    kept = ig.publish(PublishRequest("k", "Reste", images=(image(image_server),))).platform_id

    metrics = ig.fetch_metrics(["17900000000999999", kept])

    assert [m.platform_id for m in metrics] == [kept]


# -- errors and whoami --------------------------------------------------------------------------


def test_whoami_names_the_account(sandbox: SandboxServer) -> None:
    assert channel(sandbox).whoami() == "@ecrire_sandbox_0001"


def test_a_revoked_token_is_an_auth_error(sandbox: SandboxServer, image_server: ImageServer) -> None:
    ig = channel(sandbox)
    sandbox.sandbox.revoked.add(TOKEN)

    with pytest.raises(AuthError) as caught:
        ig.publish(PublishRequest("k", "Révoqué", images=(image(image_server),)))
    assert caught.value.platform_code == 190
    with pytest.raises(AuthError):
        ig.whoami()


def test_a_throttled_app_is_rate_limited(sandbox: SandboxServer, image_server: ImageServer) -> None:
    sandbox.add_fault("rate_limit", platform="instagram", method="POST")

    with pytest.raises(RateLimited) as caught:
        channel(sandbox).publish(PublishRequest("k", "Trop vite", images=(image(image_server),)))
    assert caught.value.platform_code == 4


def test_the_facebook_emulator_still_answers_its_own_ids(sandbox: SandboxServer) -> None:
    from channels.facebook import FacebookChannel

    fb = FacebookChannel(AccountConfig("facebook", "fb", {"page_id": "1000001", "page_token": "t"},
                                       base_url=sandbox.url))
    fb.publish(PublishRequest("k", "Bonjour"))

    assert len(sandbox.sandbox.posts("facebook")) == 1 and posts(sandbox) == []


def test_missing_credentials_are_an_auth_error() -> None:
    with pytest.raises(AuthError):
        InstagramChannel(AccountConfig("instagram", "ig", {"ig_user_id": USER}))


def test_a_container_the_platform_forgot_is_settled_by_the_media_list(sandbox: SandboxServer,
                                                                      image_server: ImageServer) -> None:
    request = PublishRequest("k", "Oubliée", images=(image(image_server),))
    sandbox.add_fault("error_after_write", platform="instagram", method="POST", path=r"/media_publish$", status=500)
    with pytest.raises(AmbiguousError):
        channel(sandbox).publish(request)
    emulator(sandbox).containers.clear()  # gone on Instagram's side

    published = channel(sandbox).publish(request)

    assert [p["id"] for p in posts(sandbox)] == [published.platform_id]  # found, not published again
    assert sandbox.sandbox.calls("instagram", r"/media_publish$") == 1


def test_a_missing_credential_is_named_in_the_field_s_words(sandbox: SandboxServer) -> None:
    from channels.threads import ThreadsChannel

    with pytest.raises(AuthError) as caught:
        InstagramChannel(AccountConfig("instagram", "ig", {"ig_user_id": " ", "access_token": TOKEN}))
    assert "ig_user_id" in caught.value.message_en and "identifiant du compte Instagram" in caught.value.message_fr
    assert "access_token" not in caught.value.message_en
    with pytest.raises(AuthError) as caught:
        ThreadsChannel(AccountConfig("threads", "th", {"user_id": "1"}))
    assert "Threads access token (access_token)" in caught.value.message_en
