from __future__ import annotations

from orchestrator.models import Case, Delivery
from tests.dashboard.helpers import texts


def _case(session, slug: str = "juan-lopez") -> Case:
    return session.query(Case).filter_by(slug=slug).one()


def test_it_shows_story_and_ask_in_both_languages(app):
    at = app("victor", "cases")
    shown = texts(at)
    assert "Juan López" in "\n".join(e.label for e in at.expander)
    assert "Histoire" in shown and "Demande" in shown and "English" in shown


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
