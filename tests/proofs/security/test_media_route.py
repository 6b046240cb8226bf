"""The public image route of the link service (``/m/<token>``, orchestrator/media_urls.py): it
serves exactly the stored image at a signed, unexpired address, and nothing else to anyone: no
other image, no file of the server, no detail on why an address is refused, nothing about people."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from orchestrator import db, media_urls
from orchestrator.links import create_app
from orchestrator.models import Campaign, Post
from orchestrator.services import media_library
from orchestrator.settings import get_settings
from tests.orchestrator.services.helpers import EDITOR, png, scheduled_post

BASE = "https://lien.example.org"
ALT = {"fr": "Juan López devant la rivière Guapinol.", "en": "Juan López by the Guapinol river."}


@pytest.fixture
def client(engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, flush_seconds=3600), follow_redirects=False) as test_client:
        yield test_client


def library_image(engine: sa.Engine, data: bytes, filename: str = "Juan_Lopez_portrait.png") -> int:
    with db.session_scope(engine) as s:
        campaign_id = s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()
        item = media_library.add_image(s, actor=EDITOR, campaign_id=campaign_id, case_slug="juan-lopez", data=data,
                                       filename=filename, alt=ALT, credit="Photo : Amnesty International")
        return item.id  # type: ignore[return-value]


def path_of(ref: str, data: bytes, mime: str, *, now: float | None = None) -> str:
    return media_urls.sign(ref, data, mime, base_url=BASE, now=now).removeprefix(BASE)


def test_a_library_image_is_served_byte_for_byte_with_its_type(engine: sa.Engine, client: TestClient) -> None:
    data = png(64, 48)
    media_id = library_image(engine, data)
    path = path_of(str(media_id), data, "image/png")
    response = client.get(path)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["x-content-type-options"] == "nosniff"
    # nothing about the picture's people or its upload: no file name, alt text or credit
    header_text = " ".join(f"{k}: {v}" for k, v in response.headers.items()).lower()
    for private in ("juan", "portrait", "guapinol", "amnesty", "edith", "set-cookie"):
        assert private not in header_text
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(data)) and head.headers["content-type"] == "image/png"


def test_a_posts_inline_jpeg_is_served_as_stored(engine: sa.Engine, client: TestClient) -> None:
    data = png(50, 50, fmt="JPEG")
    post_id, _ = scheduled_post(engine, images=[
        {"data": base64.b64encode(png()).decode(), "alt": "Une carte.", "filename": "carte.png"},
        {"data": base64.b64encode(data).decode(), "alt": "Une photo.", "filename": "photo.jpg"},
    ])
    response = client.get(path_of(f"p{post_id}-1", data, "image/jpeg"))
    assert response.status_code == 200
    assert (response.content, response.headers["content-type"]) == (data, "image/jpeg")
    # the address of the second image does not serve the first, nor a place the post does not have
    assert client.get(path_of(f"p{post_id}-0", data, "image/jpeg")).status_code == 404
    assert client.get(path_of(f"p{post_id}-2", data, "image/jpeg")).status_code == 404


def test_expired_and_forged_addresses_get_an_empty_refusal(engine: sa.Engine, client: TestClient) -> None:
    data = png()
    media_id = library_image(engine, data)
    expired = client.get(path_of(str(media_id), data, "image/png", now=time.time() - 3601))
    assert (expired.status_code, expired.content) == (410, b"")
    good = path_of(str(media_id), data, "image/png")
    ref, rest = good.removeprefix("/m/").split(".", 1)
    for forged in (f"/m/{media_id + 1}.{rest}", good[:-8] + ("x" if good[-8] != "x" else "y") + good[-7:],
                   good.replace(".png", ".gif")):
        response = client.get(forged)
        assert (response.status_code, response.content) == (404, b""), forged
        assert response.headers.get("cache-control") == "no-store"


def test_another_image_cannot_be_reached_with_a_valid_address(engine: sa.Engine, client: TestClient) -> None:
    mine, theirs = png(colour=(1, 2, 3)), png(colour=(200, 200, 9))
    my_id, their_id = library_image(engine, mine), library_image(engine, theirs, "autre.png")
    good = path_of(str(my_id), mine, "image/png")
    assert client.get(good).content == mine
    # the same signature under the other image's number, and the other image's bytes signed
    # under mine: neither serves anything
    assert client.get(good.replace(f"/m/{my_id}.", f"/m/{their_id}.")).status_code == 404
    assert client.get(path_of(str(my_id), theirs, "image/png")).status_code == 404


def test_an_image_changed_or_deleted_since_signing_is_not_served(engine: sa.Engine, client: TestClient) -> None:
    old = png(colour=(10, 10, 10))
    post_id, _ = scheduled_post(engine, approve=False, images=[
        {"data": base64.b64encode(old).decode(), "alt": "Avant.", "filename": "a.png"}])
    path = path_of(f"p{post_id}-0", old, "image/png")
    assert client.get(path).status_code == 200
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        post.images = [{"data": base64.b64encode(png(colour=(99, 0, 0))).decode(), "alt": "Après.",
                        "mime_type": "image/png", "filename": "a.png"}]
        s.add(post)
    assert client.get(path).status_code == 404
    gone = png(colour=(5, 6, 7))
    media_id = library_image(engine, gone)
    gone_path = path_of(str(media_id), gone, "image/png")
    with db.session_scope(engine) as s:
        media_library.delete_image(s, actor=EDITOR, media_id=media_id)
    assert client.get(gone_path).status_code == 404


@pytest.mark.parametrize("path", [
    "/m/", "/m", "/m/..", "/m/%2e%2e/secret.key", "/m/..%2fsecret.key", "/m/secret.key", "/m/porte-voix.db",
    "/m/1/2", "/m/%00", "/m/1.png",
])
def test_no_file_of_the_server_is_reachable(engine: sa.Engine, client: TestClient, path: str) -> None:
    library_image(engine, png())
    response = client.get(path, follow_redirects=True)
    assert response.status_code == 404
    assert not response.headers.get("content-type", "").startswith("image/")
    assert get_settings().secret_key.encode() not in response.content
    assert b"SQLite format" not in response.content


def test_the_operators_check_address_serves_the_image_and_expires(engine: sa.Engine, client: TestClient,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app

    data = png(30, 20)
    media_id = library_image(engine, data)
    monkeypatch.setenv("PORTEVOIX_MEDIA_BASE_URL", "")
    get_settings.cache_clear()
    refused = CliRunner().invoke(app, ["links", "media-url", str(media_id)])
    assert refused.exit_code == 1 and "PORTEVOIX_MEDIA_BASE_URL" in refused.output
    monkeypatch.setenv("PORTEVOIX_MEDIA_BASE_URL", BASE)
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["links", "media-url", str(media_id), "--minutes", "2"])
    assert result.exit_code == 0, result.output
    url = result.stdout.strip()
    assert url.startswith(BASE + f"/m/{media_id}.") and url.endswith(".png")
    assert client.get(url.removeprefix(BASE)).content == data
    expires = int(url.removeprefix(BASE + "/m/").split(".")[1])
    assert 100 < expires - time.time() <= 120
    get_settings.cache_clear()
