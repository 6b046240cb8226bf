"""The Inbox in headless Chromium, on the sandbox's four platforms: our post about Juan is published
on X, Facebook, Mastodon and Bluesky; on each, someone of the public asks « où est-ce que je
signe ? » under it, and one inbox pass (the worker's) brings the questions in. An editor saves an
answer, opens the Inbox, handles each question and answers it with the saved answer; an approver
approves the four replies on the Approvals page, in English; the worker publishes them, each in its
question's thread (checked on the emulator's side: the reply's parent is the question); the next
inbox pass marks the questions done, and the editor sees them « Traité ». A viewer sees the counts,
never a text or a handle.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlmodel import Session, col, select

from orchestrator.models import Delivery, InboxItem, Post
from tests.proofs.browser.conftest import ACCOUNTS, Site
from tests.proofs.browser.journal import approved_delivery, delivery, wait_for
from tests.proofs.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CASE = "juan-lopez"
KINDS = ("x", "facebook", "mastodon", "bluesky")
#: Words no other journey writes, so what is read here is this journey's alone.
OURS = "Boîte de réception : écrivez pour Juan López"
QUESTION = "Où est-ce que je signe pour Juan ? ({kind})"
ANSWER_TITLE = "Où signer pour Juan"
ANSWER = "Bonjour ! Vous pouvez signer ici : https://amnistie.ca/juan — merci de votre appui."


def _inbox_pass(site: Site) -> None:
    """One pass of the worker's inbox (fetch, then settle the answered items), as the running
    worker makes every two minutes."""
    from orchestrator.settings import get_settings
    from orchestrator.worker import Worker

    report = Worker(site.engine(), settings=get_settings(), worker_id="inbox-journey").inbox()
    assert not report.errors, report.as_dict()


def _items(site: Site) -> dict[str, InboxItem]:
    """This journey's questions in the inbox, by platform."""
    with Session(site.engine(), expire_on_commit=False) as s:
        found = s.exec(select(InboxItem).where(col(InboxItem.text).contains("signe pour Juan")))
        return {i.platform: i for i in found}


def _item_block(screen: Screen, text: str) -> Any:
    """The item's card: the innermost block that holds its text."""
    return screen.page.locator('[data-testid="stVerticalBlock"]').filter(has_text=text).last


def _pick(screen: Screen, widget_key: str, option: str) -> None:
    """Open a selectbox's list and click one of its options (without typing to filter it)."""
    wanted = screen.page.get_by_role("option", name=option, exact=True)
    for _ in range(5):  # a rerun that ends as the list opens closes it again
        screen.settle()
        screen.keyed(widget_key).locator("input").first.click()
        try:
            wanted.first.wait_for(timeout=3000)
        except Exception:  # noqa: BLE001 - not open: click the box again
            screen.page.keyboard.press("Escape")
            continue
        wanted.first.click()
        screen.settle()
        return
    raise AssertionError(f"no option {option!r} in {widget_key}")


def _published_questions(site: Site) -> dict[str, tuple[str, str]]:
    """Our post published on each platform, and the public's question under it: kind -> (our
    post's platform id, the question's)."""
    names = dict(ACCOUNTS)
    made = {kind: approved_delivery(site.engine(), case=CASE, account=names[kind], text=f"{OURS} ({kind})",
                                    in_seconds=1) for kind in KINDS}
    out = {}
    for kind, delivery_id in made.items():
        published = wait_for(lambda d=delivery_id: delivery(site.engine(), d), lambda d: d.state == "published",
                             timeout=90, what=f"our post on {kind}")
        assert published.platform_id
        emulator = site.sandbox.sandbox.emulator(kind)
        (question,) = emulator.inject_public(None, 1, kinds=("reply",), answers=published.platform_id,
                                            texts=(QUESTION.format(kind=kind),))
        out[kind] = (published.platform_id, question)
    return out


def _parent_on_the_platform(site: Site, kind: str, reply_id: str) -> str:
    """What the emulator says the published reply answers."""
    emulator = site.sandbox.sandbox.emulator(kind)
    if kind == "facebook":
        return str(emulator.comments()[reply_id]["parent"])
    (mine,) = [p for p in emulator.posts() if str(p["id"]) == reply_id]
    if kind == "bluesky":
        return str(mine["reply"]["parent"]["uri"])
    return str(mine["in_reply_to"])


