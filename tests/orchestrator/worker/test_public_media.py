"""Platforms that fetch images themselves (a channel with ``needs_public_media``): the worker hands
them a freshly signed public address for each image, and only them; without a public address set,
such a delivery fails with a message naming the setting and nothing is published."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import ClassVar

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from channels import registry
from channels.base import Published, PublishRequest
from channels.mastodon import MastodonChannel
from channels.x import XChannel
from orchestrator import db, states
from orchestrator.links import create_app
from orchestrator.models import Account, Campaign
from orchestrator.services import media_library
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import delivery
from tests.orchestrator.services.helpers import EDITOR, png, scheduled_post

PUBLIC = "https://lien.example.org"
ALT = {"fr": "Juan López devant la rivière.", "en": "Juan López by the river."}


class FetchingX(XChannel):
    """X's client against its emulator, declared as a platform that fetches images by address."""

    needs_public_media: ClassVar[bool] = True
    seen: ClassVar[list[PublishRequest]] = []

    def publish(self, request: PublishRequest) -> Published:
        FetchingX.seen.append(request)
        return super().publish(request)


class PlainMastodon(MastodonChannel):
    """Mastodon's client as it is (it uploads the bytes), recording what it is asked to publish."""

    seen: ClassVar[list[PublishRequest]] = []

    def publish(self, request: PublishRequest) -> Published:
        PlainMastodon.seen.append(request)
        return super().publish(request)


