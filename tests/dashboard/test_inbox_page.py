"""The Inbox page: items newest first with their case and the post they answer, flagged ones
first, filters, triage and assignment, a reply from a saved answer submitted for approval; a
viewer sees the counts and never a text or a handle; the overview counts what waits per case."""

from __future__ import annotations

import datetime as dt

import pytest

from channels.base import InboxEntry, InboxPage
from orchestrator import db
from orchestrator.models import Account, Campaign, Delivery, InboxItem, Post
from orchestrator.services import inbox, listening
from orchestrator.services.auth import SYSTEM, Actor
from orchestrator.timeutil import utcnow
from tests.dashboard.helpers import stored, texts

QUESTION = "Où est-ce que je signe ?"
ABUSE = "Bande de traîtres"
HANDLE = "camille_soutien"


@pytest.fixture
def items(bare_engine, account) -> list[int]:
    """A published post of ours about Juan on x-fr, a question and an abusive reply to it, and a
    mention; the campaign flags « traîtres »."""
    from orchestrator.services import deliveries, posts

    with db.session_scope(bare_engine) as s:
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan", submit=True)
        posts.approve_post(s, actor=SYSTEM, post_id=post.id or 0)
        delivery = deliveries.schedule(s, actor=SYSTEM, post_id=post.id or 0, account_name=account, at=utcnow())
        delivery.state, delivery.platform_id = "published", "1000"
        s.add(delivery)
        campaign = s.get(Campaign, post.campaign_id)
        inbox.set_words(s, actor=SYSTEM, campaign=campaign, words=["traitres"])
        acc = s.exec(Account.__table__.select().where(Account.name == account)).first()  # type: ignore[attr-defined]
        now = utcnow()
        page = InboxPage((
            InboxEntry("1001", "reply", now - dt.timedelta(minutes=3), QUESTION, HANDLE, "1000", "fr",
                       "https://x.com/i/web/status/1001"),
            InboxEntry("1002", "reply", now - dt.timedelta(minutes=2), ABUSE, "troll_42", "1000", "fr"),
            InboxEntry("1003", "mention", now - dt.timedelta(minutes=1), "@ecrire merci", "lea_relais", None, "fr"),
        ), "x1:since=1003")
        inbox.record_page(s, account=s.get(Account, acc.id), campaign=campaign, page=page,
                          key=listening.listening_key())
        inbox.save_answer(s, actor=SYSTEM, campaign_id=campaign.id or 0, language="fr", title="Où signer",
                          text="Signez ici : https://amnistie.ca/juan")
        return [i.id for i in s.exec(InboxItem.__table__.select().order_by(InboxItem.id))]  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_editor_sees_the_items_with_their_case_flagged_first(app, items, lang):
    at = app("edith", "inbox", lang=lang)
    shown = texts(at)
    assert QUESTION in shown and HANDLE.replace("_", "\\_") in shown and "Juan" in shown
    assert ("À revoir en premier" if lang == "fr" else "Review first") in shown
    order = [e.value for e in at.text if e.value in (QUESTION, ABUSE, "@ecrire merci")]
    assert order == [ABUSE, "@ecrire merci", QUESTION]  # flagged first, then newest first
    assert ("Nouveau" if lang == "fr" else "New") in shown


def test_filters_triage_and_assignment(app, items, bare_engine):
    at = app("edith", "inbox")
    at.selectbox(key="inbox_platform").set_value("mastodon").run()
    assert QUESTION not in texts(at)
    at.selectbox(key="inbox_platform").set_value(None).run()
    assert f"inbox_st_{items[0]}_new" not in {s.key for s in at.selectbox}  # one item's controls at a time
    at.button(key=f"inbox_open_{items[0]}").click().run()
    at.selectbox(key=f"inbox_st_{items[0]}_new").set_value("ignored").run()
    at.button(key=f"inbox_open_{items[1]}").click().run()
    at.selectbox(key=f"inbox_as_{items[1]}_").set_value("alain").run()
    assert not at.exception
    rows = {r.id: r for r in stored(bare_engine, InboxItem.__table__.select())}  # type: ignore[attr-defined]
    assert (rows[items[0]].state, rows[items[0]].handled_by) == ("ignored", "edith")
    assert (rows[items[1]].assigned_to, rows[items[1]].state) == ("alain", "todo")
    at.selectbox(key="inbox_state").set_value("ignored").run()
    assert QUESTION in texts(at) and ABUSE not in texts(at)


