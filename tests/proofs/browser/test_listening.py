"""Listening in headless Chromium, on the sandbox's platforms: an editor gives a case a hashtag to
listen for on the case page — a hashtag the platforms cannot search is refused where it is typed,
with each platform's reason, and nothing is saved; a good one is saved and shown — then the public
posts it on Mastodon and Bluesky and answers our post, one listening pass runs (``porte-voix
listen --once``, as the worker does on its own); the editor finds the public's posts on the
overview, and a viewer reads them in English on the overview and on the case page, without the
editor's form.

Screenshots of the terms editor's refusal and of the public's voice go to docs/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from babel.numbers import format_decimal
from sqlmodel import Session, select

from dashboard.i18n import LOCALES
from orchestrator.models import Case, PublicPost
from tests.proofs.browser.conftest import ROOT, Site
from tests.proofs.browser.journal import approved_delivery, delivery, delivery_state, wait_for
from tests.proofs.browser.screen import SHOTS, Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CASE = "juan-lopez"
#: Words no other journey uses, so the counts read here are this journey's alone.
TAG = "JusticePourJuanLopez"
BAD = "Justice-pour-Juan"
TEXT = "Juan López défendait la rivière Guapinol. Écoutez-le, écrivez pour lui : #JusticePourJuanLopez"


def _terms(site: Site) -> dict[int, dict[str, object]]:
    """The case's listening terms in every edition that has it, by edition."""
    with Session(site.engine()) as s:
        return {c.campaign_id: dict(c.listening or {}) for c in s.exec(select(Case).where(Case.slug == CASE))}


def _heard(site: Site) -> int:
    """The public posts listening credited to the case, whatever the term or the answer."""
    with Session(site.engine()) as s:
        ids = [c.id for c in s.exec(select(Case).where(Case.slug == CASE))]
        return len(s.exec(select(PublicPost).where(PublicPost.case_id.in_(ids))).all())  # type: ignore[union-attr]


def _listen_once(site: Site) -> None:
    subprocess.run([sys.executable, "-m", "orchestrator", "listen", "--once"], env={**os.environ, **site.env},
                   cwd=ROOT, timeout=120, check=True, stdout=subprocess.DEVNULL,
                   stderr=(site.logs / "listen-once.log").open("a"))


def _shoot_section(screen: Screen, name: str, top: object, bottom: object) -> None:
    """A picture for docs/screenshots/ of the main area from ``top`` to ``bottom`` (two elements
    of the page): the sections shown here lie below the fold of a whole-page picture."""
    page = screen.page
    size = page.viewport_size
    height = int(page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0"))
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 6000))})
    page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    page.wait_for_timeout(400)
    main = page.locator('[data-testid="stMain"]').bounding_box()
    first, last = top.bounding_box(), bottom.bounding_box()  # type: ignore[attr-defined]
    y = max(0, first["y"] - 24)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), clip={
        "x": main["x"], "y": y, "width": main["width"], "height": min(1600, last["y"] + last["height"] + 24 - y)})
    page.set_viewport_size(size)


def _grid_rows(screen: Screen, column: str, first: str) -> dict[str, list[str]]:
    """The table of the page with ``column`` among its headers, by each row's first cell, once a
    row starts with ``first`` (Streamlit draws tables on a canvas, and puts their cells in the page
    for assistive technologies once drawn)."""

    def read() -> dict[str, list[str]]:
        for grid in screen.page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').all():
            if column not in [h.strip() for h in grid.locator('[role="columnheader"]').all_inner_texts()]:
                continue
            rows = {}
            for row in grid.locator('[role="row"]').all():
                cells = [c.strip() for c in row.locator('[role="gridcell"]').all_inner_texts()]
                if cells:
                    rows[cells[0]] = cells[1:]
            return rows
        return {}

    return wait_for(read, lambda rows: first in rows, timeout=20, what=f"a table with {column!r} and a row {first!r}")


