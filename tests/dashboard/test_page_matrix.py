"""Every page, for every role, in French and in English, over one busy database full of hostile
text (tests/hostile.py). No page may raise; no choice widget may fall back to Streamlit's English
placeholder; no hostile markup may reach Markdown as typed; every page carries the file uploader's
words in the reader's language.

One AppTest per role and language visits every page its navigation offers in turn, as a person
clicking through the sidebar would: building the app once per visit costs more than the visit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import parse_tree_from_messages

from dashboard.common import plain, table_csv
from orchestrator import db
from orchestrator.csvsafe import FORMULA_STARTS
from orchestrator.settings import get_settings
from tests.conftest import TEST_KEY
from tests.dashboard.markdown_sinks import SCANNED_STREAMLIT, markdown_texts, markup_problems, walk
from tests.hostile import (
    ARABIC,
    FORMULA,
    HOSTILE,
    HOSTILE_REPLY,
    IMG_TAG,
    PEOPLE,
    PIXEL,
    QUOTE_AMP,
    SCRIPT_LINK,
    Busy,
    build_busy_database,
    copy_database,
)

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
VIEWS = ROOT / "dashboard" / "views"
PAGES = sorted(p.stem for p in VIEWS.glob("*.py"))
ADMIN_ONLY = {"users", "audit", "stop", "integrations"}
LANGUAGES = ("fr", "en")

ROLES = ("viewer", "editor", "approver", "admin")
#: A command to type, or one of its options: staff do not use a terminal.
COMMAND_LINE = re.compile(r"porte-voix [a-z]+|(?<![\w-])--[a-z]+(-[a-z]+)*")
@pytest.fixture(scope="session")
def busy_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Busy]]:
    """The busy database, built once per test session through the migrations."""
    path = tmp_path_factory.mktemp("busy") / "busy.db"
    saved = os.environ.get("PORTEVOIX_SECRET_KEY")
    os.environ["PORTEVOIX_SECRET_KEY"] = TEST_KEY  # the accounts' credentials are sealed with it
    get_settings.cache_clear()
    try:
        busy = build_busy_database(f"sqlite:///{path}")
    finally:
        if saved is None:
            os.environ.pop("PORTEVOIX_SECRET_KEY", None)
        else:
            os.environ["PORTEVOIX_SECRET_KEY"] = saved
        get_settings.cache_clear()
    yield path, busy


@pytest.fixture
def busy(busy_file: tuple[Path, Busy], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Busy]:
    """A private copy of the busy database, as the dashboard's database."""
    url = copy_database(busy_file[0], tmp_path / "porte-voix.db")
    monkeypatch.setenv("PORTEVOIX_DATABASE_URL", url)
    monkeypatch.setenv("PORTEVOIX_HOME", str(tmp_path))
    monkeypatch.setenv("PORTEVOIX_SECRET_KEY", TEST_KEY)
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield busy_file[1]
    db._cached_engine.cache_clear()
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


def uploader_words_language(at: AppTest) -> str | None:
    """The language of the file uploader's words the page carries (dashboard/streamlit_words.js),
    or None when it carries none."""
    for node in walk(at._tree):
        if getattr(node, "type", "") == "html" and "porteVoixWords" in node.proto.body:  # type: ignore[attr-defined]
            for language in LANGUAGES:
                if f'"lang": "{language}"' in node.proto.body:  # type: ignore[attr-defined]
                    return language
    return None


def page_problems(at: AppTest) -> list[str]:
    """What is wrong with the page just run, as short phrases (empty: nothing)."""
    found = [f"exception: {e.value.splitlines()[0][:160] if e.value else e.proto.type}" for e in at.exception]
    if uploader_words_language(at) != at.session_state["lang"]:
        found.append(f"uploader words: {uploader_words_language(at)} for a page in {at.session_state['lang']}")
    for node in walk(at._tree):
        kind = getattr(node, "type", "")
        if kind in ("selectbox", "multiselect") and not node.proto.placeholder.strip():  # type: ignore[attr-defined]
            found.append(f"English placeholder: {kind} « {node.proto.label} »")  # type: ignore[attr-defined]
    found.extend(markup_problems(at))
    for kind, text in markdown_texts(at):
        if re.search(r"\bNone\b", text):
            found.append(f"None shown in {kind}: {text[:80]}")
        if COMMAND_LINE.search(text):
            found.append(f"command line in {kind}: {COMMAND_LINE.search(text).group(0)}")  # type: ignore[union-attr]
    for frame in at.dataframe:
        if not frame.proto.arrow_data.HasField("styler"):  # type: ignore[attr-defined]
            found.append(f"a table not drawn by common.table: {list(frame.value.columns)}")
        if any(str(v) in ("None", "nan", "NaN", "NaT") for v in shown_cells(frame)):
            found.append(f"None shown in a table: {list(frame.value.columns)}")
    return list(dict.fromkeys(found))


