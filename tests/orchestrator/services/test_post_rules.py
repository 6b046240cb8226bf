"""The rules of writing a post for several accounts, through the services (SQLite and PostgreSQL):
one form makes one post, a past time is never published unasked, every chosen account is checked
and kept, variants are approved once and frozen per account, and who may withdraw or reject."""

from __future__ import annotations

import base64
import datetime as dt
import io

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Account, Delivery, Post
from orchestrator.services import compose, posts, reports
from orchestrator.services.auth import Actor, PermissionDenied, ServiceError
from orchestrator.timeutil import utcnow
from tests.factories import add_account

EDITH = Actor("edith", "editor")
ELSA = Actor("elsa", "editor")
ALAIN = Actor("alain", "approver")
ADA = Actor("ada", "admin")
FOUR = {"x": "x-test", "facebook": "facebook-test", "mastodon": "mastodon-test", "bluesky": "bluesky-test"}


def _png() -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 10), (10, 120, 10)).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def four(engine) -> dict[str, str]:
    for kind, name in FOUR.items():
        add_account(engine, kind, name=name, base_url="https://mastodon.example" if kind == "mastodon" else
                    "https://pds.example" if kind == "bluesky" else "http://127.0.0.1:9")
    return FOUR


def _compose(s, **kw):
    values = {"actor": EDITH, "case_slug": "juan-lopez", "language": "fr", "text": "Écrivez pour Juan López.",
              "submit": True}
    values.update(kw)
    return compose.compose(s, **values)


def test_the_same_form_sent_twice_makes_one_post(engine, four) -> None:
    at = utcnow() + dt.timedelta(days=1)
    with db.session_scope(engine) as s:
        first = _compose(s, account_names=[four["x"]], at=at, form_token="form-1")
    with db.session_scope(engine) as s:
        again = _compose(s, account_names=[four["x"]], at=at, form_token="form-1")
        assert again.duplicate and again.post.id == first.post.id
    with db.session_scope(engine) as s:
        assert len(s.exec(select(Post)).all()) == 1
        assert len(s.exec(select(Delivery)).all()) == 1
    with db.session_scope(engine) as s:  # another form is another post
        assert not _compose(s, account_names=[four["x"]], at=at, form_token="form-2").duplicate


def test_a_form_token_is_unique_in_the_database_too(engine) -> None:
    """Two requests that both pass the look-up at the same moment: the second insert is refused."""
    with db.session_scope(engine) as s:
        posts.create_post(s, actor=EDITH, case_slug=None, text="Un", form_token="same")
    with pytest.raises(ServiceError, match="vient d'être soumis"), db.session_scope(engine) as s:
        posts.create_post(s, actor=EDITH, case_slug=None, text="Deux", form_token="same")
    with db.session_scope(engine) as s:
        assert [p.text for p in s.exec(select(Post))] == ["Un"]


def test_a_past_time_is_refused_unless_publishing_now_is_confirmed(engine, four) -> None:
    past = utcnow() - dt.timedelta(hours=3)
    with pytest.raises(ServiceError, match="déjà passée") as refused, db.session_scope(engine) as s:
        _compose(s, account_names=[four["x"]], at=past)
    assert "already passed" in refused.value.en
    with db.session_scope(engine) as s:
        assert s.exec(select(Post)).first() is None
    before = utcnow()
    with db.session_scope(engine) as s:
        made = _compose(s, account_names=[four["x"]], at=past, publish_now=True)
        (delivery,) = made.deliveries
        # now, not three hours ago: the calendar shows when it really goes
        assert delivery.scheduled_at >= before - dt.timedelta(seconds=1)
    with db.session_scope(engine) as s:
        post_id = s.exec(select(Post.id)).one()
        posts.approve_post(s, actor=ALAIN, post_id=post_id)
    with pytest.raises(ServiceError, match="déjà passée"), db.session_scope(engine) as s:
        compose.schedule_post(s, actor=EDITH, post_id=post_id, account_names=[four["mastodon"]], at=past)


