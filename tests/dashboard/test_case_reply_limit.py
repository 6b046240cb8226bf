"""The case page's reply limit (issue 22, "Protect"): approvers set it, in French and English,
the audit records it; editors and viewers see it and cannot change it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator.models import AuditEntry, Case
from tests.dashboard.helpers import texts

KEY = "case_reply_limit_juan-lopez"


def _case(session) -> Case:
    session.expire_all()
    return session.exec(select(Case).where(Case.slug == "juan-lopez")).one()


@pytest.mark.parametrize(("lang", "label", "shown", "saved"), [
    ("fr", "Limiter les réponses aux nouvelles publications", "Réponses aux nouvelles publications : personne",
     "Limite des réponses enregistrée."),
    ("en", "Limit replies on new posts", "Replies on new posts: nobody", "Reply limit saved."),
])
def test_an_approver_limits_replies_and_the_audit_says_so(app, session, lang, label, shown, saved):
    at = app("alain", "cases", lang=lang)
    box = at.selectbox(key=KEY)
    assert box.label == label and box.value == ""
    assert "Facebook" in (box.help or "")  # says plainly where it cannot be done
    box.select("nobody").run()
    at.button(key=f"{KEY}_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _case(session).reply_limit == "nobody"
    assert saved in texts(at) and shown in texts(at)
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "case_reply_limit")).one()
    assert (entry.actor, entry.detail["after"]) == ("alain", "nobody")


@pytest.mark.parametrize("who", ["edith", "victor"])
def test_editors_and_viewers_see_it_but_cannot_change_it(app, session, who):
    at = app(who, "cases")
    assert KEY not in {s.key for s in at.selectbox}
    assert "Réponses aux nouvelles publications : tout le monde" in texts(at)
    assert _case(session).reply_limit == ""


def test_the_card_stays_open_on_the_limit_just_saved(app, session):
    """Walked in a browser: after « Enregistrer la limite » the confirmation showed at the top and
    the case's card closed, hiding the limit just set."""
    at = app("alain", "cases")

    def card():  # type: ignore[no-untyped-def]
        return next(e for e in at.expander if "Juan López" in e.label)

    assert card().proto.expanded is False  # an active case's card starts closed
    at.selectbox(key=KEY).select("followers").run()
    at.button(key=f"{KEY}_save").click().run()
    assert not at.exception
    assert card().proto.expanded is True
    at.run()  # once: the next visit starts closed again
    assert card().proto.expanded is False
