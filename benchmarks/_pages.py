"""Every page of the dashboard timed on the server, as a signed-in person opens it.

How a page is timed: the benchmark runs the real ``dashboard/app.py`` through
``streamlit.testing.v1.AppTest`` (the same script runner the server uses, without the browser)
and records three instants of each run:

- the run starts (the script runner's ``SCRIPT_STARTED`` event);
- the page's heading is drawn (the first call of ``st.title``, wrapped here with a clock: every
  page opens with ``st.title``, and the browser shows that element as soon as the server sends
  it, while the rest of the script goes on);
- the run ends (``SCRIPT_STOPPED_WITH_SUCCESS`` or ``…_FOR_RERUN``): the session is free for the
  next click.

One AppTest session per language goes through every page the way a person does, from the
sidebar (``switch_page``). Each visit is timed twice: *cold*, with Streamlit's data cache
emptied just before (every aggregate computed, as on the first visit after the cache's 30 s),
then *warm*, the same page again at once. Modules are imported and every page opened once
before anything is timed (a running server has done that long ago).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from orchestrator.services.auth import SYSTEM

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "dashboard" / "app.py")

#: (file in dashboard/views, the lowest role that sees it in the sidebar). Every page is listed
#: in the sidebar for every signed-in person except the two admin pages; what a page shows
#: grows with the role, so the admin, who sees every page and every form, is the one timed.
PAGES: list[tuple[str, str]] = [
    ("overview", "viewer"), ("queue", "viewer"), ("calendar", "viewer"),
    ("compose", "viewer"), ("approvals", "viewer"), ("posts", "viewer"), ("series", "viewer"), ("bulk", "viewer"),
    ("cases", "viewer"), ("responses", "viewer"), ("campaigns", "viewer"), ("media", "viewer"),
    ("templates", "viewer"), ("counter", "viewer"), ("channels", "viewer"), ("exports", "viewer"),
    ("users", "admin"), ("audit", "admin"),
]
HEADING_TARGET = 0.5
SCRIPT_TARGET = 1.5
#: Past this many seconds, a page is timed once: it misses its target by far, whatever the median.
SLOW = 5 * SCRIPT_TARGET
ADMIN = "ada"
PENDING_POSTS = 40
AUDIT_ROWS = 20_000


def _png(size: int = 64) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def busy_extras(url: str) -> dict[str, int]:
    """What the bulk-generated rows lack and some pages list: staff accounts, posts awaiting
    approval on every kind of account (one in four with an image), images in the media library
    and a month of audit entries. Written through the services, except the audit rows."""
    from sqlmodel import select

    from orchestrator import db
    from orchestrator.models import Account
    from orchestrator.services import deliveries, media_library, posts
    from orchestrator.services.auth import Actor
    from orchestrator.services.campaigns import current_campaign, list_cases
    from orchestrator.services.users import add_user

    engine = db.get_engine(url)
    editor = Actor("edith", "editor")
    image = {"data": base64.b64encode(_png()).decode(), "mime_type": "image/png", "filename": "carte.png",
             "alt": "Une carte rouge"}
    made = {"pending posts": 0, "pending deliveries": 0, "images": 0}
    with db.session_scope(engine) as s:
        add_user(s, actor=SYSTEM, username=ADMIN, password="motdepasse-solide", role="admin")
        add_user(s, actor=SYSTEM, username="edith", password="motdepasse-solide", role="editor")
        campaign = current_campaign(s)
        cases = list_cases(s, campaign=campaign)
        accounts = [a.name for a in s.exec(select(Account).where(Account.language == "fr"))]
        at = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
        for i in range(PENDING_POSTS):
            post = posts.create_post(s, actor=editor, case_slug=cases[i % len(cases)].slug, language="fr",
                                     text=f"Brouillon {i} : écrivez pour les droits humains. #ÉcrireÇaLibère",
                                     images=[image] if i % 4 == 0 else None, submit=True, campaign=campaign)
            made["pending posts"] += 1
            for name in accounts:
                try:
                    deliveries.schedule(s, actor=editor, post_id=post.id or 0, account_name=name,
                                        at=at + dt.timedelta(minutes=10 * i))
                    made["pending deliveries"] += 1
                except Exception:  # noqa: BLE001 - a kind the post cannot be checked for still leaves the post
                    continue
        for n, case in enumerate(cases[:4]):
            media_library.add_image(s, actor=editor, campaign_id=campaign.id or 0, case_slug=case.slug,
                                    data=_png(64 + n), filename=f"{case.slug}.png",
                                    alt={"fr": f"Portrait, cas {n}", "en": f"Portrait, case {n}"})
            made["images"] += 1
    with engine.begin() as conn:
        now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
        conn.execute(sa.text(
            "INSERT INTO audit_entry (at, actor, action, target_type, target_id, detail) "
            "VALUES (:at, :actor, :action, 'delivery', :target, :detail)"),
            [{"at": now - dt.timedelta(minutes=2 * i), "actor": ("edith", "alain", "system")[i % 3],
              "action": ("schedule", "approve", "retry", "cancel")[i % 4], "target": str(i),
              "detail": '{"account": "x-fr"}'} for i in range(AUDIT_ROWS)])
    made["audit entries"] = AUDIT_ROWS
    return made


# ---------------------------------------------------------------------------------------------
# The clock


class _Clock:
    """Instants of the current run, filled from the script thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.started: float | None = None
        self.heading: float | None = None
        self.ended: float | None = None

    def mark(self, name: str, *, first: bool = True) -> None:
        now = time.perf_counter()
        with self.lock:
            if not first or getattr(self, name) is None:
                setattr(self, name, now)


