"""Four eyes that cannot be walked around (issue 16): whoever wrote or edited a post's text never
approves it, only the author edits a draft or a rejected post, every edit is recorded, and what
goes out is what was approved (a change after approval, by any path, needs a new approval)."""

from __future__ import annotations

import base64
import io

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Delivery, Post, PostEdit
from orchestrator.services import deliveries, four_eyes, posts
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied
from tests.factories import add_account

ALICE = Actor("alice", "editor")
BRUNO = Actor("bruno", "approver")
CHLOE = Actor("chloe", "approver")
ADMIN = Actor("ada", "admin")


def _png(colour: tuple[int, int, int]) -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (20, 10), colour).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _pending(engine, *, author: Actor = ALICE, text: str = "Écrivez pour Juan López.", **kw) -> int:
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=author, case_slug="juan-lopez", text=text, submit=True, **kw)
        assert post.id is not None
        return post.id


def test_an_approver_who_edited_someone_elses_post_cannot_approve_it(engine) -> None:
    post_id = _pending(engine)
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=BRUNO, post_id=post_id, text="Écrivez pour Juan López, maintenant.")
    with pytest.raises(PermissionDenied, match="modifié le texte") as refused, db.session_scope(engine) as s:
        posts.approve_post(s, actor=BRUNO, post_id=post_id)
    assert (refused.value.fr, refused.value.en) == (
        "Vous ne pouvez pas approuver une publication dont vous avez modifié le texte : demandez à une autre personne.",
        "You cannot approve a post whose text you edited: ask someone else.")
    with db.session_scope(engine) as s:
        assert posts.approve_post(s, actor=CHLOE, post_id=post_id).approved_by == "chloe"


def test_editing_only_a_variant_counts_as_editing_the_text(engine) -> None:
    post_id = _pending(engine)
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=BRUNO, post_id=post_id, text="Écrivez pour Juan López.",
                        variants={"1": "Une autre version pour ce compte"})
        assert s.get(Post, post_id).variants == {"1": "Une autre version pour ce compte"}
    with pytest.raises(PermissionDenied, match="modifié le texte"), db.session_scope(engine) as s:
        posts.approve_post(s, actor=BRUNO, post_id=post_id)


def test_the_author_still_cannot_approve_their_own_post(engine) -> None:
    post_id = _pending(engine, author=BRUNO)
    with pytest.raises(PermissionDenied, match="avez écrite") as refused, db.session_scope(engine) as s:
        posts.approve_post(s, actor=BRUNO, post_id=post_id)
    assert (refused.value.fr, refused.value.en) == (
        "Vous ne pouvez pas approuver une publication que vous avez écrite : demandez à une autre personne.",
        "You cannot approve a post you wrote: ask someone else.")


def test_every_edit_is_recorded_with_who_when_and_what(engine) -> None:
    post_id = _pending(engine)
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=BRUNO, post_id=post_id, text="Deuxième version.")
        posts.edit_post(s, actor=CHLOE, post_id=post_id, text="Deuxième version.", link="https://amnistie.ca/ecrire")
        posts.edit_post(s, actor=CHLOE, post_id=post_id, text="Deuxième version.", link="https://amnistie.ca/ecrire")
    with db.session_scope(engine) as s:
        edits = list(s.exec(select(PostEdit).where(PostEdit.post_id == post_id).order_by(PostEdit.id)))
        assert [(e.actor, e.changed) for e in edits] == [("bruno", ["text"]), ("chloe", ["link"])]  # no change, no edit
        assert all(e.at is not None for e in edits)
        assert four_eyes.editors(s, post_id=post_id) == ["bruno", "chloe"]
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "edit")).all()
        assert [(a.actor, a.target_type, a.target_id, a.detail) for a in audited] == [
            ("bruno", "post", str(post_id), {"back_to_approval": False, "changed": ["text"]}),
            ("chloe", "post", str(post_id), {"back_to_approval": False, "changed": ["link"]})]


