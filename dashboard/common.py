"""What every page shares: the engine, the person acting, running a service call, state badges.

Pages stay thin: they read through ``orchestrator.services`` and act through it, and every refusal
(roles, four eyes, validation) comes back as a ``ServiceError`` shown in the chosen language.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard.i18n import LANGUAGE_NAMES, fmt_number, lang, t, zone_name
from dashboard.strings import STRINGS
from orchestrator import db
from orchestrator.services.accounts import PLATFORM_NAMES
from orchestrator.services.auth import Actor, ServiceError
from orchestrator.settings import get_settings

if TYPE_CHECKING:  # names of types only: pages reach the database through orchestrator.services
    from sqlalchemy import Engine
    from sqlmodel import Session

    from orchestrator.models import Campaign

T = TypeVar("T")
#: What GitHub-style Markdown turns into a link with no markup at all: "https://…", "www.…" and
#: e-mail addresses. Streamlit's renderer finds them after resolving backslash escapes, so an
#: escape does not stop them; an invisible word joiner (U+2060) inside the pattern does.
_PROTOCOL = re.compile(r"(https?)\\:(?=//)", re.IGNORECASE)
_WWW = re.compile(r"(www)\.", re.IGNORECASE)
_EMAIL_AT = re.compile(r"(?<=[\w.+-])@(?=[\w-]+\.)")
_JOINER = "\u2060"

def database_url() -> str:
    return get_settings().resolved_database_url()


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return db.get_engine(url)


def engine() -> Engine:
    return _engine(database_url())


@st.cache_resource(show_spinner=False)
def _read_engine(url: str) -> Engine:
    return db.make_read_engine(url)


@contextlib.contextmanager
def session() -> Iterator[Session]:
    with db.session_scope(engine()) as s:
        yield s


@contextlib.contextmanager
def read_session(url: str) -> Iterator[Session]:
    """A session for the cached aggregates (dashboard/data.py), on an engine whose long reads
    never hold the worker's writes (``db.make_read_engine``)."""
    with db.session_scope(_read_engine(url)) as s:
        yield s


def actor() -> Actor:
    data = st.session_state.get("actor")
    if not data:
        st.stop()
    return Actor(data["username"], data["role"])


def can(role: str) -> bool:
    data = st.session_state.get("actor")
    if not data:
        return False
    return Actor(data["username"], data["role"]).can(role)


def run(fn: Callable[[Session], T], *, success: str | None = None) -> T | None:
    """One service call in one transaction. A refusal is shown, not raised; nothing is half-saved."""
    went_through, result = _attempt(fn, success)
    return result if went_through else None


def done(fn: Callable[[Session], object], *, success: str | None = None) -> bool:
    """Like ``run``, for a service call that returns nothing (a deletion): whether it went through."""
    return _attempt(fn, success)[0]


def _attempt(fn: Callable[[Session], T], success: str | None) -> tuple[bool, T | None]:
    try:
        with session() as s:
            result = fn(s)
    except ServiceError as exc:  # the state machine's refusals too (a delivery that moved meanwhile)
        st.error(plain(exc.text(lang())), icon=":material/block:")  # messages quote what people typed
        return False, None
    if success:
        st.toast(success, icon=":material/check:")
        st.session_state["flash"] = success
    return True, result


def flash() -> None:
    """The confirmation of the last action, kept across the rerun that follows it. It is Markdown:
    a page puts what people typed into it through ``plain()``."""
    message = st.session_state.pop("flash", None)
    if message:
        st.success(message, icon=":material/check:")
    caveat = st.session_state.pop("flash_caveat", None)  # done, but not all of what was hoped for
    if caveat:
        st.warning(caveat, icon=":material/warning:")
    problem = st.session_state.pop("flash_problem", None)  # an outcome that went wrong: not in green
    if problem:
        st.error(problem, icon=":material/error:")


def campaign() -> Campaign | None:
    """The edition chosen in the sidebar (``campaign_id`` in the session), else the current one."""
    from orchestrator.services.campaigns import chosen_campaign

    chosen = st.session_state.get("campaign_id")
    try:
        with session() as s:
            return chosen_campaign(s, campaign_id=chosen if isinstance(chosen, int) else None)
    except ServiceError as exc:
        st.warning(plain(exc.text(lang())))
        return None


