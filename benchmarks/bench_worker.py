"""The worker (issue 4): throughput, lateness, overhead against a bare client loop, metrics calls,
memory. Emulators run in their own process with zero latency and the platforms' budgets lifted;
workers run as ``python -m orchestrator worker`` processes with the default settings, started and
warm before the deliveries arrive (as a long-running worker is when a burst comes due); times come
from the attempt rows (first claim to last publication recorded).

- Throughput and lateness: a backlog of N deliveries due at once over 8 accounts (two per
  platform), on SQLite with one worker and on PostgreSQL with one and three workers. Lateness in a
  backlog is queueing, reported for information; punctuality is measured on a stream of
  deliveries due over a minute at a rate the worker can follow (target: p99 ≤ 2 s).
- Overhead: seconds per delivery through the orchestrator versus a bare loop calling the same X
  client with the same texts against the same emulator (target ≤ 1.25× on one account; below 1×
  when 8 accounts publish in parallel, with one worker and with one worker per core). This
  machine is a shared virtual machine whose speed drifts by tens of percent between minutes, so
  the comparison runs in rounds, the bare loop just before and just after the orchestrated runs
  of the round; the target is judged on the median of the rounds' ratios, and the hypervisor's
  steal time during the rounds is reported. Beside it, the workers' CPU time per delivery
  against the bare loop's CPU time per post: it drifts much less than wall time and shows what
  the bookkeeping (claims, records, ticks) costs on top of the client's own work.
- A burst at the platforms' pace (issue 17): 24 and 50 X accounts with ten posts each due at once
  and 500 ms per call; the floor is ten calls in a row, 5 s (target: within 1.2× at 50 accounts).
- Cost when the platform answers at once (issue 17): 50 X accounts, 1,500 deliveries per round,
  against the bare loop of the same tweepy calls, in interleaved rounds (target: median ≤ 1.25×).
  With ``PORTEVOIX_BENCH_BEFORE`` set to another work tree (e.g. ``git worktree add --detach
  ../before main``), that tree's worker runs in the same rounds, for a before/after in one run.
- Metrics: HTTP calls of one refresh per account equal ceil(N / batch).
- Memory: the worker's peak RSS while 100,000 scheduled deliveries wait in the database.

Reading the overhead rows: at zero latency the bare loop's CPU is idle only while the emulator
answers, a quarter to a third of each post on this machine. One worker process fills that time with
other accounts' calls. Its publishing threads share one interpreter lock, so they never run Python
on two processors at once; left to the system's placement they are still moved between the two
processors, one of which the emulator needs (measured with ``perf stat``: 21 context switches and
2.7 moves between processors per delivery with 8 accounts, 1.6 switches with one). That costs
about what the overlap gains, and 8 accounts on one worker land near or above 1x. With the
emulator and the client side on a processor each (the worker kept there by
``PORTEVOIX_WORKER_CPUS``, the bare loop on the same processor), as when the platform runs on its
own machines, 8 accounts on one worker go below 1x; so do a worker per processor, and any platform
latency (the 50 ms row).

Run alone: ``python -m benchmarks.bench_worker [--quick] [--overhead] [--burst] [--cost]``.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import sys
import time
from pathlib import Path

from benchmarks import _worker_lab as lab

MIXED = ["x", "x", "mastodon", "mastodon", "bluesky", "bluesky", "facebook", "facebook"]


def _row(case: str, metric: str, value: float, unit: str, target: str = "", ok: bool | None = None) -> dict:
    return {"case": case, "metric": metric, "value": round(value, 3), "unit": unit, "target": target, "ok": ok}


def backlog(kind: str, workers: int, n: int, accounts: list[str] = MIXED, latency: float = 0.0,
            split: tuple[set[int], set[int]] | None = None, root: Path = lab.ROOT) -> dict[str, float]:
    """Workers started and warm first (every one has said it is up), then ``n`` deliveries due
    at once: the span is the burst's, not the processes' start-up. With ``split``, the emulator
    and the workers each keep to their own processor (``PORTEVOIX_WORKER_CPUS``)."""
    emulator_cpus, worker_cpus = split or (None, None)
    overrides = {"worker_cpus": ",".join(map(str, sorted(worker_cpus)))} if worker_cpus else {}
    with lab.database(kind) as url, lab.sandbox_process(emulator_cpus) as sandbox:
        if latency:
            lab.add_latency(sandbox, latency)
        with lab.workers(url, workers, root, **overrides) as procs:
            lab.wait_heartbeat(url, count=workers)
            time.sleep(2)
            cpu_before = sum(lab.cpu_seconds(proc.pid) for proc in procs)
            lab.build_queue(url, sandbox, n=n, accounts=accounts)
            published = lab.wait_published(url, n, timeout=max(600, n / 10), procs=procs)
            cpu = sum(lab.cpu_seconds(proc.pid) for proc in procs) - cpu_before
        if published < n:
            raise RuntimeError(f"only {published}/{n} published")
        result = lab.timings(url)
    result["rate"] = n / result["span"]
    result["cpu"] = cpu  # the workers' CPU time over the burst (publishing and bookkeeping)
    return result


def stream(kind: str, n: int, seconds: float) -> dict[str, float]:
    from orchestrator.timeutil import utcnow

    with lab.database(kind) as url, lab.sandbox_process() as sandbox, lab.workers(url, 1) as procs:
        lab.wait_heartbeat(url)  # the worker is up (start-up is not lateness) before anything is due
        lab.build_queue(url, sandbox, n=n, accounts=MIXED, start=utcnow() + dt.timedelta(seconds=3),
                        spread_seconds=seconds)
        published = lab.wait_published(url, n, timeout=seconds + 120, procs=procs)
        if published < n:
            raise RuntimeError(f"only {published}/{n} published")
        return lab.timings(url)


def bare_loop(sandbox: str, n: int) -> float:
    """Seconds per post for the X client alone, publishing one post after the other: the same
    texts as the orchestrator's deliveries (``lab.delivery_text``), against the same emulator."""
    return _bare(sandbox, n)[0]