def shown_cells(frame: object) -> list[object]:
    """The cells of a table as the reader sees them: a styled table's display values, else the
    data, where a missing value is drawn as "None". A column given a type (a link, say) draws its
    data, not the styled text."""
    proto = frame.proto  # type: ignore[attr-defined]
    styled = proto.arrow_data.styler.display_values
    data = pa.ipc.open_stream(styled).read_pandas() if styled else frame.value  # type: ignore[attr-defined]
    typed = [name for name, config in json.loads(proto.columns or "{}").items() if config.get("type_config")]
    if styled and typed:
        raw = frame.value  # type: ignore[attr-defined]
        data = data.copy()
        for name in typed:
            if name in raw.columns and name in data.columns:
                data[name] = raw[name].to_numpy()
    return [None if not isinstance(v, str) and pd.isna(v) else v for v in data.to_numpy().ravel().tolist()]


def _run(at: AppTest) -> None:
    """Run the app; AppTest sends back the state of the widgets it holds, and formats a widget's
    value with its format_func outside the script, where the language is the default one: an
    option translated lazily (``format_func=lambda v: t(...)``) is then not found among the
    English options. A browser sends values, not labels; start from an empty page then."""
    try:
        at.run()
    except ValueError:
        empty = parse_tree_from_messages([])
        empty._runner = at
        at._tree = empty
        at.run()


def visit(username: str, lang: str) -> dict[str, list[str]]:
    """Sign in as ``username`` in ``lang`` and open every page the navigation offers."""
    role = PEOPLE[username]
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = lang
    at.session_state["actor"] = {"username": username, "role": role}
    _run(at)
    problems: dict[str, list[str]] = {}
    for page in PAGES:
        if page in ADMIN_ONLY and role != "admin":
            continue
        at.switch_page(f"views/{page}.py")
        _run(at)
        found = page_problems(at)
        if not at.title:
            found.append("no title: the page did not draw")
        if found:
            problems[page] = found
    return problems


