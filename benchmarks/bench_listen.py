"""Listening (issue 18): catching up after an outage, and publishing while listening.

- Catch-up: the listener ran (every stream has its cursor), then stopped for six hours while the
  public posted on X, Bluesky, Facebook and Mastodon, one account each; the emulators hold the
  posts, spread over those hours (80 % with the edition's hashtag #EcrireCaLibere, 20 % with a
  case's, #JuanLopez, so the case's ``social_action`` totals are checked too; photos and plain
  posts in turn). ``porte-voix listen --once --json`` then runs, as an operator or the worker
  would, with ``PORTEVOIX_LISTEN_MAX_PAGES`` high enough that a pass is not cut short, again and
  again until a pass finds nothing new. Measured: the time until the last pass that found
  something ended, the peak resident memory of the process (its ``VmHWM``) at two backlog sizes,
  a quarter and the whole, beside a pass with nothing to read, and the API calls each emulator
  received against the fewest the page sizes allow: for each stream of each account, ceil(posts
  / page size), at least one call (Facebook reads two edges per stream, tagged posts and visitor
  posts: at least one call each). Every call counts, the sign-ins and "who am I" included.
  Checked: one ``public_post`` row per post made, and the listening ``social_action`` responses
  equal to the case's posts, per platform. The emulators run in the benchmark's process
  (their request log is the call count), with their budgets lifted.
- Punctuality: deliveries due over a minute on 8 accounts (two per platform) with one worker, as
  in the worker benchmark, while the simulated public posts on the four platforms all along
  (10 posts a second each, and a backlog of 2,000 each at the start). "With listening": the
  edition's terms, the worker listening every 10 s (``PORTEVOIX_LISTEN_SECONDS``, its shortest
  cadence) within the accounts' default search budgets. "Without": the same public, no listening
  terms and one pass a day (the accounts' answers, once, at start). Rounds alternate, without
  first and last, on fresh databases; the noise is the spread of p99 between the "without"
  rounds, and the target is the worst p99 with listening no further above the worst without
  than that noise.

Punctuality is measured on SQLite and on PostgreSQL, each in its own five rounds.

What it shows (details under the tables):

- Every post is counted once on every platform and database, and the case's ``social_action``
  responses match its posts. Memory does not grow with the backlog: each page is stored in its
  own transaction and nothing is kept between pages.
- Every platform stays within 1.1 of the fewest calls; what is above one is a sign-in or "who am
  I" per process, Bluesky's overlap, and, on Mastodon, one empty page when a backlog is an exact
  multiple of 40. Facebook reads the Page's /tagged and /visitor_posts edges once a pass for all
  the terms (``listen_reads_all``), since Graph has no search. X's daily counts of each term and
  its search for the quotes of our posts cost nothing in the catch-up (the counts were made
  before the outage, none of our posts is out): the fewest counts them as zero.
- Publishing first, in three ways, each tested in tests/orchestrator/worker: a listening page's
  write waits while the publisher has accounts at work, or while a delivery falls due within
  ``PORTEVOIX_LISTEN_YIELD_AHEAD_SECONDS`` (0.1 s) or has just fallen due (a delivery its
  account's pace holds back does not count: waiting for those once stopped listening altogether,
  0 posts counted in a round, which the "least share counted" row now catches), at most
  ``PORTEVOIX_LISTEN_YIELD_SECONDS`` (2 s) per write; and a page's posts, cursor and the next
  call's tokens are one write, so listening holds SQLite's single writer half as often.
- Punctuality: compare the rounds in the tables. The target is the bench's rule (worst p99 with
  listening no further above the worst without than the spread between the rounds without);
  the machine's load average is printed under the table, and on a machine shared with other work
  the spread is wide, so read the rounds too: on SQLite, a few tens of milliseconds at the tail
  are the listening thread's writes and the interpreter lock shared with the publisher.

Run alone: ``python -m benchmarks.bench_listen [--quick]``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from benchmarks import _worker_lab as lab

PLATFORMS = ("x", "bluesky", "facebook", "mastodon")
EDITION_TAG = "EcrireCaLibere"  # one of the edition's hashtags
CASE_TAG = "JuanLopez"  # the case juan-lopez's hashtag
CASE_SHARE = 0.2
OUTAGE_HOURS = 6
#: Paths of every listening call, per emulator (for the rows; the ratio counts every call).
LISTEN_PATHS = {
    "x": r"/2/tweets/search/recent|/mentions",
    "bluesky": r"searchPosts|listNotifications",
    "facebook": r"/tagged|/visitor_posts|/published_posts",
    "mastodon": r"/timelines/tag/|/notifications",
}
MIXED = ["x", "x", "mastodon", "mastodon", "bluesky", "bluesky", "facebook", "facebook"]


def _row(case: str, metric: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> dict:
    return {"case": case, "metric": metric, "value": round(value, 3) if isinstance(value, float) else value,
            "unit": unit, "target": target, "ok": ok}


# ---------------------------------------------------------------------------------------------
# Catch-up


@contextlib.contextmanager
def _sandbox() -> Iterator[object]:
    """The four emulators in this process (their request log counts the calls), budgets lifted."""
    from channels.sandbox import Sandbox, SandboxServer, bluesky, x

    saved = dict(bluesky.POLICIES)
    bluesky.POLICIES.update({k: (10**9, w) for k, (_, w) in bluesky.POLICIES.items()})
    sandbox = Sandbox(seed=1)
    sandbox.emulator("x").limits = {k: 10**9 for k in x.LIMITS}
    sandbox.emulator("mastodon").window_requests = 10**9
    server = SandboxServer(sandbox).start()
    try:
        yield server
    finally:
        server.stop()
        bluesky.POLICIES.clear()
        bluesky.POLICIES.update(saved)


def _accounts(url: str, base_url: str) -> dict[str, int]:
    """One account per platform, its every budget wide (listening is not held back here)."""
    from channels.registry import channel_class
    from orchestrator import db
    from orchestrator.services import accounts as account_service
    from orchestrator.services.auth import SYSTEM

    engine = db.make_engine(url)
    ids = {}
    with db.session_scope(engine) as session:
        for i, kind in enumerate(PLATFORMS):
            wide = {"rate_limits": {k: [10**7, w] for k, (_, w) in channel_class(kind).rate_limits.items()}}
            account = account_service.add_account(session, actor=SYSTEM, kind=kind, name=f"{kind}-{i}",
                                                  credentials=lab.credentials(kind, i), base_url=base_url,
                                                  language="fr", options=wide, is_sandbox=True)
            ids[kind] = int(account.id)
    engine.dispose()
    return ids


def _inject(server: object, kind: str, term: str, n: int, spread: float) -> None:
    emulator = server.sandbox.emulator(kind)  # type: ignore[attr-defined]
    extra = {"page": str(7000 + PLATFORMS.index(kind))} if kind == "facebook" else {}
    made = emulator.inject_public(term, n, kinds=("original", "photo"), spread=spread, **extra)
    assert len(made) == n, (kind, len(made), n)


def _listen_once(url: str, folder: Path) -> dict:
    """One ``porte-voix listen --once --json`` process: its report, wall time and peak RSS."""
    out = folder / "listen.json"
    env = lab.worker_env(url, listen_max_pages=100_000, log_level="WARNING")
    started = time.monotonic()
    with open(out, "wb") as stdout, open(os.devnull, "wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "listen", "--once", "--json"],
                                env=env, cwd=lab.ROOT, stdout=stdout, stderr=stderr)
        # VmHWM of the process's own memory, read until it ends (``ru_maxrss`` would not do: it
        # keeps the high-water mark of the benchmark's process, which holds the emulators'
        # posts, from before the child's exec)
        peak = 0.0
        while proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                peak = max(peak, lab.peak_rss_mb(proc.pid))
            time.sleep(0.05)
    took = time.monotonic() - started
    text = out.read_text(encoding="utf-8")
    if proc.returncode != 0:
        raise RuntimeError(f"listen --once failed ({proc.returncode}): {text[-2000:]}")
    report = json.loads(text[text.index("{"):])
    return {"report": report, "seconds": took, "rss_mb": peak}


def _stream_calls(url: str) -> dict[tuple[int, str], int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT account_id, stream, calls_this_month, last_error FROM listen_cursor")).all()
    engine.dispose()
    out = {}
    for account_id, stream, calls, error in rows:
        error = json.loads(error) if isinstance(error, str) else (error or {})
        if error.get("code") == "unavailable":
            continue  # not polled again (e.g. keywords on Mastodon)
        out[(int(account_id), str(stream))] = int(calls)
    return out


def _fewest(kind: str, stream: str, posts: int, size: int) -> int:
    if stream == "quotes" or stream.startswith("count:"):
        # no post of ours is out in this scenario (X asks nothing for their quotes), and X's daily
        # counts were made by the pass before the outage: none is due in the catch-up
        return 0
    per = max(1, math.ceil(posts / size))
    if kind == "facebook" and stream != "answers":
        per += 1  # visitor posts: an empty second edge
    return per


def catch_up(db_kind: str, total: int) -> dict:
    """The outage scenario at ``total`` posts (a quarter per platform); measurements and checks."""
    from channels.registry import channel_class

    per_platform = total // len(PLATFORMS)
    case_n = int(per_platform * CASE_SHARE)
    edition_n = per_platform - case_n
    with lab.database(db_kind) as url, _sandbox() as server, tempfile.TemporaryDirectory() as tmp:
        sandbox = server.sandbox  # type: ignore[attr-defined]
        ids = _accounts(url, server.url)  # type: ignore[attr-defined]
        # before the outage: a few posts, and a pass that gives every stream its cursor
        for kind in PLATFORMS:
            _inject(server, kind, EDITION_TAG, 3, 60)
            _inject(server, kind, CASE_TAG, 2, 60)
        before = _listen_once(url, Path(tmp))
        if before["report"]["new"] != 5 * len(PLATFORMS):
            raise RuntimeError(f"the pass before the outage found {before['report']['new']} posts, not 20")
        calls_before = _stream_calls(url)
        # the outage: six hours of the public's posts, in half-hour slices that alternate the tags
        slices = OUTAGE_HOURS * 2
        for s in range(slices):
            sandbox.advance(900)
            for kind in PLATFORMS:
                _inject(server, kind, EDITION_TAG, edition_n // slices + (s < edition_n % slices), 900)
            sandbox.advance(900)
            for kind in PLATFORMS:
                _inject(server, kind, CASE_TAG, case_n // slices + (s < case_n % slices), 900)
        log_start = len(sandbox.request_log)
        passes: list[dict] = []
        seconds, rss, log_end, calls_after = 0.0, 0.0, log_start, calls_before
        for _ in range(10):
            result = _listen_once(url, Path(tmp))
            passes.append(result)
            if result["report"]["new"] == 0 and not result["report"]["held_for_budget"]:
                break  # nothing more: this pass only confirmed it
            seconds += result["seconds"]
            rss = max(rss, result["rss_mb"])
            log_end = len(sandbox.request_log)
            calls_after = _stream_calls(url)
        else:
            raise RuntimeError("the catch-up did not end in 10 passes")
        idle = passes[-1]
        log = sandbox.request_log[log_start:log_end]  # the calls of the passes that found something
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            posts = dict(conn.execute(sa.text("SELECT platform, count(*) FROM public_post GROUP BY platform")).all())
            case_posts = dict(conn.execute(sa.text(
                "SELECT platform, count(*) FROM public_post WHERE case_id IS NOT NULL GROUP BY platform")).all())
            responses = dict(conn.execute(sa.text(
                "SELECT source, sum(count) FROM response WHERE source_type = 'listening' AND kind = 'social_action' "
                "GROUP BY source")).all())
            juan = conn.execute(sa.text(
                "SELECT sum(r.count) FROM response r JOIN \"case\" c ON c.id = r.case_id "
                "WHERE r.source_type = 'listening' AND c.slug = 'juan-lopez'")).scalar_one()
        engine.dispose()
        out: dict = {"db": db_kind, "total": total, "seconds": seconds, "passes": len(passes) - 1, "rss_mb": rss,
                     "idle_rss_mb": idle["rss_mb"], "platforms": {}, "juan": int(juan or 0)}
        for kind in PLATFORMS:
            size = channel_class(kind).listen_page_size
            account_id = ids[kind]
            streams = {s: c for (a, s), c in calls_after.items() if a == account_id}
            fewest = per_term = 0
            for stream in streams:
                n = edition_n if stream == f"tag:{EDITION_TAG.lower()}" else case_n if stream == f"tag:{CASE_TAG.lower()}" else 0
                fewest += _fewest(kind, stream, n, size)
                per_term += _fewest(kind, stream, per_platform if stream != "answers" else 0, size)
            if kind == "facebook":
                # Graph has no search: /tagged and /visitor_posts hold every post that tags the
                # Page, whatever its words. Read once a pass for all the terms, that is
                # ceil(posts / 100) for /tagged, one for the empty /visitor_posts, one for the
                # answers; read again for each term (as the listener did before listen_reads_all), ``per_term``.
                fewest = _fewest(kind, "tag", per_platform, size) + 1
            # the product's own count of its calls in the catch-up passes, per stream
            product = sum(c - calls_before.get((account_id, s), 0) for s, c in streams.items())
            received = sum(1 for q, _m, _p in log if q == kind)
            listening_received = sum(1 for q, _m, path in log if q == kind and re.search(LISTEN_PATHS[kind], path))
            out["platforms"][kind] = {
                "posts": int(posts.get(kind, 0)), "expected": per_platform + 5,
                "case_posts": int(case_posts.get(kind, 0)), "responses": int(responses.get(kind, 0) or 0),
                "product_calls": product, "fewest": fewest, "per_term": per_term, "streams": len(streams),
                "received": received, "listening_received": listening_received,
            }
        out["idle_calls"] = idle["report"]["calls"]
        out["duplicates"] = sum(p["report"]["duplicates"] for p in passes)
        return out


# ---------------------------------------------------------------------------------------------
# Punctuality


class _Public(threading.Thread):
    """The simulated public posting on the four platforms, ``rate`` posts a second each, through
    the sandbox's control endpoint (it runs in another process)."""

    def __init__(self, sandbox: str, rate: int) -> None:
        super().__init__(daemon=True)
        self.sandbox, self.rate, self.stop = sandbox, rate, threading.Event()
        self.made = 0

    def post(self, n: int, spread: float) -> None:
        import httpx

        for kind in PLATFORMS:
            body = {"term": EDITION_TAG, "n": n, "kinds": ["original", "photo"], "spread": spread}
            if kind == "facebook":
                body["page"] = str(7000 + MIXED.index("facebook"))
            httpx.post(f"{self.sandbox}/_sandbox/public/{kind}", json=body, timeout=60).raise_for_status()
            self.made += n

    def run(self) -> None:
        while not self.stop.wait(1.0):
            self.post(self.rate, 1.0)


