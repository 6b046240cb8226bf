"""Consent on a case (name, face, location): a post that breaks a withdrawn flag cannot be
submitted or approved; withdrawing holds the queued deliveries that break it and lists the
published ones; granting again releases them; nothing else (a case resumed, a new schedule)
lets them out meanwhile. Each rule is broken on purpose by a test below (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Case, Delivery
from orchestrator.services import case_edit, compose, consent, media_library, posts
from orchestrator.services.auth import SYSTEM, PermissionDenied, ServiceError
from orchestrator.timeutil import utcnow
from tests.orchestrator.helpers import approved_post, delivery, schedule
from tests.orchestrator.services.helpers import APPROVER, EDITOR, png, x_account


def _case(s, slug: str = "juan-lopez") -> Case:
    return s.exec(select(Case).where(Case.slug == slug)).one()


def _withdraw(engine, slug: str = "juan-lopez", **flags: bool) -> consent.ConsentChange:
    with db.session_scope(engine) as s:
        return consent.set_consent(s, actor=EDITOR, case_id=_case(s, slug).id, **flags)


def _pending(engine, text: str, *, case: str = "sonia-dahmani", images=None) -> int:
    with db.session_scope(engine) as s:
        return posts.create_post(s, actor=EDITOR, case_slug=case, text=text, images=images, submit=False).id


def _approve(engine, post_id: int) -> None:
    with db.session_scope(engine) as s:
        post = posts.get_post(s, post_id=post_id)
        post.status = posts.PENDING
        posts.approve_post(s, actor=APPROVER, post_id=post_id)


# ---------------------------------------------------------------------------------------------
# What breaks a flag


def test_a_name_is_found_whatever_its_accents_capitals_and_language_as_whole_words() -> None:
    assert consent.found_in(["Juan López"], ["WRITE FOR JUAN LOPEZ TODAY"]) == "Juan López"
    assert consent.found_in(["Juan López"], ["Juan López's letters"]) == "Juan López"
    assert consent.found_in(["Juan López"], ["#LibérezJuanLópez maintenant"]) == "Juan López"
    assert consent.found_in(["Juan López"], ["Juan Lópeznez", "Don Juan", "López"]) is None
    assert consent.found_in(["Mornaguia"], ["Détenue à la prison de mornaguía."]) == "Mornaguia"
    assert consent.found_in([], ["Juan López"]) is None


def test_a_post_naming_a_person_whose_name_is_withdrawn_cannot_be_approved(engine) -> None:
    # another case's post naming Juan, without accents: a campaign-wide rule
    naming = _pending(engine, "Sonia et JUAN LOPEZ attendent vos lettres.")
    other = _pending(engine, "Sonia attend vos lettres.")
    change = _withdraw(engine, name=False)
    assert change.withdrawn == ["name"]
    with pytest.raises(ServiceError) as refused:
        _approve(engine, naming)
    assert "nommer la personne" in refused.value.fr and "pour le cas de Juan López" in refused.value.fr
    assert "juan-lopez" not in refused.value.fr + refused.value.en  # the person by name, not the case's slug
    assert "name the person" in refused.value.en and "JUAN" not in refused.value.en  # as recorded on the case
    _approve(engine, other)  # a post that breaks nothing goes through
    with db.session_scope(engine) as s:
        assert posts.get_post(s, post_id=naming).status != posts.APPROVED


def test_an_alias_and_an_alt_text_count_too(engine) -> None:
    with db.session_scope(engine) as s:
        consent.set_consent(s, actor=EDITOR, case_id=_case(s).id, name=False, aliases=["Juanito"])
    post_id = _pending(engine, "Écrivez pour lui.", case="juan-lopez",
                       images=[{"data": __import__("base64").b64encode(png()).decode(), "alt": "Juanito sourit."}])
    with pytest.raises(ServiceError, match="Juanito"):
        _approve(engine, post_id)


def test_a_face_image_breaks_a_withdrawn_face_consent(engine) -> None:
    with db.session_scope(engine) as s:
        campaign_id = _case(s).campaign_id
        face = media_library.add_image(s, actor=EDITOR, campaign_id=campaign_id, case_slug="juan-lopez", data=png(),
                                       filename="juan.png", alt={"fr": "Portrait", "en": "Portrait"}, shows_face=True)
        scene = media_library.add_image(s, actor=EDITOR, campaign_id=campaign_id, case_slug="juan-lopez",
                                        data=png(colour=(1, 2, 3)), filename="riviere.png",
                                        alt={"fr": "Une rivière", "en": "A river"})
        face_ref, scene_ref = media_library.reference(face, "fr"), media_library.reference(scene, "fr")
    with_face = _pending(engine, "Écrivez-lui.", case="juan-lopez", images=[scene_ref, face_ref])
    without = _pending(engine, "Écrivez-lui.", case="juan-lopez", images=[scene_ref])
    _withdraw(engine, face=False)
    with pytest.raises(ServiceError) as refused:
        _approve(engine, with_face)
    assert "montrer son visage" in refused.value.fr and "image 2 (juan.png)" in refused.value.en
    _approve(engine, without)


def test_a_location_term_breaks_a_withdrawn_location_consent(engine) -> None:
    post_id = _pending(engine, "Sonia Dahmani est détenue à la prison de la MANOUBA.")
    with db.session_scope(engine) as s:
        consent.set_consent(s, actor=EDITOR, case_id=_case(s, "sonia-dahmani").id, location=False,
                            location_terms=["Prison de la Manouba"])
    with pytest.raises(ServiceError, match="dire où elle se trouve"):
        _approve(engine, post_id)
    # the name itself is still allowed
    _approve(engine, _pending(engine, "Sonia Dahmani attend vos lettres."))


def test_compose_shows_the_breach_before_submitting_and_refuses_to_submit(engine) -> None:
    account = x_account(engine)
    _withdraw(engine, name=False)
    with db.session_scope(engine) as s:
        rows = compose.preview(s, text="Écrivez à Juan López.", link=None, case_slug="juan-lopez",
                               account_names=[account], language="en")
        assert not rows[0]["valid"] and any("name the person" in p for p in rows[0]["problems"])
        with pytest.raises(ServiceError, match="nommer la personne"):
            compose.compose(s, actor=EDITOR, case_slug="juan-lopez", language="fr", text="Écrivez à Juan López.",
                            account_names=[account], submit=True)
        draft = compose.compose(s, actor=EDITOR, case_slug="juan-lopez", language="fr",
                                text="Écrivez à Juan López.", account_names=[account])
        assert any("nommer la personne" in fr for fr, _ in draft.problems)  # a draft may be kept, and says it


# ---------------------------------------------------------------------------------------------
# Withdrawing and granting again


def test_withdrawing_holds_the_queued_and_lists_the_published_granting_releases(engine) -> None:
    account = x_account(engine)
    naming = schedule(engine, approved_post(engine, text="Écrivez pour Juan López."), account,
                      at=utcnow() + dt.timedelta(hours=2))
    silent = schedule(engine, approved_post(engine, text="Écrivez pour lui."), account,
                      at=utcnow() + dt.timedelta(hours=2))
    gone = schedule(engine, approved_post(engine, text="Merci pour Juan López !"), account,
                    at=utcnow() + dt.timedelta(hours=1))
    with db.session_scope(engine) as s:
        s.get(Delivery, gone).state = states.PUBLISHED
    change = _withdraw(engine, name=False)
    assert (change.held, [d.id for d in change.published["name"]]) == (1, [gone])
    held = delivery(engine, naming)
    assert held.state == states.HELD
    assert states.HeldReason.parse(held.held_reason) == states.HeldReason.consent("name", "juan-lopez")
    assert delivery(engine, silent).state == states.SCHEDULED
    with db.session_scope(engine) as s:
        assert [d.id for d in consent.published_breaking(s, _case(s).id, "name")] == [gone]
        assert consent.published_breaking(s, _case(s).id, "face") == []
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "consent")).one()
        assert entry.detail["after"]["name"] is False and entry.detail["held"] == 1
    # an editor may withdraw at once; granting again takes an approver
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        consent.set_consent(s, actor=EDITOR, case_id=_case(s).id, name=True)
    with db.session_scope(engine) as s:
        again = consent.set_consent(s, actor=APPROVER, case_id=_case(s).id, name=True)
        assert (again.granted, again.released) == (["name"], 1)
    assert delivery(engine, naming).state == states.SCHEDULED


def test_resuming_a_paused_case_does_not_release_what_a_consent_holds(engine) -> None:
    account = x_account(engine)
    naming = schedule(engine, approved_post(engine, text="Écrivez pour Juan López."), account,
                      at=utcnow() + dt.timedelta(hours=2))
    with db.session_scope(engine) as s:
        case_edit.set_status(s, actor=EDITOR, case_id=_case(s).id, status="paused", note="famille")
    _withdraw(engine, name=False)
    with db.session_scope(engine) as s:
        case_edit.set_status(s, actor=APPROVER, case_id=_case(s).id, status="active", note="")
    held = delivery(engine, naming)
    assert held.state == states.HELD and held.held_reason == "consent name: juan-lopez"


def test_scheduling_a_post_that_breaks_a_withdrawn_flag_holds_it(engine) -> None:
    account = x_account(engine)
    post_id = approved_post(engine, text="Écrivez pour Juan López.")
    _withdraw(engine, name=False)
    late = delivery(engine, schedule(engine, post_id, account, at=utcnow() + dt.timedelta(hours=3)))
    assert late.state == states.HELD and late.held_reason == "consent name: juan-lopez"


def test_marking_an_image_as_a_face_holds_the_queued_posts_using_it(engine) -> None:
    account = x_account(engine)
    with db.session_scope(engine) as s:
        item = media_library.add_image(s, actor=EDITOR, campaign_id=_case(s).campaign_id, case_slug="juan-lopez",
                                       data=png(), filename="juan.png", alt={"fr": "Portrait", "en": "Portrait"})
        ref = media_library.reference(item, "fr")
        media_id = item.id
    _withdraw(engine, face=False)
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Écrivez-lui.", images=[ref],
                                 submit=True)
        posts.approve_post(s, actor=APPROVER, post_id=post.id)
        post_id = post.id
    queued = schedule(engine, post_id, account, at=utcnow() + dt.timedelta(hours=2))
    assert delivery(engine, queued).state == states.SCHEDULED
    with db.session_scope(engine) as s:
        media_library.update_image(s, actor=EDITOR, media_id=media_id, alt={"fr": "Portrait", "en": "Portrait"},
                                   credit="", shows_face=True)
    assert delivery(engine, queued).state == states.HELD
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        media_library.update_image(s, actor=EDITOR, media_id=media_id, alt={"fr": "P", "en": "P"}, credit="",
                                   shows_face=False)


# ---------------------------------------------------------------------------------------------
# Content files


def test_consent_round_trips_through_a_folder_and_a_folder_never_grants_back(engine, tmp_path: Path) -> None:
    from content import dump_campaign, load_campaign
    from orchestrator.services.campaign_admin import export_content
    from orchestrator.services.campaigns import load_content

    with db.session_scope(engine) as s:
        consent.set_consent(s, actor=EDITOR, case_id=_case(s).id, name=False, face=False, aliases=["Juanito"],
                            location_terms=["Tocoa"])
        untouched = export_content(s, campaign_id=_case(s).campaign_id)
    dump_campaign(untouched, tmp_path / "out")
    text = (tmp_path / "out" / "cases" / "juan-lopez.yaml").read_text(encoding="utf-8")
    assert "consent:" in text and "Juanito" in text and "Tocoa" in text
    assert "consent:" not in (tmp_path / "out" / "cases" / "sonia-dahmani.yaml").read_text(encoding="utf-8")
    folder = load_campaign(tmp_path / "out")
    juan = folder.case("juan-lopez")
    assert juan.consent is not None and (juan.consent.name, juan.consent.face, juan.consent.location) == (
        False, False, True)
    # an older folder (everything granted) loaded again does not undo the family's request...
    older = folder.model_copy(update={"cases": [c.model_copy(update={"consent": None}) if c.slug == "juan-lopez"
                                                else c for c in folder.cases]})
    with db.session_scope(engine) as s:
        load_content(s, actor=SYSTEM, content=older)
    with db.session_scope(engine) as s:
        case = _case(s)
        assert (case.consent_name, case.consent_face, case.consent_location) == (False, False, True)
    # ...but a folder may withdraw one, and the queued posts that break it are held
    account = x_account(engine)
    queued = schedule(engine, approved_post(engine, text="Tocoa attend."), account,
                      at=utcnow() + dt.timedelta(hours=2))
    stricter = folder.model_copy(update={"cases": [
        c.model_copy(update={"consent": c.consent.model_copy(update={"location": False})})
        if c.slug == "juan-lopez" else c for c in folder.cases]})
    with db.session_scope(engine) as s:
        load_content(s, actor=SYSTEM, content=stricter)
    assert delivery(engine, queued).held_reason == "consent location: juan-lopez"


def test_a_plan_scheduling_a_post_that_breaks_a_withdrawn_flag_holds_it(engine) -> None:
    from tests.orchestrator.services.plan.helpers import (
        add_accounts,
        all_deliveries,
        csv_text,
        later,
        run,
    )

    add_accounts(engine, "x")
    _withdraw(engine, name=False)
    result = run(engine, csv_text(
        f"sonia-dahmani,fr,Sonia et Juan Lopez vous attendent.,,x-fr,{later()}",
        f"sonia-dahmani,fr,Sonia vous attend.,,x-fr,{later(3)}",
    ))
    assert result.ok, [p.text() for p in result.problems]
    assert [(d.state, d.held_reason) for d in all_deliveries(engine)] == [
        (states.HELD, "consent name: juan-lopez"), (states.SCHEDULED, "")]


def test_a_held_post_corrected_and_approved_again_goes_out(engine) -> None:
    account = x_account(engine)
    post_id = approved_post(engine, text="Écrivez pour Juan López.")
    queued = schedule(engine, post_id, account, at=utcnow() + dt.timedelta(hours=2))
    _withdraw(engine, name=False)
    assert delivery(engine, queued).state == states.HELD
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=EDITOR, post_id=post_id, text="Écrivez pour lui.")
        posts.approve_post(s, actor=APPROVER, post_id=post_id)
    assert delivery(engine, queued).state == states.SCHEDULED


def test_the_hold_reads_back_and_says_which_consent_in_both_languages() -> None:
    from orchestrator.services import delivery_views

    reason = states.HeldReason.consent("face", "juan-lopez")
    assert states.HeldReason.parse(str(reason)) == reason and str(reason) == "consent face: juan-lopez"
    assert "montrer son visage" in delivery_views.held_reason_text(str(reason), "fr")
    assert "show their face" in delivery_views.held_reason_text(str(reason), "en")
    assert delivery_views.person_actions(states.HELD, str(reason)) == frozenset({delivery_views.CANCEL})


def test_a_failed_delivery_retried_after_a_withdrawal_is_held(engine) -> None:
    from orchestrator.services import deliveries

    account = x_account(engine)
    failed = schedule(engine, approved_post(engine, text="Écrivez pour Juan López."), account,
                      at=utcnow() + dt.timedelta(hours=2))
    with db.session_scope(engine) as s:
        s.get(Delivery, failed).state = states.FAILED
    _withdraw(engine, name=False)
    assert delivery(engine, failed).state == states.FAILED  # not queued: nothing to hold yet
    with db.session_scope(engine) as s:
        deliveries.retry(s, actor=EDITOR, delivery_id=failed)
    assert (delivery(engine, failed).state, delivery(engine, failed).held_reason) == (
        states.HELD, "consent name: juan-lopez")


def test_a_thread_part_naming_the_person_breaks_the_withdrawn_name_too(engine) -> None:
    # the name only in part 2 (or in a part's image's alt text): approval refuses it all the same
    with db.session_scope(engine) as s:
        thread = posts.create_post(s, actor=EDITOR, case_slug="sonia-dahmani", text="Un fil pour Sonia (1/2).",
                                   parts=[{"text": "Et pour Juan López aussi (2/2)."}], submit=False).id
        alt = posts.create_post(s, actor=EDITOR, case_slug="sonia-dahmani", text="Un fil pour Sonia (1/2).",
                                parts=[{"text": "Écrivez (2/2).",
                                        "images": [{"data": __import__("base64").b64encode(png()).decode(),
                                                    "alt": "Juan López sourit."}]}], submit=False).id
    _withdraw(engine, name=False)
    for post_id in (thread, alt):
        with pytest.raises(ServiceError, match="Juan López"):
            _approve(engine, post_id)


def test_the_person_is_named_with_french_elision() -> None:
    from orchestrator.services.consent import of_fr

    assert of_fr("Juan López") == "de Juan López"
    assert of_fr("Ellinor Guttorm Utsi") == "d'Ellinor Guttorm Utsi"
    assert of_fr("Édith") == "d'Édith"


def test_the_hold_names_the_person_when_the_page_knows_them() -> None:
    from orchestrator.services import delivery_views

    reason = str(states.HeldReason.consent("face", "ellinor-guttorm-utsi"))
    people = {"ellinor-guttorm-utsi": {"fr": "Ellinor Guttorm Utsi", "en": "Ellinor Guttorm Utsi"}}
    fr = delivery_views.held_reason_text(reason, "fr", people=people)
    en = delivery_views.held_reason_text(reason, "en", people=people)
    assert "cas d'Ellinor Guttorm Utsi" in fr and "the case of Ellinor Guttorm Utsi" in en
    assert "ellinor-guttorm-utsi" not in fr + en
    # another case's person (a post naming someone else): the slug, as before
    assert "« ellinor-guttorm-utsi »" in delivery_views.held_reason_text(reason, "fr", people={"x": {"fr": "X"}})
