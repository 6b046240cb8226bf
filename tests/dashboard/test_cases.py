from __future__ import annotations

import pyarrow as pa
import pytest

from orchestrator.models import Case, Delivery
from tests.dashboard.helpers import texts


def _case(session, slug: str = "juan-lopez") -> Case:
    return session.query(Case).filter_by(slug=slug).one()


def test_it_shows_story_and_ask_in_both_languages(app):
    at = app("victor", "cases")
    shown = texts(at)
    assert "Juan López" in "\n".join(e.label for e in at.expander)
    assert "Histoire" in shown and "Demande" in shown and "**Anglais**" in shown and "English" not in shown


def test_pausing_a_case_holds_everything_queued_for_it_at_once(app, scheduled, session):
    ids = [scheduled(), scheduled(state="retrying")]
    other = scheduled(case="sonia-dahmani")
    at = app("edith", "cases")
    at.button(key="case_pause_juan-lopez").click().run()
    assert any("raison" in e.value for e in at.error)  # a reason is required
    at.text_input(key="case_reason_juan-lopez").input("Demande de la famille")
    at.button(key="case_pause_juan-lopez").click().run()
    assert not at.exception
    assert [session.get(Delivery, i).state for i in ids] == ["held", "held"]
    assert session.get(Delivery, other).state == "scheduled"
    case = _case(session)
    assert (case.status, case.status_note) == ("paused", "Demande de la famille")
    assert "2 envoi(s) retenu(s)" in texts(at)


def test_resuming_takes_an_approver_and_releases_them(app, scheduled, session):
    delivery_id = scheduled()
    at = app("edith", "cases")
    at.text_input(key="case_reason_juan-lopez").input("Bonne nouvelle à vérifier")
    at.button(key="case_pause_juan-lopez").click().run()
    assert "case_resume_juan-lopez" not in {b.key for b in at.button}  # editors cannot resume
    at = app("alain", "cases")
    at.button(key="case_resume_juan-lopez").click().run()
    assert _case(session).status == "active"
    assert session.get(Delivery, delivery_id).state == "scheduled"


def test_a_viewer_cannot_pause(app):
    at = app("victor", "cases")
    assert not [b for b in at.button if b.key and b.key.startswith("case_pause_")]


# ---------------------------------------------------------------------------------------------
# Editing, order, status history and the good-news post (issue 8)


def test_an_editor_creates_a_case_in_both_languages(app, session):
    at = app("edith", "cases")
    prefix = "case_form__new"
    at.text_input(key=f"{prefix}_slug").input("nadia-exemple")
    for field, (fr, en) in {
        "person": ("Nadia Exemple", "Nadia Example"), "country": ("Pérou", "Peru"),
        "authority": ("Procureur général", "Attorney General"), "solidarity_to": ("Nadia", "Nadia"),
        "solidarity_address": ("Remis par Amnistie", "Delivered by Amnesty"),
        "image_alt": ("Nadia sourit.", "Nadia smiles."),
    }.items():
        at.text_input(key=f"{prefix}_{field}_fr").input(fr)
        at.text_input(key=f"{prefix}_{field}_en").input(en)
    at.text_area(key=f"{prefix}_story_fr").input("Défenseure des terres.")
    at.text_area(key=f"{prefix}_story_en").input("A land defender.")
    at.text_area(key=f"{prefix}_ask_fr").input("sa libération")
    # the English ask is missing: nothing is saved and the field is named
    at.text_input(key=f"{prefix}_country_code").input("pe")
    at.number_input(key=f"{prefix}_goal").set_value(4000)
    submit = next(b for b in at.button if b.label == "Enregistrer le cas")
    submit.click().run()
    assert any("ask.en" in e.value for e in at.error)
    assert session.query(Case).filter_by(slug="nadia-exemple").first() is None
    session.rollback()  # SQLite: a reading session holds the single writer's lock until it ends
    at.text_area(key=f"{prefix}_ask_en").input("her release")
    next(b for b in at.button if b.label == "Enregistrer le cas").click().run()
    assert not at.exception
    case = session.query(Case).filter_by(slug="nadia-exemple").one()
    assert (case.country_code, case.goal, case.position, case.ask["en"]) == ("PE", 4000, 9, "her release")
    assert "Cas Nadia Exemple enregistré." in texts(at)


def test_editing_a_case_keeps_approved_text_frozen(app, scheduled, session):
    delivery_id = scheduled()
    before = session.get(Delivery, delivery_id).rendered_text
    session.rollback()
    at = app("edith", "cases")
    at.selectbox(key="case_edit_which").set_value("juan-lopez").run()
    at.text_area(key="case_form_juan-lopez_ask_fr").input("une demande toute neuve")
    assert "Les publications déjà approuvées gardent leur texte" in texts(at)
    next(b for b in at.button if b.label == "Enregistrer le cas").click().run()
    assert not at.exception and not at.error
    session.expire_all()
    assert _case(session).ask["fr"] == "une demande toute neuve"
    assert session.get(Delivery, delivery_id).rendered_text == before


def test_moving_a_case_down(app, session):
    first = session.query(Case).order_by(Case.position).first().slug
    session.rollback()
    at = app("edith", "cases")
    at.button(key=f"case_down_{first}").click().run()
    session.expire_all()
    assert session.query(Case).filter_by(slug=first).one().position == 2
    assert f"case_up_{first}" in {b.key for b in at.button}


