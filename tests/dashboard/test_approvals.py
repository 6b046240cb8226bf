from __future__ import annotations

import pytest

from orchestrator import db
from orchestrator.models import Delivery, Post
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import Actor, PermissionDenied
from tests.dashboard.helpers import texts


@pytest.fixture
def pending(engine, account) -> int:
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=Actor("edith", "editor"), case_slug="juan-lopez",
                                 text="Écrivez pour Juan : https://amnistie.ca/marathon", submit=True)
        deliveries.schedule(s, actor=Actor("edith", "editor"), post_id=post.id, account_name=account,
                            at=__import__("datetime").datetime.now(__import__("datetime").UTC))
        return post.id


def test_an_approver_sees_per_channel_previews_and_approves(app, pending, session):
    at = app("alain", "approvals")
    assert "x-fr (x)" in "\n".join(e.label for e in at.expander)
    assert "source=" in texts(at)  # the link as it will go out, with its source code
    at.button(key=f"approve_{pending}").click().run()
    assert not at.exception
    post = session.get(Post, pending)
    assert (post.status, post.approved_by) == ("approved", "alain")
    delivery = session.query(Delivery).filter_by(post_id=pending).one()
    assert delivery.rendered_text  # approval froze the text


def test_approving_your_own_post_is_refused_in_french(app, engine, account, session):
    with db.session_scope(engine) as s:
        mine = posts.create_post(s, actor=Actor("alain", "approver"), case_slug="juan-lopez", text="À moi", submit=True).id
    at = app("alain", "approvals")
    at.button(key=f"approve_{mine}").click().run()
    assert any("Vous ne pouvez pas approuver une publication que vous avez écrite" in e.value for e in at.error)
    assert session.get(Post, mine).status == "pending"


def test_a_rejection_needs_a_comment_the_author_will_see(app, pending, session):
    at = app("alain", "approvals")
    at.button(key=f"reject_{pending}").click().run()
    assert any("commentaire est obligatoire" in e.value for e in at.error)
    at.text_input(key=f"reject_comment_{pending}").input("Trop long pour Bluesky")
    at.button(key=f"reject_{pending}").click().run()
    post = session.get(Post, pending)
    assert (post.status, post.review_comment) == ("rejected", "Trop long pour Bluesky")


def test_a_viewer_and_an_editor_see_no_approval_buttons_and_the_service_refuses(app, pending, engine):
    for who in ("victor", "edith"):
        at = app(who, "approvals")
        assert f"approve_{pending}" not in {b.key for b in at.button}
        assert "Lecture seule" in texts(at)
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        posts.approve_post(s, actor=Actor("victor", "viewer"), post_id=pending)
