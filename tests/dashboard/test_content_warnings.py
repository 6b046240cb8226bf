"""Content warnings on the pages, in French and English: the case form sets the default, Compose
fills it in (and lets staff change it), the preview folds the text behind it as Mastodon does,
and Approvals shows it to the approver."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Case, Post
from orchestrator.services import case_edit, posts
from orchestrator.services.auth import SYSTEM
from tests.dashboard.helpers import stored, texts

WARNING = {"fr": "Torture, mort en détention", "en": "Torture, death in custody"}
SAVE = {"fr": "Enregistrer le cas", "en": "Save the case"}


def _default(engine, **changes) -> None:
    with db.session_scope(engine) as s:
        case = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        case_edit.update_case(s, actor=SYSTEM, case_id=case.id, changes={
            "content_warning": WARNING, "visibility": "unlisted", "self_labels": ["graphic-media"], **changes})


def _edit_juan(at, engine) -> None:
    """Pick Juan López in the case form by position (its label is in the reader's language)."""
    slugs = [c.slug for c in stored(engine, select(Case).order_by(Case.position))]
    at.selectbox(key="case_edit_which").select_index(slugs.index("juan-lopez") + 1).run()
    assert at.selectbox(key="case_edit_which").value == "juan-lopez"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_case_form_sets_the_default_warning(app, bare_engine, lang):
    at = app("edith", "cases", lang=lang)
    _edit_juan(at, bare_engine)
    prefix = "case_form_juan-lopez"
    at.text_input(key=f"{prefix}_content_warning_fr").input(WARNING["fr"])
    at.text_input(key=f"{prefix}_content_warning_en").input(WARNING["en"])
    at.selectbox(key=f"{prefix}_visibility").set_value("unlisted")
    at.multiselect(key=f"{prefix}_labels").set_value(["graphic-media"])
    shown = texts(at)
    assert {"fr": "Avertissement par défaut des publications", "en": "Default warning for posts"}[lang] in shown
    next(b for b in at.button if b.label == SAVE[lang]).click().run()
    assert not at.exception and not at.error
    [case] = stored(bare_engine, select(Case).where(Case.slug == "juan-lopez"))
    assert (case.content_warning, case.visibility, case.self_labels) == (WARNING, "unlisted", ["graphic-media"])
    shown = texts(at).replace("\\", "")  # the card's caption, its markup neutralised
    assert {"fr": "Avertissement par défaut : Torture, mort en détention",
            "en": "Default warning: Torture, death in custody"}[lang] in shown


@pytest.mark.parametrize(("lang", "said"), [("fr", "content_warning.en : champ obligatoire manquant"),
                                             ("en", "content_warning.en: required field missing")])
def test_a_default_warning_in_one_language_is_refused_and_not_saved(app, bare_engine, lang, said):
    at = app("edith", "cases", lang=lang)
    _edit_juan(at, bare_engine)
    at.text_input(key="case_form_juan-lopez_content_warning_fr").input(WARNING["fr"])
    next(b for b in at.button if b.label == SAVE[lang]).click().run()
    assert not at.exception
    assert any(said in e.value.replace("\\", "") for e in at.error)
    [case] = stored(bare_engine, select(Case).where(Case.slug == "juan-lopez"))
    assert case.content_warning == {}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compose_fills_in_the_case_default_and_the_preview_folds_the_text(app, bare_engine, four_accounts, lang):
    _default(bare_engine)
    at = app("edith", "compose", lang=lang)
    at.selectbox(key="compose_case").set_value("juan-lopez").run()
    assert at.text_input(key="compose_cw").value == WARNING["fr"]  # the post is in French
    assert at.selectbox(key="compose_visibility").value == "unlisted"
    assert at.multiselect(key="compose_labels").value == ["graphic-media"]
    at.text_area(key="compose_text").input("Écrivez pour Juan López.")
    at.multiselect(key="compose_accounts").set_value(four_accounts).run()
    assert not at.exception
    shown = texts(at).replace("\\", "")  # captions have their markup neutralised
    assert "⚠️ **Torture, mort en détention**" in shown
    folded = {"fr": "Le texte est replié derrière l'avertissement", "en": "The text is folded behind the warning"}
    assert folded[lang] in shown
    # folded on Mastodon until "Show more"; shown as it is on X, Facebook and Bluesky
    assert [e.value for e in at.text].count("Écrivez pour Juan López.") == 3
    assert {"fr": "Visibilité : Non listée", "en": "Visibility: Unlisted"}[lang] in shown
    assert {"fr": "Étiquettes Bluesky : Images violentes", "en": "Bluesky labels: Graphic media"}[lang] in shown
    assert {"fr": "X n'a pas de champ de langue", "en": "X has no language field"}[lang] in shown
    assert {"fr": "Facebook n'a pas de champ de langue", "en": "Facebook has no language field"}[lang] in shown
    assert {"fr": "Mastodon n'a pas de champ", "en": "Mastodon has no language"}[lang] not in shown
    at.toggle(key="compose_cw_show_mastodon-fr").set_value(True).run()
    assert [e.value for e in at.text].count("Écrivez pour Juan López.") == 4
    at.button(key="compose_save").click().run()
    assert not at.exception
    [post] = stored(bare_engine, select(Post))
    assert (post.content_warning, post.visibility, post.self_labels) == (WARNING["fr"], "unlisted", ["graphic-media"])


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compose_lets_staff_change_the_default_for_one_post(app, bare_engine, lang):
    _default(bare_engine)
    at = app("edith", "compose", lang=lang)
    at.selectbox(key="compose_case").set_value("juan-lopez").run()
    at.radio(key="compose_language").set_value("en").run()
    assert at.text_input(key="compose_cw").value == WARNING["en"]  # the English post, the English default
    at.text_input(key="compose_cw").input("Graphic account of violence")
    at.selectbox(key="compose_visibility").set_value("public")
    at.multiselect(key="compose_labels").set_value([])
    at.text_area(key="compose_text").input("Write for Juan López.").run()
    assert {"fr": "Modifié par rapport aux valeurs par défaut du cas.",
            "en": "Changed from the case's defaults."}[lang] in texts(at)
    at.button(key="compose_save").click().run()
    assert not at.exception
    [post] = stored(bare_engine, select(Post))
    assert (post.language, post.content_warning, post.visibility, post.self_labels) == (
        "en", "Graphic account of violence", "public", [])
    assert at.text_input(key="compose_cw").value == WARNING["en"]  # a new form: the case default again


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_warning_too_long_for_mastodon_is_refused_in_the_readers_language(app, bare_engine, four_accounts, lang):
    at = app("edith", "compose", lang=lang)
    at.selectbox(key="compose_case").set_value("juan-lopez").run()
    at.text_area(key="compose_text").input("Écrivez pour Juan López. " + "x" * 440)
    at.multiselect(key="compose_accounts").set_value(["mastodon-fr"])
    at.text_input(key="compose_cw").input("w" * 60).run()
    said = {"fr": "l'avertissement en compte 60", "en": "the content warning counts 60"}[lang]
    assert said in texts(at)  # the preview says it before anything is sent
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert any(said in e.value for e in at.error)
    assert stored(bare_engine, select(Post)) == []


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_approver_sees_the_warning(app, bare_engine, lang):
    _default(bare_engine)
    with db.session_scope(bare_engine) as s:
        posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López.", submit=True)
    at = app("alain", "approvals", lang=lang)
    assert not at.exception
    assert {"fr": "Avertissement de contenu (Mastodon) : Torture, mort en détention",
            "en": "Content warning (Mastodon): Torture, mort en détention"}[lang] in texts(at).replace("\\", "")