@pytest.mark.parametrize("status", ["draft", "rejected"])
def test_only_the_author_edits_a_draft_or_a_rejected_post_not_even_an_admin(engine, status) -> None:
    with db.session_scope(engine) as s:
        post_id = posts.create_post(s, actor=ALICE, case_slug="juan-lopez", text="Brouillon.",
                                    submit=status == "rejected").id
        if status == "rejected":
            posts.reject_post(s, actor=CHLOE, post_id=post_id, comment="Trop vague")
    for other in (BRUNO, ADMIN, Actor("elsa", "editor")):
        with pytest.raises(PermissionDenied, match="Seule l.autrice") as refused, db.session_scope(engine) as s:
            posts.edit_post(s, actor=other, post_id=post_id, text="Réécrit par quelqu'un d'autre.")
        assert refused.value.en == ("Only its author (alice) edits a draft or a rejected post; you can comment by "
                                    "rejecting it, or write another one.")
        assert refused.value.fr.endswith("vous pouvez la commenter en la refusant, ou en écrire une autre.")
    with db.session_scope(engine) as s:
        assert s.get(Post, post_id).text == "Brouillon."
        assert posts.edit_post(s, actor=ALICE, post_id=post_id, text="Corrigé.").text == "Corrigé."


def test_approval_records_the_fingerprint_of_text_variants_and_images(engine) -> None:
    image = {"data": _png((10, 120, 10)), "alt": "Juan López", "filename": "juan.png"}
    post_id = _pending(engine, images=[image], variants={"7": "Pour un compte"})
    with db.session_scope(engine) as s:
        post = posts.approve_post(s, actor=CHLOE, post_id=post_id)
        expected = four_eyes.post_fingerprint(post, deliveries.post_images(post))
        assert post.approved_fingerprint == expected and len(expected) == 64
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "approve")).one()
        assert (entry.actor, entry.target_type, entry.target_id) == ("chloe", "post", str(post_id))
        assert entry.detail == {"fingerprint": expected}  # a named approver: four eyes held, nothing to mark
        assert post.approved_at is not None and post.approved_by == "chloe"
    other = [four_eyes.fingerprint(text=t, link=None, variants=v, images=i) for t, v, i in (
        ("Écrivez pour Juan López.", {"7": "Pour un compte"}, []),
        ("Écrivez pour Juan López.", {"7": "Pour un autre"}, deliveries.post_images(post)),
        ("Écrivez pour Juan López!", {"7": "Pour un compte"}, deliveries.post_images(post)),
    )]
    assert expected not in other and len(set(other)) == 3


def _approved_and_due(engine, sandbox) -> tuple[int, int]:
    account = add_account(engine, "mastodon", name="mastodon-sandbox", base_url=sandbox.url)
    image = {"data": _png((10, 120, 10)), "alt": "Juan López", "filename": "juan.png"}
    post_id = _pending(engine, text="Texte approuvé.", images=[image])
    with db.session_scope(engine) as s:
        posts.approve_post(s, actor=CHLOE, post_id=post_id)
        delivery = deliveries.schedule(s, actor=ALICE, post_id=post_id, account_name=account,
                                       at=s.get(Post, post_id).created_at)
        return post_id, delivery.id or 0


def test_images_changed_after_approval_are_not_sent_without_a_new_approval(engine, sandbox, caplog) -> None:
    from tests.orchestrator.worker.test_worker import make_worker

    post_id, delivery_id = _approved_and_due(engine, sandbox)
    with db.session_scope(engine) as s:  # a path that forgets the four eyes: the image swapped in place
        post = s.get(Post, post_id)
        post.images = [{"data": _png((200, 0, 0)), "alt": "Autre chose", "filename": "other.png"}]
        s.add(post)
    with caplog.at_level("WARNING", logger="porte_voix.worker"):
        make_worker(engine).run_once()
    assert f"post {post_id} changed after its approval: sent back for approval, nothing sent" in caplog.messages
    assert sandbox.sandbox.posts("mastodon") == []
    with db.session_scope(engine) as s:
        post, delivery = s.get(Post, post_id), s.get(Delivery, delivery_id)
        assert post.status == posts.PENDING and post.approved_by is None
        assert delivery.state == states.SCHEDULED and delivery.rendered_text is None
        void = s.exec(select(AuditEntry).where(AuditEntry.action == "approval_void")).one()
        assert (void.actor, void.target_type, void.target_id) == ("system", "post", str(post_id))
        assert void.detail == {"why": "content changed after approval"}
        assert post.approved_fingerprint is None and delivery.rendered_link is None
    with db.session_scope(engine) as s:
        posts.approve_post(s, actor=CHLOE, post_id=post_id)
    make_worker(engine).run_once()
    (sent,) = sandbox.sandbox.posts("mastodon")
    assert "Texte approuvé." in str(sent)