def _bare(sandbox: str, n: int, cpus: set[int] | None = None) -> tuple[float, float]:
    """The bare loop's seconds per post, and its CPU seconds per post (this process's); on
    ``cpus`` only when given."""
    import requests

    from channels.base import AccountConfig, PublishRequest
    from channels.x import XChannel

    http = requests.Session()
    http.trust_env = False  # as the worker does for sandbox accounts
    channel = XChannel(AccountConfig("x", "bare", lab.credentials("x", 99), base_url=sandbox), session=http, timeout=20)
    with lab.pinned_thread(cpus):
        channel.publish(PublishRequest(key="warm", text=f"Échauffement {time.time_ns()}"))
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            channel.publish(PublishRequest(key=f"bare-{i}", text=lab.delivery_text(i)))
        return (time.perf_counter() - started) / n, (time.process_time() - cpu) / n


def _bare_placed(n: int, split: tuple[set[int], set[int]] | None) -> tuple[float, float]:
    """``_bare`` against a fresh emulator, each on its processor of ``split`` when given."""
    emulator_cpus, client_cpus = split or (None, None)
    with lab.sandbox_process(emulator_cpus) as sandbox:
        return _bare(sandbox, n, client_cpus)


def orchestrated(n: int, accounts: list[str], latency: float = 0.0, workers: int = 1) -> float:
    """Seconds per delivery through running workers on SQLite (a burst, as in ``backlog``)."""
    return backlog("sqlite", workers, n, accounts, latency)["span"] / n