def test_a_reply_from_a_saved_answer_goes_for_approval_in_the_items_thread(app, items, bare_engine):
    at = app("edith", "inbox")
    at.button(key=f"inbox_open_{items[0]}").click().run()
    at.selectbox(key=f"inbox_sa_{items[0]}").set_value(0).run()
    assert at.text_area(key=f"inbox_text_{items[0]}").value == "Signez ici : https://amnistie.ca/juan"
    at.button(key=f"inbox_send_{items[0]}").click().run()
    assert not at.exception and not at.error
    (post,) = stored(bare_engine, Post.__table__.select().where(Post.reply_to == "1001"))  # type: ignore[attr-defined]
    assert (post.status, post.author, post.text) == ("pending", "edith", "Signez ici : https://amnistie.ca/juan")
    (delivery,) = stored(bare_engine, Delivery.__table__.select().where(Delivery.post_id == post.id))  # type: ignore[attr-defined]
    assert delivery.rendered_text is None  # nothing goes out before someone else approves it
    again = app("ada", "inbox")  # someone else sees the reply is written before opening the item
    assert f"Réponse écrite : publication n° {post.id}" in texts(again)
    approver = app("alain", "approvals")  # the approver sees what the reply answers, and approves it
    assert f"au message de \u2068camille\\_soutien\u2069 : « \u2068{QUESTION}\u2069 »" in texts(approver)
    approver.button(key=f"approve_{post.id}").click().run()
    (post,) = stored(bare_engine, Post.__table__.select().where(Post.reply_to == "1001"))  # type: ignore[attr-defined]
    assert (post.status, post.approved_by) == ("approved", "alain")


def test_a_viewer_sees_counts_never_texts_nor_handles(app, items):
    at = app("victor", "inbox")
    shown = texts(at)
    assert "3" in [m.value for m in at.metric]
    for secret in (QUESTION, ABUSE, HANDLE, "troll_42", "lea_relais", "camille", "troll"):
        assert secret not in shown
    assert "pas les messages" in shown


def test_the_overview_counts_what_waits_per_case(app, items, bare_engine):
    with db.session_scope(bare_engine) as s:
        inbox.set_state(s, actor=Actor("edith", "editor"), item_id=items[0], state="done")
    at = app("victor", "overview")
    assert "Juan López : 1" in texts(at) or "Juan López : 1" in texts(at).replace("\u202f", " ")


def test_a_strangers_direction_controls_never_turn_the_page_around(app, items, bare_engine):
    """A handle with a right-to-left override (U+202E) would print the words after it backwards
    on the same line: the page drops the controls and isolates the handle in its own direction."""
    with db.session_scope(bare_engine) as s:
        item = s.get(InboxItem, items[0])
        item.author = "\u202eeciffo_lanoitanretni\u2066"
        item.text = "\u202e" + QUESTION
        s.add(item)
    shown = texts(app("edith", "inbox"))
    assert QUESTION in shown  # read as written, not backwards
    assert "\u202e" not in shown and "\u2066" not in shown
    assert "\u2068eciffo\\_lanoitanretni\u2069" in shown


def test_a_refused_hide_is_said_once_under_its_item(app, items, bare_engine, monkeypatch):
    """Mastodon cannot hide a reply: the reason shows once, under the item, not again on top."""
    why = {"fr": "Mastodon ne permet pas de masquer une réponse sous sa publication.",
           "en": "Mastodon does not let an account hide a reply under its post."}

    def refused(session, *, actor, item_id, timeout=20.0):
        item = session.get(InboxItem, item_id)
        item.hide_error = why["fr"] + "\n" + why["en"]
        session.add(item)
        return False, why

    monkeypatch.setattr(inbox, "hide", refused)
    at = app("edith", "inbox")
    at.button(key=f"inbox_open_{items[0]}").click().run()
    at.button(key=f"inbox_hide_{items[0]}").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [why["fr"]]
