from __future__ import annotations

import base64
import datetime as dt

import pytest

from orchestrator import db
from orchestrator.models import Account, Delivery, Post
from orchestrator.services import compose, deliveries, posts
from orchestrator.services.auth import Actor, PermissionDenied, ServiceError
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import stored, texts

EDITH = Actor("edith", "editor")


@pytest.fixture
def pending(bare_engine, account) -> int:
    with db.session_scope(bare_engine) as s:
        post = posts.create_post(s, actor=EDITH, case_slug="juan-lopez",
                                 text="Écrivez pour Juan : https://amnistie.ca/marathon", submit=True)
        deliveries.schedule(s, actor=EDITH, post_id=post.id, account_name=account, at=utcnow())
        return post.id


def _pending_on(engine, names: list[str], text: str = "Écrivez pour Juan López.", **kw) -> int:
    with db.session_scope(engine) as s:
        return compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text=text, account_names=names,
                               at=utcnow() + dt.timedelta(days=1), submit=True, **kw).post.id


def test_an_approver_sees_per_channel_previews_and_approves(app, pending, session):
    at = app("alain", "approvals")
    assert "x-fr · X" in "\n".join(e.label for e in at.expander)
    assert "source=" in texts(at)  # the link as it will go out, with its source code
    at.button(key=f"approve_{pending}").click().run()
    assert not at.exception
    post = session.get(Post, pending)
    assert (post.status, post.approved_by) == ("approved", "alain")
    delivery = session.query(Delivery).filter_by(post_id=pending).one()
    assert delivery.rendered_text  # approval froze the text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_posts_on_every_kind_of_account_each_get_their_previews_and_buttons(app, bare_engine, four_accounts, lang):
    """A post on a Mastodon account (with its instance address) no longer breaks the page."""
    ids = [_pending_on(bare_engine, [name]) for name in four_accounts]
    together = _pending_on(bare_engine, four_accounts, text="Pour tous les comptes")
    at = app("alain", "approvals", lang=lang)
    assert not at.exception
    assert not at.error
    for post_id in [*ids, together]:
        assert f"approve_{post_id}" in {b.key for b in at.button}
        assert f"reject_{post_id}" in {b.key for b in at.button}
        assert not at.button(key=f"approve_{post_id}").disabled
    labels = "\n".join(e.label for e in at.expander)
    for name, platform in (("x-fr", "X"), ("facebook-fr", "Facebook"), ("mastodon-fr", "Mastodon"),
                           ("bluesky-fr", "Bluesky")):
        assert f"{name} · {platform}" in labels
    assert "/ 500" in labels  # Mastodon's default limit, and the page says it is the default
    assert ("pas encore lue" if lang == "fr" else "has not been read yet") in texts(at)
    at.button(key=f"approve_{ids[2]}").click().run()
    assert stored(bare_engine, Post.__table__.select().where(Post.id == ids[2]))[0].status == "approved"


def test_an_image_that_is_not_one_says_why_on_its_card_and_the_others_go_on(app, bare_engine, four_accounts):
    broken = _pending_on(bare_engine, ["x-fr"], text="Avec une image abîmée")
    fine = _pending_on(bare_engine, ["mastodon-fr"], text="Sans image")
    with db.session_scope(bare_engine) as s:  # a file renamed .png that is text, stored before uploads were checked
        post = s.get(Post, broken)
        post.images = [{"data": base64.b64encode(b"just text").decode(), "mime_type": "image/png",
                        "filename": "juan.png", "alt": "Juan López"}]
        s.add(post)
    at = app("alain", "approvals")
    assert not at.exception
    assert any("Image 1" in e.value and "juan.png" in e.value for e in at.error)
    assert any("ne peut pas être approuvée en l'état" in e.value for e in at.error)
    assert at.button(key=f"approve_{broken}").disabled  # the approver sees it now, not a failure at send time
    assert not at.button(key=f"reject_{broken}").disabled
    at.button(key=f"approve_{fine}").click().run()
    assert {p.id: p.status for p in stored(bare_engine, Post.__table__.select())} == {broken: "pending", fine: "approved"}
    with pytest.raises(ServiceError, match="juan.png"), db.session_scope(bare_engine) as s:
        posts.approve_post(s, actor=Actor("alain", "approver"), post_id=broken)
    at.text_input(key=f"reject_comment_{broken}").input("Remplacez la photo")
    at.button(key=f"reject_{broken}").click().run()
    assert stored(bare_engine, Post.__table__.select().where(Post.id == broken))[0].status == "rejected"


def test_each_account_shows_its_own_variant_and_the_approval_freezes_it(app, bare_engine, four_accounts):
    post_id = _pending_on(bare_engine, ["x-fr", "bluesky-fr"], text="Texte commun",
                          variants={"bluesky-fr": "Texte pour Bluesky"})
    at = app("alain", "approvals")
    shown = [e for e in at.expander if "bluesky" in e.label]
    assert shown and "Texte pour Bluesky" in texts(at) and "Texte commun" in texts(at)
    assert "Texte ajusté pour ce compte." in texts(at)
    at.button(key=f"approve_{post_id}").click().run()
    frozen = {name: text for text, name in stored(bare_engine, Delivery.__table__.join(
        Account.__table__, Account.__table__.c.id == Delivery.__table__.c.account_id)
        .select().with_only_columns(Delivery.__table__.c.rendered_text, Account.__table__.c.name))}
    assert frozen["bluesky-fr"].startswith("Texte pour Bluesky") and frozen["x-fr"].startswith("Texte commun")