def campaign_selector() -> None:
    """The sidebar menu every page shares: which edition the pages show."""
    from orchestrator.services.campaign_admin import list_campaigns

    with session() as s:
        campaigns = list_campaigns(s)
    if not campaigns:
        return
    if "campaign_pending" in st.session_state:  # a page chose an edition (a widget's value is set before it is drawn)
        st.session_state["campaign_id"] = st.session_state.pop("campaign_pending")
    chosen = st.session_state.get("campaign_id")
    if chosen not in {e.id for e in campaigns}:
        current = next((e for e in campaigns if e.is_current), campaigns[0])
        st.session_state["campaign_id"] = current.id
        chosen = current.id
    shown = [e for e in campaigns if e.archived_at is None or e.id == chosen]
    labels = {}
    for e in shown:
        name = e.name.get(lang()) or e.name.get("fr") or e.slug
        labels[e.id] = (t("app.edition_current_finished" if _finished(e) else "app.edition_current", name=name)
                        if e.is_current else
                        t("app.edition_archived", name=name) if e.archived_at else name)
    st.sidebar.selectbox(t("app.edition"), list(labels), key="campaign_id", format_func=labels.__getitem__,
                         placeholder=t("common.choose_one"))
    picked = next(e for e in shown if e.id == st.session_state["campaign_id"])
    if not picked.is_current:
        st.sidebar.info(t("app.edition_other", name=plain(labels[picked.id])), icon=":material/info:")


def _finished(campaign: Campaign) -> bool:
    """The edition's last day is behind it, in its own time zone: it is no longer « en cours »."""
    from orchestrator.services.campaign_results import FINISHED, phase
    from orchestrator.timeutil import local, utcnow

    return phase(campaign, today=local(utcnow(), campaign.timezone).date()) == FINISHED


def require_campaign() -> Campaign:
    found = campaign()
    if found is None:
        st.stop()
    assert found is not None
    return found


def case_name(person: dict[str, str], slug: str = "") -> str:
    return person.get(lang()) or person.get("fr") or slug


def plain(text: str) -> str:
    """Staff and platform text shown through Markdown with its markup neutralised (the characters
    that open emphasis, code, links, HTML-looking tags, tables, maths, strike-through, Streamlit's
    colours and icons, and the bare addresses GitHub-style Markdown turns into links: ``https://``,
    ``www.`` and e-mail addresses). Tested in tests/proofs/security/test_safe_text.py."""
    for char in "\\`*_[]<>#|~$:":
        text = text.replace(char, "\\" + char)
    text = _PROTOCOL.sub(lambda m: m.group(1) + ":" + _JOINER, text)  # the joiner between ":" and "//"
    text = _WWW.sub(lambda m: m.group(1) + _JOINER + ".", text)  # between "www" and "."
    return _EMAIL_AT.sub(_JOINER + "@", text)  # before the "@" of name@host.tld, not of a lone @handle


#: Bidirectional controls (embeddings, overrides, isolates, marks of direction): in a stranger's
#: text or handle, an unclosed one reorders what the page prints after it on the same line.
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def readable(text: str) -> str:
    """A stranger's text without its bidirectional controls: a right-to-left override (U+202E)
    would show « Bande de traîtres » as « sertîart ed ednaB »; Arabic and Hebrew still read right
    to left by themselves."""
    return _BIDI.sub("", text)


def isolated(text: str) -> str:
    """A stranger's words (a handle, a reply from the public) as :func:`plain` text set apart in
    its own direction: its bidirectional controls removed, the rest isolated (FSI ... PDI), so
    Arabic or Hebrew shows right to left without turning the words around it."""
    return "\u2068" + plain(readable(text)) + "\u2069"


def person(username: str) -> str:
    """Who did something: a staff member's username, or the system's own work in words."""
    return t("common.system") if username == "system" else username


def platform_name(kind: str) -> str:
    return PLATFORM_NAMES.get(kind, kind)


def language_name(code: str | None, *, capital: bool = False) -> str:
    """An account's or a text's language in the reader's words (« anglais » in French, never
    "English"); no language means both. ``capital`` for an option or a heading."""
    name = t(f"compose.lang_{code}") if code in LANGUAGE_NAMES else t("common.both_languages")
    return name[:1].upper() + name[1:] if capital else name


