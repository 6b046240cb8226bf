"""FacebookChannel through the real facebook-sdk against the sandbox's Graph emulator."""

from __future__ import annotations

import datetime as dt
import math
import socket

import facebook
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
from channels.facebook import FacebookChannel
from channels.sandbox import SandboxServer

PAGE = "1000001"
TOKEN = "sandbox-fb-token"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
METRICS_CALL = r"^/v\d+\.\d+/$"


def channel(sandbox: SandboxServer, *, timeout: float = 5.0, **options: object) -> FacebookChannel:
    account = AccountConfig(
        "facebook",
        "fb",
        {"page_id": PAGE, "page_token": TOKEN},
        base_url=sandbox.url,
        options=dict(options),
    )
    return FacebookChannel(account, timeout=timeout)


def fb_posts(sandbox: SandboxServer) -> list[dict]:
    return sandbox.sandbox.posts("facebook")


def a_minute_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


# -- publishing ---------------------------------------------------------------------------------


def test_it_publishes_text_link_and_images_with_alt(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)

    text = fb.publish(
        PublishRequest("k1", "Écrivez pour Narges", link="https://amnistie.ca/ecrire")
    )
    one = fb.publish(
        PublishRequest("k2", "Une photo", images=(Image(PNG, "image/png", "Une bougie allumée"),))
    )
    many = fb.publish(
        PublishRequest(
            "k3",
            "Deux photos https://amnistie.ca/ecrire",
            link="https://amnistie.ca/ecrire",
            images=(
                Image(PNG, "image/png", "Des lettres"),
                Image(JPEG, "image/jpeg", "Une marche"),
            ),
        )
    )

    posts = {p["id"]: p for p in fb_posts(sandbox)}
    assert set(posts) == {text.platform_id, one.platform_id, many.platform_id}
    assert posts[text.platform_id]["text"] == "Écrivez pour Narges\n\nhttps://amnistie.ca/ecrire"
    assert posts[text.platform_id]["link"] == "https://amnistie.ca/ecrire"
    assert posts[one.platform_id]["alts"] == ["Une bougie allumée"]
    # the link was already in the text: not appended twice
    assert posts[many.platform_id]["text"] == "Deux photos https://amnistie.ca/ecrire"
    assert posts[many.platform_id]["alts"] == ["Des lettres", "Une marche"]
    number = text.platform_id.split("_")[1]
    assert text.platform_id.startswith(f"{PAGE}_")
    assert text.url == f"https://www.facebook.com/{PAGE}/posts/{number}"
    assert text.published_at is not None and text.published_at.tzinfo is not None


def test_it_uses_the_configured_graph_version(sandbox: SandboxServer) -> None:
    channel(sandbox).publish(PublishRequest("k", "version par défaut"))
    channel(sandbox, graph_version="v25.0").publish(PublishRequest("k2", "version choisie"))

    assert sandbox.sandbox.calls("facebook", r"^/v24\.0/") == 1
    assert sandbox.sandbox.calls("facebook", r"^/v25\.0/") == 1
    assert sandbox.sandbox.calls("facebook", r"^/v2\.8/") == 0
    with pytest.raises(PermanentError):
        channel(sandbox, graph_version="latest")


