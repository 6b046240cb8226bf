"""Every dashboard page checks the role before it offers to change anything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import app, bare_engine, campaign, db_url, people  # noqa: F401
from tests.dashboard.helpers import texts

VIEWS = Path(__file__).resolve().parents[3] / "dashboard" / "views"

#: Pages that change nothing, with the reason; every other page must check a role.
READ_ONLY = {
    "overview": "figures and the worker's health",
    "exports": "downloads of what the person can already see",
}
#: Buttons a read-only page may offer because they store nothing (the calendar makes and
#: withdraws its feed address, so it checks the role like any page that acts).
STORE_NOTHING = {"overview_refresh"}


def test_every_page_that_acts_checks_the_role() -> None:
    for path in sorted(VIEWS.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        checks = "common.can(" in source or ".can(" in source or "viewer_notice" in source
        if path.stem in READ_ONLY:
            buttons = set(re.findall(r'\.button\([^\n]*?key="([^"]+)"', source))
            assert ".button(" not in source or "download" in source or buttons <= STORE_NOTHING, \
                f"{path.name} is listed as read-only"
            continue
        assert checks, f"{path.name} offers actions without checking the role (or add it to READ_ONLY)"


@pytest.mark.parametrize("page", ["users", "audit", "integrations"])
def test_admin_pages_are_not_offered_to_a_viewer(app, page: str) -> None:  # noqa: F811
    at = app("victor")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"views/{page}.py")


@pytest.mark.parametrize("page", ["users", "audit", "integrations"])
def test_admin_pages_opened_directly_show_a_viewer_nothing(people, campaign, page: str) -> None:  # noqa: F811
    """Even run on its own (a page file reached some other way), the page checks the role."""
    at = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=60)
    at.session_state["lang"] = "fr"
    at.session_state["actor"] = {"username": "victor", "role": "viewer"}
    at.run()
    assert not at.exception
    assert "ada" not in texts(at) and not at.button and not at.text_input
