from __future__ import annotations

from sqlmodel import select

from orchestrator.models import Delivery, Post
from tests.dashboard.helpers import texts


def _write(at, text: str, accounts: list[str] | None = None):
    at.text_area(key="compose_text").input(text)
    if accounts is not None:
        at.multiselect(key="compose_accounts").set_value(accounts)
    return at.run()


def test_an_editor_submits_a_post_for_approval(app, account, session):
    at = app("edith", "compose")
    _write(at, "Écrivez pour Juan López : https://amnistie.ca/marathon", [account])
    assert "x-fr" in texts(at)  # the per-account preview
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert not at.exception
    post = session.exec(select(Post)).one()
    assert (post.status, post.author, post.language) == ("pending", "edith", "fr")
    delivery = session.exec(select(Delivery)).one()
    assert delivery.post_id == post.id and delivery.state == "scheduled"
    assert "soumise(s) pour approbation" in texts(at)
    assert at.text_area(key="compose_text").value == ""  # the form is emptied


def test_a_draft_is_saved_unscheduled(app, session):
    at = app("edith", "compose")
    _write(at, "Un brouillon")
    at.button(key="compose_save").click().run()
    post = session.exec(select(Post)).one()
    assert post.status == "draft"
    assert session.exec(select(Delivery)).first() is None


def test_live_counter_flags_a_text_too_long_for_x(app, account):
    at = app("edith", "compose")
    _write(at, "é" * 300, [account])
    shown = texts(at)
    assert "300 / 280" in shown
    assert "au-delà de la limite de 280" in shown
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert any("ne convient pas" in e.value for e in at.error)  # the service refuses, nothing saved


def test_a_per_account_adjustment_becomes_its_own_post(app, account, session):
    at = app("edith", "compose")
    _write(at, "Texte commun", [account])
    at.text_area(key="compose_variant_x-fr").input("Texte pour X").run()
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    texts_stored = [p.text for p in session.exec(select(Post))]
    assert texts_stored == ["Texte pour X"]


def test_the_author_sees_the_rejection_comment_and_resubmits(app, session, engine):
    from orchestrator import db
    from orchestrator.services import posts
    from orchestrator.services.auth import Actor

    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", text="Premier jet", submit=True)
        posts.reject_post(s, actor=Actor("alain", "approver"), post_id=post.id, comment="Ajoutez le lien")
        post_id = post.id
    at = app("edith", "compose")
    assert "Ajoutez le lien" in texts(at)
    at.text_area(key=f"mine_text_{post_id}").input("Deuxième jet https://amnistie.ca").run()
    at.button(key=f"mine_submit_{post_id}").click().run()
    stored = session.get(Post, post_id)
    assert (stored.status, stored.text) == ("pending", "Deuxième jet https://amnistie.ca")


def test_a_viewer_cannot_compose(app):
    at = app("victor", "compose")
    assert "Lecture seule" in texts(at)
    assert not [b for b in at.button if b.key in ("compose_save", "compose_submit")]


def test_a_post_links_its_sibling(app, session, engine):
    from orchestrator import db
    from orchestrator.services import posts

    with db.session_scope(engine) as s:
        english = posts.create_post(s, case_slug="juan-lopez", text="Write for Juan", language="en").id
    at = app("edith", "compose")
    _write(at, "Écrivez pour Juan")
    at.selectbox(key="compose_sibling").set_value(english).run()
    at.button(key="compose_save").click().run()
    french = session.exec(select(Post).where(Post.language == "fr")).one()
    assert french.sibling_id == english
    assert session.get(Post, english).sibling_id == french.id


def test_a_post_goes_to_the_edition_chosen_in_the_sidebar(app, session, engine):
    import datetime as dt

    from orchestrator import db
    from orchestrator.models import Campaign
    from orchestrator.services import editions
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(engine) as s:
        current = s.exec(select(Campaign)).one()
        copy = editions.copy_edition(s, actor=SYSTEM, source_id=current.id, slug="ecrire-2026",
                                     name={"fr": "Écrire, ça libère ! 2026", "en": "Write for Rights 2026"},
                                     starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2027, 1, 31), include_cases=True)
        copy_id, current_id = copy.id, current.id
    at = app("edith", "compose")
    at.session_state["campaign_id"] = copy_id
    at.run()
    _write(at, "Pour l'édition suivante")
    at.button(key="compose_save").click().run()
    assert not at.exception
    post = session.exec(select(Post)).one()
    assert post.campaign_id == copy_id != current_id