def test_an_editor_sets_a_case_s_listening_terms_and_a_viewer_reads_the_public_s_voice(site: Site,
                                                                                         screen: Screen) -> None:
    engine = site.engine()
    ours = {name: approved_delivery(engine, case=CASE, account=name, text=TEXT, in_seconds=1)
            for name in ("mastodon-fr", "bluesky-fr")}
    wait_for(lambda: [delivery_state(engine, d) for d in ours.values()], lambda s: s == ["published"] * 2,
             timeout=60, what="our posts on Mastodon and Bluesky")
    before = _terms(site)

    # The editor types a hashtag no platform can search beside a good one: refused, with reasons.
    screen.sign_in("edith")
    screen.open("cases")
    screen.page.locator("summary", has_text="Juan López").first.click()
    screen.settle()
    screen.keyed(f"case_listen_toggle_{CASE}").locator("label").first.click()
    screen.settle()
    tags = screen.field(f"case_listen_{CASE}_tags_fr")
    tags.fill(f"#{TAG}\n#{BAD}")
    screen.button("listening.save").click()
    refusal = screen.page.locator('[data-testid="stAlert"]').filter(has_text=BAD).first
    refusal.wait_for()
    screen.settle()
    lines = refusal.locator("li").all_inner_texts()
    assert lines and all(BAD in line for line in lines), f"one line per refusal of #{BAD}: {lines}"
    assert any("Mastodon" in line and "sans espace ni ponctuation" in line for line in lines), lines
    assert "rien n'est enregistré" in refusal.inner_text()
    assert _terms(site) == before, "a refused change saved part of itself"
    _shoot_section(screen, "20-termes-d-ecoute", screen.page.locator("summary", has_text="Juan López").first,
                   refusal)

    # The good hashtag alone: saved, and shown on the case's card.
    tags.fill(f"#{TAG}")
    screen.button("listening.save").click()
    screen.shows(screen.t("listening.saved"))
    screen.settle()
    saved = _terms(site)
    assert any(TAG in (terms.get("fr") or {}).get("hashtags", []) for terms in saved.values()), saved  # type: ignore[attr-defined]
    screen.shows_number(f"{screen.t('cases.listening')} — #{TAG}")  # on the case's card, not in a post

    # The public speaks: the hashtag on Mastodon and Bluesky, a reply and a boost of our post.
    heard = _heard(site)
    mastodon, bluesky = (site.sandbox.sandbox.emulator(kind) for kind in ("mastodon", "bluesky"))
    for author, kind in enumerate(("original", "photo", "original")):
        mastodon.public_post(tag=TAG, kind=kind, author=500 + author)
    toot = delivery(engine, ours["mastodon-fr"]).platform_id
    mastodon.public_post(kind="reply", answers=toot, author=510)
    mastodon.public_post(kind="repost", answers=toot, author=511)
    bluesky.inject_public(TAG, 2, kinds=("original", "quote"))
    for _ in range(4):  # a pass may leave streams for the next one, to keep publishing's budget
        _listen_once(site)
        if _heard(site) >= heard + 7:
            break
    heard = wait_for(lambda: _heard(site), lambda n: n >= heard + 7, timeout=10,
                     what="the public's posts credited to the case")

    # The editor sees them on the overview, counted as the database has them.
    screen.open("overview")
    screen.keyed("overview_refresh").get_by_role("button").click()  # figures read now, not 30 s ago
    screen.settle(screen.t("voice.title"))
    shown = format_decimal(heard, locale=LOCALES["fr"])
    # the refresh's rerun may start after the page first looks settled on a loaded machine: read
    # the grid again until it is the new one (or the time is up, and it says what it saw)
    wait_for(lambda: _grid_rows(screen, screen.t("voice.col.public_posts"), "Juan López")["Juan López"][1],
             lambda seen: seen == shown, timeout=20, what=f"public posts shown on the overview (counted {heard})")
    # Their curve, day by day (the chart stays on the figure chosen before; the refresh keeps it).
    screen.keyed("overview_voice_figure").get_by_text(screen.t("voice.col.public_posts"), exact=True).click()
    screen.settle()
    _shoot_section(screen, "21-voix-du-public", screen.page.get_by_role("heading", name=screen.t("voice.title")),
                   screen.keyed("overview_voice_case"))
    screen.sign_out()

    # A viewer, in English: the same count, written the English way.
    screen.sign_in("victor", lang="en")
    screen.open("overview")
    screen.settle(screen.t("voice.title"))
    row = _grid_rows(screen, screen.t("voice.col.public_posts"), "Juan López")["Juan López"]
    assert row[1] == format_decimal(heard, locale=LOCALES["en"]), f"public posts shown {row[1]!r}, counted {heard}"

    # The case page: the detail on demand, and the terms read but not changed.
    screen.open("cases")
    screen.page.locator("summary", has_text="Juan López").first.click()
    screen.settle()
    assert screen.keyed(f"case_listen_toggle_{CASE}").count() == 0, "a viewer was offered the terms editor"
    screen.shows_number(f"{screen.t('cases.listening')} — #{TAG}")  # on the case's card, not in a post
    screen.keyed(f"case_voice_{CASE}").locator("label").first.click()
    screen.settle(screen.t("voice.public_by_platform"))
    text = screen.main_text()
    assert "par cas" not in text and "Mots-clics" not in text, "French left on an English page"
    platforms = _grid_rows(screen, screen.t("voice.col.platform"), "Mastodon")
    assert "Bluesky" in platforms, f"public posts by platform: {platforms}"

    # The account page, back in French: how listening goes on each account, read by the viewer too.
    screen.switch_language("fr")
    screen.open("channels")
    card = screen.page.locator('[data-testid="stExpander"]').filter(has_text="mastodon-fr").first
    card.locator("summary").click()
    card.get_by_text(screen.t("channels.listen.title")).wait_for()
    screen.settle()
    card.get_by_text(screen.t_words("channels.listen.last_ok")).wait_for()
    month = card.get_by_text(screen.t_words("channels.listen.month")).first
    month.wait_for()
    _shoot_section(screen, "22-ecoute-du-compte", card.locator("summary"), month)
