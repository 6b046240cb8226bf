"""Cases from the service layer: both languages, order, status with a dated note holding the
queue, the good-news post, and approved text staying frozen when a case is edited."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Campaign, Case, CaseStatusNote, Delivery, Post
from orchestrator.services import case_edit, deliveries
from orchestrator.services.auth import PermissionDenied, ServiceError
from tests.orchestrator.services.helpers import (
    APPROVER,
    EDITOR,
    VIEWER,
    case_fields,
    scheduled_post,
    x_account,
)


def _campaign_id(s) -> int:
    return s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()


def _case(s, slug: str = "juan-lopez") -> Case:
    return s.exec(select(Case).where(Case.slug == slug)).one()


def test_a_new_case_needs_both_languages_and_goes_last(engine):
    with db.session_scope(engine) as s:
        with pytest.raises(ServiceError) as caught:
            case_edit.create_case(s, actor=EDITOR, campaign_id=_campaign_id(s),
                                  data=case_fields(ask={"fr": "sa libération"}, country_code="XX"))
        assert "ask.en" in caught.value.fr and "country_code" in caught.value.fr
    with db.session_scope(engine) as s:
        assert s.exec(select(Case).where(Case.slug == "nouvelle-personne")).first() is None
        case = case_edit.create_case(s, actor=EDITOR, campaign_id=_campaign_id(s), data=case_fields())
        assert (case.position, case.status, case.person["en"]) == (9, "active", "Nadia Example")
        assert case.links == {"petition": None, "page": {"fr": "https://amnistie.ca/nadia", "en": None}}
        with pytest.raises(ServiceError, match="existe déjà"):
            case_edit.create_case(s, actor=EDITOR, campaign_id=_campaign_id(s), data=case_fields())
        with pytest.raises(PermissionDenied):
            case_edit.create_case(s, actor=VIEWER, campaign_id=_campaign_id(s), data=case_fields("autre"))


def test_a_postal_address_is_refused_as_in_a_folder(engine):
    with db.session_scope(engine) as s, pytest.raises(ServiceError, match="adresse postale"):
        case_edit.update_case(s, actor=EDITOR, case_id=_case(s).id, changes={
            "solidarity_address": {"fr": "1234 rue Sainte-Catherine, Montréal H2X 1Z4", "en": "Montréal H2X 1Z4"}})


def test_reordering_and_moving(engine):
    with db.session_scope(engine) as s:
        order = [c.slug for c in s.exec(select(Case).order_by(Case.position))]
        case_edit.reorder(s, actor=EDITOR, campaign_id=_campaign_id(s), slugs=list(reversed(order)))
    with db.session_scope(engine) as s:
        assert [c.slug for c in s.exec(select(Case).order_by(Case.position))] == list(reversed(order))
        assert [c.position for c in s.exec(select(Case).order_by(Case.position))] == list(range(1, 9))
        case_edit.move(s, actor=EDITOR, case_id=_case(s, order[0]).id, offset=-1)
        with pytest.raises(ServiceError, match="une fois"):
            case_edit.reorder(s, actor=EDITOR, campaign_id=_campaign_id(s), slugs=order[:3])
    with db.session_scope(engine) as s:
        assert [c.slug for c in s.exec(select(Case).order_by(Case.position))][-2:] == [order[0], order[1]]


def test_good_news_holds_the_queue_like_a_pause_and_keeps_a_dated_note(engine):
    _, first = scheduled_post(engine)
    _, second = scheduled_post(engine, text="Encore pour Juan.")
    _, other = scheduled_post(engine, case="sonia-dahmani", text="Écrivez pour Sonia.")
    with db.session_scope(engine) as s:
        d = s.get(Delivery, second)
        states.transition(s, d, states.PUBLISHING, actor="w")
        states.transition(s, d, states.RETRYING, actor="w", attempts=1)
    with db.session_scope(engine) as s:
        with pytest.raises(ServiceError, match="note"):
            case_edit.set_status(s, actor=EDITOR, case_id=_case(s).id, status="good_news", note=" ")
        case, held = case_edit.set_status(s, actor=EDITOR, case_id=_case(s).id, status="good_news",
                                          note="Libéré le 3 décembre")
        assert held == 2
    with db.session_scope(engine) as s:
        assert [s.get(Delivery, i).state for i in (first, second, other)] == ["held", "held", "scheduled"]
        assert s.get(Delivery, first).held_reason.startswith("case good_news")
    # a new delivery for a good-news case is held as soon as it is scheduled
    post_id, later = scheduled_post(engine, text="Et encore.")
    with db.session_scope(engine) as s:
        assert s.get(Delivery, later).state == "held"
        with pytest.raises(PermissionDenied):
            case_edit.set_status(s, actor=EDITOR, case_id=_case(s).id, status="active", note="")
        case, released = case_edit.set_status(s, actor=APPROVER, case_id=_case(s).id, status="active",
                                              note="Faux départ")
        assert released == 3
    with db.session_scope(engine) as s:
        assert [s.get(Delivery, i).state for i in (first, second)] == ["scheduled", "retrying"]
        history = case_edit.status_history(s, case_id=_case(s).id)
        assert [(h.from_status, h.status, h.note, h.actor) for h in history] == [
            ("good_news", "active", "Faux départ", "alain"), ("active", "good_news", "Libéré le 3 décembre", "edith")]
        assert history[0].at >= history[1].at and history[1].at.tzinfo is not None
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "case_status")).all()


def test_a_pause_writes_the_dated_history(engine):
    with db.session_scope(engine) as s:
        case_edit.set_status(s, actor=EDITOR, case_id=_case(s).id, status="paused", note="Demande de la famille")
    with db.session_scope(engine) as s:
        note = s.exec(select(CaseStatusNote)).one()
        assert (note.status, note.note) == ("paused", "Demande de la famille")


def test_editing_a_case_after_approval_leaves_the_frozen_text_alone(engine):
    from orchestrator.services.series import fill

    with db.session_scope(engine) as s:
        case, campaign = _case(s), s.get(Campaign, _campaign_id(s))
        text = fill("Écrivez pour {person} : exigez {ask}.", case=case, campaign=campaign, action=None,
                    language="fr", link=None)
    post_id, delivery_id = scheduled_post(engine, text=text)
    with db.session_scope(engine) as s:
        before = s.get(Delivery, delivery_id).rendered_text
        assert before and case.ask["fr"] in before
        case_edit.update_case(s, actor=EDITOR, case_id=_case(s).id, changes={
            "ask": {"fr": "une toute autre demande", "en": "another ask"},
            "person": {"fr": "Juan L.", "en": "Juan L."}})
    with db.session_scope(engine) as s:
        assert s.get(Delivery, delivery_id).rendered_text == before
        assert s.get(Post, post_id).text == text and s.get(Post, post_id).status == "approved"
        # and what the worker would send is still the frozen text
        assert "une toute autre demande" not in s.get(Delivery, delivery_id).rendered_text


def test_the_good_news_post_is_offered_from_a_template_and_is_not_held(engine):
    from orchestrator.models import Template

    with db.session_scope(engine) as s:
        case = _case(s, "sonia-dahmani")
        with pytest.raises(ServiceError, match="bonne nouvelle"):
            case_edit.offer_good_news_post(s, actor=EDITOR, case_id=case.id, language="fr", text="Hourra")
        case_edit.set_status(s, actor=EDITOR, case_id=case.id, status="good_news", note="Libérée le 27 novembre 2025")
        default = case_edit.good_news_text(s, case_id=case.id, language="fr")
        assert default.startswith("🎉 Bonne nouvelle pour Sonia Dahmani (Tunisie)") and "#W4R2025" in default
        s.add(Template(campaign_id=case.campaign_id, slug="bonne-nouvelle-fr", action_slug="ecrire-une-lettre",
                       language="fr", body="Merci ! {person} est libre. {link}"))
        s.flush()
        assert case_edit.good_news_text(s, case_id=case.id, language="fr").startswith("Merci ! Sonia Dahmani est libre.")
        assert case_edit.good_news_text(s, case_id=case.id, language="en").startswith("🎉 Good news for Sonia Dahmani")
        post = case_edit.offer_good_news_post(s, actor=EDITOR, case_id=case.id, language="fr", text="Merci ! Sonia est libre.")
        assert (post.status, post.case_id, post.author) == ("pending", None, "edith")
        post_id = post.id
    account = x_account(engine)
    with db.session_scope(engine) as s:
        from orchestrator.services.auth import SYSTEM
        from orchestrator.services.posts import approve_post

        approve_post(s, actor=SYSTEM, post_id=post_id)
        d = deliveries.schedule(s, actor=EDITOR, post_id=post_id, account_name=account,
                                at=__import__("orchestrator.timeutil", fromlist=["utcnow"]).utcnow())
        assert d.state == "scheduled"
