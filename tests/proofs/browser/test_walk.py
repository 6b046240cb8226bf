"""A walk through the newer pages in headless Chromium, as editor and admin, in French and in
English, with accounts of every platform: Compose with a long story split into a thread (one
part edited, the preview per platform with X's cost), then Campagnes, Notifications and
Intégrations. Pictures go to /tmp/journeys (never docs/screenshots); the checks are that each
page draws without an error and that hostile text stays words.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.proofs.browser.conftest import ACCOUNTS, Site
from tests.proofs.browser.screen import Screen
from tests.proofs.browser.test_end_to_end import account_label

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

HOSTILE = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) « Sœur & “amie” » سجن 😢"
STORY = " ".join(
    f"Phrase {n} : Unecebo Mboteni défend sa terre face à l'exploitation minière et elle est harcelée pour cela."
    for n in range(1, 9)) + " " + HOSTILE
FOLDER = Path("/tmp/journeys")


def shoot(screen: Screen, name: str) -> None:
    FOLDER.mkdir(exist_ok=True)
    size = screen.page.viewport_size
    height = int(screen.page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0"))
    screen.page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 4000))})
    screen.page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    screen.page.wait_for_timeout(300)
    screen.page.screenshot(path=str(FOLDER / f"{name}-{screen.lang}-{dt.datetime.now():%H%M%S}.png"))
    screen.page.set_viewport_size(size)


def no_error(screen: Screen, where: str) -> None:
    errors = screen.page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()}"
    assert screen.page.locator("img[src='x']").count() == 0, f"{where}: hostile markup became an image"


@pytest.mark.parametrize(("person", "lang"), [("edith", "fr"), ("ada", "en")])
def test_compose_a_thread_and_the_newer_pages(site: Site, screen: Screen, person: str, lang: str) -> None:
    screen.sign_in(person, lang=lang)
    screen.open("compose")
    screen.choose("compose_case", "Unecebo Mboteni")
    screen.fill("compose_text", STORY)
    screen.choose("compose_accounts", *[account_label(screen, kind, name) for kind, name in ACCOUNTS])
    screen.page.get_by_text(screen.t("compose.thread_section", n=1)).click()
    screen.settle()
    screen.keyed("compose_split").get_by_role("button").click()
    screen.settle()
    no_error(screen, "Compose after splitting")
    parts = screen.page.locator('[class*="st-key-compose_part_"] textarea')
    assert parts.count() >= 1, f"the story was not split:\n{screen.main_text()}"
    parts.first.fill("Partie modifiée : écrivez à Unecebo Mboteni. " + HOSTILE)
    parts.first.press("Control+Enter")
    screen.settle()
    no_error(screen, "Compose after editing a part")
    shoot(screen, "compose-thread")
    main = screen.main_text()
    assert screen.t_words("compose.x_cost") in main, "no X cost in the preview"
    if person == "edith":  # submitted, then read by the approver as one thread
        n = parts.count() + 1
        screen.button("compose.submit").click()
        screen.shows(screen.t_words("compose.saved_submitted"))
        screen.settle()
        screen.sign_out()
        screen.sign_in("amir", lang=lang)
        screen.open("approvals")
        screen.shows(screen.t("approvals.thread", n=n))
        assert "Partie modifiée" in screen.main_text()
        no_error(screen, "Approvals of a thread")
        shoot(screen, "approvals-thread")
        screen.open("cases")
        screen.page.locator("summary", has_text="Unecebo Mboteni").first.click()
        screen.settle()
        screen.keyed("case_consent_unecebo-mboteni_toggle").locator("label").first.click()
        screen.settle()
        no_error(screen, "the case's consent")
        shoot(screen, "case-consent")
    for view in ("campaigns", "notifications", *(("integrations",) if person == "ada" else ()), "approvals"):
        screen.open(view)
        no_error(screen, view)
        shoot(screen, view)
