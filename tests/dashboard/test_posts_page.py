"""The posts page: an approved post scheduled later from the dashboard, on more accounts or at
another time; a pending post withdrawn by its author or rejected by an approver from where it is
shown."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Account, Delivery, Post
from orchestrator.services import compose, posts
from orchestrator.services.auth import SYSTEM, Actor
from orchestrator.timeutil import local, utcnow
from tests.dashboard.helpers import stored, texts

EDITH = Actor("edith", "editor")
TZ = "America/Toronto"


def _approved_kept(engine, names: list[str], **kw) -> int:
    """An approved post written for these accounts, with no time yet."""
    with db.session_scope(engine) as s:
        post_id = compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text="Écrivez pour Juan López.",
                                  account_names=names, submit=True, **kw).post.id
        posts.approve_post(s, actor=SYSTEM, post_id=post_id)
        return post_id


def _when(at, post_id: int, moment: dt.datetime):
    moment = local(moment, TZ)
    at.date_input(key=f"posts_date_{post_id}").set_value(moment.date())
    at.time_input(key=f"posts_time_{post_id}").set_value(moment.time().replace(second=0, microsecond=0))
    return at.run()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_approved_post_is_scheduled_later_on_its_accounts_and_more(app, bare_engine, four_accounts, lang):
    post_id = _approved_kept(bare_engine, ["x-fr", "mastodon-fr"], variants={"mastodon-fr": "Pour Mastodon"})
    at = app("edith", "posts", lang=lang)
    assert not at.exception
    chooser = at.multiselect(key=f"posts_accounts_{post_id}")
    assert chooser.value == ["x-fr", "mastodon-fr"]  # the accounts it was written for come first
    chooser.set_value(["x-fr", "mastodon-fr", "bluesky-fr"]).run()
    _when(at, post_id, utcnow() + dt.timedelta(days=3))
    at.button(key=f"posts_schedule_{post_id}").click().run()
    assert not at.exception and not at.error
    made = {a.name: d for d, a in stored(bare_engine, select(Delivery, Account).join(Account, Account.id == Delivery.account_id))}
    assert set(made) == {"x-fr", "mastodon-fr", "bluesky-fr"}
    # approved already: each text is frozen at once, with the account's own variant
    assert made["mastodon-fr"].rendered_text.startswith("Pour Mastodon")
    assert made["bluesky-fr"].rendered_text.startswith("Écrivez pour Juan López.")
    assert ("programmée" if lang == "fr" else "scheduled") in texts(at)


def test_a_past_time_on_the_posts_page_needs_a_confirmation(app, bare_engine, four_accounts):
    post_id = _approved_kept(bare_engine, ["x-fr"])
    at = app("edith", "posts")
    _when(at, post_id, utcnow() - dt.timedelta(hours=5))
    assert "déjà passée" in texts(at)
    at.button(key=f"posts_schedule_{post_id}").click().run()
    assert any("déjà passée" in e.value for e in at.error)
    assert stored(bare_engine, select(Delivery)) == []
    at.checkbox(key=f"posts_now_{post_id}").check().run()
    at.button(key=f"posts_schedule_{post_id}").click().run()
    (delivery,) = stored(bare_engine, select(Delivery))
    assert delivery.scheduled_at > utcnow() - dt.timedelta(minutes=1)


def test_an_approver_rejects_and_an_author_withdraws_from_the_posts_page(app, bare_engine, four_accounts):
    with db.session_scope(bare_engine) as s:
        first = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Un", submit=True).id
        second = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Deux", submit=True).id
    at = app("alain", "posts")
    at.segmented_control(key="posts_status").set_value("pending").run()
    assert f"posts_withdraw_{first}" not in {b.key for b in at.button}  # not his post
    at.text_input(key=f"posts_reject_comment_{first}").input("Ajoutez le lien")
    at.button(key=f"posts_reject_{first}").click().run()
    at = app("edith", "posts")
    at.segmented_control(key="posts_status").set_value("pending").run()
    assert f"posts_reject_{second}" not in {b.key for b in at.button}  # editors do not reject
    at.button(key=f"posts_withdraw_{second}").click().run()
    assert {p.id: p.status for p in stored(bare_engine, select(Post))} == {first: "rejected", second: "draft"}


def test_a_viewer_reads_the_posts_without_acting(app, bare_engine, four_accounts):
    post_id = _approved_kept(bare_engine, ["x-fr"])
    at = app("victor", "posts")
    assert "Lecture seule" in texts(at)
    assert not [b for b in at.button if str(b.key).endswith(f"_{post_id}")]
    assert "x-fr · X · pas encore d'heure" in texts(at)


def test_states_are_shown_one_way_on_every_page(app, bare_engine, four_accounts):
    """A rejected post's delivery reads « ⛔ Refusée » on its card as in the queue and the calendar:
    one table of states (services/delivery_views.py, STYLES), none of the dashboard's own."""
    from pathlib import Path

    from orchestrator.services.delivery_views import STYLES

    with db.session_scope(bare_engine) as s:
        made = compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text="Écrivez pour Juan.",
                               account_names=["x-fr"], at=utcnow() + dt.timedelta(days=1), submit=True)
        posts.reject_post(s, actor=Actor("alain", "approver"), post_id=made.post.id, comment="Non")
    at = app("victor", "posts")
    at.segmented_control(key="posts_status").set_value("rejected").run()
    assert STYLES["rejected"].text("fr") in texts(at)
    at = app("victor", "queue")
    assert STYLES["rejected"].text("fr") in at.dataframe[0].value.to_csv()
    dashboard = Path(__file__).resolve().parents[2] / "dashboard"
    for source in dashboard.rglob("*.py"):
        code = source.read_text(encoding="utf-8")
        assert "STATE_STYLE" not in code and "states.LABELS" not in code, source


@pytest.mark.parametrize(("lang", "edited", "approved"), [("fr", "Texte modifié par edith", "Approuvée par alain, "),
                                                           ("en", "Text edited by edith", "Approved by alain, ")])
def test_a_post_s_card_names_who_edited_its_text_and_who_approved_it(app, bare_engine, account, lang, edited, approved):
    """Four eyes as it went, on the Posts page: who changed the text after writing it, and who
    approved it (the Approvals page no longer shows it once approved)."""
    with db.session_scope(bare_engine) as s:
        post_id = posts.create_post(s, actor=EDITH, case_slug="juan-lopez", text="Écrivez pour Juan.").id
        posts.edit_post(s, actor=EDITH, post_id=post_id, text="Écrivez pour Juan López, aujourd'hui.")
        posts.submit_post(s, actor=EDITH, post_id=post_id)
        posts.approve_post(s, actor=Actor("alain", "approver"), post_id=post_id)
    shown = texts(app("victor", "posts", lang=lang))
    assert edited in shown and approved in shown, shown
    assert "None" not in shown