def _unexpected(problems: dict[str, list[str]], role: str, lang: str) -> list[str]:
    return [f"{page} ({role}, {lang}): {problem}" for page, found in problems.items() for problem in found]


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("username", list(PEOPLE))
def test_every_page_survives_the_busy_database(busy: Busy, username: str, lang: str) -> None:
    problems = visit(username, lang)
    unexpected = _unexpected(problems, PEOPLE[username], lang)
    assert not unexpected, "\n".join(unexpected)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_page_survives_the_busy_database(busy: Busy, lang: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    assert at.text_input, "the sign-in form is shown"
    assert not page_problems(at), page_problems(at)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_marathon_counter_survives_the_busy_database(busy: Busy, lang: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["counter"] = busy.counter_token
    at.query_params["lang"] = lang
    at.run()
    assert at.metric, "the counter shows its figures"
    assert not page_problems(at), page_problems(at)


#: Where each hostile text staff or a platform control is drawn through Markdown, for whom: the
#: page, the element type and the text in its escaped form. Each sink is thus exercised, not only
#: clean: the text is there, escaped.
SINKS = [
    ("ada", "cases", "expander", plain(f"{QUOTE_AMP} {IMG_TAG}")),  # a case's name in its card's title
    ("ada", "cases", "caption", plain(f"{ARABIC} {PIXEL}")),  # its country
    ("ada", "channels", "expander", plain(f"x \"l'écho\" & {IMG_TAG}")),  # an account's name
    ("ada", "channels", "error", plain(HOSTILE_REPLY)),  # the platform's last error
    ("ada", "responses", "progress", plain(f"{QUOTE_AMP} {IMG_TAG}")),  # a case's goal bar
    ("ada", "overview", "progress", plain(f"{QUOTE_AMP} {IMG_TAG}")),
    ("ada", "overview", "metric", plain(f"Marathon {IMG_TAG} {PIXEL}")),  # a key date's countdown
    ("ada", "media", "image", plain(f"Alt {HOSTILE}")),  # a library image's caption, its alt text
    ("ada", "media", "caption", plain(f"© {HOSTILE}")),  # its credit
    ("ada", "approvals", "image", plain(f"Alt {HOSTILE}")),  # a post's image, captioned with its alt text
    ("edith", "compose", "text_area", plain(f"x \"l'écho\" & {IMG_TAG}")),  # the account of a variant
    ("edith", "compose", "checkbox", plain(f"{SCRIPT_LINK} {PIXEL}.png")),  # an image's file name
]


@pytest.mark.parametrize("username", sorted({who for who, *_ in SINKS}))
def test_hostile_names_reach_the_pages_escaped(busy: Busy, username: str) -> None:
    """Not only absent as typed: the names are there, in their escaped form, in each sink."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "fr"
    at.session_state["actor"] = {"username": username, "role": PEOPLE[username]}
    _run(at)
    missing = []
    for page in dict.fromkeys(page for who, page, *_ in SINKS if who == username):
        at.switch_page(f"views/{page}.py")
        _run(at)
        shown = list(markdown_texts(at))
        for _, _, kind, escaped in [s for s in SINKS if s[0] == username and s[1] == page]:
            if not any(k == kind and escaped in text for k, text in shown):
                missing.append(f"{page}: {kind} « {escaped[:60]} »")
    assert not missing, missing


def test_the_scan_knows_the_installed_streamlit() -> None:
    """markdown_sinks.MARKDOWN_FIELDS says what Streamlit 1.67.0 renders as Markdown (a select
    box's options: text). Another version may render more: read its docstrings and its frontend
    again, then update the table and this version."""
    assert st.__version__ == SCANNED_STREAMLIT, (
        f"Streamlit {st.__version__}: check which fields it renders as Markdown, then update MARKDOWN_FIELDS")


def test_a_toast_and_a_confirmation_show_a_hostile_name_escaped(busy: Busy) -> None:
    """What staff did, confirmed in a toast and a message: the edition's name in it is text."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "fr"
    at.session_state["actor"] = {"username": "ada", "role": "admin"}
    _run(at)
    at.switch_page("views/campaigns.py")
    _run(at)
    [make_current] = [b for b in at.button if str(b.key).startswith("edition_current_")]  # the finished edition
    make_current.click()
    _run(at)
    toasts = [text for kind, text in markdown_texts(at) if kind == "toast"]
    assert any(plain(f"Bilan {SCRIPT_LINK} {QUOTE_AMP}") in text for text in toasts), toasts
    assert not markup_problems(at), markup_problems(at)


def test_a_formula_in_a_table_is_shown_as_typed_and_downloaded_neutralised(busy: Busy) -> None:
    """The queue's table shows a post that starts with a spreadsheet formula as it was typed; the
    CSV the page offers for it (Streamlit's own download is off) neutralises it."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "fr"
    at.session_state["actor"] = {"username": "ada", "role": "admin"}
    _run(at)
    at.switch_page("views/queue.py")
    _run(at)
    [frame] = at.dataframe
    cells = [str(v) for v in frame.value.to_numpy().ravel()]
    assert any(cell.startswith(FORMULA) for cell in cells), "the busy database's formula is in the queue"
    assert [b.proto.label for b in at.get("download_button") if b.proto.id.endswith("table_csv_" + busy.current_slug + "-envois-1")]
    rows = list(csv.reader(io.StringIO(table_csv(frame.value).decode("utf-8-sig"), newline="")))
    downloaded = [cell for row in rows for cell in row]
    assert "'" + FORMULA in " ".join(downloaded)
    assert not [cell for cell in downloaded if cell.startswith(FORMULA_STARTS) and not cell.lstrip("-").isdigit()]


def test_every_delivery_picked_in_the_queue_shows_its_details_escaped(busy: Busy) -> None:
    """The queue's detail (its last error, why it waits, a rejection's comment) is drawn for the
    delivery picked, one at a time: each is picked in turn."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "fr"
    at.session_state["actor"] = {"username": "ada", "role": "admin"}
    _run(at)
    at.switch_page("views/queue.py")
    _run(at)
    picks = at.selectbox(key="queue_pick").options
    assert len(picks) > 20, "the busy database fills the queue's first page"
    problems, shown = [], []
    for index in range(len(picks)):
        at.selectbox(key="queue_pick").select_index(index)
        _run(at)
        problems += [f"{picks[index][:40]}: {p}" for p in markup_problems(at)]
        shown += [text for kind, text in markdown_texts(at) if kind in ("warning", "info")]
    assert not problems, problems
    assert any(plain(HOSTILE) in text for text in shown), "the hostile errors and reasons were drawn"


def test_accounts_chosen_in_compose_are_named_escaped_in_their_previews(busy: Busy) -> None:
    """Choosing accounts draws one adjustable field and one preview per account, its name in the
    expanders' titles: every account is chosen, the hostile one among them."""
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["lang"] = "fr"
    at.session_state["actor"] = {"username": "edith", "role": "editor"}
    _run(at)
    at.switch_page("views/compose.py")
    _run(at)
    at.text_area(key="compose_text").input(f"Écrivez {IMG_TAG}")
    chooser = at.multiselect(key="compose_accounts")
    chooser.set_value(list(chooser.options))
    _run(at)
    named = {kind for kind, text in markdown_texts(at) if plain(busy.accounts["unhealthy"]) in text}
    assert {"expander", "markdown"} <= named, named  # its field's title, its preview's line
    assert not markup_problems(at), markup_problems(at)
