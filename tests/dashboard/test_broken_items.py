"""One broken item never breaks a page: an account, a case or a template that cannot be drawn
shows its own error on its own card, in the reader's language, and the page goes on."""

from __future__ import annotations

import sqlalchemy as sa

from orchestrator import db
from orchestrator.models import Account


def _unknown_platform(engine: sa.Engine) -> None:
    """An account of a platform this version does not know (added by a newer one, say)."""
    with db.session_scope(engine) as s:
        s.add(Account(kind="myspace", name="insta-fr", language="fr", credentials=""))


def test_an_account_of_an_unknown_platform_breaks_only_its_card(app, account, bare_engine):
    _unknown_platform(bare_engine)
    for lang, words in (("fr", "Le compte insta-fr ne peut pas être affiché"), ("en", "Account insta-fr cannot be shown")):
        at = app("ada", "channels", lang=lang)
        assert not at.exception, [e.value for e in at.exception]
        assert any(words in e.value for e in at.error), [e.value for e in at.error]
        assert any(b.key == "acct_test_x-fr" for b in at.button)  # the other account is all there
        assert any(f.key == "acct_cred_x-fr_bearer_token" for f in at.text_input)
        assert any(f.key == "acct_new_name" for f in at.text_input)  # and the page goes on


def test_a_case_that_cannot_be_drawn_breaks_only_its_card(app, bare_engine):
    with bare_engine.begin() as conn:
        conn.execute(sa.text("""UPDATE "case" SET story = '"plain text where two languages belong"' WHERE slug = 'damisoa'"""))
    at = app("edith", "cases")
    assert not at.exception, [e.value for e in at.exception]
    assert any("Ce cas (damisoa) ne peut pas être affiché" in e.value for e in at.error)
    assert any(b.key == "case_pause_juan-lopez" for b in at.button)
    assert at.selectbox(key="case_edit_which")  # the form below the cards is drawn


def test_a_template_that_cannot_be_checked_breaks_only_its_card(app, account, bare_engine):
    _unknown_platform(bare_engine)
    at = app("edith", "templates")
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert errors and all("n'a pas pu être vérifié" in e for e in errors)
    assert at.text_area(key="template_new_body")  # the editing form is drawn
