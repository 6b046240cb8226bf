"""Calls to action on the templates page: everyone sees the edition's list, editors create and
change them there (even in an edition that has none yet), refusals are shown, not raised."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from orchestrator import db
from orchestrator.models import CallToAction, Campaign, Template
from orchestrator.services import campaign_admin
from orchestrator.services.auth import Actor
from tests.dashboard.helpers import texts


def _table(at) -> str:
    return at.dataframe[0].value.to_csv()



def _fill_and_save(at, slug: str, labels: tuple[str, str], texts_: tuple[str, str]) -> None:  # noqa: ANN001
    """The new call to action's identifier, labels and texts (French, English), then save."""
    at.text_input(key="action_new_slug").input(slug)
    at.text_input(key="action_new_label_fr").input(labels[0])
    at.text_input(key="action_new_label_en").input(labels[1])
    at.text_area(key="action_new_text_fr").input(texts_[0])
    at.text_area(key="action_new_text_en").input(texts_[1])
    at.button(key="actions_save").click().run()

def test_an_editor_creates_a_call_to_action_and_it_is_listed_and_saved(app, session):
    at = app("edith", "templates")
    assert "Appels à l'action" in texts(at) and "Signer la pétition" in _table(at)
    assert "partager-le-cas" not in _table(at)
    at.selectbox(key="action_new_kind").set_value("event")
    at.text_input(key="action_new_url_fr").input("https://amnistie.ca/partager")
    at.selectbox(key="action_new_key_date").set_value("marathon-montreal")
    _fill_and_save(at, "partager-le-cas", ("Partager le cas", "Share the case"),
                   ("Parlez du cas autour de vous.", "Tell people around you about the case."))
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Appel à l'action partager-le-cas enregistré." in [s.value for s in at.success]
    table = _table(at)
    assert "Partager le cas" in table and "Événement" in table and "https://amnistie.ca/partager" in table
    assert "Grand marathon d'écriture de Montréal" in table  # the key date by its name
    action = session.exec(select(CallToAction).where(CallToAction.slug == "partager-le-cas")).one()
    assert (action.kind, action.key_date) == ("event", "marathon-montreal")
    assert action.label == {"fr": "Partager le cas", "en": "Share the case"}
    assert action.url == {"fr": "https://amnistie.ca/partager"}
    assert at.selectbox(key="actions_which").value == action.id  # the new one is now the one shown
    assert at.text_input(key=f"action_{action.id}_slug").value == "partager-le-cas"
    session.rollback()

    # a second one with the same identifier is refused on the page, in French
    at.selectbox(key="actions_which").set_value(None).run()
    assert at.text_input(key="action_new_slug").value == ""  # the new form was emptied
    at.text_input(key="action_new_slug").input("partager-le-cas")
    at.text_input(key="action_new_label_fr").input("Encore")
    at.text_input(key="action_new_label_en").input("Again")
    at.text_area(key="action_new_text_fr").input("Encore.")
    at.text_area(key="action_new_text_en").input("Again.")
    at.button(key="actions_save").click().run()
    assert any("existe déjà" in e.value for e in at.error)
    assert len(session.exec(select(CallToAction).where(CallToAction.slug == "partager-le-cas")).all()) == 1


def test_renaming_an_action_on_the_page_carries_into_its_templates(app, session):
    at = app("edith", "templates")
    petition = session.exec(select(CallToAction.id).where(CallToAction.slug == "signer-la-petition")).one()
    template = session.exec(select(Template.id).where(Template.slug == "petition-fr")).one()
    session.rollback()  # the dashboard writes next: no transaction left open here
    at.selectbox(key="templates_action").set_value("signer-la-petition")  # widgets naming the old slug
    at.selectbox(key="templates_which").set_value(template)
    at.selectbox(key="actions_which").set_value(petition).run()
    at.text_input(key=f"action_{petition}_slug").input("signer-en-ligne")
    at.text_input(key=f"action_{petition}_label_en").input("Sign online")
    at.button(key="actions_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "signer-en-ligne" in _table(at) and "Sign online" not in _table(at)  # labels in French
    assert session.get(CallToAction, petition).label["en"] == "Sign online"
    slugs = session.exec(select(Template.action_slug).where(Template.slug.in_(["petition-fr", "petition-en"]))).all()
    assert set(slugs) == {"signer-en-ligne"}
    assert at.selectbox(key=f"template_{template}_action").value == "signer-en-ligne"
    assert at.selectbox(key="templates_action").value is None  # the filter forgot the old name


def test_a_viewer_sees_the_list_but_no_form(app):
    at = app("victor", "templates")
    assert "Signer la pétition" in _table(at)
    keys = {w.key for kind in ("text_input", "text_area", "selectbox", "button") for w in getattr(at, kind)}
    assert not {k for k in keys if k and k.startswith("action")}, keys
    assert "Créer ou modifier un appel à l'action" not in texts(at)
    english = app("victor", "templates", lang="en")
    assert "Calls to action" in texts(english) and "Sign the petition" in _table(english)
    assert "Solidarity message" in _table(english) and "Montréal Write-a-thon" in _table(english)


def test_an_edition_without_actions_still_offers_the_new_action_form(app, bare_engine, session):
    with db.session_scope(bare_engine) as s:
        source = s.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
        empty = campaign_admin.create_campaign(s, actor=Actor("ada", "admin"), data={
            "slug": "ecrire-2026", "name": {"fr": "Écrire 2026", "en": "Write 2026"}, "timezone": source.timezone,
            "starts_on": dt.date(2026, 11, 2), "ends_on": dt.date(2026, 12, 31),
            "hashtags": dict(source.hashtags), "goal": 1000, "link_rules": {"utm_campaign": "ecrire-2026"}})
        empty_id = empty.id
    at = app("edith")
    at.session_state["campaign_id"] = empty_id
    at.switch_page("views/templates.py")
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "Aucun appel à l'action dans cette édition pour l'instant." in shown
    assert "créez-en un ci-dessus" in shown and not at.dataframe
    _fill_and_save(at, "ecrire-une-lettre", ("Écrire une lettre", "Write a letter"),
                   ("Écrivez à l'autorité.", "Write to the authority."))
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Écrire une lettre" in _table(at)
    created = session.exec(select(CallToAction).where(CallToAction.campaign_id == empty_id)).one()
    assert (created.slug, created.kind) == ("ecrire-une-lettre", "letter")