def test_every_chosen_account_is_checked_with_or_without_a_time(engine, four) -> None:
    long_text = "é" * 1000
    for at in (None, utcnow() + dt.timedelta(days=1)):
        with pytest.raises(ServiceError, match="ne convient pas") as refused, db.session_scope(engine) as s:
            _compose(s, text=long_text, account_names=list(four.values()), at=at)
        for name in ("x-test (X)", "mastodon-test (Mastodon)", "bluesky-test (Bluesky)"):
            assert name in refused.value.fr
        assert "facebook-test" not in refused.value.fr  # Facebook takes 1,000 characters
    with db.session_scope(engine) as s:
        assert s.exec(select(Post)).first() is None
        # a draft without a time may be kept while it is being worked on, and says what to fix
        draft = _compose(s, text=long_text, account_names=[four["x"]], submit=False)
        assert draft.post.status == posts.DRAFT and draft.problems
    with pytest.raises(ServiceError, match="x-test"), db.session_scope(engine) as s:
        posts.submit_post(s, actor=EDITH, post_id=draft.post.id)


def test_accounts_chosen_without_a_time_are_kept_then_scheduled_later(engine, four) -> None:
    with db.session_scope(engine) as s:
        made = _compose(s, account_names=[four["x"], four["mastodon"]])
        ids = {a.name: a.id for a in s.exec(select(Account))}
        assert made.deliveries == [] and made.post.accounts == [ids["x-test"], ids["mastodon-test"]]
        post_id = made.post.id
    with db.session_scope(engine) as s:  # the approver sees both accounts, not "not scheduled"
        rows = reports.post_previews(s, post=s.get(Post, post_id))
        assert [(r["account"], r["scheduled_at"]) for r in rows] == [("x-test", None), ("mastodon-test", None)]
        posts.approve_post(s, actor=ALAIN, post_id=post_id)
    at = utcnow() + dt.timedelta(days=2)
    with db.session_scope(engine) as s:
        made = compose.schedule_post(s, actor=EDITH, post_id=post_id, account_names=[four["x"], four["bluesky"]], at=at)
        assert all(d.rendered_text for d in made)  # approved: frozen at once
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        assert ids["bluesky-test"] in post.accounts
        with pytest.raises(ServiceError, match="Déjà programmée"):
            compose.schedule_post(s, actor=EDITH, post_id=post_id, account_names=[four["x"]], at=at)


def test_one_compose_with_variants_is_one_post_approved_once_and_frozen_per_account(engine, four) -> None:
    at = utcnow() + dt.timedelta(days=1)
    with db.session_scope(engine) as s:
        made = _compose(s, text="Texte commun", link="https://amnistie.ca/ecrire", account_names=list(four.values()),
                        at=at, variants={four["bluesky"]: "Court pour Bluesky https://amnistie.ca/ecrire",
                                         four["mastodon"]: "Pour Mastodon #ÉcrireÇaLibère",
                                         four["x"]: "Texte commun"})  # the same as the common text: no variant
        ids = {a.name: str(a.id) for a in s.exec(select(Account))}
        assert set(made.post.variants) == {ids["bluesky-test"], ids["mastodon-test"]}
        assert len(made.deliveries) == 4
        post_id = made.post.id
    with db.session_scope(engine) as s:
        assert s.exec(select(Post)).all() == [s.get(Post, post_id)]
        shown = {r["account"]: r for r in reports.post_previews(s, post=s.get(Post, post_id))}
        assert shown["bluesky-test"]["variant"] and shown["bluesky-test"]["text"].startswith("Court pour Bluesky")
        assert not shown["x-test"]["variant"]
        posts.approve_post(s, actor=ALAIN, post_id=post_id)
    with db.session_scope(engine) as s:
        frozen = {a.name: d.rendered_text for d, a in s.exec(
            select(Delivery, Account).join(Account, Account.id == Delivery.account_id))}
        # the link goes where the variant does not already have it, tagged per delivery
        assert frozen["bluesky-test"].startswith("Court pour Bluesky https://amnistie.ca/ecrire?")
        assert "\n\n" not in frozen["bluesky-test"]
        assert frozen["mastodon-test"].startswith("Pour Mastodon #ÉcrireÇaLibère\n\nhttps://amnistie.ca/ecrire?")
        assert frozen["x-test"].startswith("Texte commun") and frozen["facebook-test"].startswith("Texte commun")
        assert "source=" in frozen["mastodon-test"]  # links tagged per delivery, variant or not