def test_a_text_changed_after_approval_does_not_reach_a_new_delivery(engine, sandbox) -> None:
    from tests.orchestrator.worker.test_worker import make_worker

    post_id, _ = _approved_and_due(engine, sandbox)
    add_account(engine, "bluesky", name="bluesky-sandbox", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        post.text = "Texte jamais approuvé."  # changed behind the approval's back
        s.add(post)
        deliveries.schedule(s, actor=ALICE, post_id=post_id, account_name="bluesky-sandbox", at=post.created_at)
    make_worker(engine).run_once()
    sent = sandbox.sandbox.posts("mastodon") + sandbox.sandbox.posts("bluesky")
    assert not any("jamais approuvé" in str(p) for p in sent)
    with db.session_scope(engine) as s:
        assert s.get(Post, post_id).status == posts.PENDING


def test_an_edit_after_approval_sends_the_post_back_and_its_editor_cannot_approve_it(engine, sandbox) -> None:
    from tests.orchestrator.worker.test_worker import make_worker

    post_id, delivery_id = _approved_and_due(engine, sandbox)
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=CHLOE, post_id=post_id, text="Texte corrigé après approbation.")
        edited = s.get(Post, post_id)
        assert (edited.status, edited.approved_by, edited.approved_at, edited.approved_fingerprint) == \
            (posts.PENDING, None, None, None)
        assert s.get(Delivery, delivery_id).rendered_link is None
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "edit")).one()
        assert entry.detail == {"back_to_approval": True, "changed": ["text"]}
        assert s.get(Delivery, delivery_id).rendered_text is None
    make_worker(engine).run_once()
    assert sandbox.sandbox.posts("mastodon") == []
    with pytest.raises(PermissionDenied), db.session_scope(engine) as s:
        posts.approve_post(s, actor=CHLOE, post_id=post_id)  # she approved it once, then edited it
    with db.session_scope(engine) as s:
        posts.approve_post(s, actor=BRUNO, post_id=post_id)
    make_worker(engine).run_once()
    (sent,) = sandbox.sandbox.posts("mastodon")
    assert "Texte corrigé après approbation." in str(sent)


def test_the_operator_may_approve_but_the_log_says_four_eyes_were_skipped(engine) -> None:
    post_id = _pending(engine, author=SYSTEM)
    with db.session_scope(engine) as s:
        posts.approve_post(s, actor=SYSTEM, post_id=post_id)
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "approve")).one()
        assert entry.detail["four_eyes"] == "operator"
    # a staff member who happens to be called like the machine is not the machine
    assert four_eyes.approval_refusal(Actor("system", "admin"), author="system", edited_by=[]) is not None


def test_the_fingerprint_covers_the_link_each_image_and_its_alt_text_and_each_variants_account() -> None:
    from channels.base import Image

    png = base64.b64decode(_png((1, 2, 3)))
    base = {"text": "T", "link": "https://amnistie.ca/a", "variants": {"1": "V"},
            "images": [Image(data=png, mime_type="image/png", alt="A", filename="a.png")]}
    same = four_eyes.fingerprint(**base)
    assert same == four_eyes.fingerprint(**{**base, "variants": {"1": "V"}})  # stable
    changed = [
        {"link": "https://amnistie.ca/b"}, {"link": None}, {"variants": {"2": "V"}}, {"variants": {}},
        {"images": []}, {"images": [Image(data=png, mime_type="image/png", alt="B", filename="a.png")]},
        {"images": [Image(data=png + b"x", mime_type="image/png", alt="A", filename="a.png")]},
        {"images": [Image(data=png, mime_type="image/jpeg", alt="A", filename="a.png")]},
    ]
    prints = [four_eyes.fingerprint(**{**base, **change}) for change in changed]
    assert same not in prints and len(set(prints)) == len(prints)
    assert four_eyes.fingerprint(**{**base, "link": ""}) == four_eyes.fingerprint(**{**base, "link": None})