def _clear_terms(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE campaign SET listening = '{}'"))
        conn.execute(sa.text("UPDATE \"case\" SET listening = '{}'"))
    engine.dispose()


def punctual_round(db_kind: str, listening: bool, seconds: float, backlog: int) -> dict[str, float]:
    """Deliveries due over ``seconds`` on 8 accounts while the public posts; lateness and what
    the worker's listening read."""
    from orchestrator.timeutil import utcnow

    n = int(4 * seconds)
    overrides = {"listen_seconds": 10} if listening else {"listen_seconds": 86400}
    with lab.database(db_kind) as url, lab.sandbox_process() as sandbox:
        if not listening:
            _clear_terms(url)
        with lab.workers(url, 1, **overrides) as procs:
            lab.wait_heartbeat(url)
            lab.build_queue(url, sandbox, n=n, accounts=MIXED, start=utcnow() + dt.timedelta(seconds=3),
                            spread_seconds=seconds)
            public = _Public(sandbox, 10)
            public.post(backlog, 3600)
            public.start()
            try:
                published = lab.wait_published(url, n, timeout=seconds + 120, procs=procs)
            finally:
                public.stop.set()
                public.join(timeout=30)
            if published < n:
                raise RuntimeError(f"only {published}/{n} published")
            result = lab.timings(url)
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                result["public_posts"] = float(conn.execute(sa.text("SELECT count(*) FROM public_post")).scalar_one())
                result["listen_calls"] = float(conn.execute(sa.text(
                    "SELECT coalesce(sum(calls_this_month), 0) FROM listen_cursor")).scalar_one())
            engine.dispose()
            result["public_made"] = float(public.made)
            return result


# ---------------------------------------------------------------------------------------------


def run(quick: bool = False) -> list[dict]:
    sizes = (4_000, 16_000) if quick else (25_000, 100_000)
    seconds = 30.0 if quick else 60.0
    backlog = 500 if quick else 2_000
    kinds = ["sqlite"] + (["postgresql"] if lab.postgres_available() else [])
    rows: list[dict] = []
    for db_kind in kinds:
        results = [catch_up(db_kind, total) for total in sizes]
        small, large = results
        for res in results:
            case = f"catch-up {res['total']:,} posts, {db_kind}"
            rows.append(_row(case, "time to catch up", res["seconds"], "s"))
            rows.append(_row(case, "passes that found posts", res["passes"], ""))
            rows.append(_row(case, "posts per second", res["total"] / max(res["seconds"], 1e-9), "posts/s"))
            rows.append(_row(case, "peak RSS of the listening process", res["rss_mb"], "MB"))
            counted = all(p["posts"] == p["expected"] and p["responses"] == p["case_posts"] for p in res["platforms"].values())
            rows.append(_row(case, "public_post rows / posts made (every platform)",
                             sum(p["posts"] for p in res["platforms"].values()), f"of {sum(p['expected'] for p in res['platforms'].values()):,}",
                             "= posts made", counted))
            juan_expected = sum(p["case_posts"] for p in res["platforms"].values())
            rows.append(_row(case, "listening social_action of juan-lopez", res["juan"], f"of {juan_expected:,} case posts",
                             "= case posts", res["juan"] == juan_expected and juan_expected > 0))
            rows.append(_row(case, "posts reported as already counted", res["duplicates"], "", "= 0", res["duplicates"] == 0))
            for kind, p in res["platforms"].items():
                ratio = p["received"] / p["fewest"]
                rows.append(_row(case, f"{kind}: calls received / fewest", ratio, f"{p['received']:,} / {p['fewest']:,}", "≤ 1.1",
                                 ratio <= 1.1))
                rows.append({"table": "calls", "case": case, "platform": kind, **p})
        rows.append(_row(f"catch-up, {db_kind}", f"peak RSS at {large['total']:,} / at {small['total']:,} posts",
                         large["rss_mb"] / small["rss_mb"], f"{large['rss_mb']:.0f} / {small['rss_mb']:.0f} MB",
                         "≤ 1.2 (bounded)", large["rss_mb"] / small["rss_mb"] <= 1.2))
        rows.append(_row(f"catch-up, {db_kind}", "peak RSS of a pass with nothing to read", large["idle_rss_mb"], "MB"))
    # punctuality: without, with, without, with, without, on SQLite (one writer, the harder case)
    # and on PostgreSQL (production, where writers do not wait for one another)
    order = [False, True, False, True, False] if not quick else [False, True, False]
    for db_kind in kinds:
        rows += _punctuality(db_kind, order, seconds, backlog)
    return rows


def _punctuality(db_kind: str, order: list[bool], seconds: float, backlog: int) -> list[dict]:
    rows: list[dict] = []
    rounds = [(listening, punctual_round(db_kind, listening, seconds, backlog)) for listening in order]
    without = [r for listening, r in rounds if not listening]
    with_ = [r for listening, r in rounds if listening]
    for i, (listening, r) in enumerate(rounds, 1):
        case = f"punctuality round {i}, {'with' if listening else 'without'} listening, {db_kind}"
        rows.append(_row(case, "p50 lateness", r["p50"], "s"))
        rows.append(_row(case, "p99 lateness", r["p99"], "s"))
        rows.append(_row(case, "public posts counted / made", r["public_posts"], f"of {r['public_made']:,.0f}"))
        rows.append(_row(case, "listening calls", r["listen_calls"], ""))
    low, high = min(r["p99"] for r in without), max(r["p99"] for r in without)
    noise = high - low
    worst = max(r["p99"] for r in with_)
    # listening slowed while posts go out, never stopped: it still reads a share of what the public posts
    kept = min(r["public_posts"] / max(r["public_made"], 1.0) for r in with_)
    rows.append(_row(f"punctuality, {db_kind}", "least share of public posts counted in a round with listening",
                     kept, "", "≥ 0.2 (slowed, not stopped)", kept >= 0.2))
    rows.append(_row(f"punctuality, {db_kind}", "noise: spread of p99 between rounds without", noise, "s"))
    rows.append(_row(f"punctuality, {db_kind}", "worst p99 with listening minus worst without", worst - high, "s",
                     f"≤ noise ({noise:.3f} s)", worst - high <= noise))
    return rows


def tables(rows: list[dict]) -> list[str]:
    lines = ["Calls per platform while catching up (the passes that found posts): every call the emulator",
             "received, the listening calls among them, the listener's own count (``listen_cursor``), the",
             "fewest the page sizes allow, and, for Facebook, what reading the Page's edges once per term costs.",
             "",
             "| Case | Platform | Streams | Received | Listening | Listener's count | Fewest | Once per term |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("table") != "calls":
            continue
        lines.append(f"| {r['case']} | {r['platform']} | {r['streams']} | {r['received']:,} | {r['listening_received']:,} | "
                     f"{r['product_calls']:,} | {r['fewest']:,} | {r['per_term']:,} |")
    return [*lines, ""]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
