"""The week's main journey in headless Chromium, on all four platforms of the sandbox: an editor
composes a post with a link, an image (and its alt text) and a variant for one account, for
tomorrow 10 h, and submits it once; an approver reads it as each platform will show it and
approves it; the worker publishes it on X, Facebook, Mastodon and Bluesky, each with its own
text and tracked link; the delivery's figures appear in the queue while it is open; the Posts
page says where the post went. Every action's result must show without reloading the page.

Screenshots of the pages on the way go to docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.numbers import format_decimal

from dashboard.i18n import LOCALES
from dashboard.post_cards import _WHEN
from orchestrator.services.validators import platform_name
from orchestrator.states import LABELS
from tests.proofs.browser.conftest import ACCOUNTS, Site
from tests.proofs.browser.journal import (
    bring_forward,
    current_campaign_in,
    deliveries_of,
    delivery,
    figures_due,
    png,
    posts_with,
    sandbox_posts,
    states_of,
    wait_for,
)
from tests.proofs.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CASE = "juan-lopez"
TEXT = ("Juan López défendait la forêt de Guapinol : il a été assassiné. Écrivez pour que justice soit "
        "rendue. #ÉcrireÇaLibère")
VARIANT = "Sur Mastodon : Juan López défendait la forêt de Guapinol. Écrivez pour que justice soit rendue."
LINK = "https://amnistie.ca/ecrire/juan-lopez"
ALT = "Une bannière rouge bougie traversée d'une bande blanche"
VARIANT_ACCOUNT = "mastodon-fr"
#: How long the open queue may take to show figures the worker has just read (it reads them
#: again every FIGURES_REFRESH_SECONDS of dashboard/views/queue.py).
FIGURES_SHOWN_WITHIN = 40_000


def account_label(screen: Screen, kind: str, name: str) -> str:
    return screen.t("compose.account_option", name=name, platform=platform_name(kind))


def compose(screen: Screen, image: Path, at: dt.datetime) -> None:
    """Rédiger: case, text, link, the four accounts, an image with alt text, one account's own
    text, tomorrow 10 h; every account's verdict and counter shown before submitting."""
    screen.open("compose")
    screen.choose("compose_case", "Juan López")
    screen.fill("compose_text", TEXT)
    screen.fill("compose_link", LINK)
    screen.choose("compose_accounts", *[account_label(screen, kind, name) for kind, name in ACCOUNTS])

    screen.page.get_by_text(screen.t("compose.images", n=0)).click()
    screen.upload("compose_upload_0", image)
    screen.fill("compose_alt", ALT)
    screen.keyed("compose_add_image").get_by_role("button").click()
    screen.settle(f"{image.name} — {ALT}")
    assert screen.page.get_by_text(screen.t("compose.images", n=1)).count() == 1, "the image count did not change"

    screen.keyed(f"compose_variant_{VARIANT_ACCOUNT}").locator("xpath=ancestor::details[1]/summary").click()
    screen.fill(f"compose_variant_{VARIANT_ACCOUNT}", VARIANT)
    # Each platform's verdict and counter for every account (Mastodon's by its instance's limit),
    # and the variant's own preview.
    main = screen.main_text()
    for kind, name in ACCOUNTS:
        verdict = f"{name} · {platform_name(kind)} — ✅ {screen.t('compose.valid')}"
        assert verdict in main, f"no verdict for {name} on Compose:\n{main}"
    assert main.count(screen.t("compose.variant_badge")) == 1, "the variant's preview is not marked as adjusted"
    assert VARIANT in main

    screen.page.get_by_text(screen.t("compose.when_at")).click()
    screen.settle()
    screen.set_day("compose_date", at.date())
    screen.set_time("compose_time", at.time())
    # The moment in words, as the page writes it (« dimanche 6 décembre 2026, 10 h 00 »).
    words = format_datetime(at, _WHEN[screen.lang], tzinfo=at.tzinfo, locale=LOCALES[screen.lang])
    screen.shows(words, timeout=10_000)  # the time is sent once the field is left