def test_an_editor_answers_the_publics_question_on_four_platforms(site: Site, screen: Screen,
                                                                  chromium: Any) -> None:
    questions = _published_questions(site)
    _inbox_pass(site)
    items = wait_for(lambda: _items(site), lambda found: set(found) == set(KINDS), timeout=30,
                     what="the questions in the inbox")

    # The editor saves an answer for the question that keeps coming back.
    screen.sign_in("edith")
    screen.open("inbox")
    screen.settle()
    screen.page.get_by_text(screen.t("inbox.saved_answers"), exact=True).click()
    form = screen.page.locator('[data-testid="stForm"]').filter(has_text=screen.t("inbox.answer_edit"))
    title = form.get_by_label(screen.t("inbox.answer_title"))
    title.fill(ANSWER_TITLE)
    body = form.get_by_label(screen.t("inbox.answer_text"))
    body.fill(ANSWER)
    body.press("Tab")  # the text is the form's once the field is left
    for _ in range(3):
        screen.settle()
        form.get_by_role("button", name=screen.t("inbox.answer_save")).click()
        try:
            screen.settle(screen.t("inbox.saved"), timeout=20_000)
            break
        except PlaywrightTimeout:
            # On a loaded machine a click can land while the page is between two runs and be
            # dropped: the form, emptied by a real submission, still holds the title then.
            assert title.input_value() == ANSWER_TITLE, "the answer was submitted but never confirmed"
    else:
        raise AssertionError("the saved answer's form never went through")

    # Each question: handled, answered with the saved answer, submitted for approval.
    for kind in KINDS:
        item = items[kind]
        text = QUESTION.format(kind=kind)
        screen.shows(text)
        card = _item_block(screen, text)
        assert screen.t("inbox.state.new") in card.inner_text()
        screen.keyed(f"inbox_open_{item.id}").get_by_role("button").click()
        screen.settle()
        card = _item_block(screen, text)
        card.get_by_text(screen.t("inbox.reply"), exact=True).click()
        _pick(screen, f"inbox_sa_{item.id}", ANSWER_TITLE)
        assert screen.field(f"inbox_text_{item.id}").input_value() == ANSWER
        screen.keyed(f"inbox_send_{item.id}").get_by_role("button").click()
        screen.settle(screen.t_words("inbox.reply_sent"))
    replies = {kind: i.reply_post_id for kind, i in _items(site).items()}
    assert all(replies.values()), replies
    with Session(site.engine()) as s:  # nothing goes out before a second person approves
        assert not s.exec(select(Delivery).where(col(Delivery.post_id).in_(list(replies.values())),
                                                 Delivery.state == "published")).all()
        assert {p.reply_to for p in s.exec(select(Post).where(col(Post.id).in_(list(replies.values()))))} == \
            {question for _, question in questions.values()}
    screen.sign_out()

    # The approver reads each reply beside the question it answers, in English, and approves it.
    screen.sign_in("amir", lang="en")
    screen.open("approvals")
    for kind in KINDS:
        approve = screen.keyed(f"approve_{replies[kind]}")
        approve.wait_for()
        approve.get_by_role("button").click()
        screen.settle(screen.t("approvals.approved", id=replies[kind]))
    screen.switch_language("fr")  # the sign-in page that follows is in French
    screen.sign_out()

    # The worker publishes each reply in its question's thread, on the platform itself.
    for kind in KINDS:
        post_id = replies[kind]
        with Session(site.engine()) as s:
            (d,) = s.exec(select(Delivery).where(Delivery.post_id == post_id)).all()
        published = wait_for(lambda i=d.id: delivery(site.engine(), i or 0), lambda x: x.state == "published",
                             timeout=90, what=f"the reply on {kind}")
        assert published.platform_id
        assert _parent_on_the_platform(site, kind, published.platform_id) == questions[kind][1], kind

    # The next inbox pass marks the answered questions done; the editor sees them « Traité ».
    _inbox_pass(site)
    done = _items(site)
    assert {k: (i.state, i.handled_by) for k, i in done.items()} == {k: ("done", "edith") for k in KINDS}
    screen.sign_in("edith")
    screen.open("inbox")
    for kind in KINDS:
        card = _item_block(screen, QUESTION.format(kind=kind))
        shown = card.inner_text()
        assert screen.t("inbox.state.done") in shown, shown
        assert screen.t("inbox.handled", who="edith", when="")[:12] in shown, shown
    screen.sign_out()

    # A viewer sees how many, never what nor who.
    screen.sign_in("victor")
    screen.open("inbox")
    screen.shows(screen.t("inbox.viewer"))
    shown = screen.main_text()
    assert screen.t("inbox.state.done") in shown
    assert "signe pour Juan" not in shown
    assert not [i.author for i in done.values() if i.author and i.author in shown]
    assert screen.page.locator('[data-testid="stMetricValue"]').count() == 4
