"""Building large queues quickly, running real worker processes, and counting what the emulators
received. Accounts and posts go through the service layer; the thousands of deliveries are
inserted in one statement (the service path for one delivery is tested elsewhere), each with its
own frozen text carrying a reference, so a duplicate on a platform is visible."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Account, Delivery, WorkerHeartbeat
from orchestrator.services import posts
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import utcnow
from tests.factories import new_account, numbered_credentials

KINDS = ("x", "mastodon", "bluesky", "facebook")
#: Kinds that publish through Meta's containers (two steps); Threads takes text alone, so it can
#: join the queues of these proofs (Instagram needs images served at a public address).
CONTAINER_KINDS = ("threads",)
REF = re.compile(r"réf\. (\d{6})")
PUBLISH_PATHS = {
    "x": r"^/2/tweets$",
    "mastodon": r"^/api/v1/statuses$",
    "bluesky": r"createRecord$",
    "facebook": r"/feed$",
    "threads": r"/threads_publish$",
}
#: Budgets wide enough that a test about crashes or scale is not a test about rate limits.
WIDE = {"rate_limits": {"publish": [100_000, 900], "read": [100_000, 300], "metrics": [100_000, 300]}}


def build_queue(engine: sa.Engine, base_url: str, *, n: int, per_kind: int = 2,
                kinds: tuple[str, ...] = KINDS, spread_seconds: float = 0.0,
                options: dict | None = None) -> dict[int, str]:
    """``n`` deliveries spread round-robin over ``per_kind`` accounts of each kind, due from now
    over ``spread_seconds``. Returns {delivery id: account kind}."""
    with db.session_scope(engine) as session:
        account_ids = []
        for kind in kinds:
            for i in range(per_kind):
                account = new_account(session, kind, name=f"{kind}-{i}", credentials=numbered_credentials(kind, i),
                                      base_url=base_url, options=options or WIDE)
                account_ids.append((account.id, kind))
        post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López", submit=True)
        posts.approve_post(session, actor=SYSTEM, post_id=post.id)
        post_id = post.id
    start = utcnow()
    rows = []
    for i in range(n):
        account_id, _kind = account_ids[i % len(account_ids)]
        at = start + dt.timedelta(seconds=spread_seconds * i / max(1, n))
        rows.append({
            "post_id": post_id, "account_id": account_id, "state": "scheduled", "scheduled_at": at, "due_at": at,
            "source_code": f"p{i:07d}", "rendered_text": f"Écrivez pour Juan López, réf. {i:06d} #ÉcrireÇaLibère",
            "created_at": start, "updated_at": start, "attempts": 0, "last_error": "", "last_error_kind": "",
            "held_reason": "",
        })
    with engine.begin() as conn:
        conn.execute(sa.insert(Delivery), rows)
    with db.session_scope(engine) as session:
        kind_of = dict(session.exec(select(Account.id, Account.kind)).all())
        return {d.id: kind_of[d.account_id] for d in session.exec(select(Delivery))}


def refs_on_platforms(sandbox, kinds: tuple[str, ...] = KINDS) -> dict[str, Counter[int]]:
    """How many posts carry each reference, per platform."""
    found: dict[str, Counter[int]] = {}
    for kind in kinds:
        counter: Counter[int] = Counter()
        for post in sandbox.sandbox.posts(kind):
            for ref in REF.findall(str(post.get("text", ""))):
                counter[int(ref)] += 1
        found[kind] = counter
    return found


def check_exactly_once(engine: sa.Engine, sandbox, kinds: dict[int, str]) -> None:
    """Every delivery published, each reference on its platform exactly once, nothing else."""
    with db.session_scope(engine) as session:
        rows = {d.id: d for d in session.exec(select(Delivery))}
    by_ref = {int(REF.search(d.rendered_text).group(1)): d for d in rows.values()}  # type: ignore[union-attr]
    not_published = {d.id: (d.state, d.last_error) for d in rows.values() if d.state != "published"}
    assert not not_published, f"{len(not_published)} not published, e.g. {list(not_published.items())[:5]}"
    queued = tuple(sorted(set(kinds.values()) | set(KINDS)))
    seen = refs_on_platforms(sandbox, queued)
    for kind in queued:
        expected = {ref for ref, d in by_ref.items() if kinds[d.id] == kind}
        twice = {ref: c for ref, c in seen[kind].items() if c > 1}
        assert not twice, f"{kind}: published twice: {sorted(twice)[:10]}"
        assert set(seen[kind]) == expected, (
            f"{kind}: missing {sorted(expected - set(seen[kind]))[:10]}, unexpected {sorted(set(seen[kind]) - expected)[:10]}")


def worker_env(**overrides: object) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PORTEVOIX_LEASE_SECONDS": "4", "PORTEVOIX_REQUEST_TIMEOUT": "1", "PORTEVOIX_DISPATCH_INTERVAL": "0.1",
        "PORTEVOIX_RECONCILE_DELAY_SECONDS": "2", "PORTEVOIX_RECONCILE_INTERVAL_SECONDS": "3",
        "PORTEVOIX_HEARTBEAT_SECONDS": "1", "PORTEVOIX_CLAIM_BATCH": "5", "PORTEVOIX_BACKOFF_BASE": "0.2",
        "PORTEVOIX_MAX_ATTEMPTS": "20", "PORTEVOIX_LOG_LEVEL": "INFO", "PORTEVOIX_LOG_FORMAT": "json",
        "PORTEVOIX_METRICS_FIRST_POLL_SECONDS": "3600",
    })
    env.update({f"PORTEVOIX_{k.upper()}": str(v) for k, v in overrides.items()})
    return env


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "orchestrator", "worker"], env=env, stdout=log, stderr=log,
                            cwd=Path(__file__).resolve().parents[3])


def wait_for_heartbeat(engine: sa.Engine, pid: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.session_scope(engine) as session:
            if session.exec(select(WorkerHeartbeat).where(WorkerHeartbeat.pid == pid)).first() is not None:
                return
        time.sleep(0.05)
    raise AssertionError(f"worker {pid} never started")


def wait_until_settled(engine: sa.Engine, total: int, timeout: float) -> int:
    """Wait until every delivery is published; return how many are."""
    deadline = time.monotonic() + timeout
    published = 0
    while time.monotonic() < deadline:
        with db.session_scope(engine) as session:
            published = session.exec(
                select(sa.func.count()).select_from(Delivery).where(Delivery.state == "published")).one()
        if published == total:
            break
        time.sleep(0.25)
    return published
