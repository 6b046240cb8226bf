"""Retracting 1,000 published deliveries over four platforms (250 each on one X, Mastodon, Bluesky
and Facebook account) against the sandbox's emulators, through the worker's retractor: every
deletion a tracked job, within each account's deletion budget.

The physical floor is what the platforms' deletion limits allow at best, each account on its own
(they run side by side): with a budget of ``c`` deletions per ``w`` seconds, full at the start,
``n`` deletions take ``(n - c) × w / c`` (0 when ``n ≤ c``). X allows 50 per 15 minutes,
Mastodon 30 per 30 minutes, Bluesky 5,000 write points per hour (a deletion costs 1), Facebook
has no published figure (budgeted here like publishing, 50 per hour). For 250 each the real
floor is about **4 hours** (Facebook's, then Mastodon's 3.7 h): far too long to measure. So the
run scales time: each deletion budget's window is divided by ``SCALE`` (900: X's 15 minutes
become 1 second) and the floor with it, and the X emulator's own limits are raised as much (it
counts its 15-minute windows on the unscaled clock and tells the budgets so in its headers). The time measured is
from the request (one retraction of the case) to the last outcome recorded, against the scaled
floor. Threads (100 deletions a day: 250 would take 2.5 days) and Instagram (no deletion by
API: by hand) are not in the run. What the run adds over the floor is the bookkeeping: each
account's claim is kept small enough for its calls to end well within the lease (2 deletions a
claim at the default 120 s lease and 20 s timeout), each outcome a transaction of its own; at the
real limits, hours, that is noise. Run alone: ``python -m benchmarks.bench_retract``.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from orchestrator.services.auth import SYSTEM

KINDS = ("x", "mastodon", "bluesky", "facebook")
#: Each deletion budget's window is divided by this (and the floor with it).
SCALE = 900
#: The platforms' deletion limits (capacity, window seconds): what the channels declare.
FAST_CONTAINERS = {"container_first_delay": 0.01}


def limits() -> dict[str, tuple[int, int]]:
    from channels.registry import channel_class

    return {kind: channel_class(kind).rate_limits[channel_class(kind).delete_endpoint] for kind in KINDS}


def floor_seconds(n: int, capacity: int, window: float) -> float:
    """Fastest time for ``n`` deletions with a full budget of ``capacity`` per ``window``."""
    return max(0, n - capacity) * window / capacity


def _prepare(home: Path, per_kind: int, sandbox_url: str) -> tuple[object, dict[str, int]]:
    from cryptography.fernet import Fernet

    env = {"PORTEVOIX_HOME": str(home), "PORTEVOIX_DATABASE_URL": f"sqlite:///{home / 'bench.db'}",
           "PORTEVOIX_SECRET_KEY": Fernet.generate_key().decode(), "PORTEVOIX_LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    import sqlalchemy as sa

    from channels.base import AccountConfig, PublishRequest
    from channels.registry import channel_class
    from content.loader import load_all
    from orchestrator import db
    from orchestrator.models import Delivery
    from orchestrator.services import accounts, posts
    from orchestrator.services.campaigns import load_content
    from orchestrator.settings import get_settings
    from orchestrator.timeutil import utcnow

    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    engine = db.get_engine()
    db.upgrade(engine)
    scaled = {kind: [capacity, max(1, int(window / SCALE))] for kind, (capacity, window) in limits().items()}
    ids: dict[str, int] = {}
    with db.session_scope(engine) as s:
        for campaign in load_all():
            load_content(s, actor=SYSTEM, content=campaign)
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López",
                                 link=None, submit=True)
        posts.approve_post(s, actor=SYSTEM, post_id=post.id)
        post_id = post.id
        for kind in KINDS:
            creds = dict(channel_class(kind).sandbox_credentials)
            account = accounts.add_account(s, actor=SYSTEM, kind=kind, name=f"{kind}-bench", credentials=creds,
                                           base_url=sandbox_url, language="fr",
                                           options={**FAST_CONTAINERS, "rate_limits": {"delete": scaled[kind]}})
            ids[kind] = account.id  # type: ignore[assignment]

    def publish_all(kind: str) -> list[tuple[str, str | None]]:
        cls = channel_class(kind)
        channel = cls(AccountConfig(kind, f"{kind}-bench", dict(cls.sandbox_credentials), base_url=sandbox_url,
                                    options=dict(FAST_CONTAINERS)), timeout=10.0)
        out = []
        for n in range(per_kind):
            done = channel.publish(PublishRequest(key=f"bench-{kind}-{n}", text=f"Écrivez pour Juan (réf. {kind} {n:05d})"))
            out.append((done.platform_id, done.url))
        return out

    with ThreadPoolExecutor(len(KINDS)) as pool:
        published = dict(zip(KINDS, pool.map(publish_all, KINDS), strict=True))
    now = utcnow()
    table = Delivery.__table__  # type: ignore[attr-defined]
    rows = [{"post_id": post_id, "account_id": ids[kind], "state": "published", "scheduled_at": now, "due_at": now,
             "source_code": f"r{kind[0]}{n:05d}", "rendered_text": "x", "attempts": 1, "last_error": "",
             "last_error_kind": "", "held_reason": "", "platform_id": pid, "platform_url": url, "published_at": now,
             "created_at": now, "updated_at": now}
            for kind in KINDS for n, (pid, url) in enumerate(published[kind])]
    with engine.begin() as connection:
        connection.execute(sa.insert(table), rows)
    return engine, ids


def run(quick: bool = False) -> list[dict]:
    from channels.sandbox import start_sandbox
    from orchestrator import db
    from orchestrator.services import retractions
    from orchestrator.services.auth import Actor
    from orchestrator.settings import get_settings
    from orchestrator.worker.channels import Channels
    from orchestrator.worker.retractor import Retractor

    per_kind = 50 if quick else 250
    total = per_kind * len(KINDS)
    server = start_sandbox(seed=3)
    # The X emulator counts its windows on the unscaled clock and says so in its headers, which
    # the budgets believe: its limits are raised here (our budgets, scaled, are what is measured).
    x = server.sandbox.emulator("x")
    x.limits = {route: limit * SCALE for route, limit in x.limits.items()}  # type: ignore[misc]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine, _ = _prepare(Path(tmp), per_kind, server.url)
            settings = get_settings()
            retractor = Retractor(engine, settings, "bench-retract", channels=Channels(engine, settings))  # type: ignore[arg-type]
            calls_before = _deletions(server)
            started = time.monotonic()
            with db.session_scope(engine) as s:  # type: ignore[arg-type]
                number = retractions.request(s, actor=Actor("anne", "approver"), reason="Banc d'essai",
                                             case="juan-lopez").id
            assert number is not None
            # bounded: five times the floor, at least a minute (a stuck run fails, it does not hang)
            deadline = started + max(60.0, 5 * max(floor_seconds(per_kind, c, max(1, int(w / SCALE)))
                                                    for c, w in limits().values()))
            report = None
            while time.monotonic() < deadline:
                retractor.run_due()
                with db.session_scope(engine) as s:  # type: ignore[arg-type]
                    report = retractions.progress(s, retraction_id=number)
                if report.pending == 0:
                    break
                time.sleep(0.02)
            took = time.monotonic() - started
            calls = _deletions(server) - calls_before
            left = sum(1 for kind in KINDS for p in server.sandbox.posts(kind) if "(réf. " in str(p.get("text") or ""))
            engine.dispose()  # type: ignore[attr-defined]
    finally:
        server.stop()
    assert report is not None
    floors = {kind: floor_seconds(per_kind, c, w) for kind, (c, w) in limits().items()}
    real_floor = max(floors.values())
    scaled_floor = max(floor_seconds(per_kind, c, max(1, int(w / SCALE))) for c, w in limits().values())
    case = f"{total:,} deliveries, 4 platforms, windows ÷{SCALE}"
    rows: list[dict] = [
        {"case": case, "metric": "time to complete (scaled)", "value": round(took, 2), "unit": "s",
         "target": f"≤ {scaled_floor * 1.5 + 10:.0f}"},
        {"case": case, "metric": "physical floor (scaled)", "value": round(scaled_floor, 2), "unit": "s", "target": ""},
        {"case": case, "metric": "time over the floor", "value": round(took / scaled_floor, 2) if scaled_floor else 0.0,
         "unit": "×", "target": ""},
        {"case": case, "metric": "physical floor (real limits)", "value": round(real_floor / 3600, 2), "unit": "h",
         "target": ""},
        {"case": case, "metric": "removed", "value": len(report.removed), "unit": "deliveries", "target": f"= {total}"},
        {"case": case, "metric": "failed", "value": len(report.failed), "unit": "deliveries", "target": "= 0"},
        {"case": case, "metric": "left on the platforms", "value": left, "unit": "posts", "target": "= 0"},
        {"case": case, "metric": "deletion calls per post", "value": round(calls / total, 3), "unit": "calls",
         "target": "≤ 1.0"},
    ]
    for kind in KINDS:
        c, w = limits()[kind]
        rows.append({"case": f"{kind}: {per_kind} deletions, {c} per {w / 60:g} min", "metric": "floor (real limits)",
                     "value": round(floors[kind] / 60, 1), "unit": "min", "target": ""})
    return rows


def _deletions(server: object) -> int:
    sandbox = server.sandbox  # type: ignore[attr-defined]
    with sandbox.lock:
        return sum(1 for _, method, path in sandbox.request_log if method == "DELETE" or path.endswith("deleteRecord"))


if __name__ == "__main__":
    for row in run(quick=os.environ.get("QUICK") == "1"):
        print(row)
