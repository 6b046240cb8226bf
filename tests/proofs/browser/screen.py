"""What a person does with the dashboard in a browser, in the dashboard's own words.

Every label comes from ``dashboard/strings.py`` through :meth:`Screen.t`, in the language the
window is showing, so a reworded label changes the test with it. Widgets without a visible
label of their own are found by their Streamlit key, which the page exposes as the CSS class
``st-key-<key>``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from dashboard.strings import STRINGS

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
               "--disable-gpu", "--no-first-run", "--disable-sync"]
PASSWORD = "correct-horse-battery"
#: True once the script run is over and every element is drawn: Streamlit marks its root with
#: the script's state, and draws a skeleton where an element's code is still loading.
IDLE = ("() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')")


class Screen:
    """One browser window on the dashboard."""

    def __init__(self, page: Any, base: str, lang: str = "fr") -> None:
        self.page = page
        self.base = base
        self.lang = lang

    # words ------------------------------------------------------------------------------------
    def t(self, key: str, /, **values: object) -> str:
        entry = STRINGS[key]
        text = entry.get(self.lang) or entry["fr"]
        return text.format(**values) if values else text

    def t_words(self, key: str) -> str:
        """The longest stretch of ``key``'s words between placeholders: what a message with
        numbers in it always shows."""
        return max((part.strip() for part in re.split(r"\{[^}]*\}", self.t(key))), key=len)

    # waiting ----------------------------------------------------------------------------------
    def settle(self, text: str | None = None, timeout: float = 30_000) -> None:
        """Wait for the script run to end (and for ``text`` to be shown)."""
        if text:
            self.page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
        self.page.wait_for_timeout(300)  # a click's rerun starts a moment after the click
        self.page.wait_for_function(IDLE, timeout=timeout)
        self.page.wait_for_timeout(200)

    def shows(self, text: str, timeout: float = 30_000) -> None:
        """``text`` is on the page now or appears within ``timeout`` ms, without a reload."""
        self.page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout)

    def shows_number(self, text: str, timeout: float = 30_000) -> None:
        """Like :meth:`shows`, for text with numbers in it: the page groups digits with no-break
        spaces, ``text`` with plain ones."""
        self.page.wait_for_function(
            """(wanted) => (document.querySelector('[data-testid="stMain"]')?.innerText ?? '')
                              .replace(/[\\u202f\\u00a0]/g, ' ').includes(wanted)""", arg=text, timeout=timeout)

    def main_text(self) -> str:
        return str(self.page.locator('[data-testid="stMain"]').inner_text())

    # moving around ----------------------------------------------------------------------------
    def sign_in(self, username: str, password: str = PASSWORD, lang: str = "fr") -> None:
        """Sign in, then show the pages in ``lang`` (a person's last choice comes back otherwise)."""
        self.page.goto(self.base)
        self.settle(self.t("login.submit"))
        self.page.get_by_label(self.t("login.username")).fill(username)
        self.page.get_by_label(self.t("login.password")).fill(password)
        self.page.get_by_role("button", name=self.t("login.submit")).click()
        # The person's own language, chosen at an earlier visit, applies once signed in.
        signed_in = self.page.locator('[data-testid="stSidebar"]').get_by_role("button", name=re.compile(
            "^(" + "|".join(re.escape(STRINGS["login.logout"][code]) for code in ("fr", "en")) + ")$"))
        signed_in.wait_for()
        self.settle()
        label = signed_in.inner_text().strip()
        self.lang = next(shown for shown in ("fr", "en") if STRINGS["login.logout"][shown] in label)
        if self.lang != lang:
            self.switch_language(lang)

    def sign_out(self) -> None:
        self.page.get_by_role("button", name=self.t("login.logout")).click()
        self.settle(self.t("login.submit"))

    def open(self, view: str) -> None:
        """Follow the sidebar's link to a page (a new URL would start a new, signed-out session),
        and wait for its heading."""
        nav = self.page.locator('[data-testid="stSidebarNav"]')
        nav.get_by_role("link", name=self.t(f"nav.{view}"), exact=True).click()
        self.settle()
        self.page.locator("h1").first.wait_for()

    def switch_language(self, lang: str) -> None:
        names = {"fr": "Français", "en": "English"}
        self.page.locator('[data-testid="stSidebar"]').get_by_text(names[lang], exact=True).click()
        self.lang = lang
        self.settle(self.t("login.logout"))

    # widgets ----------------------------------------------------------------------------------
    def keyed(self, key: str) -> Any:
        """The element of the widget created with ``key=``."""
        return self.page.locator(f".st-key-{key}")

    def field(self, widget_key: str) -> Any:
        """The text box of a text_input, text_area or number_input."""
        return self.keyed(widget_key).locator("input, textarea").first

    def fill(self, widget_key: str, text: str) -> None:
        """Type into a text box and leave it: Streamlit sends the value when the box loses focus."""
        self.field(widget_key).fill(text)
        self.field(widget_key).press("Tab")
        self.settle()

    def button(self, key: str, **values: object) -> Any:
        return self.page.get_by_role("button", name=self.t(key, **values))

    def choose(self, widget_key: str, *options: str) -> None:
        """Pick options of a selectbox or multiselect by typing their shown text."""
        box = self.keyed(widget_key).locator("input").first
        for option in options:
            box.click()
            self.page.keyboard.type(option)
            self.page.get_by_role("option", name=option).first.click()
            self.settle()
        self.page.keyboard.press("Escape")

    def set_day(self, widget_key: str, day: dt.date) -> None:
        """A date_input's day: its year, month and day fields are typed one after the other (the
        field moves on by itself once one is full)."""
        self.keyed(widget_key).locator('[data-type="year"]').click()
        self.page.keyboard.type(day.strftime("%Y%m%d"))
        self.page.keyboard.press("Tab")
        self.settle()

    def set_time(self, widget_key: str, moment: dt.time) -> None:
        """A time_input's time, typed in its hour and minute fields."""
        self.keyed(widget_key).locator('[data-type="hour"]').click()
        self.page.keyboard.type(moment.strftime("%H%M"))
        self.page.keyboard.press("Tab")
        self.settle()

    def upload(self, widget_key: str, path: Path) -> None:
        self.keyed(widget_key).locator('input[type="file"]').set_input_files(str(path))
        self.settle()

    def shoot(self, name: str, *, tallest: int = 1800) -> None:
        """A picture of the whole page for docs/screenshots/. The page scrolls inside Streamlit's
        main area, not the window, so the window is made as tall as the page (up to ``tallest``)
        for the picture, then put back."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        height = int(self.page.evaluate(
            "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0"))
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, tallest))})
        self.page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))
        self.page.set_viewport_size(size)