def table(rows: list[dict[str, Any]] | pd.DataFrame, *, numbers: Iterable[str] = (), download: str | None = None,
          **options: Any) -> None:
    """A table with its figures written the reader's way (babel: "12 027" in French, "12,027" in
    English) while still sorting as numbers, and "—" for a missing value instead of "None".

    Every table of the dashboard is drawn here. Streamlit's own "download as CSV" and copy of its
    tables are switched off (``client.disableDataExport`` in dashboard/.streamlit/config.toml):
    they hand over cells as typed, and a cell such as ``=HYPERLINK(...)`` from a post, a
    platform's error or a name would run as a formula in the spreadsheet that opens it. Where
    people take a table away (``download``: the file's name, without ".csv"), this offers its own
    CSV, whose cells go through orchestrator/csvsafe.py like every export. The cells shown stay
    as typed: an apostrophe before every "@handle", "-" or "+1 514…" would be read by staff on
    every page, for a risk that only exists in a spreadsheet."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    figures = [c for c in numbers if c in frame.columns]
    styler = frame.style.format(na_rep="—").format(fmt_number, subset=figures, na_rep="—")
    options = {"hide_index": True, "width": "stretch", **options}
    st.dataframe(styler, **options)
    if download and not frame.empty:
        st.download_button(t("common.download_table"), data=lambda: table_csv(frame), file_name=f"{download}.csv",
                           mime="text/csv", key=f"table_csv_{download}", on_click="ignore",
                           icon=":material/download:", type="tertiary")


def table_csv(frame: pd.DataFrame) -> bytes:
    """A table as a CSV file a spreadsheet opens safely: formula-looking cells neutralised
    (csvsafe), figures as numbers, nothing for a missing value, UTF-8 with the byte order mark
    Excel needs to read accents."""
    from orchestrator import csvsafe

    def value(v: Any) -> Any:
        try:
            return "" if v is None or bool(pd.isna(v)) else v
        except (TypeError, ValueError):  # a list or a mapping in a cell: not missing
            return v

    rows = [list(frame.columns), *([value(v) for v in row] for row in frame.itertuples(index=False))]
    return csvsafe.dumps(rows, lineterminator="\r\n").encode("utf-8-sig")


def broken(message: str) -> None:
    """One item (a post, an account, an image, a template) that could not be drawn: its own
    error on its own card, in the reader's language, the details in the log; the page goes on.
    Call it from an ``except`` block."""
    logging.getLogger("dashboard").exception("could not draw an item: %s", message)
    st.error(plain(message), icon=":material/error:")


def viewer_notice() -> None:
    st.info(t("common.read_only"), icon=":material/visibility:")


def times_note(tz: str) -> None:
    """Under a page's title: the time zone its times are written in, named in words."""
    st.caption(t("common.times_in", zone=zone_name(tz)), help=t("common.times_in_help"))


def upload_limit_mb() -> int:
    """The image uploaders' limit in whole megabytes, as Streamlit takes it: the media library's
    (media_max_bytes), never above what the server accepts (server.maxUploadSize in
    dashboard/.streamlit/config.toml). The uploader shows it in the reader's words."""
    from orchestrator.settings import get_settings

    mb = max(1, -(-get_settings().media_max_bytes // (1024 * 1024)))
    return min(mb, int(st.get_option("server.maxUploadSize")))


def options_with_labels(items: dict[Any, str]) -> tuple[list[Any], Callable[[Any], str]]:
    keys = list(items)
    return keys, lambda k: items.get(k, str(k))


_WORDS_SCRIPT = Path(__file__).with_name("streamlit_words.js").read_text(encoding="utf-8")
#: The words of dashboard/strings.py the script uses (the file uploader's and the date and time
#: fields'), by their name in the script: the key without its prefix.
WORD_KEYS = {k.split(".", 1)[1]: k for k in STRINGS if k.startswith(("uploader.", "datefield."))}


def streamlit_words() -> None:
    """Streamlit's own English words (the file uploader's, on every page) shown in the reader's
    language, and the page's language set for screen readers: see dashboard/streamlit_words.js.
    Only our constant script and our own strings go into it, never text anyone typed."""
    words = {"lang": lang(), **{name: t(key) for name, key in WORD_KEYS.items()}}
    # "<" written as its escape: the sanitizer in front of st.html drops a script that looks
    # like it holds a tag.
    data = json.dumps(words, ensure_ascii=False).replace("<", "\\u003c")
    script = _WORDS_SCRIPT.replace("__WORDS__", data)
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)