def test_a_post_with_accounts_and_no_time_shows_each_account(app, bare_engine, four_accounts):
    with db.session_scope(bare_engine) as s:
        post_id = compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text="Plus tard",
                                  account_names=["x-fr", "mastodon-fr"], submit=True).post.id
    at = app("alain", "approvals")
    labels = "\n".join(e.label for e in at.expander)
    assert "pas encore d'heure" in labels and "Mastodon" in labels
    assert f"approve_{post_id}" in {b.key for b in at.button}


def test_the_author_can_withdraw_from_approvals(app, bare_engine, account):
    with db.session_scope(bare_engine) as s:
        mine = posts.create_post(s, actor=Actor("alain", "approver"), case_slug="juan-lopez", text="À moi",
                                 submit=True).id
    at = app("alain", "approvals")
    at.button(key=f"withdraw_{mine}").click().run()
    assert stored(bare_engine, Post.__table__.select().where(Post.id == mine))[0].status == "draft"


def test_approving_your_own_post_is_refused_in_french(app, bare_engine, account, session):
    with db.session_scope(bare_engine) as s:
        mine = posts.create_post(s, actor=Actor("alain", "approver"), case_slug="juan-lopez", text="À moi", submit=True).id
    at = app("alain", "approvals")
    assert f"approve_{mine}" not in {b.key for b in at.button}  # no button to press: the card says why
    assert any("Vous l'avez écrite : une autre personne doit l'approuver" in e.value for e in at.info)
    with pytest.raises(PermissionDenied, match="avez écrite"), db.session_scope(bare_engine) as s:
        posts.approve_post(s, actor=Actor("alain", "approver"), post_id=mine)  # and the service refuses anyway
    assert session.get(Post, mine).status == "pending"


def test_a_rejection_needs_a_comment_the_author_will_see(app, pending, session):
    at = app("alain", "approvals")
    at.button(key=f"reject_{pending}").click().run()
    assert any("commentaire est obligatoire" in e.value for e in at.error)
    at.text_input(key=f"reject_comment_{pending}").input("Trop long pour Bluesky")
    at.button(key=f"reject_{pending}").click().run()
    post = session.get(Post, pending)
    assert (post.status, post.review_comment) == ("rejected", "Trop long pour Bluesky")


def test_a_viewer_and_an_editor_see_no_approval_buttons_and_the_service_refuses(app, pending, bare_engine):
    for who in ("victor", "edith"):
        at = app(who, "approvals")
        assert f"approve_{pending}" not in {b.key for b in at.button}
        assert f"reject_{pending}" not in {b.key for b in at.button}
        assert "Lecture seule" in texts(at)
    with db.session_scope(bare_engine) as s, pytest.raises(PermissionDenied):
        posts.approve_post(s, actor=Actor("victor", "viewer"), post_id=pending)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_approver_who_edited_or_wrote_a_post_sees_why_and_has_no_approve_button(app, bare_engine, pending, lang):
    with db.session_scope(bare_engine) as s:
        posts.edit_post(s, actor=Actor("alain", "approver"), post_id=pending, text="Écrivez pour Juan, vite.")
        own = posts.create_post(s, actor=Actor("ada", "admin"), case_slug="juan-lopez", text="Le mien.", submit=True).id
    at = app("alain", "approvals", lang=lang)
    assert not at.exception
    shown = texts(at)
    keys = {b.key for b in at.button}
    assert f"approve_{pending}" not in keys and f"reject_{pending}" in keys  # may still reject, with a comment
    assert f"approve_{own}" in keys
    assert ("Vous avez modifié son texte" if lang == "fr" else "You edited its text") in shown
    assert ("Texte modifié par alain" if lang == "fr" else "Text edited by alain") in shown
    at = app("ada", "approvals", lang=lang)
    keys = {b.key for b in at.button}
    assert f"approve_{pending}" in keys and f"approve_{own}" not in keys
    assert ("Vous l'avez écrite" if lang == "fr" else "You wrote it") in texts(at)


@pytest.mark.parametrize(("lang", "words"), [("fr", "par Porte-voix (automatique)"), ("en", "by Porte-voix (automatic)")])
def test_a_post_the_system_wrote_is_signed_in_words_not_by_a_username(app, bare_engine, lang, words) -> None:
    """The good-news posts an edition's content brings are written by « system »: staff read who
    wrote a post, and a bare "par system" is a programmer's word on a French page."""
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(bare_engine) as s:
        posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="1 000 actions pour Juan !", submit=True)
    shown = texts(app("alain", "approvals", lang=lang))
    assert words in shown and " system," not in shown, shown
