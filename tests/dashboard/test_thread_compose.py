"""Compose a thread: split a story within every chosen platform's limit, edit the parts, see
each part per platform in the preview (and X's warning before approval), submit; the approver
sees the parts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Post
from orchestrator.services import compose
from orchestrator.services.auth import Actor
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import texts

STORY = ("Juan López défendait la rivière Guapinol au Honduras contre une mine. Il a été assassiné le 14 septembre "
         "2024, en sortant de l'église de Tocoa, après des années de menaces. Les autorités n'ont arrêté que les "
         "exécutants ; ceux qui ont commandé le crime restent libres, et sa famille est menacée depuis. Écrivez au "
         "procureur général pour exiger une enquête complète, impartiale et rapide sur tous les responsables ! "
         "Chaque lettre compte.")


def test_a_story_is_split_into_a_thread_edited_previewed_and_submitted(app, four_accounts, session):
    at = app("edith", "compose")
    at.text_area(key="compose_text").input(STORY)
    at.multiselect(key="compose_accounts").set_value(["x-fr", "bluesky-fr"])
    at.run()
    at.checkbox(key="compose_numbered").check()
    at.button(key="compose_split").click().run()
    assert not at.exception, [e.value for e in at.exception]
    first = at.text_area(key="compose_text").value
    parts = [a for a in at.text_area if str(a.key).startswith("compose_part_")]
    total = len(parts) + 1
    assert len(parts) >= 1 and first.startswith("Juan López défendait") and first.endswith(f"1/{total}")
    assert parts[-1].value.endswith(f"{total}/{total}")
    shown = texts(at)
    assert "Partie 2" in shown  # each part, per platform, in the preview
    assert "Sur X, le fil peut partir comme une seule publication" in shown  # said before approval
    parts[-1].input(parts[-1].value.replace("Chaque lettre compte.", "Merci.")).run()  # the parts are editable
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    post = session.exec(select(Post)).one()
    assert post.status == "pending" and post.text == first
    assert len(post.parts) == len(parts) and "Merci." in post.parts[-1]["text"]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_approver_sees_the_parts(app, bare_engine, four_accounts, lang):
    with db.session_scope(bare_engine) as s:
        post_id = compose.compose(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", language="fr",
                                  text="Juan López défendait sa rivière. 1/2", account_names=["mastodon-fr"],
                                  parts=[{"text": "Écrivez pour lui. 2/2"}], at=utcnow() + dt.timedelta(days=1),
                                  submit=True).post.id
    at = app("alain", "approvals", lang=lang)
    shown = texts(at)
    assert "Écrivez pour lui. 2/2" in shown
    assert ("Fil de 2 parties" if lang == "fr" else "Thread of 2 parts") in shown
    assert f"approve_{post_id}" in {b.key for b in at.button}


def test_the_author_edits_a_part_of_a_draft_thread_in_my_posts(app, bare_engine, four_accounts, session):
    with db.session_scope(bare_engine) as s:
        post_id = compose.compose(s, actor=Actor("edith", "editor"), case_slug="juan-lopez", language="fr",
                                  text="Juan López défendait sa rivière. 1/2", account_names=["mastodon-fr"],
                                  parts=[{"text": "Écrivez pour lui. 2/2"}]).post.id
    at = app("edith", "compose")
    at.text_area(key=f"mine_part_{post_id}_0").input("Écrivez au procureur. 2/2").run()
    at.button(key=f"mine_save_{post_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    session.expire_all()
    assert session.get(Post, post_id).parts == [{"text": "Écrivez au procureur. 2/2", "images": []}]
