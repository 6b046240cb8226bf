"""A plan's new posts take their case's content warning, visibility and labels, and Mastodon's
check counts that warning with the text (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlmodel import select

from orchestrator import db
from orchestrator.models import Case, Post
from orchestrator.services import case_edit
from orchestrator.services.auth import SYSTEM
from tests.orchestrator.services.plan.helpers import add_accounts, counts, csv_text, later, run

WARNING = {"fr": "Torture, mort en détention", "en": "Torture, death in custody"}


def _warning(engine, fr: str) -> None:
    with db.session_scope(engine) as s:
        case = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        case_edit.update_case(s, actor=SYSTEM, case_id=case.id, changes={
            "content_warning": {"fr": fr, "en": WARNING["en"]}, "visibility": "unlisted",
            "self_labels": ["graphic-media"]})


def test_a_plans_posts_take_the_case_defaults_and_mastodon_counts_the_warning(engine):
    [mastodon] = add_accounts(engine, "mastodon")
    text = "Écrivez pour Juan López. " + "x" * 440  # 465 characters: fits Mastodon's 500 alone
    _warning(engine, "w" * 60)
    result = run(engine, csv_text(f"juan-lopez,fr,{text},,{mastodon},{later()}"))
    assert [p.line for p in result.problems] == [2]
    assert "l'avertissement en compte 60" in result.problems[0].fr
    assert counts(engine) == (0, 0)

    _warning(engine, WARNING["fr"])
    result = run(engine, csv_text(f"juan-lopez,fr,{text},,{mastodon},{later()}"))
    assert result.problems == []
    with db.session_scope(engine) as s:
        post = s.exec(select(Post)).one()
        assert (post.content_warning, post.visibility, post.self_labels) == (WARNING["fr"], "unlisted",
                                                                             ["graphic-media"])