def overhead(quick: bool) -> list[dict]:
    """The orchestrator against a bare client loop, in rounds: each round measures the bare loop
    just before and just after the orchestrated runs, and the ratio is taken within the round.
    This machine is a shared virtual machine whose speed drifts by tens of percent from one
    minute to the next (the hypervisor's steal time is reported beside the figures), so a ratio
    of two measurements taken minutes apart says more about the neighbours than about us. The
    target is checked on the median of the rounds' ratios; the best round is shown as well.

    Two placements: the system's own (emulator and client share the processors), and a
    processor each for the emulator and for the client side (the bare loop, or the worker kept
    there with ``PORTEVOIX_WORKER_CPUS``), as when the platform runs on its own machines."""
    rounds, m = (3, 500) if quick else (5, 1_000)
    split = lab.split_cpus()
    cases: dict[str, tuple[list[str], int, tuple[set[int], set[int]] | None]] = {
        "1 X account, 1 worker": (["x"], 1, None), "8 X accounts, 1 worker": (["x"] * 8, 1, None),
        "8 X accounts, 2 workers (one per core)": (["x"] * 8, 2, None)}
    if split:
        cases["1 X account, 1 worker, emulator and worker on a processor each"] = (["x"], 1, split)
        cases["8 X accounts, 1 worker, emulator and worker on a processor each"] = (["x"] * 8, 1, split)
    ratios: dict[str, list[float]] = {name: [] for name in cases}
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu_ratios: dict[str, list[float]] = {name: [] for name in cases}
    bares: dict[bool, list[float]] = {False: [], True: []}
    steal_before = lab.steal_seconds()
    started = time.monotonic()
    for _ in range(rounds):
        placements = {False: None, True: split} if split else {False: None}
        before = {placed: _bare_placed(m // 2, placement) for placed, placement in placements.items()}
        runs = {name: backlog("sqlite", count, m, accounts, split=placement)
                for name, (accounts, count, placement) in cases.items()}
        reference = {}
        for placed, (wall, cpu) in before.items():
            after, cpu_after = _bare_placed(m // 2, placements[placed])
            bares[placed].extend([wall, after])
            reference[placed] = ((wall + after) / 2, (cpu + cpu_after) / 2)
        for name, run in runs.items():
            bare, bare_cpu = reference[cases[name][2] is not None]
            seconds = run["span"] / m
            times[name].append(seconds)
            ratios[name].append(seconds / bare)
            cpu_ratios[name].append(run["cpu"] / m / bare_cpu)
    steal = (lab.steal_seconds() - steal_before) / max(1e-9, time.monotonic() - started) * 100
    rows = [_row(f"bare loop, X client, {m // 2:,} posts, {2 * rounds} runs", "time per post (median)",
                 statistics.median(bares[False]) * 1000, "ms")]
    if split:
        rows.append(_row(f"bare loop, X client, emulator and loop on a processor each, {m // 2:,} posts, "
                         f"{2 * rounds} runs", "time per post (median)", statistics.median(bares[True]) * 1000, "ms"))
    rows.append(_row(f"overhead rounds: hypervisor steal while measuring ({rounds} rounds)", "steal", steal,
                     "% of one core"))
    for name in cases:
        rows.append(_row(f"orchestrator, {name}, {m:,} deliveries, SQLite", "time per delivery (median)",
                         statistics.median(times[name]) * 1000, "ms"))
        median, best = statistics.median(ratios[name]), min(ratios[name])
        target, ok = ("≤ 1.25", median <= 1.25) if name.startswith("1 ") else ("< 1", median < 1)
        rows.append(_row(f"orchestrator vs bare loop, {name}", "ratio (median of rounds)", median, "×", target, ok))
        rows.append(_row(f"orchestrator vs bare loop, {name}", "ratio (best round)", best, "×"))
        # CPU time drifts far less than wall time on a shared machine: what bookkeeping costs
        rows.append(_row(f"orchestrator vs bare loop, {name}", "CPU time per delivery, ratio (median)",
                         statistics.median(cpu_ratios[name]), "×"))
    m = 200 if quick else 800
    with lab.sandbox_process() as sandbox:
        lab.add_latency(sandbox, 0.05)
        bare = bare_loop(sandbox, m)
    eight = orchestrated(m, ["x"] * 8, latency=0.05)
    rows.append(_row(f"bare loop, X client, 50 ms per write, {m:,} posts", "time per post", bare * 1000, "ms"))
    rows.append(_row(f"orchestrator, 8 X accounts, 50 ms per write, {m:,} deliveries, SQLite", "time per delivery",
                     eight * 1000, "ms"))
    rows.append(_row("orchestrator vs bare loop, 8 accounts, 50 ms per write", "ratio", eight / bare, "×", "< 1",
                     eight / bare < 1))
    return rows


def _versions() -> dict[str, Path]:
    """The code measured: this tree, and the tree before the change when one is given."""
    before = lab.before_root()
    return {"": lab.ROOT, **({" (before)": before} if before else {})}


def burst(quick: bool) -> list[dict]:
    """A burst at the platforms' pace: each of N X accounts has ten posts due at the same moment
    and every platform call takes 500 ms. An account's calls go one after the other (its posts go
    out in order), so the floor is ten calls, 5 s, whatever N; one worker should reach it within
    1.2× when it runs every account that has work at once. Rounds interleave the versions."""
    rounds, per, latency = (1, 10, 0.5) if quick else (3, 10, 0.5)
    floor = per * latency
    rows = []
    for count in (24, 50):
        spans: dict[str, list[float]] = {name: [] for name in _versions()}
        for _ in range(rounds):
            for name, root in _versions().items():
                spans[name].append(backlog("sqlite", 1, count * per, ["x"] * count, latency, root=root)["span"])
        for name, values in spans.items():
            span = statistics.median(values)
            case = f"{count} X accounts × {per} posts due at once, {latency * 1000:.0f} ms per call, 1 worker{name}"
            rows.append(_row(case, f"time to drain (median of {rounds})", span, "s"))
            rows.append(_row(case, f"time to drain / floor ({floor:.0f} s)", span / floor, "×",
                             "≤ 1.2" if not name else "", span / floor <= 1.2 if not name else None))
    return rows


def cost(quick: bool) -> list[dict]:
    """What the worker costs per delivery when the platform answers at once: 50 X accounts, 1,500
    deliveries per round, against a bare loop of the same tweepy calls (the X client posting the
    same texts, one after the other). Rounds interleave: bare, worker (each version), bare; the
    ratio is taken within the round and judged on the median of the rounds."""
    rounds, m, accounts = (3, 1_500, 50) if quick else (5, 1_500, 50)
    ratios: dict[str, list[float]] = {name: [] for name in _versions()}
    times: dict[str, list[float]] = {name: [] for name in _versions()}
    bares: list[float] = []
    for _ in range(rounds):
        before, _cpu = _bare_placed(m // 2, None)
        runs = {name: backlog("sqlite", 1, m, ["x"] * accounts, root=root)["span"] / m
                for name, root in _versions().items()}
        after, _cpu = _bare_placed(m // 2, None)
        bares.extend([before, after])
        for name, seconds in runs.items():
            times[name].append(seconds)
            ratios[name].append(seconds / ((before + after) / 2))
    rows = [_row(f"bare loop, X client, {m // 2:,} posts, {2 * rounds} runs", "time per post (median)",
                 statistics.median(bares) * 1000, "ms")]
    for name in ratios:
        case = f"orchestrator, {accounts} X accounts, {m:,} deliveries per round, 1 worker{name}"
        rows.append(_row(case, f"time per delivery (median of {rounds})", statistics.median(times[name]) * 1000, "ms"))
        median = statistics.median(ratios[name])
        rows.append(_row(f"{case}, vs bare loop", "ratio (median of rounds)", median, "×",
                         "≤ 1.25" if not name else "", median <= 1.25 if not name else None))
        rows.append(_row(f"{case}, vs bare loop", "ratio (highest round)",
                         max(ratios[name]), "×"))
    return rows


def metrics_calls(per_account: int) -> list[dict]:
    """One account per platform, ``per_account`` posts each, one refresh: calls per account."""
    from channels.registry import channel_class
    from channels.sandbox import start_sandbox
    from orchestrator import db
    from orchestrator.settings import get_settings
    from orchestrator.timeutil import utcnow
    from orchestrator.worker import Worker

    server = start_sandbox()
    server.sandbox.emulator("x").limits = {k: 10**9 for k in server.sandbox.emulator("x").limits}
    server.sandbox.emulator("mastodon").window_requests = 10**9
    rows = []
    try:
        with lab.database("sqlite") as url:
            kinds = ["x", "mastodon", "bluesky", "facebook"]
            lab.build_queue(url, server.url, n=per_account * 4, accounts=kinds)
            engine = db.make_engine(url)
            worker = Worker(engine, settings=get_settings().model_copy(update={"database_url": url}))
            worker.run_once()
            server.sandbox.request_log.clear()
            worker.poll_metrics(now=utcnow() + dt.timedelta(minutes=5))
            paths = {"x": r"^/2/tweets$", "mastodon": r"^/api/v1/statuses$", "bluesky": r"getPosts$",
                     "facebook": r"^/v\d+\.\d+/?$"}
            for kind in kinds:
                calls = server.sandbox.calls(kind, paths[kind])
                minimum = math.ceil(per_account / channel_class(kind).metrics_batch_size)
                rows.append(_row(f"metrics refresh, {kind}, {per_account} posts", "HTTP calls", calls, "calls",
                                 f"= {minimum}", calls == minimum))
            worker.pool.shutdown()
            engine.dispose()
    finally:
        server.stop()
    return rows


def memory(n: int) -> list[dict]:
    from orchestrator.timeutil import utcnow

    rows = []
    for held in (0, n):
        with lab.database("sqlite") as url, lab.sandbox_process() as sandbox:
            lab.build_queue(url, sandbox, n=held, accounts=MIXED, start=utcnow() + dt.timedelta(days=1),
                            spread_seconds=30 * 86400)
            with lab.workers(url, 1, dispatch_interval=0.5) as procs:
                time.sleep(15)  # every job has ticked several times over the whole queue
                peak = lab.peak_rss_mb(procs[0].pid)
        rows.append(_row(f"worker idle, {held:,} scheduled deliveries (SQLite)", "peak RSS", peak, "MB",
                         "≤ 250" if held else "", peak <= 250 if held else None))
    rows.append(_row(f"worker memory growth for {n:,} scheduled", "peak RSS difference",
                     rows[1]["value"] - rows[0]["value"], "MB", "≤ 25", rows[1]["value"] - rows[0]["value"] <= 25))
    return rows


def run(quick: bool = False) -> list[dict]:
    n = 2_000 if quick else 10_000
    rows: list[dict] = []
    databases = ["sqlite"] + (["postgresql"] if lab.postgres_available() else [])
    rates: dict[tuple[str, int], float] = {}
    for kind in databases:
        for count in (1, 3) if kind == "postgresql" else (1,):
            result = backlog(kind, count, n)
            rates[(kind, count)] = result["rate"]
            case = f"{n:,} due at once, 8 accounts, {kind}, {count} worker{'s' if count > 1 else ''}"
            rows.append(_row(case, "throughput", result["rate"], "deliveries/s"))
            rows.append(_row(case, "lateness p50 (queueing)", result["p50"], "s"))
            rows.append(_row(case, "lateness p99 (queueing)", result["p99"], "s"))
    if ("postgresql", 3) in rates:
        gain = rates[("postgresql", 3)] / rates[("postgresql", 1)]
        rows.append(_row("PostgreSQL, 3 workers vs 1, zero latency", "throughput ratio", gain, "×", "> 1", gain > 1))
        # With a platform's latency the work waits on the network, as in production, and a
        # second machine's worker adds capacity: 24 accounts, 50 ms per write.
        m, many = (1_200 if quick else 4_800), [k for k in MIXED for _ in range(3)]
        slow = {count: backlog("postgresql", count, m, many, latency=0.05)["rate"] for count in (1, 3)}
        for count, rate in slow.items():
            rows.append(_row(f"{m:,} due at once, 24 accounts, 50 ms per write, postgresql, {count} worker"
                             f"{'s' if count > 1 else ''}", "throughput", rate, "deliveries/s"))
        rows.append(_row("PostgreSQL, 3 workers vs 1, 50 ms per write", "throughput ratio", slow[3] / slow[1], "×",
                         "> 1", slow[3] / slow[1] > 1))
    count, seconds = (600, 20) if quick else (2_400, 60)
    for kind in databases:
        result = stream(kind, count, seconds)
        case = f"{count:,} due over {seconds} s ({count / seconds:.0f}/s), 8 accounts, {kind}, 1 worker"
        rows.append(_row(case, "lateness p50", result["p50"], "s", "", None))
        rows.append(_row(case, "lateness p99", result["p99"], "s", "≤ 2", result["p99"] <= 2.0))
    rows.extend(overhead(quick))
    rows.extend(burst(quick))
    rows.extend(cost(quick))
    rows.extend(metrics_calls(60 if quick else 250))
    rows.extend(memory(20_000 if quick else 100_000))
    return rows


if __name__ == "__main__":
    alone = {"--overhead": overhead, "--burst": burst, "--cost": cost}
    if any(flag in sys.argv for flag in alone):  # some parts alone
        for flag, part in alone.items():
            if flag in sys.argv:
                for row in part(quick="--quick" in sys.argv):
                    print(row, flush=True)
    else:
        for row in run(quick="--quick" in sys.argv):
            print(row)
