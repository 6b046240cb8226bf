"""The week's main journey in headless Chromium, on all four platforms of the sandbox: an editor
composes a post with an image (and its alt text) and a variant for one account, and submits it;
an approver approves it; the worker publishes it on X, Facebook, Mastodon and Bluesky; its
figures appear in the dashboard. Every action's result must show without reloading the page.

Screenshots of the pages on the way go to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from babel.numbers import format_decimal

from orchestrator.states import LABELS
from tests.browser.conftest import ACCOUNTS, Site
from tests.browser.journal import (
    bring_forward,
    deliveries_of,
    png,
    posts_with,
    sandbox_posts,
    states_of,
    wait_for,
)
from tests.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

TEXT = ("Juan López défendait la forêt de Guapinol : il a été assassiné. Écrivez pour que justice soit "
        "rendue. #ÉcrireÇaLibère")
VARIANT = "Sur Mastodon : Juan López défendait la forêt de Guapinol. Écrivez pour que justice soit rendue."
ALT = "Une bannière rouge bougie traversée d'une bande blanche"
VARIANT_ACCOUNT = "mastodon-fr"


def compose(screen: Screen, image: Path) -> None:
    """Rédiger: case, text, the four accounts, an image with alt text, one account's own text,
    the next free slot; every account's counter shown before submitting."""
    screen.open("compose")
    screen.choose("compose_case", "Juan López")
    screen.fill("compose_text", TEXT)
    screen.choose("compose_accounts", *[f"{name} ({kind})" for kind, name in ACCOUNTS])

    screen.page.get_by_text(screen.t("compose.images", n=0)).click()
    screen.upload("compose_upload", image)
    screen.fill("compose_alt", ALT)
    screen.keyed("compose_add_image").get_by_role("button").click()
    screen.settle(f"{image.name} — {ALT}")

    screen.keyed(f"compose_variant_{VARIANT_ACCOUNT}").locator("xpath=ancestor::details[1]/summary").click()
    screen.fill(f"compose_variant_{VARIANT_ACCOUNT}", VARIANT)
    # Each platform's verdict and counter for every account (Mastodon's by its instance's limit).
    main = screen.main_text()
    for kind, name in ACCOUNTS:
        assert f"{name} ({kind}) — ✅" in main, f"no counter for {name} on Compose:\n{main}"

    screen.page.get_by_text(screen.t("compose.when_next")).click()
    screen.settle()


def test_a_post_goes_from_compose_to_all_four_platforms_and_its_figures_show(
        site: Site, screen: Screen, tmp_path: Path) -> None:
    engine = site.engine()
    screen.page.goto(site.url)
    screen.settle(screen.t("login.submit"))
    screen.shoot("00-connexion")

    # The editor writes and submits; the confirmation shows and the form is emptied at once.
    screen.sign_in("edith")
    image = png(tmp_path / "banniere.png")
    compose(screen, image)
    screen.shoot("03-rediger")
    screen.button("compose.submit").click()
    screen.shows(screen.t_words("compose.saved_submitted"))
    screen.settle()
    # A form left full invites a second submission.
    assert screen.field("compose_text").input_value() == "", "Compose kept the submitted text"

    # One post, approved once, with its variant for one account.
    posts = posts_with(engine, "Guapinol")
    assert len(posts) == 1, f"one compose made {len(posts)} posts: {[(p.id, p.text[:30]) for p in posts]}"
    post = posts[0]
    assert (post.status, post.author) == ("pending", "edith")
    assert [item["alt"] for item in post.images] == [ALT]
    assert sorted(states_of(engine, [post.id or 0])) == sorted(name for _, name in ACCOUNTS)
    screen.sign_out()

    # The approver reads it as each platform will show it (the image with its alt text), and
    # approves: the confirmation shows and the post leaves the list, without a reload.
    screen.sign_in("amir")
    screen.open("approvals")
    approve = screen.keyed(f"approve_{post.id}")
    approve.wait_for()
    assert screen.page.locator(f'img[alt="{ALT}"]').count() >= 1, "Approvals shows the image without its alt text"
    screen.shoot("04-approbations")
    approve.get_by_role("button").click()
    screen.shows(screen.t("approvals.approved", id=post.id))
    screen.settle()
    assert screen.keyed(f"approve_{post.id}").count() == 0, "the approved post is still offered for approval"

    # Its time comes: the worker publishes it on the four platforms of the sandbox, the variant
    # on its account, the image with its alt text everywhere.
    bring_forward(engine, [d.id or 0 for d, _ in deliveries_of(engine, [post.id or 0])])
    wait_for(lambda: states_of(engine, [post.id or 0]), lambda s: set(s.values()) == {"published"},
             timeout=60, what="the deliveries' states")
    for kind, name in ACCOUNTS:
        wanted = VARIANT[:40] if name == VARIANT_ACCOUNT else TEXT[:40]
        found = sandbox_posts(site.sandbox, kind, wanted)
        assert len(found) == 1, f"{kind}: {len(found)} post(s) with the expected text on the sandbox"
        assert found[0]["alts"] == [ALT], f"{kind}: the image went out without its alt text"

    # Its figures: read from the platforms by the worker (the first look comes a second after
    # publication), then shown from the queue.
    time.sleep(1.5)
    site.worker_once()
    published = wait_for(lambda: deliveries_of(engine, [post.id or 0]),
                         lambda rows: all(d.metrics_at and d.likes for d, _ in rows), timeout=30,
                         what="the figures read from the platforms", every=1)
    screen.open("queue")
    x_delivery = next(d for d, name in published if name == "x-fr")
    screen.choose("queue_pick", f"#{x_delivery.id} · {LABELS['published'][screen.lang]} · x-fr")
    # The delivery's own figures: its views and likes, as the reader's
    # language writes numbers.
    shown = _spaces(screen.main_text())
    for figure in (x_delivery.views, x_delivery.likes):
        assert _spaces(format_decimal(figure or 0, locale="fr_CA")) in shown, (
            f"the queue does not show the delivery's figure {figure}:\n{shown}")
    screen.shoot("02-file-d-envoi")
    screen.open("calendar")
    screen.shoot("05-calendrier")


def _spaces(text: str) -> str:
    """French numbers group digits with a no-break space; the page's text may carry either kind."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")
