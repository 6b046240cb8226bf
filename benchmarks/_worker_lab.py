"""What the worker benchmarks stand on: fresh databases, a sandbox in its own process with the
platforms' budgets lifted (zero latency, nothing refused), queues built in bulk, worker
processes started as in production, and timings read back from the attempt rows."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from benchmarks._databases import ADMIN_URL, empty_database
from orchestrator.services.auth import SYSTEM

ROOT = Path(__file__).resolve().parent.parent
KEY = Fernet.generate_key().decode()
WIDE = {"rate_limits": {"publish": [10**7, 900], "read": [10**7, 300], "metrics": [10**7, 300]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_available() -> bool:
    url = sa.engine.make_url(ADMIN_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, migrated database with the sample campaign; its URL."""
    from content.loader import load_all
    from orchestrator import db
    from orchestrator.services.campaigns import load_content

    os.environ["PORTEVOIX_SECRET_KEY"] = KEY
    from orchestrator.settings import get_settings

    get_settings.cache_clear()
    with tempfile.TemporaryDirectory() as tmp, empty_database(kind, Path(tmp)) as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        with db.session_scope(engine) as session:
            for campaign in load_all():
                load_content(session, actor=SYSTEM, content=campaign)
        engine.dispose()
        yield url


SANDBOX_MAIN = """
import sys
from channels.sandbox import Sandbox, SandboxServer, bluesky, x
bluesky.POLICIES.update({k: (10**9, w) for k, (_, w) in bluesky.POLICIES.items()})
sandbox = Sandbox(seed=1)
sandbox.emulator("x").limits = {k: 10**9 for k in x.LIMITS}
sandbox.emulator("mastodon").window_requests = 10**9
SandboxServer(sandbox, port=int(sys.argv[1])).serve_forever()
"""


def split_cpus() -> tuple[set[int], set[int]] | None:
    """(the emulator's processor, the client's processor): a processor each, as when the platform
    runs on its own machines; None on a single-processor machine."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return ({allowed[-1]}, {allowed[0]}) if len(allowed) >= 2 else None


@contextlib.contextmanager
def pinned_thread(cpus: set[int] | None) -> Iterator[None]:
    """The calling thread kept to ``cpus`` for the block (nothing when None)."""
    if not cpus:
        yield
        return
    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, previous)


@contextlib.contextmanager
def sandbox_process(cpus: set[int] | None = None) -> Iterator[str]:
    """The four emulators in their own process, as ``porte-voix sandbox`` runs them; kept to
    ``cpus`` when given."""
    import httpx

    port = free_port()
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen([sys.executable, "-c", SANDBOX_MAIN, str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pin)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/_sandbox/health", timeout=1)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def add_latency(sandbox: str, seconds: float) -> None:
    """Every write waits ``seconds`` before it is handled, as a real platform makes us wait."""
    import httpx

    httpx.post(f"{sandbox}/_sandbox/faults", json={"action": "slow", "method": "POST", "delay": seconds,
                                                   "count": 10**9}, timeout=5).raise_for_status()


def credentials(kind: str, n: int) -> dict[str, str]:
    return {
        "x": {"bearer_token": f"bench-x-{n}"},
        "mastodon": {"access_token": f"bench-mastodon-{n}"},
        "bluesky": {"handle": f"bench-{n}.test", "app_password": f"bench-pw-{n}"},
        "facebook": {"page_id": str(7000 + n), "page_token": f"bench-fb-{n}"},
    }[kind]


def delivery_text(i: int) -> str:
    """The text of the benchmark's ``i``-th delivery (the bare loop posts the same ones)."""
    return f"Écrivez pour Juan López, réf. {i:07d} #ÉcrireÇaLibère"


