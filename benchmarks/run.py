"""``make bench``: run every ``benchmarks/bench_*.py`` and write ``docs/benchmarks.md``.

Each module exposes ``run(quick: bool = False) -> list[dict]``; a row has ``case``, ``metric``,
``value``, ``unit``, ``target`` and, when the module judged it, ``ok``. A target like "≤ 2" or
"> 1" is judged here when the module did not. Rows with a ``table`` key are laid out by the
module's own ``tables(rows) -> list[str]`` (Markdown lines) after the common table, and counted
with the others. A module that fails is reported as failed, and the
others still run. With ``--only``, the sections of the other benchmarks already in the output
file are kept (each section says when and how it was measured), so one benchmark can be re-run
without losing the others' results.

Usage: ``python -m benchmarks.run [--quick] [--only worker,bulk] [--output docs/benchmarks.md]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import platform
import re
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TARGET = re.compile(r"^\s*(<=|≤|>=|≥|<|>|=|==)\s*([-+]?[\d.,\s]+)")


def modules(only: set[str] | None = None) -> list[str]:
    names = sorted(p.stem for p in (ROOT / "benchmarks").glob("bench_*.py"))
    return [n for n in names if only is None or n.removeprefix("bench_") in only]


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Load average at start (1/5/15 min)": load,
        "Date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def judge(row: dict) -> bool | None:
    if row.get("ok") is not None:
        return bool(row["ok"])
    match = _TARGET.match(str(row.get("target") or ""))
    if not match or not isinstance(row.get("value"), int | float):
        return None
    op, raw = match.groups()
    limit = float(raw.replace(",", "").replace(" ", ""))
    value = float(row["value"])
    return {"<=": value <= limit, "≤": value <= limit, ">=": value >= limit, "≥": value >= limit,
            "<": value < limit, ">": value > limit, "=": value == limit, "==": value == limit}[op]


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(rows: list[dict]) -> list[str]:
    lines = ["| Case | Metric | Value | Unit | Target | Result |", "|---|---|---:|---|---|---|"]
    for row in rows:
        if "table" in row:  # laid out by the module itself
            continue
        verdict = judge(row)
        mark = "—" if verdict is None else ("pass" if verdict else "**FAIL**")
        lines.append(f"| {row.get('case', '')} | {row.get('metric', '')} | {fmt(row.get('value'))} | "
                     f"{row.get('unit', '')} | {row.get('target') or ''} | {mark} |")
    return lines


def kept_sections(path: Path, replaced: set[str]) -> dict[str, list[str]]:
    """topic -> lines of each ``## topic`` section of an earlier output file, minus the machine
    section and the topics being measured again. A section that does not say when it was
    measured gets the earlier file's date, command and load average."""
    if not path.exists():
        return {}
    sections: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    earlier = {}
    for line in next((sec for sec in sections if sec[0] == "## Machine and command"), []):
        if line.startswith("- **") and ":** " in line:
            key, value = line[4:].split(":** ", 1)
            earlier[key] = value
    kept: dict[str, list[str]] = {}
    for section in sections:
        topic = section[0][3:].strip().removeprefix("bench_")
        if topic == "Machine and command" or topic in replaced:
            continue
        body = "\n".join(section).rstrip().splitlines()
        if "load average at start" not in body[-1]:
            body += ["", f"_Kept from an earlier run: {earlier.get('Date', '?')}, load average at start "
                         f"{earlier.get('Load average at start (1/5/15 min)', '?')}, {earlier.get('Command', '?')}._"]
        kept[topic] = [*body, ""]
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the benchmarks and write docs/benchmarks.md.")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not tens of minutes)")
    parser.add_argument("--only", default="", help="comma-separated topics, e.g. worker,bulk")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args(argv)
    only = {t.strip() for t in args.only.split(",") if t.strip()} or None
    info = machine()
    command = "python -m benchmarks.run" + (" --quick" if args.quick else "") + (f" --only {args.only}" if only else "")
    sections: dict[str, list[str]] = {}
    failed = crashed = 0
    for name in modules(only):
        print(f"== {name}", flush=True)
        started = time.monotonic()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows = module.run(quick=args.quick)
        except Exception:
            crashed += 1
            sections[name.removeprefix("bench_")] = [f"## {name}", "", "The benchmark failed:", "", "```",
                                                     traceback.format_exc().strip(), "```", ""]
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            continue
        took = time.monotonic() - started
        doc = (module.__doc__ or "").strip()
        verdicts = [judge(r) for r in rows]
        failed += sum(1 for v in verdicts if v is False)
        own = module.tables(rows) if hasattr(module, "tables") else []
        sections[name.removeprefix("bench_")] = [f"## {name.removeprefix('bench_')}", "", doc, "", *table(rows), "", *own,
                     f"_{len(rows)} rows in {took:.0f} s; {info['Date']}, load average at start "
                     f"{info['Load average at start (1/5/15 min)']}, `{command}`._", ""]
        for row in rows:
            print("  ", row, flush=True)
    out = Path(args.output)
    if only:  # keep the other benchmarks' results from the last full run
        sections = {**kept_sections(out, set(sections)), **sections}
    lines = ["# Benchmarks", "", "Written by `make bench` (`benchmarks/run.py`); do not edit by hand.", "",
             "## Machine and command", "", *[f"- **{k}:** {v}" for k, v in info.items()],
             f"- **Command:** `{command}`", "", *[line for topic in sorted(sections) for line in sections[topic]]]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"written {out}: {failed} target(s) missed, {crashed} benchmark(s) crashed")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
