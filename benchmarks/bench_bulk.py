"""Bulk scheduling: importing a 10,000-row plan (issue 7: under a minute), on SQLite and PostgreSQL.

The plan is a December's worth of posts: 2,500 distinct texts (the eight 2025 cases in French
and English) each on four accounts (X, Facebook, Mastodon, Bluesky), with one image in ten.
Four timings per database, each one transaction through ``import_plan`` as the CLI runs it:

- check only (``--dry-run``): parse, load, match, validate every row;
- first import: the check, then 2,500 posts and 10,000 deliveries created;
- the same file again: everything unchanged;
- every time moved by an hour: 10,000 deliveries moved.

Run alone: ``python -m benchmarks.bench_bulk [--quick]`` (quick: 1,000 rows, SQLite only).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from benchmarks._databases import empty_database
from orchestrator.services.auth import SYSTEM

CASES = ["juan-lopez", "sonia-dahmani", "damisoa", "sai-zaw-thaike", "unecebo-mboteni",
         "ellinor-guttorm-utsi", "mother-nature-cambodia", "guerreras-por-la-amazonia"]
KINDS = ["x", "facebook", "mastodon", "bluesky"]
CREDS = {"x": {"bearer_token": "t"}, "facebook": {"page_id": "1", "page_token": "t"},
         "mastodon": {"access_token": "t"}, "bluesky": {"handle": "b.test", "app_password": "p"}}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TARGET_SECONDS = 60.0


def write_plan(folder: Path, rows: int, *, shift_hours: int = 0) -> bytes:
    """``rows`` deliveries (a multiple of four: one post on each of the four accounts), in the
    French layout staff get from a spreadsheet (';', French headers)."""
    (folder / "affiche.png").write_bytes(PNG)
    start = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=2, hours=shift_hours)
    zone = dt.timezone(dt.timedelta(hours=-5))
    lines = ["cas;langue;texte;lien;compte;quand;image;alt"]
    for n in range(rows // 4):
        case, language = CASES[n % 8], ("fr", "en")[n % 2]
        text = (f"Message {n} : écrivez pour défendre les droits de {case}. #ÉcrireÇaLibère" if language == "fr"
                else f"Message {n}: write to defend the rights of {case}. #W4R")
        at = (start + dt.timedelta(minutes=17 * n)).astimezone(zone).isoformat()
        image, alt = ("affiche.png", "Affiche de la campagne") if n % 10 == 0 else ("", "")
        for kind in KINDS:
            lines.append(f"{case};{language};{text};https://amnistie.ca/ecrire;{kind}-bench;{at};{image};{alt}")
    return ("\n".join(lines) + "\n").encode()


@contextlib.contextmanager
def _database(kind: str, folder: Path) -> Iterator[sa.Engine]:
    from orchestrator import db

    with empty_database(kind, folder) as url:
        engine = db.make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _timed(engine: sa.Engine, data: bytes, folder: Path, **options: object) -> tuple[tuple[float, float], object]:
    """Wall-clock and this process's CPU seconds: on a busy machine the wall time grows with the
    other load while the CPU time (the database server's excluded) stays put."""
    from orchestrator import db
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.plan_import import import_plan

    start, cpu = time.perf_counter(), time.process_time()
    with db.session_scope(engine) as session:
        result = import_plan(session, actor=SYSTEM, data=data, base_dir=folder, **options)  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - start, time.process_time() - cpu)
    assert result.ok, [p.text() for p in result.problems[:5]]
    return elapsed, result


def measure(kind: str, rows: int) -> dict[str, tuple[float, float]]:
    from cryptography.fernet import Fernet

    from content.loader import load_all
    from orchestrator import db
    from orchestrator.services.accounts import add_account
    from orchestrator.services.campaigns import load_content
    from orchestrator.settings import get_settings

    os.environ.setdefault("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    with tempfile.TemporaryDirectory() as tmp, _database(kind, Path(tmp)) as engine:
        folder = Path(tmp)
        db.upgrade(engine)
        with db.session_scope(engine) as s:
            for campaign in load_all():
                load_content(s, actor=SYSTEM, content=campaign)
            for k in KINDS:
                add_account(s, actor=SYSTEM, kind=k, name=f"{k}-bench", credentials=CREDS[k], base_url="http://127.0.0.1:9")
        plan = write_plan(folder, rows)
        check, _ = _timed(engine, plan, folder, dry_run=True)
        first, result = _timed(engine, plan, folder)
        assert result.count("create") == rows, result.summary("en")  # type: ignore[attr-defined]
        again, result = _timed(engine, plan, folder)
        assert result.count("unchanged") == rows, result.summary("en")  # type: ignore[attr-defined]
        moved, result = _timed(engine, write_plan(folder, rows, shift_hours=1), folder)
        assert result.count("move") == rows, result.summary("en")  # type: ignore[attr-defined]
    return {"check": check, "first": first, "again": again, "moved": moved}


def run(quick: bool = False) -> list[dict]:
    from tests.conftest import postgres_unavailable

    rows = 1_000 if quick else 10_000
    kinds = ["sqlite"] if quick or postgres_unavailable() else ["sqlite", "postgresql"]
    out: list[dict] = []
    for kind in kinds:
        timings = measure(kind, rows)
        case = f"plan of {rows:,} rows ({rows // 4:,} posts × 4 accounts) — {kind}".replace(",", " ")
        for metric, label, target in (
            ("check", "check only (--dry-run)", ""),
            ("first", "first import (creates everything)", f"< {TARGET_SECONDS:.0f} s"),
            ("again", "same file again (nothing new)", f"< {TARGET_SECONDS:.0f} s"),
            ("moved", "every time moved", f"< {TARGET_SECONDS:.0f} s"),
        ):
            wall, cpu = timings[metric]
            out.append({"case": case, "metric": label, "value": round(wall, 2), "unit": "s", "target": target})
            out.append({"case": case, "metric": f"{label}, CPU of the importing process", "value": round(cpu, 2),
                        "unit": "s", "target": ""})
        out.append({"case": case, "metric": "rows/s, first import", "value": round(rows / timings["first"][0]),
                    "unit": "rows/s", "target": f"> {rows / TARGET_SECONDS:.0f}"})
    return out


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row, ensure_ascii=False))