@contextmanager
def clocked() -> Iterator[_Clock]:
    """Wrap ``st.title`` and the test script runner with the clock; undone on exit."""
    import streamlit as st
    from streamlit.runtime.scriptrunner import ScriptRunnerEvent
    from streamlit.testing.v1.local_script_runner import LocalScriptRunner

    clock = _Clock()
    title = st.title
    init = LocalScriptRunner.__init__

    def timed_title(*args: Any, **kwargs: Any) -> Any:
        clock.mark("heading")
        return title(*args, **kwargs)

    def on_event(_sender: Any, event: Any, **_kwargs: Any) -> None:
        if event == ScriptRunnerEvent.SCRIPT_STARTED:
            clock.mark("started")
        elif event in (ScriptRunnerEvent.SCRIPT_STOPPED_WITH_SUCCESS, ScriptRunnerEvent.SCRIPT_STOPPED_FOR_RERUN,
                       ScriptRunnerEvent.SCRIPT_STOPPED_WITH_COMPILE_ERROR):
            clock.mark("ended", first=False)

    def init_with_clock(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.on_event.connect(on_event, weak=False)

    st.title = timed_title  # type: ignore[assignment]
    LocalScriptRunner.__init__ = init_with_clock  # type: ignore[method-assign]
    try:
        yield clock
    finally:
        st.title = title  # type: ignore[assignment]
        LocalScriptRunner.__init__ = init  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# Visits


def _visit(at: Any, clock: _Clock, page: str) -> dict[str, Any]:
    clock.reset()
    at.switch_page(f"views/{page}.py")
    # Not ``at.run()``: that first reads the widgets of the page being left, and evaluates their
    # labels outside the script, where the interface language is unknown (AppTest then fails
    # on an English page's radio). Leaving a page sends no widget of it, as in the browser.
    at._run()
    errors = [str(e.value)[:200] for e in at.exception]
    if clock.started is None or clock.ended is None:
        return {"error": "the run was not seen"}
    heading = None if clock.heading is None else clock.heading - clock.started
    return {"heading": heading, "script": clock.ended - clock.started, "error": "; ".join(errors)}


def time_pages(url: str, *, runs: int = 5, languages: tuple[str, ...] = ("fr", "en"),
               pages: list[tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """One row per page and language: median heading and script time, cold and warm. A page whose
    first cold visit takes more than ``SLOW`` seconds is visited once only (its verdict is plain,
    and repeating it would take minutes)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    pages = pages or PAGES
    out: list[dict[str, Any]] = []
    warmed = False
    with clocked() as clock:
        for language in languages:
            at = AppTest.from_file(APP, default_timeout=600)
            at.session_state["lang"] = language
            at.session_state["lang_chosen"] = True
            at.session_state["actor"] = {"username": ADMIN, "role": "admin"}
            at.run()
            if not warmed:  # imports and first visits, not timed
                for page, _role in pages:
                    _visit(at, clock, page)
                warmed = True
            cold: dict[str, list[dict[str, Any]]] = {p: [] for p, _ in pages}
            warm: dict[str, list[dict[str, Any]]] = {p: [] for p, _ in pages}
            for _ in range(runs):
                for page, _role in pages:
                    if cold[page] and cold[page][0].get("script", 0.0) > SLOW:
                        continue
                    st.cache_data.clear()
                    cold[page].append(_visit(at, clock, page))
                    if cold[page][-1].get("script", 0.0) <= SLOW:
                        warm[page].append(_visit(at, clock, page))
            for page, role in pages:
                out.append(_summary(page, role, language, cold[page], warm[page]))
    st.cache_data.clear()
    return out


def _median(visits: list[dict[str, Any]], key: str) -> float | None:
    values = [v[key] for v in visits if v.get(key) is not None]
    return statistics.median(values) if values else None


def _summary(page: str, role: str, language: str, cold: list[dict[str, Any]],
             warm: list[dict[str, Any]]) -> dict[str, Any]:
    heading, script = _median(cold, "heading"), _median(cold, "script")
    errors = sorted({v["error"] for v in cold + warm if v.get("error")})
    ok = (not errors and heading is not None and script is not None
          and heading <= HEADING_TARGET and script <= SCRIPT_TARGET)
    return {"table": "pages", "page": page, "role": role, "language": language, "heading": heading,
            "script": script, "heading_max": max((v.get("heading") or 0.0) for v in cold),
            "script_max": max(v.get("script", 0.0) for v in cold), "warm_heading": _median(warm, "heading"),
            "warm_script": _median(warm, "script"), "runs": len(cold), "error": " | ".join(errors), "ok": ok}


def markdown(rows: list[dict[str, Any]], case: str) -> list[str]:
    """The page × language table of one database."""

    def cell(value: float | None, target: float, warm: float | None) -> str:
        if value is None:
            return "—"
        text = f"{value:.2f}" if value <= target else f"**{value:.2f}**"
        return f"{text} ({'—' if warm is None else f'{warm:.2f}'})"

    by_page: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_page.setdefault(row["page"], {})[row["language"]] = row
    most = max((r["runs"] for r in rows), default=0)
    lines = [f"**{case}**: seconds, median of {most} cold visits (warm in brackets). Targets: heading "
             f"≤ {HEADING_TARGET:g} s, script ≤ {SCRIPT_TARGET:g} s; a missed target in bold.", "",
             "| Page | In the sidebar of | fr: heading | fr: script | en: heading | en: script | Result |",
             "|---|---|---:|---:|---:|---:|---|"]
    for page, languages in by_page.items():
        cells = []
        for language in ("fr", "en"):
            row = languages.get(language)
            if row is None:
                cells += ["—", "—"]
                continue
            cells.append(cell(row["heading"], HEADING_TARGET, row["warm_heading"]))
            cells.append(cell(row["script"], SCRIPT_TARGET, row["warm_script"]))
        failed = [r for r in languages.values() if not r["ok"]]
        errors = "; ".join(sorted({r["error"] for r in failed if r["error"]}))
        once = any(r["runs"] == 1 and most > 1 for r in languages.values())
        result = "pass" if not failed else (f"**error**: {errors.replace('|', '/')}" if errors else "**FAIL**")
        if once:
            result += f" (visited once: over {SLOW:g} s)"
        role = {"viewer": "everyone", "admin": "admins"}[next(iter(languages.values()))["role"]]
        lines.append(f"| {page} | {role} | " + " | ".join(cells) + f" | {result} |")
    return [*lines, ""]