def build_queue(url: str, base_url: str, *, n: int, accounts: list[str], start: dt.datetime | None = None,
                spread_seconds: float = 0.0) -> list[int]:
    """Accounts through the service layer; ``n`` deliveries (one insert) round-robin over them,
    due from ``start`` over ``spread_seconds``, each with its own text."""
    from orchestrator import db
    from orchestrator.models import Delivery
    from orchestrator.services import accounts as account_service
    from orchestrator.services import posts
    from orchestrator.timeutil import utcnow

    engine = db.make_engine(url)
    with db.session_scope(engine) as session:
        ids = []
        for i, kind in enumerate(accounts):
            account = account_service.add_account(session, actor=SYSTEM, kind=kind, name=f"{kind}-{i}", credentials=credentials(kind, i),
                                                  base_url=base_url, language="fr", options=WIDE, is_sandbox=True)
            ids.append(account.id)
        post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López", submit=True)
        posts.approve_post(session, actor=SYSTEM, post_id=post.id)
        post_id = post.id
    start = start or utcnow()
    now = utcnow()
    rows = [{
        "post_id": post_id, "account_id": ids[i % len(ids)], "state": "scheduled",
        "scheduled_at": start + dt.timedelta(seconds=spread_seconds * i / max(1, n)),
        "due_at": start + dt.timedelta(seconds=spread_seconds * i / max(1, n)),
        "source_code": f"b{i:07d}", "rendered_text": delivery_text(i),
        "created_at": now, "updated_at": now, "attempts": 0, "last_error": "", "last_error_kind": "", "held_reason": "",
    } for i in range(n)]
    with engine.begin() as conn:
        for chunk in range(0, len(rows), 5000):
            conn.execute(sa.insert(Delivery), rows[chunk:chunk + 5000])
    engine.dispose()
    return ids  # type: ignore[return-value]


def worker_env(url: str, **overrides: object) -> dict[str, str]:
    env = {**os.environ, "PORTEVOIX_DATABASE_URL": url, "PORTEVOIX_SECRET_KEY": KEY, "PORTEVOIX_LOG_LEVEL": "INFO",
           "PORTEVOIX_LOG_FORMAT": "json", "PORTEVOIX_METRICS_FIRST_POLL_SECONDS": "86400"}
    env.update({f"PORTEVOIX_{k.upper()}": str(v) for k, v in overrides.items()})
    return env


def before_root() -> Path | None:
    """A work tree of the code before a change (``PORTEVOIX_BENCH_BEFORE``), whose worker the
    comparisons run beside this tree's, in the same rounds; None when not set."""
    value = os.environ.get("PORTEVOIX_BENCH_BEFORE", "")
    return Path(value).resolve() if value else None


@contextlib.contextmanager
def workers(url: str, count: int, root: Path = ROOT, **overrides: object) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` worker processes of the code in ``root`` (this tree unless told)."""
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    env = worker_env(url, **overrides)
    if root != ROOT:  # that tree's packages first, whatever this environment installed
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    procs = [subprocess.Popen([sys.executable, "-m", "orchestrator", "worker"], env=env,
                              cwd=root, stdout=log, stderr=log) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def wait_heartbeat(url: str, timeout: float = 120.0, count: int = 1) -> None:
    """Until ``count`` workers have said they are up."""
    engine = sa.create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if conn.execute(sa.text("SELECT count(*) FROM worker_heartbeat")).scalar_one() >= count:
                    return
            time.sleep(0.1)
        raise RuntimeError("no worker started")
    finally:
        engine.dispose()


def count_state(url: str, state: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM delivery WHERE state = :s"), {"s": state}).scalar_one()
    engine.dispose()
    return int(n)


def wait_published(url: str, total: int, timeout: float, procs: list[subprocess.Popen[bytes]] | None = None) -> int:
    deadline = time.monotonic() + timeout
    published = 0
    while time.monotonic() < deadline:
        published = count_state(url, "published")
        if published >= total:
            break
        if procs and any(p.poll() is not None for p in procs):
            raise RuntimeError("a worker process died")
        time.sleep(0.2)
    return published


def timings(url: str) -> dict[str, float]:
    """From the attempt rows: the span from the first claim to the last publication, and each
    delivery's lateness (first claim minus its scheduled time)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT d.scheduled_at, min(a.at) FROM delivery d JOIN attempt a ON a.delivery_id = d.id "
            "WHERE a.to_state = 'publishing' GROUP BY d.id, d.scheduled_at")).all()
        last = conn.execute(sa.text("SELECT max(at) FROM attempt WHERE to_state = 'published'")).scalar_one()
    engine.dispose()

    def aware(value: object) -> dt.datetime:
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        assert isinstance(value, dt.datetime)
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    late = sorted(max(0.0, (aware(first) - aware(sched)).total_seconds()) for sched, first in rows)
    first_claim = min(aware(first) for _, first in rows)
    return {
        "span": (aware(last) - first_claim).total_seconds(),
        "p50": late[len(late) // 2] if late else 0.0,
        "p99": late[min(len(late) - 1, int(len(late) * 0.99))] if late else 0.0,
        "count": float(len(rows)),
    }


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other machines, all cores together (Linux ``/proc/stat``)."""
    try:
        with open("/proc/stat") as handle:
            fields = handle.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used, all its threads (Linux ``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