def test_a_post_approved_before_fingerprints_existed_still_goes_out(engine, sandbox) -> None:
    from tests.orchestrator.worker.test_worker import make_worker

    post_id, delivery_id = _approved_and_due(engine, sandbox)
    with db.session_scope(engine) as s:  # as the migration leaves a post approved before it
        post = s.get(Post, post_id)
        post.approved_fingerprint = None
        s.add(post)
    make_worker(engine).run_once()
    with db.session_scope(engine) as s:
        assert s.get(Delivery, delivery_id).state == states.PUBLISHED
    assert four_eyes.still_as_approved(None, "abc") and four_eyes.still_as_approved("abc", "abc")
    assert not four_eyes.still_as_approved("abc", "abd")


def test_editors_are_listed_once_each_in_the_order_they_first_edited(engine) -> None:
    post_id = _pending(engine)
    with db.session_scope(engine) as s:
        for who, text in ((CHLOE, "Un."), (BRUNO, "Deux."), (CHLOE, "Trois.")):
            posts.edit_post(s, actor=who, post_id=post_id, text=text)
        assert four_eyes.editors(s, post_id=post_id) == ["chloe", "bruno"]
        assert four_eyes.hands("alice", ["chloe"]) == {"alice", "chloe"}


def test_an_edit_is_checked_like_a_new_post_and_records_exactly_what_changed(engine) -> None:
    from orchestrator.services.auth import ServiceError

    image = {"data": _png((10, 120, 10)), "alt": "Juan López", "filename": "juan.png"}
    post_id = _pending(engine, images=[image], variants={"7": "Pour un compte"})
    for link, variants in (("ftp://amnistie.ca", None), (None, {"7": " "}), ("javascript:alert(1)", {"7": "x"})):
        with pytest.raises(ServiceError, match="https://"), db.session_scope(engine) as s:
            posts.edit_post(s, actor=ALICE, post_id=post_id, text="Texte.", link=link or "ftp://x",
                            variants=variants)
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=ALICE, post_id=post_id, text="Écrivez pour Juan López.",
                        variants={"7": "", "8": "Écrivez pour Juan López.", "9": "Pour le compte 9"})
        assert s.get(Post, post_id).variants == {"9": "Pour le compte 9"}  # emptied or same as the text: gone
        assert len(s.get(Post, post_id).images) == 1  # images not given: kept
        posts.edit_post(s, actor=ALICE, post_id=post_id, text="Écrivez pour Juan López.", images=[])
        assert s.get(Post, post_id).images == []
        other = {"data": _png((0, 0, 200)), "alt": "Autre", "filename": "autre.png"}
        posts.edit_post(s, actor=ALICE, post_id=post_id, text="Écrivez pour Juan López.", images=[other])
        assert [i["alt"] for i in s.get(Post, post_id).images] == ["Autre"]
        edits = s.exec(select(PostEdit).where(PostEdit.post_id == post_id).order_by(PostEdit.id)).all()
        assert [e.changed for e in edits] == [["variants"], ["images"], ["images"]]


def test_the_command_line_acts_under_the_name_of_whoever_ran_it(monkeypatch) -> None:
    import getpass

    from orchestrator.services.auth import ServiceError, command_line_operator

    monkeypatch.setattr(getpass, "getuser", lambda: "opal")
    assert command_line_operator() == Actor("cli:opal", "admin", operator=True)
    monkeypatch.setattr(getpass, "getuser", lambda: "o" * 80)
    assert command_line_operator().username == "cli:" + "o" * 60  # fits the audit log's column

    def nobody() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", nobody)
    monkeypatch.setattr("os.getuid", lambda: 1234)
    assert command_line_operator().username == "cli:uid1234"
    said = ServiceError("en français", "in English")
    assert (said.message("fr"), said.message("en"), str(said)) == ("en français", "in English", "en français")
    assert ServiceError("seulement en français").en == "seulement en français"