def test_a_rejected_post_waits_and_comes_back_when_approved(engine, sandbox) -> None:
    from tests.orchestrator.worker.test_worker import make_worker

    account = add_account(engine, "mastodon", name="mastodon-sandbox", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        made = _compose(s, account_names=[account], at=utcnow() + dt.timedelta(seconds=1),
                        variants={account: "Version Mastodon"})
        post_id, delivery_id = made.post.id, made.deliveries[0].id
        posts.reject_post(s, actor=ALAIN, post_id=post_id, comment="Ajoutez le lien")
    import time

    time.sleep(1.1)
    make_worker(engine).run_once()
    with db.session_scope(engine) as s:
        assert s.get(Delivery, delivery_id).state == states.SCHEDULED  # kept, not sent
    assert sandbox.sandbox.posts("mastodon") == []
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=EDITH, post_id=post_id, text="Texte commun", link="https://amnistie.ca/ecrire",
                        variants={str(s.exec(select(Account.id)).one()): "Version Mastodon corrigée"})
        posts.submit_post(s, actor=EDITH, post_id=post_id)
        posts.approve_post(s, actor=ALAIN, post_id=post_id)
    make_worker(engine).run_once()
    with db.session_scope(engine) as s:
        assert s.get(Delivery, delivery_id).state == states.PUBLISHED
    (published,) = sandbox.sandbox.posts("mastodon")
    assert "Version Mastodon corrigée" in str(published)


def test_a_resubmission_edits_and_submits_at_once_and_a_refused_one_saves_no_edit(engine) -> None:
    with db.session_scope(engine) as s:
        post_id = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Premier jet", submit=False).id
    with db.session_scope(engine) as s:
        post = posts.resubmit_post(s, actor=EDITH, post_id=post_id, text="Texte revu")
        assert (post.status, post.text) == (posts.PENDING, "Texte revu")
    # already awaiting approval: the submission is refused, and the edit made with it is not kept
    with pytest.raises(ServiceError, match="Seul un brouillon"), db.session_scope(engine) as s:
        posts.resubmit_post(s, actor=EDITH, post_id=post_id, text="Encore revu")
    with db.session_scope(engine) as s:
        assert posts.get_post(s, post_id=post_id).text == "Texte revu"


def test_only_the_author_or_an_admin_withdraws_and_only_approvers_reject(engine) -> None:
    with db.session_scope(engine) as s:
        post_id = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="À retirer", submit=True).id
    with pytest.raises(PermissionDenied, match="autrice ou l'auteur"), db.session_scope(engine) as s:
        posts.withdraw_post(s, actor=ELSA, post_id=post_id)
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        posts.reject_post(s, actor=EDITH, post_id=post_id, comment="Non")
    with db.session_scope(engine) as s:
        assert posts.withdraw_post(s, actor=EDITH, post_id=post_id).status == posts.DRAFT
    with pytest.raises(ServiceError, match="en attente"), db.session_scope(engine) as s:
        posts.withdraw_post(s, actor=EDITH, post_id=post_id)  # a draft is not withdrawn twice
    with db.session_scope(engine) as s:
        posts.submit_post(s, actor=EDITH, post_id=post_id)
        assert posts.withdraw_post(s, actor=ADA, post_id=post_id).status == posts.DRAFT
        posts.submit_post(s, actor=EDITH, post_id=post_id)
        assert posts.reject_post(s, actor=ALAIN, post_id=post_id, comment="Trop long").status == posts.REJECTED
    with pytest.raises(ServiceError, match="en attente"), db.session_scope(engine) as s:
        posts.approve_post(s, actor=ALAIN, post_id=post_id)  # rejected: the author fixes it first


def test_an_image_that_is_not_one_is_refused_when_written_and_when_approved(engine, four) -> None:
    fake = {"data": base64.b64encode(b"not an image at all").decode(), "mime_type": "image/png",
            "filename": "photo.png", "alt": "Juan López"}
    with pytest.raises(ServiceError, match="photo.png.*pas une image"), db.session_scope(engine) as s:
        _compose(s, images=[fake])
    with db.session_scope(engine) as s:
        good = {"data": _png(), "mime_type": "image/jpeg", "filename": "juan.png", "alt": "Juan López"}
        made = _compose(s, images=[good], account_names=[four["x"]], at=utcnow() + dt.timedelta(days=1))
        assert made.post.images[0]["mime_type"] == "image/png"  # what the bytes say, not the name
        post_id = made.post.id
    with db.session_scope(engine) as s:  # an image broken afterwards (restored backup, edited row)
        post = s.get(Post, post_id)
        post.images = [fake]
        s.add(post)
    with pytest.raises(ServiceError, match="Image 1.*photo.png") as refused, db.session_scope(engine) as s:
        posts.approve_post(s, actor=ALAIN, post_id=post_id)
    assert "approve this post" in refused.value.en
