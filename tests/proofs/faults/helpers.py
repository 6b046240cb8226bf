"""Building large queues quickly, running real worker processes, and counting what the emulators
received. Accounts and posts go through the service layer; the thousands of deliveries are
inserted in one statement (the service path for one delivery is tested elsewhere), each with its
own frozen text carrying a reference, so a duplicate on a platform is visible.

Instagram publishes nothing without an image, and fetches each image itself from a public
address: its deliveries belong to a second post carrying one JPEG (with alt text), its accounts
are sandbox accounts, and :class:`MediaService` runs the links service (which serves ``/m/``,
the signed media addresses) for the duration of a proof, so that Instagram's emulator downloads
every image from this machine exactly as Meta would from ``PORTEVOIX_MEDIA_BASE_URL``."""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa
import uvicorn
from PIL import Image as PILImage
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Account, Delivery, WorkerHeartbeat
from orchestrator.services import posts
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import utcnow
from tests.factories import new_account, numbered_credentials

KINDS = ("x", "mastodon", "bluesky", "facebook")
#: Kinds that publish through Meta's containers (two steps: create, wait until ready, publish).
CONTAINER_KINDS = ("threads", "instagram")
ALL_KINDS = KINDS + CONTAINER_KINDS
#: Kinds that cannot publish text alone: their deliveries carry :data:`JPEG`, fetched by the
#: platform from the links service (a proof that queues them runs :class:`MediaService`).
IMAGE_KINDS = ("instagram",)
ALT = "Juan López tient une bougie allumée devant la rivière."
REF = re.compile(r"réf\. (\d{6})")
PUBLISH_PATHS = {
    "x": r"^/2/tweets$",
    "mastodon": r"^/api/v1/statuses$",
    "bluesky": r"createRecord$",
    "facebook": r"/feed$",
    "threads": r"/threads_publish$",
    "instagram": r"/media_publish$",
}
#: Budgets wide enough that a test about crashes or scale is not a test about rate limits.
WIDE = {"rate_limits": {"publish": [100_000, 900], "read": [100_000, 300], "metrics": [100_000, 300]}}


def jpeg(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), (230, 190, 30)).save(out, format="JPEG")
    return out.getvalue()


JPEG = jpeg()


