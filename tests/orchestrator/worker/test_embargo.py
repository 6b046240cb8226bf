"""An embargo on a post or on its case: nothing about it is claimed before its end, whatever is
scheduled; at its end it goes out (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Case
from orchestrator.services import embargo
from orchestrator.services.auth import Actor, PermissionDenied
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.claimer import Claimer
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule

EDITH, ALAIN = Actor("edith", "editor"), Actor("alain", "approver")


def claimed(engine, now: dt.datetime | None = None) -> list[int]:  # type: ignore[no-untyped-def]
    return [c.delivery_id for c in Claimer(engine, get_settings(), "w").claim(now)]


def case_id(engine, slug: str = "juan-lopez") -> int:  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as s:
        return s.exec(select(Case.id).where(Case.slug == slug)).one()


def test_a_case_embargo_holds_every_post_about_it_until_its_end(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    until = utcnow() + dt.timedelta(hours=3)
    with db.session_scope(engine) as s:
        embargo.set_case_embargo(s, actor=EDITH, case_id=case_id(engine), until=until)
    juan = schedule(engine, approved_post(engine), account, at=utcnow() - dt.timedelta(hours=1))
    sonia = schedule(engine, approved_post(engine, text="Sonia", case="sonia-dahmani"), account)
    assert claimed(engine) == [sonia]
    held = delivery(engine, juan)
    assert held.state == states.SCHEDULED and abs((held.due_at - until).total_seconds()) < 1
    assert claimed(engine, utcnow() + dt.timedelta(hours=2)) == []  # still under embargo
    assert claimed(engine, until + dt.timedelta(seconds=1)) == [juan]


def test_a_post_embargo_holds_that_post_only_and_a_later_case_embargo_wins(engine) -> None:
    account = add_account(engine, "x", name="x-test")
    post = approved_post(engine)
    other = schedule(engine, approved_post(engine, text="Autre"), account)
    mine = schedule(engine, post, account)
    soon, later = utcnow() + dt.timedelta(hours=1), utcnow() + dt.timedelta(hours=5)
    with db.session_scope(engine) as s:
        embargo.set_post_embargo(s, actor=EDITH, post_id=post, until=soon)
    assert claimed(engine) == [other]
    with db.session_scope(engine) as s:
        embargo.set_case_embargo(s, actor=EDITH, case_id=case_id(engine), until=later)
    assert claimed(engine, soon + dt.timedelta(minutes=1)) == []
    assert claimed(engine, later + dt.timedelta(minutes=1)) == [mine]


def test_lifting_or_bringing_forward_takes_an_approver_and_is_audited(engine) -> None:
    post = approved_post(engine)
    until = utcnow() + dt.timedelta(days=1)
    with db.session_scope(engine) as s:
        embargo.set_post_embargo(s, actor=EDITH, post_id=post, until=until)
        embargo.set_post_embargo(s, actor=EDITH, post_id=post, until=until + dt.timedelta(hours=1))  # later: fine
    with db.session_scope(engine) as s:
        for earlier in (None, until - dt.timedelta(hours=1)):
            with pytest.raises(PermissionDenied) as refused:
                embargo.set_post_embargo(s, actor=EDITH, post_id=post, until=earlier)
            assert "lever ou avancer l'embargo" in refused.value.fr and "bring forward the embargo" in refused.value.en
        with pytest.raises(PermissionDenied):
            embargo.set_post_embargo(s, actor=Actor("victor", "viewer"), post_id=post, until=until)
    with db.session_scope(engine) as s:
        embargo.set_post_embargo(s, actor=ALAIN, post_id=post, until=None)
    with db.session_scope(engine) as s:
        rows = s.exec(select(AuditEntry).where(AuditEntry.action == "embargo").order_by(AuditEntry.id)).all()
        assert [(r.actor, r.detail["until"] != "") for r in rows] == [("edith", True), ("edith", True), ("alain", False)]