def test_a_case_paused_while_its_deliveries_were_due_holds_them_at_the_claim(engine, sandbox) -> None:
    """The pause raced the claim: the case row says paused, its deliveries still say scheduled."""
    from orchestrator.models import Case
    from tests.orchestrator.worker.test_worker import make_worker

    _, delivery_id = _approved_and_due(engine, sandbox)
    with db.session_scope(engine) as s:
        case = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        case.status = "paused"
        s.add(case)
        free = posts.create_post(s, actor=ALICE, case_slug=None, text="Sans cas.", submit=True)
        posts.approve_post(s, actor=CHLOE, post_id=free.id)
        deliveries.schedule(s, actor=ALICE, post_id=free.id, account_name="mastodon-sandbox", at=free.created_at)
    make_worker(engine).run_once()
    (sent,) = sandbox.sandbox.posts("mastodon")  # a post about no case is held by no case
    assert "Sans cas." in str(sent)
    with db.session_scope(engine) as s:
        delivery = s.get(Delivery, delivery_id)
        assert (delivery.state, delivery.held_reason) == (states.HELD, "case paused")
        from orchestrator.models import Attempt

        (held,) = s.exec(select(Attempt).where(Attempt.delivery_id == delivery_id)).all()
        assert (held.actor, held.outcome, held.detail) == ("test-worker", "held", "case paused")


def test_a_state_the_diagram_does_not_know_goes_nowhere() -> None:
    assert not states.can_transition("gone", states.PUBLISHING)
    assert not states.can_transition(states.PUBLISHED, states.PUBLISHING)  # never twice
    assert states.can_transition(states.SCHEDULED, states.PUBLISHING)


def test_the_fingerprint_keeps_its_form_from_one_version_to_the_next() -> None:
    """A fingerprint is stored at approval and compared by later versions of the worker: changing
    how it is computed would send every approved post back for approval at the upgrade."""
    from channels.base import Image

    image = Image(data=b"png", mime_type="image/png", alt="Juan", filename="a.png")
    assert four_eyes.fingerprint(text="Écrivez pour Juan", link="https://amnistie.ca/a", variants={"2": "B", "1": "A"},
                                 images=[image]) == "7bb3208c013b249cda95d70f65443140addd4174613fdcf4acd1773ef81e9c58"


def test_refusals_say_what_was_refused_in_both_languages(engine) -> None:
    from orchestrator.services.auth import ServiceError

    post_id = _pending(engine)
    victor = Actor("victor", "viewer")
    for call, fr, en in (
        (lambda s: posts.approve_post(s, actor=victor, post_id=post_id), "approuver une publication", "approve a post"),
        (lambda s: posts.edit_post(s, actor=victor, post_id=post_id, text="x"), "modifier une publication", "edit a post"),
    ):
        with pytest.raises(PermissionDenied) as refused, db.session_scope(engine) as s:
            call(s)
        assert f"n'a pas le droit de {fr} :" in refused.value.fr and f"may not {en}:" in refused.value.en
    with db.session_scope(engine) as s:
        posts.withdraw_post(s, actor=ALICE, post_id=post_id)
    with pytest.raises(ServiceError) as refused, db.session_scope(engine) as s:
        posts.approve_post(s, actor=CHLOE, post_id=post_id)  # a draft: submitted first
    assert (refused.value.fr, refused.value.en) == ("Seule une publication en attente d'approbation peut être approuvée.",
                                                    "Only a post awaiting approval can be approved.")


def test_approval_clears_the_rejection_comment(engine) -> None:
    post_id = _pending(engine)
    with db.session_scope(engine) as s:
        posts.reject_post(s, actor=CHLOE, post_id=post_id, comment="Ajoutez le lien")
        posts.edit_post(s, actor=ALICE, post_id=post_id, text="Avec le lien https://amnistie.ca/ecrire")
        posts.submit_post(s, actor=ALICE, post_id=post_id)
        assert posts.approve_post(s, actor=BRUNO, post_id=post_id).review_comment == ""
