"""The media library page: any file reaches the page, which decodes it and says in the reader's
language why it is refused; one image whose bytes are gone does not break the list."""

from __future__ import annotations

import io

import pytest
from babel.numbers import format_decimal
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign, MediaBlob, MediaItem
from orchestrator.services import media_library
from orchestrator.services.auth import Actor
from tests.dashboard.helpers import stored, texts

ALT = {"fr": "Juan López devant la rivière.", "en": "Juan López by the river."}


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1200, 800), (20, 90, 160)).save(out, format="PNG")
    return out.getvalue()


def _fill(at, name: str, data: bytes):
    at.file_uploader(key="media_file").set_value((name, data, "application/octet-stream"))
    at.text_area(key="media_alt_fr").input(ALT["fr"])
    at.text_area(key="media_alt_en").input(ALT["en"])
    return at


def _upload_button(at):
    return next(b for b in at.button if b.proto.is_form_submitter and b.proto.form_id == "media_add")


@pytest.mark.parametrize("lang, words", [("fr", "n'est pas une image"), ("en", "is not a readable")])
def test_a_file_that_is_not_an_image_is_refused_in_words(app, bare_engine, lang, words):
    at = app("edith", "media", lang=lang)
    assert at.file_uploader(key="media_file").allowed_type == []  # no bare red mark for a .txt
    for name, data in (("notes.txt", b"hello"), ("photo.png", b"text dressed as a picture")):
        _fill(at, name, data)
        _upload_button(at).click().run()
        assert any(name in e.value and words in e.value for e in at.error), [e.value for e in at.error]
    assert stored(bare_engine, select(MediaItem)) == []


def test_uploading_without_a_file_says_so(app):
    at = app("edith", "media")
    _upload_button(at).click().run()
    assert any("Choisissez un fichier" in e.value for e in at.error)


def test_a_real_image_is_added_and_its_figures_read_in_french(app, bare_engine):
    at = _fill(app("edith", "media"), "juan.png", _png())
    _upload_button(at).click().run()
    assert not at.exception and not at.error
    (item,) = stored(bare_engine, select(MediaItem))
    assert item.mime_type == "image/png"
    thousand = format_decimal(1200, locale="fr_CA")  # a thousand as French readers write it, not "1200"
    assert f"{thousand}×800 px" in texts(at)


def test_an_image_whose_bytes_are_gone_says_so_on_its_card_and_the_others_show(app, bare_engine):
    with db.session_scope(bare_engine) as s:
        campaign_id = s.exec(select(Campaign.id)).first()
        kept = media_library.add_image(s, actor=Actor("edith", "editor"), campaign_id=campaign_id, case_slug=None,
                                       data=_png(), filename="garde.png", alt=ALT).id
        lost = media_library.add_image(s, actor=Actor("edith", "editor"), campaign_id=campaign_id,
                                       case_slug="juan-lopez", data=_png(), filename="perdue.png",
                                       alt=ALT).id
        s.delete(s.get(MediaBlob, lost))
    at = app("edith", "media")
    assert not at.exception
    assert any(f"Image n° {lost}" in e.value for e in at.error)
    assert f"media_delete_{kept}" in {b.key for b in at.button}
    assert f"media_delete_{lost}" in {b.key for b in at.button}
