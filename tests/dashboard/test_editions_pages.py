"""The pages of issue 8: editions (and the sidebar's edition menu), media library, templates,
and the marathon counter, with its public page opened by the secret link and no login."""

from __future__ import annotations

import datetime as dt
import io

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from orchestrator import db
from orchestrator.models import Campaign, Case, MediaItem, Response, Template
from orchestrator.services import counter, media_library
from orchestrator.services.auth import Actor
from tests.dashboard.conftest import APP
from tests.dashboard.helpers import texts

ALT = {"fr": "Juan López près de la rivière.", "en": "Juan López by the river."}


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (24, 16), (10, 120, 40)).save(out, format="PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# Editions


def test_an_admin_copies_the_edition_and_the_sidebar_switches_to_it(app, session):
    at = app("ada", "campaigns")
    assert "Écrire, ça libère ! 2025" in texts(at) and "En cours" in texts(at)
    at.text_input(key="copy_slug").input("ecrire-2026")
    at.text_input(key="copy_name_fr").input("Écrire, ça libère ! 2026")
    at.text_input(key="copy_name_en").input("Write for Rights 2026")
    at.date_input(key="copy_start").set_value(dt.date(2026, 11, 2))
    at.date_input(key="copy_end").set_value(dt.date(2027, 1, 31))
    next(b for b in at.button if b.label == "Copier").click().run()
    assert not at.exception and not at.error
    copy = session.exec(select(Campaign).where(Campaign.slug == "ecrire-2026")).one()
    copy_id = copy.id
    assert not copy.is_current
    assert session.exec(select(Template).where(Template.campaign_id == copy_id)).first() is not None
    session.rollback()  # SQLite: a reading session holds the single writer's lock until it ends
    # the new edition is the one shown now; the sidebar says it is not the current one
    assert at.sidebar.selectbox(key="campaign_id").value == copy_id
    assert "n'est pas l'édition en cours" in "\n".join(i.value for i in at.sidebar.info)
    at.switch_page("views/cases.py").run()
    assert not at.exception and not at.expander  # no case copied
    at.sidebar.selectbox(key="campaign_id").set_value(1).run()
    assert "Juan López" in "\n".join(e.label for e in at.expander)


def test_the_admin_edits_the_edition_and_errors_are_named(app, session):
    at = app("ada", "campaigns")
    at.text_input(key="edition_tz").input("Mars/Olympus")
    next(b for b in at.button if b.label == "Enregistrer").click().run()
    assert any("timezone" in e.value for e in at.error)
    at.text_input(key="edition_tz").input("America/Montreal")
    at.number_input(key="edition_goal").set_value(123000)
    next(b for b in at.button if b.label == "Enregistrer").click().run()
    assert not at.error
    campaign = session.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
    assert (campaign.timezone, campaign.goal) == ("America/Montreal", 123000)


def test_others_read_the_editions_without_acting(app):
    """Editors change only the edition's listening terms here (tests/dashboard/test_listening_terms.py),
    and are told the rest is an admin's; viewers read."""
    at = app("edith", "campaigns")
    assert not at.exception
    assert not [b for b in at.button if b.key and b.key.startswith("edition_")]
    assert "Les autres réglages de l'édition sont modifiés par l'administration." in texts(at)
    viewer = app("victor", "campaigns")
    assert not [b for b in viewer.button if b.key and "edition_" in b.key]
    assert "Lecture seule" in texts(viewer)


# ---------------------------------------------------------------------------------------------
# Media library


def _library_image(engine) -> int:
    with db.session_scope(engine) as s:
        return media_library.add_image(s, actor=Actor("edith", "editor"), campaign_id=1, case_slug="juan-lopez",
                                       data=_png(), filename="juan.png", alt=ALT, credit="© AI").id  # type: ignore[return-value]


def test_the_library_lists_edits_and_deletes_an_unused_image(app, bare_engine, session):
    media_id = _library_image(bare_engine)
    at = app("edith", "media")
    shown = texts(at)
    assert "juan.png" in shown and "© AI" in shown and "24×16 px" in shown
    at.text_input(key=f"media_alt_en_{media_id}").input("Juan by the Guapinol river.")
    next(b for b in at.button if b.label == "Enregistrer").click().run()
    assert session.get(MediaItem, media_id).alt["en"] == "Juan by the Guapinol river."
    session.rollback()
    at.button(key=f"media_delete_{media_id}").click().run()
    assert not at.exception and not at.error
    assert session.get(MediaItem, media_id) is None


def test_an_image_a_scheduled_post_uses_stays(app, bare_engine, scheduled, session):
    from orchestrator.models import Delivery, Post

    media_id = _library_image(bare_engine)
    delivery_id = scheduled()
    with db.session_scope(bare_engine) as s:
        post = s.get(Post, s.get(Delivery, delivery_id).post_id)
        post.images = [{"media_id": media_id, "alt": ALT["fr"]}]
        s.add(post)
    at = app("edith", "media")
    assert f"Utilisée par les publications : {post.id}" in texts(at)
    at.button(key=f"media_delete_{media_id}").click().run()
    assert any("encore utilisée" in e.value for e in at.error)
    assert session.get(MediaItem, media_id) is not None


def test_the_composer_picks_an_image_from_the_library(app, bare_engine):
    media_id = _library_image(bare_engine)
    at = app("edith", "compose")
    at.selectbox(key="compose_case").set_value("juan-lopez").run()
    at.button(key="compose_add_library").click().run()
    assert not at.exception
    assert at.session_state["compose_images"] == [
        {"media_id": media_id, "alt": ALT["fr"], "filename": "juan.png", "mime_type": "image/png"}]


# ---------------------------------------------------------------------------------------------
# Templates


def test_a_template_too_long_says_so_before_it_is_used(app, account, session):
    at = app("edith", "templates")
    assert "Tient partout (X)" in texts(at)
    at.text_input(key="template_new_slug").input("long-fr")
    at.text_area(key="template_new_body").input("Exigez {ask} — écrivez à {authority} pour {person}. " * 4 + "{link}")
    at.button(key="templates_check").click().run()
    assert any("Trop long sur X" in w.value for w in at.warning)
    at.button(key="templates_save").click().run()
    assert not at.error
    assert session.exec(select(Template).where(Template.slug == "long-fr")).one().language == "fr"
    session.rollback()
    at.text_area(key="template_new_body").input("Pour {persone}")
    at.text_input(key="template_new_slug").input("faute-fr")
    at.button(key="templates_save").click().run()
    assert any("persone" in e.value for e in at.error)


# ---------------------------------------------------------------------------------------------
# The marathon counter


def _tally(engine, slug: str, kind: str, n: int) -> None:
    with db.session_scope(engine) as s:
        case = s.exec(select(Case).where(Case.slug == slug)).one()
        campaign = s.get(Campaign, case.campaign_id)
        from zoneinfo import ZoneInfo

        today = dt.datetime.now(ZoneInfo(campaign.timezone)).date()
        s.add(Response(case_id=case.id, kind=kind, count=n, day=today, source_type="tally", entered_by="edith"))


def test_an_admin_publishes_the_counter_and_the_link_opens_it_without_login(app, bare_engine, session):
    _tally(bare_engine, "juan-lopez", "letter", 312)
    _tally(bare_engine, "sonia-dahmani", "solidarity", 88)
    at = app("ada", "counter")
    at.number_input(key="counter_goal").set_value(4000)
    at.button(key="counter_publish").click().run()
    assert not at.exception
    link = at.code[0].value
    token = link.split("?counter=")[1]
    assert len(token) > 30 and "Lien à ouvrir" in texts(at)

    public = AppTest.from_file(APP, default_timeout=60)
    public.query_params["counter"] = token
    public.run()
    assert not public.exception
    shown = texts(public)
    assert "400 Lettres et cartes aujourd" in shown and "Juan López — 312" in shown and "4\xa0000" in shown
    assert not public.sidebar.radio and not public.button and not public.text_input  # nothing else

    at.button(key="counter_unpublish").click().run()
    public.run()
    assert "n'est pas (ou plus) valide" in texts(public) and "312" not in texts(public)


def test_only_admins_publish_and_a_wrong_token_shows_nothing(app, bare_engine):
    at = app("alain", "counter")
    assert "counter_publish" not in {b.key for b in at.button}
    with db.session_scope(bare_engine) as s:
        counter.publish(s, actor=Actor("ada", "admin"), campaign_id=1)
    public = AppTest.from_file(APP, default_timeout=60)
    public.query_params["counter"] = "pas-le-bon"
    public.run()
    assert [e.value for e in public.error] == ["Ce lien n'est pas (ou plus) valide."]
    assert not public.metric
