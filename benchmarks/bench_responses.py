"""Importing a 1,000,000-line response export: time, and peak memory in a fresh process.

The import runs in a child process so its peak RSS (``ru_maxrss``) is its own; the target is
that memory stays flat as the file grows (bounded by distinct (case, kind, day, source), not by
lines). Run alone: ``python -m benchmarks.bench_responses [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = ["juan-lopez", "sonia-dahmani", "damisoa", "sai-zaw-thaike", "unecebo-mboteni",
         "ellinor-guttorm-utsi", "mother-nature-cambodia", "guerreras-por-la-amazonia"]
KINDS = ["lettre", "signature", "Message de solidarité", "courriel", "carte postale", "action sociale", "autre"]
SOURCES = ["", "x", "facebook", "mastodon", "bluesky", "marathon-montreal", "petition-web", "crm"]


def generate_export(path: Path, lines: int, *, seed: int = 1, with_personal_data: bool = True, days: int = 90) -> int:
    """A French-style export (';', day-first dates, spaced thousands, personal-data columns that
    must be dropped); returns the sum of its counts."""
    rng = random.Random(seed)
    start = dt.date(2025, 11, 3)
    total = 0
    header = "cas;type;nombre;date;source" + (";Prénom;Courriel" if with_personal_data else "")
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(header + "\r\n")
        for i in range(lines):
            count = rng.randrange(1, 2500)
            total += count
            day = start + dt.timedelta(days=rng.randrange(days))
            number = f"{count:,}".replace(",", "\u202f")
            row = f"{CASES[i % 8]};{KINDS[rng.randrange(7)]};{number};{day:%d/%m/%Y};{SOURCES[rng.randrange(8)]}"
            if with_personal_data:
                row += f";Personne{i};personne{i}@example.org"
            out.write(row + "\r\n")
    return total


_CHILD = r"""
import io, json, resource, sys, time
from content.loader import load_all
from orchestrator import db
from orchestrator.services.campaigns import load_content
from orchestrator.services.responses_import import import_responses

url, path = sys.argv[1], sys.argv[2]
engine = db.make_engine(url)
db.upgrade(engine)
with db.session_scope(engine) as s:
    for edition in load_all():
        load_content(s, content=edition)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
with open(path, "rb") as data, db.session_scope(engine) as s:
    report = import_responses(s, data=data, filename="bench.csv")
elapsed = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "rss_before_kb": before, "rss_peak_kb": after, "total": report.total,
                  "keys": report.keys, "saved": report.saved, "lines": report.lines}))
"""


def measure(lines: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        expected = generate_export(path, lines)
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        done = subprocess.run([sys.executable, "-c", _CHILD, url, str(path)], capture_output=True, text=True, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["saved"] and result["total"] == expected, result
        result["mb"] = path.stat().st_size / 1e6
        return result


def run(quick: bool = False) -> list[dict]:
    rows: list[dict] = []
    sizes = [10_000, 100_000] if quick else [100_000, 1_000_000]
    for lines in sizes:
        result = measure(lines)
        label = f"import {lines:,} lines ({result['mb']:.0f} MB, ';', personal-data columns)".replace(",", " ")
        rows.append({"case": label, "metric": "time", "value": round(result["seconds"], 2), "unit": "s", "target": ""})
        rows.append({"case": label, "metric": "lines/s", "value": round(lines / result["seconds"]), "unit": "lines/s",
                     "target": ""})
        rows.append({"case": label, "metric": "peak RSS", "value": round(result["rss_peak_kb"] / 1024, 1), "unit": "MiB",
                     "target": "flat as lines grow"})
        rows.append({"case": label, "metric": "RSS added by the import",
                     "value": round((result["rss_peak_kb"] - result["rss_before_kb"]) / 1024, 1), "unit": "MiB",
                     "target": "< 50"})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row, ensure_ascii=False))