def test_good_news_holds_the_queue_keeps_a_dated_note_and_offers_a_post(app, scheduled, session):
    from orchestrator.models import Post

    delivery_id = scheduled(case="sonia-dahmani", text="Écrivez pour Sonia !")
    at = app("edith", "cases")
    at.selectbox(key="case_status_sonia-dahmani").set_value("good_news")
    at.text_input(key="case_reason_sonia-dahmani").input("Libérée le 27 novembre 2025")
    at.button(key="case_pause_sonia-dahmani").click().run()
    assert not at.exception
    assert session.get(Delivery, delivery_id).state == "held"
    session.rollback()
    shown = texts(at)
    assert "Historique du statut" in shown and "Libérée le 27 novembre 2025" in shown
    text = at.text_area(key="case_gn_text_sonia-dahmani_fr").value
    assert text.startswith("🎉 Bonne nouvelle pour Sonia Dahmani")
    at.button(key="case_gn_create_sonia-dahmani").click().run()
    assert not at.exception
    post = session.query(Post).filter(Post.text.startswith("🎉")).one()
    assert (post.status, post.case_id) == ("pending", None)
    assert f"Publication n° {post.id} créée" in texts(at)


def test_a_case_shows_its_published_posts_and_their_figures_on_demand(app, busy, running_campaign):
    at = app("victor", "cases")
    assert not at.dataframe  # nothing read until asked: the page stays fast
    at.toggle(key="case_posts_juan-lopez").set_value(True).run()
    assert not at.exception
    (frame,) = at.dataframe
    table = frame.value
    assert list(table.columns)[2:7] == ["Vues", "J'aime", "Partages", "Réponses", "Clics"]
    (row,) = table.to_dict("records")
    assert (row["Vues"], row["Clics"]) == (12027, 17)  # sorted as numbers
    shown = pa.ipc.open_stream(frame.proto.arrow_data.styler.display_values).read_pandas()
    assert shown["Vues"].iloc[0] in ("12\u202f027", "12\xa0027")  # written the French way
    at = app("victor", "cases", lang="en")
    at.toggle(key="case_posts_sonia-dahmani").set_value(True).run()
    assert "Nothing published for this case yet." in texts(at)


def test_the_reason_is_emptied_once_the_case_is_paused_and_resumed(app, session):
    at = app("alain", "cases")
    at.text_input(key="case_reason_juan-lopez").input("Demande de la famille")
    at.button(key="case_pause_juan-lopez").click().run()
    assert _case(session).status_note == "Demande de la famille"
    session.rollback()
    assert at.text_input(key="case_reason_juan-lopez").value == ""  # not offered again for the next change
    at.text_input(key="case_note_juan-lopez").input("Vérifié")
    at.button(key="case_resume_juan-lopez").click().run()
    assert _case(session).status == "active"
    session.rollback()
    assert at.text_input(key="case_reason_juan-lopez").value == ""
    at.button(key="case_pause_juan-lopez").click().run()  # a new pause asks for a new reason
    assert any("raison" in e.value for e in at.error)


@pytest.mark.parametrize(("lang", "button", "words"), [
    ("fr", "Changer le motif", "Sonia Dahmani : désormais « Bonne nouvelle »"),
    ("en", "Change the kind", "Sonia Dahmani: now “Good news”")])
def test_a_paused_case_moved_to_good_news_is_not_said_to_be_paused_again(app, bare_engine, lang, button, words):
    from sqlmodel import select

    from orchestrator import db
    from orchestrator.services import case_edit
    from orchestrator.services.auth import Actor
    from tests.dashboard.helpers import stored

    with db.session_scope(bare_engine) as s:
        sonia = s.exec(select(Case).where(Case.slug == "sonia-dahmani")).one()
        case_edit.set_status(s, actor=Actor("edith", "editor"), case_id=sonia.id, status="paused", note="On attend")
    at = app("edith", "cases", lang=lang)
    assert at.button(key="case_pause_sonia-dahmani").label == button  # not « Mettre en pause »: it is paused
    at.selectbox(key="case_status_sonia-dahmani").set_value("good_news")
    at.text_input(key="case_reason_sonia-dahmani").input("Libérée")
    at.button(key="case_pause_sonia-dahmani").click().run()
    assert not at.exception
    flash = [e.value for e in at.success]
    assert any(words in f for f in flash) and not any("en pause" in f or "paused" in f for f in flash), flash
    [sonia] = stored(bare_engine, select(Case).where(Case.slug == "sonia-dahmani"))
    assert sonia.status == "good_news"


def test_a_case_s_status_agrees_with_the_word_cas_in_french(app, bare_engine):
    """« un cas » is masculine: its card reads « Actif », « Fermé », not « Active », « Fermée »
    (seen on the Cases page in a browser)."""
    from sqlmodel import select

    from orchestrator import db
    from orchestrator.services import case_edit
    from orchestrator.services.auth import Actor

    with db.session_scope(bare_engine) as s:
        sonia = s.exec(select(Case).where(Case.slug == "sonia-dahmani")).one()
        case_edit.set_status(s, actor=Actor("edith", "editor"), case_id=sonia.id, status="closed", note="Fin")
    labels = [e.label for e in app("victor", "cases").expander]
    assert any(label.endswith("Juan López · Actif") for label in labels), labels
    assert any(label.endswith("Sonia Dahmani · Fermé") for label in labels), labels