@pytest.fixture
def fetching(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Accounts of kind ``x`` are served by FetchingX, ``mastodon`` by PlainMastodon, for this test only."""
    monkeypatch.setitem(registry.CHANNELS, "x", f"{__name__}.FetchingX")
    monkeypatch.setitem(registry.CHANNELS, "mastodon", f"{__name__}.PlainMastodon")
    registry.channel_class.cache_clear()
    FetchingX.seen.clear()
    PlainMastodon.seen.clear()
    yield
    monkeypatch.undo()
    registry.channel_class.cache_clear()


def make_worker(engine: sa.Engine, **overrides) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})
    return Worker(engine, settings=settings, worker_id="test-worker")


def with_images(engine: sa.Engine, account: str) -> tuple[int, int, bytes, bytes]:
    """A post due now with a library image and an inline one: (post, delivery, library bytes, inline bytes)."""
    library, inline = png(48, 36, colour=(10, 120, 30)), png(40, 40, colour=(200, 10, 90), fmt="JPEG")
    with db.session_scope(engine) as s:
        campaign_id = s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()
        item = media_library.add_image(s, actor=EDITOR, campaign_id=campaign_id, case_slug="juan-lopez", data=library,
                                       filename="juan.png", alt=ALT)
        reference = media_library.reference(item, "fr")
    post_id, delivery_id = scheduled_post(engine, account=account, in_hours=-0.01, images=[
        reference, {"data": base64.b64encode(inline).decode(), "alt": "Une carte.", "filename": "carte.jpg"}])
    return post_id, delivery_id, library, inline


def test_a_channel_that_fetches_gets_signed_addresses_serving_the_same_bytes(
        engine: sa.Engine, sandbox, fetching, monkeypatch: pytest.MonkeyPatch) -> None:
    account = add_account(engine, "x", name="x-fetch", base_url=sandbox.url)
    _, delivery_id, library, inline = with_images(engine, account)
    make_worker(engine, media_base_url=PUBLIC + "/").run_once()
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    (request,) = FetchingX.seen
    assert [i.data for i in request.images] == [library, inline]
    urls = [i.url for i in request.images]
    assert all(u and u.startswith(PUBLIC + "/m/") for u in urls), urls
    assert urls[0].endswith(".png") and urls[1].endswith(".jpg")
    with TestClient(create_app(engine, flush_seconds=3600)) as client:
        for image, url in zip(request.images, urls, strict=True):
            served = client.get(url.removeprefix(PUBLIC))
            assert served.status_code == 200
            assert (served.content, served.headers["content-type"]) == (image.data, image.mime_type)


def test_a_channel_that_takes_bytes_gets_no_address(engine: sa.Engine, sandbox, fetching) -> None:
    account = add_account(engine, "mastodon", name="masto-plain", base_url=sandbox.url)
    _, delivery_id, library, inline = with_images(engine, account)
    make_worker(engine, media_base_url=PUBLIC).run_once()
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    (request,) = PlainMastodon.seen
    assert [i.data for i in request.images] == [library, inline]
    assert [i.url for i in request.images] == [None, None]


def test_without_a_public_address_the_delivery_fails_naming_the_setting(engine: sa.Engine, sandbox, fetching) -> None:
    account = add_account(engine, "x", name="x-fetch", base_url=sandbox.url)
    _, delivery_id, _, _ = with_images(engine, account)
    _, text_only = scheduled_post(engine, account=account, in_hours=-0.01, text="Sans image.")
    make_worker(engine, media_base_url="").run_once()
    failed = delivery(engine, delivery_id)
    assert (failed.state, failed.last_error_kind) == (states.FAILED, "permanent")
    assert "PORTEVOIX_MEDIA_BASE_URL" in failed.last_error
    assert "adresse publique" in failed.last_error and "public address" in failed.last_error  # both languages
    assert [r.text for r in FetchingX.seen] == [delivery(engine, text_only).rendered_text]  # only the text post
    assert len(sandbox.sandbox.posts("x")) == 1
    assert delivery(engine, text_only).state == states.PUBLISHED


def test_a_real_account_needs_a_public_https_address(engine: sa.Engine, sandbox, fetching) -> None:
    account = add_account(engine, "x", name="x-fetch", base_url=sandbox.url)
    _, delivery_id, _, _ = with_images(engine, account)
    make_worker(engine, media_base_url="http://127.0.0.1:8780").run_once()
    failed = delivery(engine, delivery_id)
    assert failed.state == states.FAILED and "https" in failed.last_error
    assert FetchingX.seen == [] and sandbox.sandbox.posts("x") == []


def test_a_sandbox_account_uses_the_local_link_service(engine: sa.Engine, sandbox, fetching) -> None:
    account = add_account(engine, "x", name="x-fetch", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        s.exec(select(Account).where(Account.name == account)).one().is_sandbox = True
    _, delivery_id, _, _ = with_images(engine, account)
    make_worker(engine, media_base_url="", links_base_url="http://127.0.0.1:8780").run_once()
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    (request,) = FetchingX.seen
    assert all((i.url or "").startswith("http://127.0.0.1:8780/m/") for i in request.images)


def test_status_and_check_say_the_setting_is_needed(engine: sa.Engine, fetching, monkeypatch) -> None:
    from orchestrator.media_urls import missing_for
    from orchestrator.services.status import public_media_note

    add_account(engine, "x", name="x-fetch", base_url="http://127.0.0.1:9")
    monkeypatch.setenv("PORTEVOIX_MEDIA_BASE_URL", "")
    get_settings.cache_clear()
    with db.session_scope(engine) as s:
        note = public_media_note(s)
    assert note and "PORTEVOIX_MEDIA_BASE_URL" in note and "comptes X " in note and "X accounts" in note
    assert missing_for({"mastodon"}) is None  # PlainMastodon takes bytes
    from typer.testing import CliRunner

    from orchestrator.cli import app

    checked = CliRunner().invoke(app, ["check", "x", "Écrivez pour Juan !", "--json"])
    assert json.loads(checked.stdout)["media_note"] == missing_for({"x"}, language="fr")
    english = CliRunner().invoke(app, ["check", "x", "Write for Juan!", "--json", "--language", "en"])
    assert json.loads(english.stdout)["media_note"].startswith("X accounts need PORTEVOIX_MEDIA_BASE_URL")
    assert "media_note" not in json.loads(CliRunner().invoke(app, ["check", "mastodon", "Bonjour", "--json"]).stdout)
    monkeypatch.setenv("PORTEVOIX_MEDIA_BASE_URL", PUBLIC)
    get_settings.cache_clear()
    with db.session_scope(engine) as s:
        assert public_media_note(s) is None
    assert "PORTEVOIX_MEDIA_BASE_URL" not in CliRunner().invoke(app, ["check", "x", "Écrivez pour Juan !"]).stdout
    get_settings.cache_clear()


def test_one_post_on_two_platforms_gets_addresses_only_where_fetched(engine: sa.Engine, sandbox, fetching) -> None:
    """The post's images are read once per claim, shared by its deliveries: the addresses are
    added per delivery, so the account whose platform takes bytes gets none."""
    fetch = add_account(engine, "x", name="x-fetch", base_url=sandbox.url)
    plain = add_account(engine, "mastodon", name="masto-plain", base_url=sandbox.url)
    post_id, first, _, _ = with_images(engine, fetch)
    from orchestrator.services import deliveries

    with db.session_scope(engine) as s:
        second = deliveries.schedule(s, actor=SYSTEM, post_id=post_id, account_name=plain, at=utcnow()).id
    make_worker(engine, media_base_url=PUBLIC).run_once()
    assert delivery(engine, first).state == delivery(engine, second).state == states.PUBLISHED
    assert all(i.url for i in FetchingX.seen[0].images)
    assert all(i.url is None for i in PlainMastodon.seen[0].images)
