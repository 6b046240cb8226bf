"""The inbox with 50,000 items across the four platforms: the Inbox page's first screen.

50,000 replies and mentions (X, Facebook, Mastodon, Bluesky; every state; a few carrying flag
words) answer one published post per account. Timed:

- the page itself, through ``streamlit.testing.v1.AppTest`` as an editor opens it (the real
  ``dashboard/app.py``; the script's whole run, which draws the first screen: counts, filters and
  the first 20 items, flagged ones first): median of several runs, target < 0.5 s;
- its queries alone (``services.inbox``): the first screen, its total, the counts per state and
  the overview's count per case.

Run alone: ``python -m benchmarks.bench_inbox [--quick]`` or ``python -m benchmarks.run --only inbox``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._databases import empty_database

ITEMS = 50_000
RUNS = 5
TARGET = 0.5
KINDS = ("x", "facebook", "mastodon", "bluesky")
TEXTS = ("Où est-ce que je signe ?", "La pétition ne marche pas", "Merci pour votre travail",
         "Libérez-le maintenant !", "Bande de traîtres", "Where do I sign?", "Thank you all")
APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


def generate(url: str, items: int) -> int:
    """The campaign, four accounts, one published post on each, the editor, and ``items`` inbox
    items (bulk inserted: the worker's path is tested elsewhere; this measures reading)."""
    import sqlalchemy as sa

    from content.loader import bundled_campaign, load_campaign
    from orchestrator import db
    from orchestrator.models import InboxItem
    from orchestrator.services import deliveries, inbox, posts
    from orchestrator.services.accounts import add_account
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.campaigns import load_content
    from orchestrator.services.users import add_user
    from tests.factories import CREDS

    engine = db.get_engine(url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with db.session_scope(engine) as s:
        campaign = load_content(s, actor=SYSTEM, content=load_campaign(bundled_campaign("2025")))
        inbox.set_words(s, actor=SYSTEM, campaign=campaign, words=["traîtres"])
        add_user(s, actor=SYSTEM, username="edith", password="motdepasse-solide", role="editor")
        add_user(s, actor=SYSTEM, username="alain", password="motdepasse-solide", role="approver")
        answered: list[tuple[int, str, int, int | None]] = []
        for n, kind in enumerate(KINDS):
            account = add_account(s, actor=SYSTEM, kind=kind, name=f"{kind}-fr", language="fr", credentials=CREDS[kind],
                                  base_url="http://127.0.0.1:9")
            post = posts.create_post(s, actor=SYSTEM, case_slug=["juan-lopez", "damisoa", "sonia-dahmani",
                                                                 "sai-zaw-thaike"][n],
                                     text=f"Écrivez pour eux ({kind})", submit=True)
            posts.approve_post(s, actor=SYSTEM, post_id=post.id or 0)
            delivery = deliveries.schedule(s, actor=SYSTEM, post_id=post.id or 0, account_name=account.name, at=now)
            delivery.state, delivery.platform_id = "published", f"ours-{kind}"
            s.add(delivery)
            s.flush()
            answered.append((account.id or 0, kind, delivery.id or 0, post.case_id))
        campaign_id = campaign.id
    table = InboxItem.__table__  # type: ignore[attr-defined]
    states = ("new", "new", "todo", "done", "ignored")
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for i in range(items):
            account_id, kind, delivery_id, case_id = answered[i % 4]
            text = TEXTS[i % len(TEXTS)]
            flagged = ["traîtres"] if "traîtres" in text else []
            state = states[i % len(states)]
            at = now - dt.timedelta(seconds=items - i)
            batch.append({
                "platform": kind, "account_id": account_id, "item_key": f"{i:064x}", "platform_item_id": f"{kind}-{i}",
                "kind": "mention" if i % 5 == 4 else "reply", "campaign_id": campaign_id,
                "case_id": case_id, "delivery_id": delivery_id if i % 5 != 4 else None, "answers_id": f"ours-{kind}",
                "text": f"{text} ({i})", "author": f"soutien_{i % 997}", "language": "en" if "sign?" in text else "fr",
                "url": f"https://example.org/{kind}/{i}", "received_at": at, "found_at": at, "state": state,
                "assigned_to": None, "handled_by": "edith" if state in ("done", "ignored") else None,
                "handled_at": at if state in ("done", "ignored") else None, "flagged": flagged,
                "to_review": bool(flagged) and state in ("new", "todo"), "hidden": False, "hide_error": "", "reply_post_id": None,
                "purged_at": None,
            })
            if len(batch) == 5000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
        total = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    if engine.dialect.name == "postgresql":  # as autovacuum leaves a table after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE inbox_item")
    return int(total)


def time_queries(url: str) -> dict[str, float]:
    from orchestrator import db
    from orchestrator.services import inbox
    from orchestrator.services.auth import Actor
    from orchestrator.services.campaigns import current_campaign

    engine = db.get_engine(url)
    editor = Actor("edith", "editor")
    calls = {
        "first screen (20 items, flagged first, newest first)":
            lambda s, c: inbox.page(s, actor=editor, campaign_id=c, limit=20),
        "first screen, one platform and state": lambda s, c: inbox.page(
            s, actor=editor, campaign_id=c, limit=20, filters=inbox.Filters(platform="mastodon", state="new")),
        "total for the filters": lambda s, c: inbox.count(s, campaign_id=c),
        "counts per state": lambda s, c: inbox.counts_by_state(s, campaign_id=c),
        "languages present (the filter's choices)": lambda s, c: inbox.languages(s, campaign_id=c),
        "overview: untreated per case": lambda s, c: inbox.open_by_case(s, campaign_id=c),
    }
    out = {}
    with db.session_scope(engine) as s:
        campaign_id = current_campaign(s).id
    for name, call in calls.items():
        took = []
        for _ in range(3):
            with db.session_scope(engine) as s:
                start = time.perf_counter()
                call(s, campaign_id)
                took.append(time.perf_counter() - start)
        out[name] = statistics.median(took)
    return out


def time_page(url: str, home: Path, runs: int) -> dict[str, float]:
    import streamlit as st
    from cryptography.fernet import Fernet
    from streamlit import logger
    from streamlit.testing.v1 import AppTest

    from orchestrator import db
    from orchestrator.settings import get_settings

    logger.set_log_level("error")
    os.environ.update({"PORTEVOIX_DATABASE_URL": url, "PORTEVOIX_HOME": str(home)})
    os.environ.setdefault("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_resource.clear()

    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = "fr"
    at.session_state["lang_chosen"] = True
    at.session_state["actor"] = {"username": "edith", "role": "editor"}
    at.run()
    at.switch_page("views/inbox.py")

    def render() -> float:
        start = time.perf_counter()
        at._run()  # the page as it opens (see benchmarks/_pages.py: no widget of the page left)
        took = time.perf_counter() - start
        assert not at.exception, [e.value for e in at.exception]
        assert len([b for b in at.button if b.key.startswith("inbox_open_")]) == 20, "not 20 items on screen"
        return took

    first = render()  # imports, the page's module: once per process
    took = [render() for _ in range(runs)]
    st.cache_resource.clear()
    db._cached_engine.cache_clear()
    return {"first": first, "median": statistics.median(took), "max": max(took)}


def measure(kind: str, items: int, runs: int) -> list[dict]:
    from cryptography.fernet import Fernet

    from orchestrator import db
    from orchestrator.settings import get_settings

    os.environ.setdefault("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, empty_database(kind, Path(tmp)) as url:
        case = f"{items:,} inbox items on four platforms — {kind}".replace(",", " ")
        db.upgrade(url)
        start = time.perf_counter()
        total = generate(url, items)
        assert total == items, total
        rows.append({"case": case, "metric": "data generation", "value": round(time.perf_counter() - start, 1),
                     "unit": "s", "target": ""})
        for name, took in time_queries(url).items():
            rows.append({"case": case, "metric": f"query: {name} (median of 3)", "value": round(took, 4), "unit": "s",
                         "target": ""})
        page = time_page(url, Path(tmp), runs)
        rows += [
            {"case": case, "metric": f"Inbox page, first screen as an editor opens it (median of {runs})",
             "value": round(page["median"], 3), "unit": "s", "target": f"< {TARGET:g}"},
            {"case": case, "metric": f"Inbox page, first screen (slowest of {runs})", "value": round(page["max"], 3),
             "unit": "s", "target": ""},
            {"case": case, "metric": "Inbox page, first run in a new process (imports included)",
             "value": round(page["first"], 3), "unit": "s", "target": ""},
        ]
        db._cached_engine.cache_clear()
    return rows


def run(quick: bool = False) -> list[dict]:
    from tests.conftest import postgres_unavailable

    kinds = ["sqlite"] if postgres_unavailable() else ["sqlite", "postgresql"]
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    out: list[dict] = []
    for kind in kinds:
        out += measure(kind, ITEMS, 3 if quick else RUNS)
    out.append({"case": "machine", "metric": "load average (1/5/15 min) at the end", "value":
                " / ".join(f"{x:.2f}" for x in os.getloadavg()), "unit": f"(at the start: {load})", "target": ""})
    return out


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row, ensure_ascii=False))
