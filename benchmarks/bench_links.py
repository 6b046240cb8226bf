"""Redirects per second from the short-link service: a real ``porte-voix links serve`` (uvicorn,
one process) in a child process, hammered by ``wrk`` (or, without it, threads of httpx clients).

Afterwards the clicks written to the database must equal the redirects served: buffering in
memory must not lose any on a normal stop. Run alone: ``python -m benchmarks.bench_links``.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from orchestrator.services.auth import SYSTEM

TARGET = 1000  # redirects per second


def _prepare(home: Path) -> tuple[dict[str, str], list[str]]:
    from cryptography.fernet import Fernet

    env = {"PORTEVOIX_HOME": str(home), "PORTEVOIX_DATABASE_URL": f"sqlite:///{home / 'bench.db'}",
           "PORTEVOIX_SECRET_KEY": Fernet.generate_key().decode(), "PORTEVOIX_LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    from content.loader import load_all
    from orchestrator import db
    from orchestrator.services import accounts, deliveries, posts
    from orchestrator.services.campaigns import load_content
    from orchestrator.settings import get_settings
    from orchestrator.timeutil import utcnow

    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    engine = db.get_engine()
    db.upgrade(engine)
    codes = []
    with db.session_scope(engine) as s:
        for campaign in load_all():
            load_content(s, actor=SYSTEM, content=campaign)
        accounts.add_account(s, actor=SYSTEM, kind="mastodon", name="bench", credentials={"access_token": "t"},
                             base_url="http://127.0.0.1:9", language="fr")
        for case in ("juan-lopez", "sonia-dahmani", "damisoa", "sai-zaw-thaike"):
            post = posts.create_post(s, actor=SYSTEM, case_slug=case, text=f"Écrivez pour {case}", link="https://amnistie.ca/ecrire",
                                     submit=True)
            posts.approve_post(s, actor=SYSTEM, post_id=post.id)
            codes.append(deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name="bench", at=utcnow()).source_code)
    engine.dispose()
    return env, codes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wrk(url: str, seconds: int, connections: int) -> tuple[int, float, int]:
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True, check=True)
    total = int(re.search(r"(\d+) requests in", done.stdout).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return total, rate, int(bad.group(1)) if bad else 0


def _threads(url: str, seconds: int, workers: int) -> tuple[int, float, int]:
    stop = time.monotonic() + seconds

    def hammer() -> tuple[int, int]:
        ok = bad = 0
        with httpx.Client(follow_redirects=False) as client:
            while time.monotonic() < stop:
                ok, bad = (ok + 1, bad) if client.get(url).status_code == 302 else (ok, bad + 1)
        return ok, bad

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: hammer(), range(workers)))
    elapsed = time.monotonic() - start
    ok, bad = sum(r[0] for r in results), sum(r[1] for r in results)
    return ok + bad, (ok + bad) / elapsed, bad


def run(quick: bool = False) -> list[dict]:
    seconds = 3 if quick else 10
    with tempfile.TemporaryDirectory() as tmp:
        env, codes = _prepare(Path(tmp))
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "orchestrator", "links", "serve", "--port", str(port)],
                                  env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"links serve did not start: {server.stderr.read() if server.stderr else ''}") from None
                    time.sleep(0.1)
            url = f"http://127.0.0.1:{port}/{codes[0]}"
            tool = "wrk -t2 -c64" if shutil.which("wrk") else "16 httpx threads"
            total, rate, bad = _wrk(url, seconds, 64) if shutil.which("wrk") else _threads(url, seconds, 16)
        finally:
            server.send_signal(signal.SIGINT)  # a normal stop: the buffer is flushed
            server.wait(timeout=30)
        import sqlalchemy as sa

        engine = sa.create_engine(env["PORTEVOIX_DATABASE_URL"])
        with engine.connect() as conn:
            counted = int(conn.execute(sa.text("SELECT COALESCE(SUM(count), 0) FROM link_click_hour")).scalar_one())
        engine.dispose()
    case = f"GET /<code> → 302, uvicorn 1 process, SQLite, {tool}, {seconds} s"
    return [
        {"case": case, "metric": "redirects/s", "value": round(rate), "unit": "req/s", "target": f">= {TARGET}"},
        {"case": case, "metric": "errors", "value": bad, "unit": "responses", "target": "0"},
        # wrk stops counting at the deadline while a few requests are still in flight, so the
        # server may have served (and counted) slightly more than wrk reports.
        {"case": case, "metric": "clicks counted / redirects the client saw", "value": f"{counted}/{total - bad}",
         "unit": "", "target": "counted >= seen"},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(json.dumps(row, ensure_ascii=False))
