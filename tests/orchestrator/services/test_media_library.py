"""The media library: real images only, once per case, in the database or on disk, picked by
posts by reference, and kept while a post that may still go out uses them."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Campaign, Delivery, MediaBlob, MediaItem, Post
from orchestrator.services import deliveries, media_library
from orchestrator.services.auth import PermissionDenied, ServiceError
from orchestrator.services.media import load_image
from orchestrator.settings import get_settings
from tests.orchestrator.services.helpers import EDITOR, VIEWER, png, scheduled_post

ALT = {"fr": "Juan López devant la rivière Guapinol.", "en": "Juan López by the Guapinol river."}


def _add(engine, data: bytes | None = None, case: str | None = "juan-lopez", **kw) -> int:
    with db.session_scope(engine) as s:
        campaign_id = s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()
        item = media_library.add_image(s, actor=EDITOR, campaign_id=campaign_id, case_slug=case,
                                       data=png() if data is None else data, filename="juan.png", alt=kw.pop("alt", ALT),
                                       credit=kw.pop("credit", "Photo : Amnesty International"), **kw)
        return item.id  # type: ignore[return-value]


def test_an_image_is_stored_once_in_the_database_and_read_back_by_reference(engine):
    data = png()
    media_id = _add(engine, data)
    with db.session_scope(engine) as s:
        item = s.get(MediaItem, media_id)
        assert (item.mime_type, item.width, item.height, item.storage, item.size) == ("image/png", 40, 30, "db", len(data))
        assert s.get(MediaBlob, media_id).data == data
        loaded = load_image(media_library.reference(item, "en"), s)
        assert (loaded.data, loaded.alt, loaded.mime_type) == (data, ALT["en"], "image/png")
    assert load_image({"media_id": media_id, "alt": "x"}).data == data  # a session of its own
    with pytest.raises(ServiceError, match="déjà dans la bibliothèque"):
        _add(engine, data)
    _add(engine, data, case="sonia-dahmani")  # once per case: another case may hold the same picture


@pytest.mark.parametrize("bad, reason", [
    (b"GIF89a not really", "pas une image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "pas une image"),
    (png()[:60], "pas une image"),  # truncated
    (b"", "vide"),
], ids=["gif-header-only", "png-header-only", "truncated-png", "empty"])
def test_what_is_not_a_real_image_is_refused(engine, bad, reason):
    with pytest.raises(ServiceError, match=reason):
        _add(engine, bad)
    with db.session_scope(engine) as s:
        assert not s.exec(select(MediaItem)).all()


def test_type_size_alt_and_role_are_checked(engine, monkeypatch):
    with pytest.raises(ServiceError, match="PNG, JPEG, GIF ou WebP"):
        _add(engine, png(fmt="BMP"))
    with pytest.raises(ServiceError, match="anglais"):
        _add(engine, alt={"fr": "Seulement en français", "en": " "})
    monkeypatch.setenv("PORTEVOIX_MEDIA_MAX_BYTES", "500")
    get_settings.cache_clear()
    with pytest.raises(ServiceError, match="trop lourde"):
        _add(engine, png(400, 400, fmt="JPEG"))
    get_settings.cache_clear()
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        media_library.add_image(s, actor=VIEWER, campaign_id=1, case_slug=None, data=png(), filename="a.png", alt=ALT)
    assert _add(engine, png(fmt="WEBP"), case=None)  # an image for the whole edition


def test_disk_storage_writes_under_the_media_folder(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("PORTEVOIX_MEDIA_STORAGE", "disk")
    monkeypatch.setenv("PORTEVOIX_MEDIA_DIR", str(tmp_path / "médias"))
    get_settings.cache_clear()
    data = png(fmt="JPEG")
    media_id = _add(engine, data)
    with db.session_scope(engine) as s:
        item = s.get(MediaItem, media_id)
        assert item.storage == "disk" and s.get(MediaBlob, media_id) is None
        path = tmp_path / "médias" / item.path
        assert path.read_bytes() == data and item.path.endswith(".jpg")
        assert load_image({"media_id": media_id, "alt": "x"}, s).data == data
    with db.session_scope(engine) as s:
        media_library.delete_image(s, actor=EDITOR, media_id=media_id)
        assert path.exists()  # removed only once the deletion is committed
    assert not path.exists()


def test_an_image_used_by_a_post_that_may_go_out_cannot_be_deleted(engine):
    media_id = _add(engine)
    other = _add(engine, png(colour=(0, 0, 255)))
    with db.session_scope(engine) as s:
        ref = media_library.reference(s.get(MediaItem, media_id), "fr")
    post_id, delivery_id = scheduled_post(engine, images=[ref])
    with db.session_scope(engine) as s, pytest.raises(ServiceError, match=f"n° {post_id}"):
        media_library.delete_image(s, actor=EDITOR, media_id=media_id)
    # the worker resolves the reference inside its own transaction
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        assert deliveries.post_images(post)[0].data == s.get(MediaBlob, media_id).data
        deliveries.cancel(s, actor=EDITOR, delivery_id=delivery_id)
    with db.session_scope(engine) as s:
        assert s.get(Delivery, delivery_id).state == states.CANCELLED
        media_library.delete_image(s, actor=EDITOR, media_id=media_id)
        media_library.delete_image(s, actor=EDITOR, media_id=other)  # never used
    with db.session_scope(engine) as s:
        assert s.get(MediaItem, media_id) is None and s.get(MediaBlob, media_id) is None


def test_a_draft_that_picked_the_image_keeps_it_and_id_1_is_not_id_12(engine):
    first = _add(engine)
    with db.session_scope(engine) as s:
        from orchestrator.services.posts import create_post

        create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Brouillon",
                    images=[{"media_id": first + 11, "alt": "autre"}])
    with db.session_scope(engine) as s:
        assert media_library.blocking_posts(s, media_id=first) == []
        create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Brouillon", images=[{"media_id": first, "alt": "a"}])
    with db.session_scope(engine) as s, pytest.raises(ServiceError, match="encore utilisée"):
        media_library.delete_image(s, actor=EDITOR, media_id=first)


def test_alt_text_and_credit_can_be_changed(engine):
    media_id = _add(engine)
    with db.session_scope(engine) as s:
        media_library.update_image(s, actor=EDITOR, media_id=media_id, alt={"fr": "Nouveau", "en": "New"}, credit=" AI ")
    with db.session_scope(engine) as s:
        item = s.get(MediaItem, media_id)
        assert (item.alt, item.credit) == ({"fr": "Nouveau", "en": "New"}, "AI")
        assert [i.id for i in media_library.list_images(s, campaign_id=item.campaign_id, case_slug="juan-lopez")] == [media_id]
        assert media_library.list_images(s, campaign_id=item.campaign_id, case_slug="sonia-dahmani") == []


def test_too_heavy_an_image_is_measured_as_each_language_writes_it():
    with pytest.raises(ServiceError) as refused:
        media_library.inspect(b"\x00" * 1_250_000, max_bytes=1_000_000)
    assert "1,2 Mo (au plus 1,0 Mo)" in refused.value.fr and "1.2 MB (at most 1.0 MB)" in refused.value.en