def build_queue(engine: sa.Engine, base_url: str, *, n: int, per_kind: int = 2,
                kinds: tuple[str, ...] = KINDS, spread_seconds: float = 0.0,
                options: dict | None = None, weights: dict[str, int] | None = None) -> dict[int, str]:
    """``n`` deliveries spread round-robin over ``per_kind`` accounts of each kind, due from now
    over ``spread_seconds``; ``weights`` gives each account of a kind that many turns per round
    (one by default). Returns {delivery id: account kind}. Deliveries to a kind of
    :data:`IMAGE_KINDS` belong to a post with one JPEG and its alt text; the others to a text post."""
    with db.session_scope(engine) as session:
        account_ids = []
        for kind in kinds:
            for i in range(per_kind):
                account = new_account(session, kind, name=f"{kind}-{i}", credentials=numbered_credentials(kind, i),
                                      base_url=base_url, options=options or WIDE,
                                      is_sandbox=kind in IMAGE_KINDS)  # its images: from the links service
                account_ids.append((account.id, kind))
        post_ids = {}
        for with_image in sorted({k in IMAGE_KINDS for k in kinds}):
            images = [{"data": base64.b64encode(JPEG).decode(), "alt": ALT, "filename": "juan.jpg"}] \
                if with_image else None
            post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López",
                                     images=images, submit=True)
            posts.approve_post(session, actor=SYSTEM, post_id=post.id)
            post_ids[with_image] = post.id
    turns = {kind: (weights or {}).get(kind, 1) for kind in kinds}
    rotation = [(a, kind) for turn in range(max(turns.values())) for a, kind in account_ids if turns[kind] > turn]
    start = utcnow()
    rows = []
    for i in range(n):
        account_id, kind = rotation[i % len(rotation)]
        at = start + dt.timedelta(seconds=spread_seconds * i / max(1, n))
        rows.append({
            "post_id": post_ids[kind in IMAGE_KINDS], "account_id": account_id, "state": "scheduled",
            "scheduled_at": at, "due_at": at,
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
    """Every delivery published, each reference on its platform exactly once, nothing else; on
    Instagram each post carries its one image, with its alt text, fetched from a signed address."""
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
    for kind in set(queued) & set(IMAGE_KINDS):
        for post in sandbox.sandbox.posts(kind):
            assert post["alts"] == [ALT] and len(post["images"]) == 1 and "/m/" in post["images"][0], (kind, post)


class MediaService:
    """The links service (short links, and the signed media addresses under ``/m/``) on a free
    port of this machine, under uvicorn in a thread as ``up`` runs it, on the proof's database.
    Worker processes are pointed at it through ``PORTEVOIX_LINKS_BASE_URL`` (:meth:`env`): their
    Instagram accounts are sandbox accounts, whose images are addressed there when no
    ``PORTEVOIX_MEDIA_BASE_URL`` is set. ``served`` counts the images it answered."""

    def __init__(self, engine: sa.Engine) -> None:
        from orchestrator.links import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        self.base = f"http://127.0.0.1:{port}"
        self.served = 0
        app = create_app(engine, flush_seconds=3600)

        async def counting(scope, receive, send):  # noqa: ANN001, ANN202 - ASGI
            if scope["type"] == "http" and scope["path"].startswith("/m/"):
                async def counted(message):  # noqa: ANN001, ANN202
                    if message["type"] == "http.response.start" and message["status"] == 200:
                        self.served += 1
                    await send(message)
                return await app(scope, receive, counted)
            return await app(scope, receive, send)

        self.server = uvicorn.Server(uvicorn.Config(counting, host="127.0.0.1", port=port, access_log=False,
                                                    log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> MediaService:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("the links service did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def env(self) -> dict[str, str]:
        """Worker settings (``worker_env`` overrides) that address images here."""
        return {"links_base_url": self.base, "media_base_url": ""}


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


# ---------------------------------------------------------------------------------------------
# Threads: one thread of several parts per account, checked on the platforms' side

#: Where each part of a thread goes out: a thread's parts after the first are replies (X,
#: Mastodon, Bluesky) or the Page's comments under the post (Facebook).
PART_PATHS = {
    "x": r"^/2/tweets$",
    "mastodon": r"^/api/v1/statuses$",
    "bluesky": r"createRecord$",
    "facebook": r"/comments$",
}


def thread_texts(parts: int) -> list[str]:
    return [f"Fil pour Juan López, partie {i}/{parts} : sa rivière, sa vie." for i in range(1, parts + 1)]


def build_threads(engine: sa.Engine, base_url: str, *, kinds: tuple[str, ...] = KINDS, parts: int = 4,
                  options: dict | None = None) -> dict[int, str]:
    """One account per kind and one delivery each of a thread of ``parts`` parts (its first the
    delivery's frozen text). Returns {delivery id: account kind}."""
    texts = thread_texts(parts)
    with db.session_scope(engine) as session:
        account_ids = [(new_account(session, kind, name=f"{kind}-0", credentials=numbered_credentials(kind, 0),
                                    base_url=base_url, options=options or WIDE).id, kind) for kind in kinds]
        post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text=texts[0], submit=True,
                                 parts=[{"text": t} for t in texts[1:]])
        posts.approve_post(session, actor=SYSTEM, post_id=post.id)
        post_id = post.id
    start = utcnow()
    rows = [{
        "post_id": post_id, "account_id": account_id, "state": "scheduled", "scheduled_at": start, "due_at": start,
        "source_code": f"t{i:07d}", "rendered_text": texts[0], "created_at": start, "updated_at": start,
        "attempts": 0, "last_error": "", "last_error_kind": "", "held_reason": "",
    } for i, (account_id, _) in enumerate(account_ids)]
    with engine.begin() as conn:
        conn.execute(sa.insert(Delivery), rows)
    with db.session_scope(engine) as session:
        kind_of = dict(session.exec(select(Account.id, Account.kind)).all())
        return {d.id: kind_of[d.account_id] for d in session.exec(select(Delivery))}


def thread_on_platform(sandbox, kind: str) -> list[tuple[str, str, str | None, str | None]]:
    """The account's posts as (id, text, parent, root), the thread's structure as the platform
    holds it: for Facebook the post, then its comments (each with the post as parent and root)."""
    found = []
    for post in sandbox.sandbox.posts(kind):
        if kind == "x":
            found.append((post["id"], post["text"], post["in_reply_to"],
                          post["conversation_id"] if post["in_reply_to"] else None))
        elif kind == "mastodon":
            found.append((post["id"], post["text"], post["in_reply_to"], None))
        elif kind == "bluesky":
            found.append((post["id"], post["text"], post["reply_parent"], post["reply_root"]))
        elif kind == "facebook":
            found.append((post["id"], post["text"], None, None))
            found += [(c["id"], c["text"], post["id"], post["id"]) for c in post["comments"]]
    return found


def check_threads(engine: sa.Engine, sandbox, kinds: dict[int, str], parts: int = 4) -> None:
    """Every thread published once, whole, in order: on each platform exactly one post per part
    (no part twice), each part's parent the part before (Facebook: the post), its root the first
    (Mastodon keeps no root: the chain of parents says it), and the delivery holding every
    part's id in that order."""
    texts = thread_texts(parts)
    with db.session_scope(engine) as session:
        rows = {d.id: d for d in session.exec(select(Delivery))}
    for delivery_id, kind in kinds.items():
        d = rows[delivery_id]
        assert d.state == "published", (kind, d.state, d.last_error)
        on_platform = thread_on_platform(sandbox, kind)
        seen = Counter(text for _, text, _, _ in on_platform)
        assert all(seen[t] == 1 for t in texts), f"{kind}: parts posted {dict(seen)}"
        assert len(on_platform) == parts, f"{kind}: {len(on_platform)} posts for {parts} parts"
        by_text = {text: (pid, parent, root) for pid, text, parent, root in on_platform}
        chain = [by_text[t][0] for t in texts]
        root = chain[0]
        assert by_text[texts[0]][1] is None, f"{kind}: the first part answers {by_text[texts[0]][1]}"
        for i in range(1, parts):
            _, parent, part_root = by_text[texts[i]]
            expected_parent = root if kind == "facebook" else chain[i - 1]
            assert parent == expected_parent, f"{kind}: part {i + 1} answers {parent}, not {expected_parent}"
            if kind != "mastodon":
                assert part_root == root, f"{kind}: part {i + 1} in the thread of {part_root}, not {root}"
        assert d.platform_id == root and list(d.part_ids) == chain, (kind, d.platform_id, d.part_ids, chain)
