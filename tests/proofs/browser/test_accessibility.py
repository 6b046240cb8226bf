"""Every page of the dashboard passes an automated WCAG 2.1 AA audit (axe-core) with no serious or
critical violation, signed in, in French and in English; and the sign-in page too.

The admin is the one signed in: every page is in their sidebar, with every form a page has.
What Streamlit itself draws and the dashboard cannot change is waived rule by rule and element by
element in tests/proofs/browser/axe.py, and explained in docs/accessibility.md.

The pages that no journey pictures are pictured here for docs/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.proofs.browser.axe import WAIVERS, audit, describe, missing_axe
from tests.proofs.browser.conftest import ACCOUNTS, Site, unavailable
from tests.proofs.browser.journal import (
    approved_delivery,
    library_image,
    pending_post_with_image,
    png,
)
from tests.proofs.browser.screen import Screen

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[3]
#: Every page in the sidebar, in its order (dashboard/app.py).
PAGES = ["overview", "queue", "calendar", "compose", "approvals", "posts", "series", "bulk", "cases", "responses",
         "campaigns", "media", "templates", "counter", "channels", "exports", "users", "audit"]
#: Pictures of the pages no journey shows (the journeys take the others).
SHOTS = {"series": "06-series", "campaigns": "14-editions", "media": "15-mediatheque", "templates": "16-modeles",
         "counter": "17-compteur"}


@pytest.fixture
def axe_ready() -> None:
    reason = missing_axe()
    if reason:
        unavailable(reason)


def test_every_page_passes_the_audit_in_french_and_in_english(site: Site, screen: Screen, axe_ready: None,
                                                              tmp_path: Path) -> None:
    # Pages with something in them, whichever journeys ran before: a post with an image awaiting
    # approval on the four platforms, one going out later, an image in the library.
    engine = site.engine()
    pending_post_with_image(engine, case="mother-nature-cambodia", accounts=[name for _, name in ACCOUNTS],
                            text="Mother Nature Cambodia protège les rivières : écrivez au premier ministre.",
                            image=png(tmp_path / "riviere.png", colour=(20, 90, 160)),
                            alt="Une rivière bleue traversée d'une bande blanche")
    approved_delivery(engine, case="guerreras-por-la-amazonia", account="x-fr",
                      text="Les Guerreras por la Amazonía défendent leur territoire : écrivez pour elles.")
    library_image(engine, case="juan-lopez", image=png(tmp_path / "foret.png", colour=(30, 120, 60)),
                  alt={"fr": "Une forêt verte", "en": "A green forest"})
    found: dict[str, list[dict[str, object]]] = {}
    screen.page.goto(site.url)
    screen.settle(screen.t("login.submit"))
    found["sign-in (fr)"] = audit(screen.page)
    screen.sign_in("ada")
    for lang in ("fr", "en"):
        if lang != screen.lang:
            screen.switch_language(lang)
        for view in PAGES:
            screen.open(view)
            found[f"{view} ({lang})"] = audit(screen.page)
            if lang == "fr" and view in SHOTS:
                screen.shoot(SHOTS[view])
    (site.logs / "axe.json").write_text(describe(found), encoding="utf-8")  # everything, waived or not
    failing = {page: [v for v in violations if not v["waived"]] for page, violations in found.items()}
    failing = {page: violations for page, violations in failing.items() if violations}
    assert not failing, (f"serious or critical WCAG 2.1 AA violations (all findings in {site.logs / 'axe.json'}):\n"
                         + describe(failing))  # type: ignore[arg-type]


def test_every_waiver_is_explained_in_the_docs() -> None:
    """docs/accessibility.md lists each waived rule and element, so the list is read and kept
    short, and a waiver cannot be added here silently."""
    doc = (ROOT / "docs" / "accessibility.md").read_text(encoding="utf-8")
    section = doc.split("## What comes from Streamlit", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for waiver in WAIVERS:
        assert any(f"`{waiver.rule}`" in row and f"`{waiver.selector}`" in row for row in rows), (
            f"docs/accessibility.md has no row for {waiver.rule} on {waiver.selector}")
    listed = {m.group(1) for row in rows if (m := re.match(r"\| `([a-z0-9-]+)`", row))}
    assert listed == {w.rule for w in WAIVERS}, "docs/accessibility.md and tests/proofs/browser/axe.py disagree"