def card_of(screen: Screen, inside: Any) -> Any:
    """The post's card (a bordered container) that holds ``inside``: the innermost block with it."""
    blocks = screen.page.locator('[data-testid="stVerticalBlock"]').filter(has=inside)
    return blocks.filter(has=screen.page.locator("summary")).last


def published_links(post: dict[str, Any]) -> list[str]:
    """Every web address a platform's post carries: in its text, its link card, and (Bluesky,
    which shows links shortened) its link facets."""
    found = re.findall(r"https?://\S+", str(post.get("text", "")))
    found += [str(post["link"])] if post.get("link") else []
    for facet in post.get("facets") or []:
        found += [str(f["uri"]) for f in facet.get("features", []) if f.get("uri")]
    return found


def test_a_post_goes_from_compose_to_all_four_platforms_and_its_figures_show(
        site: Site, screen: Screen, tmp_path: Path) -> None:
    engine = site.engine()
    campaign = current_campaign_in(engine)
    tomorrow_ten = dt.datetime.combine(dt.datetime.now(ZoneInfo(campaign.timezone)).date() + dt.timedelta(days=1),
                                       dt.time(10), tzinfo=ZoneInfo(campaign.timezone))
    screen.page.goto(site.url)
    screen.settle(screen.t("login.submit"))
    screen.shoot("00-connexion")

    # The editor writes and submits, with a double click: one post, the confirmation shows and
    # the form is emptied at once.
    screen.sign_in("edith")
    image = png(tmp_path / "banniere.png")
    compose(screen, image, tomorrow_ten)
    screen.shoot("03-rediger")
    screen.button("compose.submit").dblclick()
    screen.shows(screen.t_words("compose.saved_submitted"))
    screen.settle()
    assert screen.field("compose_text").input_value() == "", "Compose kept the submitted text"
    assert len(posts_with(engine, "Guapinol")) == 1, "a double click on « Soumettre » made two posts"
    # A later click on the emptied form adds nothing either.
    screen.button("compose.submit").click()
    screen.settle()
    posts = posts_with(engine, "Guapinol")
    assert len(posts) == 1, f"one compose made {len(posts)} posts: {[(p.id, p.text[:30]) for p in posts]}"

    # One post, to be approved once, with its variant for one account, its link and its image.
    post = posts[0]
    assert (post.status, post.author, post.link) == ("pending", "edith", LINK)
    assert [item["alt"] for item in post.images] == [ALT]
    rows = deliveries_of(engine, [post.id or 0])
    assert sorted(name for _, name in rows) == sorted(name for _, name in ACCOUNTS)
    assert {d.scheduled_at.replace(tzinfo=dt.UTC) for d, _ in rows} == {tomorrow_ten.astimezone(dt.UTC)}, (
        "the deliveries are not at tomorrow 10 h, Montréal time")
    screen.sign_out()

    # The approver reads it as each platform will show it (the image with its alt text, each
    # account's verdict, the variant on its account), and approves: the confirmation shows and
    # the post leaves the list, without a reload.
    screen.sign_in("amir")
    screen.open("approvals")
    approve = screen.keyed(f"approve_{post.id}")
    approve.wait_for()
    assert screen.page.locator(f'img[alt="{ALT}"]').count() >= 1, "Approvals shows the image without its alt text"
    card = card_of(screen, approve)
    summaries = card.locator("summary").all_inner_texts()
    for kind, name in ACCOUNTS:
        assert any(f"✅ {screen.t('compose.valid')} · {name} · {platform_name(kind)}" in s for s in summaries), (
            f"Approvals has no preview that fits for {name}: {summaries}")
    screen.shoot("04-approbations")
    approve.get_by_role("button").click()
    screen.shows(screen.t("approvals.approved", id=post.id))
    screen.settle()
    assert screen.keyed(f"approve_{post.id}").count() == 0, "the approved post is still offered for approval"

    # Tomorrow 10 h comes: the worker publishes it on the four platforms of the sandbox, the
    # variant on its account, the image with its alt text everywhere, and each link tracked with
    # the delivery's own source code.
    bring_forward(engine, [d.id or 0 for d, _ in rows])
    wait_for(lambda: states_of(engine, [post.id or 0]), lambda s: set(s.values()) == {"published"},
             timeout=60, what="the deliveries' states")
    published = deliveries_of(engine, [post.id or 0])
    for (kind, name), (sent, _) in zip(sorted(ACCOUNTS, key=lambda a: a[1]), published, strict=True):
        wanted = VARIANT[:40] if name == VARIANT_ACCOUNT else TEXT[:40]
        found = sandbox_posts(site.sandbox, kind, wanted)
        assert len(found) == 1, f"{kind}: {len(found)} post(s) with the expected text on the sandbox"
        assert str(found[0]["text"]).startswith(wanted), f"{kind} published {found[0]['text']!r}"
        assert found[0]["alts"] == [ALT], f"{kind}: the image went out without its alt text"
        links = [u for u in published_links(found[0]) if u.startswith(LINK)]
        assert links, f"{kind}: no link to {LINK} in {found[0]}"
        for url in links:  # the tracked link: the delivery's code, and where the click came from
            query = parse_qs(urlsplit(url).query)
            assert urlsplit(url).path == urlsplit(LINK).path, url
            assert query.get("source") == [sent.source_code], f"{kind}: {url} lacks the delivery's code"
            assert (query.get("utm_source"), query.get("utm_medium"), query.get("utm_content")) == (
                [kind], ["social"], [CASE]), f"{kind}: {url}"

    # Its figures, read from the platforms by the worker a moment after publication, then shown
    # from the queue: the X delivery's views and likes, as the reader's language writes numbers.
    site.worker_once()  # the worker's first look, without waiting for its next round
    read = wait_for(lambda: deliveries_of(engine, [post.id or 0]),
                    lambda rows: all(d.metrics_at and d.likes for d, _ in rows), timeout=30,
                    what="the figures read from the platforms", every=1)
    x_read = next(d for d, name in read if name == "x-fr")
    screen.open("queue")
    screen.choose("queue_pick", f"#{x_read.id} · {LABELS['published'][screen.lang]} · x-fr")
    screen.shows(screen.t_words("figures.as_of"))
    shown = _spaces(screen.main_text())
    for figure in (x_read.views, x_read.likes):
        assert _number(figure) in shown, f"the queue does not show the delivery's figure {figure}:\n{shown}"
    assert screen.page.locator('[data-testid="stVegaLiteChart"]').count() >= 1, "no curve of the figures"
    # The worker looks again a few minutes later: the figures have grown, and the open page
    # shows them without a click or a reload.
    figures_due(engine, [x_read.id or 0])
    site.worker_once()
    grown = wait_for(lambda: delivery(engine, x_read.id or 0),
                     lambda d: (d.views or 0) > (x_read.views or 0), timeout=20, what="the X post's views")
    screen.shows_number(_number(grown.views), timeout=FIGURES_SHOWN_WITHIN)
    screen.settle()
    screen.shoot("02-file-d-envoi")

    # The Posts page: the post, where it went and in which state, on each account.
    screen.open("posts")
    screen.shows(TEXT[:40])
    card = card_of(screen, screen.page.get_by_text(TEXT[:40]).first)
    where = card.inner_text()
    for kind, name in ACCOUNTS:
        assert re.search(rf"{re.escape(name)} · {platform_name(kind)} · .* · .*{LABELS['published'][screen.lang]}",
                         where), f"the Posts page does not say {name} published:\n{where}"
    screen.shoot("18-publications")
    screen.open("calendar")
    screen.shoot("05-calendrier")


def _number(value: int | None) -> str:
    return _spaces(format_decimal(value or 0, locale="fr_CA"))


def _spaces(text: str) -> str:
    """French numbers group digits with a no-break space; the page's text may carry either kind."""
    return text.replace("\u202f", " ").replace("\u00a0", " ")