def test_it_records_graph_usage_headers(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    fb.publish(PublishRequest("k", "Bonjour"))

    infos = fb.take_rate_info()
    assert [i.endpoint for i in infos] == ["publish"]
    assert infos[0].limit == 100 and infos[0].remaining is not None and infos[0].remaining <= 100


# -- validation ---------------------------------------------------------------------------------


def test_it_counts_length_the_platform_way(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)

    at_limit = fb.validate("a" * 63_206)
    over = fb.validate("a" * 63_205 + "✊🏽")  # two code points
    assert at_limit.valid and at_limit.length == 63_206 and at_limit.limit == 63_206
    assert not over.valid and over.length == 63_207
    assert [p.code for p in over.problems] == ["too_long"]
    assert "63\xa0207" in over.problems[0].fr and "63,207" in over.problems[0].en
    assert [p.code for p in fb.validate("  ").problems] == ["empty"]


def test_it_checks_images_the_platform_way(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    images = [Image(PNG, "image/png", f"photo {i}") for i in range(11)]
    images[0] = Image(PNG, "image/png", " ")
    images[1] = Image(b"RIFF....WEBP", "image/webp", "webp")
    images[2] = Image(JPEG + b"\x00" * (4 * 1024 * 1024), "image/jpeg", "grosse")

    codes = sorted(p.code for p in fb.validate("Texte", images).problems)

    assert codes == ["image_size", "image_type", "missing_alt", "too_many_images"]
    assert fb.validate("Texte", images[3:]).valid


# -- metrics ------------------------------------------------------------------------------------


def test_it_batches_metrics_in_minimum_calls(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    ids = [fb.publish(PublishRequest(f"k{i}", f"Publication {i}")).platform_id for i in range(120)]
    sandbox.sandbox.advance(3 * 3600)  # let the simulated public engage

    metrics = fb.fetch_metrics(ids)

    assert sandbox.sandbox.calls("facebook", METRICS_CALL) == math.ceil(120 / 50)
    assert [m.platform_id for m in metrics] == ids
    created = {p["id"]: p["created"] for p in fb_posts(sandbox)}
    expected = sandbox.sandbox.metrics_for("facebook", ids[0], created[ids[0]])
    first = metrics[0]
    assert first.likes is not None and abs(first.likes - expected["likes"]) <= 1
    assert first.replies is not None and abs(first.replies - expected["replies"]) <= 1
    assert first.shares is not None and abs(first.shares - expected["shares"]) <= 1
    assert sum(m.likes or 0 for m in metrics) > 0
    assert first.quotes is None and first.views is None  # Facebook gives neither figure


def test_it_reports_unshared_posts_as_zero_shares(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    post = fb.publish(PublishRequest("k", "Toute fraîche"))

    (metrics,) = fb.fetch_metrics([post.platform_id])

    assert (metrics.likes, metrics.shares, metrics.replies) == (0, 0, 0)


def test_it_leaves_deleted_posts_out_of_metrics(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    kept = fb.publish(PublishRequest("k1", "Reste")).platform_id
    gone = fb.publish(PublishRequest("k2", "Supprimée")).platform_id
    fb.graph.delete_object(gone)

    metrics = fb.fetch_metrics([gone, kept])

    assert [m.platform_id for m in metrics] == [kept]
    assert sandbox.sandbox.calls("facebook", METRICS_CALL) == 2  # one refused, one retried


def test_the_emulator_refuses_more_than_50_ids(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    with pytest.raises(facebook.GraphAPIError) as caught:
        fb.graph.get_objects([f"{PAGE}_{i}" for i in range(51)], fields="shares")
    assert caught.value.code == 100


# -- errors -------------------------------------------------------------------------------------


def test_it_reports_429_as_rate_limited_with_reset(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.add_fault("rate_limit", platform="facebook", method="POST")
    before = dt.datetime.now(dt.UTC)

    with pytest.raises(RateLimited) as caught:
        fb.publish(PublishRequest("k", "Trop vite"))

    assert caught.value.platform_code == 32
    assert caught.value.reset_at is not None
    wait = caught.value.reset_at - before
    assert dt.timedelta(minutes=4, seconds=50) < wait < dt.timedelta(minutes=5, seconds=10)
    assert fb_posts(sandbox) == []


def test_it_reports_bad_token_as_auth(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.sandbox.revoked.add(TOKEN)

    with pytest.raises(AuthError) as caught:
        fb.publish(PublishRequest("k", "Jeton révoqué"))
    assert caught.value.platform_code == 190
    assert "jeton" in caught.value.message_fr
    with pytest.raises(AuthError):
        fb.whoami()
    assert fb_posts(sandbox) == []


def test_it_reports_missing_credentials_as_auth() -> None:
    with pytest.raises(AuthError):
        FacebookChannel(AccountConfig("facebook", "fb", {"page_id": PAGE}))


def test_it_reports_write_then_5xx_as_ambiguous(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.add_fault("error_after_write", platform="facebook", method="POST", status=500)

    with pytest.raises(AmbiguousError):
        fb.publish(PublishRequest("k", "Peut-être publiée"))

    assert len(fb_posts(sandbox)) == 1  # it did go out


def test_it_reports_5xx_on_a_read_as_transient(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    post = fb.publish(PublishRequest("k", "Bonjour")).platform_id
    sandbox.add_fault("error", platform="facebook", method="GET", status=502)

    with pytest.raises(TransientError):
        fb.fetch_metrics([post])


def test_it_reports_write_then_timeout_as_ambiguous(sandbox: SandboxServer) -> None:
    fb = channel(sandbox, timeout=0.5)
    sandbox.add_fault("timeout_after_write", platform="facebook", method="POST", delay=1.5)

    with pytest.raises(AmbiguousError):
        fb.publish(PublishRequest("k", "Lente"))

    assert len(fb_posts(sandbox)) == 1


def test_it_reports_connection_reset_on_a_write_as_ambiguous(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.add_fault("reset", platform="facebook", method="POST")

    with pytest.raises(AmbiguousError):
        fb.publish(PublishRequest("k", "Coupée"))


def test_it_reports_connection_reset_on_a_read_as_transient(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.add_fault("reset", platform="facebook", method="GET")

    with pytest.raises(TransientError):
        fb.whoami()


def test_it_reports_a_failed_unpublished_photo_upload_as_transient(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.add_fault(
        "error_after_write", platform="facebook", method="POST", path=r"/photos$", status=500
    )
    images = (Image(PNG, "image/png", "un"), Image(PNG, "image/png", "deux"))

    with pytest.raises(TransientError):  # unpublished photos never show on the Page
        fb.publish(PublishRequest("k", "Deux photos", images=images))

    assert fb_posts(sandbox) == []


def test_it_reports_connection_refused_as_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    account = AccountConfig(
        "facebook",
        "fb",
        {"page_id": PAGE, "page_token": TOKEN},
        base_url=f"http://127.0.0.1:{port}",
    )

    fb = FacebookChannel(account, timeout=2)

    with pytest.raises(TransientError):
        fb.publish(PublishRequest("k", "Personne"))
    with pytest.raises(TransientError) as read:
        fb.whoami()
    assert "access_token=***" in read.value.message_en  # requests names the URL...
    assert TOKEN not in read.value.message_en  # ...but the token never reaches a stored error


def test_it_rejects_invalid_content_as_permanent(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)

    with pytest.raises(PermanentError) as too_long:
        fb.publish(PublishRequest("k1", "a" * 63_207))
    assert too_long.value.platform_code == 100

    fb.publish(PublishRequest("k2", "Une seule fois"))
    with pytest.raises(PermanentError) as duplicate:
        fb.publish(PublishRequest("k3", "Une seule fois"))
    assert duplicate.value.platform_code == 506
    assert "identique" in duplicate.value.message_fr

    with pytest.raises(PermanentError) as not_an_image:
        fb.publish(PublishRequest("k4", "Image", images=(Image(b"<html>", "image/png", "faux"),)))
    assert not_an_image.value.platform_code == 324
    assert len(fb_posts(sandbox)) == 1


# -- reconcile ----------------------------------------------------------------------------------


def test_find_locates_post_after_ambiguous_outcome(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    since = a_minute_ago()
    request = PublishRequest("k", "Libérez-la", link="https://amnistie.ca/ecrire")
    fb.publish(PublishRequest("other", "Une autre publication"))
    sandbox.add_fault("error_after_write", platform="facebook", method="POST", status=503)
    with pytest.raises(AmbiguousError):
        fb.publish(request)

    found = fb.find(request, since=since)

    (posted,) = [p for p in fb_posts(sandbox) if p["text"].startswith("Libérez-la")]
    assert found.published is not None and found.published.platform_id == posted["id"]
    assert found.published.url == posted["url"]


def test_find_proves_absence(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    since = a_minute_ago()
    for i in range(130):  # more than one page of feed
        fb.publish(PublishRequest(f"o{i}", f"Autre {i}"))
    sandbox.add_fault("error", platform="facebook", method="POST", status=503)
    request = PublishRequest("k", "Jamais arrivée")
    with pytest.raises(AmbiguousError):
        fb.publish(request)

    found = fb.find(request, since=since)

    assert found.absent and found.published is None
    assert sandbox.sandbox.calls("facebook", r"/feed$") == 131 + 2  # 131 writes, two feed pages


def test_find_cannot_decide_without_text(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    request = PublishRequest("k", "", images=(Image(PNG, "image/png", "seule"),))

    found = fb.find(request, since=a_minute_ago())

    assert not found.absent and found.published is None and found.reason


# -- whoami -------------------------------------------------------------------------------------


def test_whoami_names_the_page(sandbox: SandboxServer) -> None:
    assert channel(sandbox).whoami() == f"Page sandbox {PAGE}"


def test_whoami_reports_a_revoked_token_as_auth(sandbox: SandboxServer) -> None:
    fb = channel(sandbox)
    sandbox.add_fault("revoke", platform="facebook")

    with pytest.raises(AuthError):
        fb.whoami()
