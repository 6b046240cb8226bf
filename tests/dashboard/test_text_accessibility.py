"""Compose and Approvals show the accessibility warnings of a text (in French and English; the post
may still be submitted) and what each X delivery costs, with the post's total."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Post
from orchestrator.services import compose
from orchestrator.services.auth import Actor
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import stored, texts
from tests.factories import make_account

EDITH = Actor("edith", "editor")


def _shown(at) -> str:  # type: ignore[no-untyped-def]
    """The page's text, its no-break spaces (« 0,20 $ US ») as plain ones."""
    return texts(at).replace("\u00a0", " ").replace("\u202f", " ")
TEXT = "Signez https://amnistie.ca/juan pour Juan 🎉🎉🎉🎉 #ecrirecaliberelibere"


@pytest.mark.parametrize(("lang", "words"), [
    ("fr", ("Mot-clic sans majuscules", "émojis à la suite", "Un lien coupe la phrase", "Coût estimé sur X : 0,20 $ US")),
    ("en", ("Hashtag without capitals", "emoji in a row", "A link cuts the sentence", "Estimated cost on X: US$0.20")),
])
def test_compose_warns_about_the_text_and_shows_the_cost_on_x(app, account, bare_engine, lang, words):
    at = app("edith", "compose", lang=lang)
    at.text_area(key="compose_text").input(TEXT)
    at.multiselect(key="compose_accounts").set_value([account]).run()
    shown = _shown(at)
    for word in words:
        assert word in shown
    assert not at.error  # warnings: nothing to fix before submitting
    at.radio(key="compose_when").set_value("next").run()
    at.button(key="compose_submit").click().run()
    assert [p.status for p in stored(bare_engine, select(Post))] == ["pending"]


def test_a_text_without_a_link_costs_less(app, account):
    at = app("edith", "compose", lang="en")
    at.text_area(key="compose_text").input("Write for Juan.")
    at.multiselect(key="compose_accounts").set_value([account]).run()
    assert "Estimated cost on X: US$0.015" in _shown(at)
    assert "Hashtag without capitals" not in _shown(at)


def test_approvals_show_each_x_deliverys_cost_and_the_total(app, bare_engine, account):
    with db.session_scope(bare_engine) as s:
        second = make_account(s, "x", name="x-en", language=None)
        compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text=TEXT, account_names=[account, second],
                        at=utcnow() + dt.timedelta(days=1), submit=True)
    at = app("alain", "approvals")
    shown = _shown(at)
    assert shown.count("Coût estimé sur X : 0,20 $ US") == 2
    assert "Coût estimé de cette publication sur X : 0,40 $ US pour 2 envois." in shown
    assert "Mot-clic sans majuscules" in shown and "Un lien coupe la phrase" in shown
