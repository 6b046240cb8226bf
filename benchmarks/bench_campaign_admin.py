"""Campaigns (editions) run from the dashboard (issue 8), on SQLite:

- the marathon counter's refresh (every 15 s on the projector) with a busy campaign's responses
  table: 50,000 rows (10,000 in quick mode) across the eight 2025 cases and 60 days;
- a template's fit check (rendered with every case, checked on the four platforms), which the
  templates page runs for each template shown;
- the 2025 edition read out of the database and written as a folder (``content dump``).

Run alone: ``python -m benchmarks.bench_campaign_admin [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orchestrator.services.auth import SYSTEM


def _best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(quick: bool = False) -> list[dict[str, Any]]:
    from sqlmodel import select

    from content.loader import bundled_campaign, dump_campaign, load_campaign
    from orchestrator import db
    from orchestrator.models import Campaign, Case, Response
    from orchestrator.services import campaign_admin, counter, templates_admin
    from orchestrator.services.campaigns import load_content

    rows = 10_000 if quick else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        try:
            with db.session_scope(engine) as s:
                campaign_id = load_content(s, actor=SYSTEM, content=load_campaign(bundled_campaign("2025"))).id
            with db.session_scope(engine) as s:
                case_ids = list(s.exec(select(Case.id)))
                rng, today = random.Random(8), dt.date(2025, 12, 6)
                kinds = ("letter", "solidarity", "postcard", "signature", "email")
                s.add_all(Response(case_id=rng.choice(case_ids), kind=rng.choice(kinds), count=rng.randint(1, 40),
                                   day=today - dt.timedelta(days=rng.randint(0, 59)), source_type="tally")
                          for _ in range(rows))
            with db.session_scope(engine) as s:
                campaign = s.get(Campaign, campaign_id)
                refresh = _best(lambda: counter.counter_data(s, campaign=campaign, day_goal=4000, today=today), 5)
                body = "✍️ Écrivez pour {person} ({country}) : exigez {ask}.\n{link}\n{hashtags}"
                fit = _best(lambda: templates_admin.fit_report(s, campaign_id=campaign_id, body=body, language="fr",
                                                               action_slug="ecrire-une-lettre"), 3)
                out = Path(tmp) / "dump"
                dump = _best(lambda: dump_campaign(campaign_admin.export_content(s, campaign_id=campaign_id), out,
                                                   overwrite=True), 3)
        finally:
            engine.dispose()
    return [
        {"case": f"counter refresh, {rows:,} responses (SQLite)", "metric": "time", "value": round(refresh * 1000, 1),
         "unit": "ms", "target": "< 200 ms (refresh every 15 s)"},
        {"case": "template fit check, 8 cases × 4 platforms", "metric": "time", "value": round(fit * 1000, 1),
         "unit": "ms", "target": "< 500 ms (per template on the page)"},
        {"case": "content dump of the 2025 edition", "metric": "time", "value": round(dump * 1000, 1),
         "unit": "ms", "target": "< 2000 ms"},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
