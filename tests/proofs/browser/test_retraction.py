"""Issue 21's journey in headless Chromium: a case's posts are out on X, Facebook, Mastodon and
Bluesky when news comes that they must go (the person's family asks it). An approver opens the
case, gives the reason, ticks the confirm box and clicks « Retirer »; the worker deletes them,
and each platform's own public read (what anyone on the web would get) no longer finds them;
the case page's progress says they are removed, without a reload. Once in French, the progress
read again in English.

The case is one no other journey publishes for: a case's retraction removes all of its posts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests

from dashboard.strings import STRINGS
from orchestrator import db
from orchestrator.services import retractions
from orchestrator.services.accounts import SANDBOX_CREDENTIALS
from tests.proofs.browser.conftest import ACCOUNTS, Site
from tests.proofs.browser.journal import (
    approved_delivery,
    bring_forward,
    delivery,
    sandbox_posts,
    wait_for,
)
from tests.proofs.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

CASE = "sonia-dahmani"
TEXT = "Sonia Dahmani est en prison pour ses chroniques radio. Écrivez-lui : ses mots comptent. #RetraitParcours"
#: A reason as staff write it in a hurry, with markup and a script in it: it must show as words.
REASON = "La famille demande le retrait <script>alert(1)</script> **urgent** — sécurité de Sonia"


def public_read(site: Site, kind: str, platform_id: str) -> int:
    """The HTTP status the platform's own read of one post answers (200 while it is online)."""
    base = site.sandbox.url.rstrip("/")
    creds = SANDBOX_CREDENTIALS[kind]
    if kind == "x":
        answer = requests.get(f"{base}/2/tweets/{platform_id}", timeout=10,
                              headers={"Authorization": f"Bearer {creds['bearer_token']}"})
        return 404 if answer.ok and "errors" in answer.json() and "data" not in answer.json() else answer.status_code
    if kind == "mastodon":  # public statuses are read without a token
        return requests.get(f"{base}/api/v1/statuses/{platform_id}", timeout=10).status_code
    if kind == "bluesky":  # at://did/collection/rkey, read as any AppView reads a record
        did, collection, rkey = platform_id.removeprefix("at://").split("/")
        return requests.get(f"{base}/xrpc/com.atproto.repo.getRecord", timeout=10,
                            params={"repo": did, "collection": collection, "rkey": rkey}).status_code
    if kind == "facebook":
        return requests.get(f"{base}/v24.0/{platform_id}", timeout=10,
                            params={"access_token": creds["page_token"]}).status_code
    raise AssertionError(kind)


def metric(screen: Screen, label: str) -> str:
    """The value of the progress's metric called ``label`` (the latest retraction's)."""
    box = screen.page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return str(box.locator('[data-testid="stMetricValue"]').inner_text()).strip()


def test_an_approver_retracts_a_case_and_its_posts_leave_the_four_platforms(site: Site, screen: Screen) -> None:
    engine = site.engine()
    ids = [approved_delivery(engine, case=CASE, account=name, text=f"{TEXT} ({kind})") for kind, name in ACCOUNTS]
    bring_forward(engine, ids)
    wait_for(lambda: [delivery(engine, i).state for i in ids], lambda s: set(s) == {"published"}, timeout=60,
             what="the case's deliveries")
    out = {name: delivery(engine, i) for i, (_, name) in zip(ids, ACCOUNTS, strict=True)}
    for kind, name in ACCOUNTS:
        assert sandbox_posts(site.sandbox, kind, TEXT[:40]), f"{kind}: the post was not published"
        assert public_read(site, kind, out[name].platform_id or "") == 200, f"{kind}: the post is not readable"

    screen.sign_in("amir")
    screen.open("cases")
    open_case(screen)
    key = f"case_retract_{CASE}"
    opener = screen.page.locator("summary", has_text=screen.t("retract.action", n=len(ACCOUNTS)))
    opener.first.click()
    screen.settle()
    # The button waits for the confirm box; without a reason the service refuses.
    go = screen.keyed(f"{key}_go").get_by_role("button")
    assert go.is_disabled(), "« Retirer » could be clicked before the confirm step"
    screen.keyed(f"{key}_sure").locator("label").click()
    screen.settle()
    go.click()
    screen.settle()
    assert count_retractions(engine) == 0, "a retraction without a reason was accepted"
    screen.fill(f"{key}_reason", REASON)
    if not screen.keyed(f"{key}_sure").locator("input").is_checked():
        screen.keyed(f"{key}_sure").locator("label").click()
        screen.settle()
    screen.keyed(f"{key}_go").get_by_role("button").click()
    screen.shows(screen.t_words("retract.asked"))
    screen.settle()
    assert count_retractions(engine) == 1

    # The worker deletes them, within each platform's budget: the public reads find nothing.
    wait_for(lambda: [delivery(engine, i).retracted_at for i in ids], lambda r: all(r), timeout=90,
             what="the deliveries' retraction")
    for kind, name in ACCOUNTS:
        assert not sandbox_posts(site.sandbox, kind, TEXT[:40]), f"{kind}: the post is still held by the platform"
        status = public_read(site, kind, out[name].platform_id or "")
        assert status in (400, 404), f"{kind}: the post still answers {status} on the platform's public read"

    # The open case page says so at its next run (here: the reader turns it to English, then
    # back to French); the reason shows as the words written, never as markup.
    screen.switch_language("en")
    open_case(screen)
    screen.shows(STRINGS["retract.list"]["en"])
    assert metric(screen, STRINGS["retract.removed"]["en"]) == str(len(ACCOUNTS)), screen.main_text()
    shoot(screen, "retract-en", STRINGS["retract.list"]["en"])
    screen.switch_language("fr")
    open_case(screen)
    screen.shows(screen.t("retract.list"))
    assert metric(screen, screen.t("retract.removed")) == str(len(ACCOUNTS)), screen.main_text()
    assert metric(screen, screen.t("retract.pending")) == "0"
    assert metric(screen, screen.t("retract.failed")) == "0"
    main = screen.main_text()
    assert "<script>alert(1)</script>" in main, f"the reason was not shown as written:\n{main}"
    assert screen.page.locator("script", has_text="alert(1)").count() == 0
    assert screen.page.locator("summary", has_text=screen.t("retract.action", n=1)[:8]).filter(
        has_text=screen.t("retract.action", n=1)[9:]).count() == 0, "« Retirer » is still offered"
    shoot(screen, "retract-fr", screen.t("retract.list"))


def open_case(screen: Screen) -> None:
    """Unfold the case's card (its label is in the reader's language: a new language folds it)."""
    card = screen.page.locator("details", has=screen.page.locator("summary", has_text="Sonia Dahmani")).first
    if card.get_attribute("open") is None:
        card.locator("summary").first.click()
        screen.settle()


def count_retractions(engine: Any) -> int:
    from sqlmodel import select

    with db.session_scope(engine) as s:
        return len(s.exec(select(retractions.Retraction)).all())


def shoot(screen: Screen, name: str, near: str) -> None:
    """A picture of the window around ``near`` for /tmp/journeys (never docs/screenshots)."""
    folder = Path("/tmp/journeys")
    folder.mkdir(exist_ok=True)
    screen.page.get_by_text(near, exact=True).first.scroll_into_view_if_needed()
    screen.page.wait_for_timeout(200)
    screen.page.screenshot(path=str(folder / f"{name}-{dt.datetime.now():%H%M%S}.png"))
