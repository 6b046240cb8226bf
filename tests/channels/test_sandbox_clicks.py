"""The sandbox's simulated readers click the demo's posts through their short links: real HTTP
requests to a running short-link service, a few per post, counted in the funnel, and never a
request anywhere else."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import select

from channels.sandbox.clicks import Clicker, short_links_in
from orchestrator import db, states
from orchestrator.links import create_app
from orchestrator.models import Delivery, LinkClickHour
from orchestrator.services.campaigns import current_campaign
from orchestrator.services.responses import funnel_by_channel
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests import factories
from tests.orchestrator.helpers import approved_post, schedule


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LinksService:
    """The short-link service on a free port of this machine, as ``up`` runs it (uvicorn); its
    address is the one posts carry. Stopping it writes the clicks it holds."""

    def __init__(self, engine: sa.Engine) -> None:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(create_app(engine, flush_seconds=3600), host="127.0.0.1",
                                                    port=port, access_log=False, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LinksService:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise AssertionError("the short-link service did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def links_service(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[LinksService]:
    service = LinksService(engine)
    monkeypatch.setenv("PORTEVOIX_LINKS_BASE_URL", service.base)
    get_settings.cache_clear()
    service.start()
    try:
        yield service
    finally:
        service.stop()
        get_settings.cache_clear()


def publish_demo(engine: sa.Engine, sandbox, kinds: tuple[str, ...]) -> dict[str, str]:
    """One post per sandbox account of each kind, published by the worker; code -> kind."""
    ids = {}
    for kind in kinds:
        name = factories.add_account(engine, kind, name=f"sandbox-{kind}", base_url=sandbox.url, is_sandbox=True)
        ids[schedule(engine, approved_post(engine, text=f"Écrivez pour Juan López ({kind}) #W4R"), name)] = kind
    Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 3.0}), worker_id="w").run_once()
    codes = {}
    with db.session_scope(engine) as session:
        for delivery_id, kind in ids.items():
            found = session.get(Delivery, delivery_id)
            assert found is not None and found.state == states.PUBLISHED, found and found.last_error
            codes[found.source_code] = kind
    return codes


def clicks(engine: sa.Engine) -> dict[str, int]:
    with db.session_scope(engine) as session:
        rows = session.exec(select(LinkClickHour.source_code, sa.func.sum(LinkClickHour.count))  # type: ignore[call-overload]
                            .group_by(LinkClickHour.source_code)).all()
    return {code: int(n) for code, n in rows}


def test_readers_click_each_post_a_few_times_through_its_short_link(engine, sandbox, links_service) -> None:
    codes = publish_demo(engine, sandbox, ("x", "bluesky", "mastodon", "facebook"))
    clicker = Clicker(sandbox.sandbox, links_service.base, most=3, spread_seconds=0.6, seed=11)
    planned = 0
    for _ in range(60):  # bounded: the window is 0.6 s, ticks every 0.05 s
        clicker.tick()
        planned = sum(len(p) for p in clicker._planned.values())
        if clicker._planned and planned == 0:
            break
        time.sleep(0.05)
    assert planned == 0 and clicker.failed == 0
    assert len(clicker._planned) == 4  # one plan per post, whatever the platform shows
    assert clicker.tick() == 0  # a post's clicks are made once, never again
    made = clicker.made
    clicker.stop()

    links_service.stop()  # writes the clicks it counted
    counted = clicks(engine)
    assert set(counted) == set(codes)  # every post was clicked, through its own code
    assert all(1 <= n <= 3 for n in counted.values()), counted
    assert sum(counted.values()) == made
    with db.session_scope(engine) as session:
        by_channel = {r["channel"]: r["clicks"] for r in funnel_by_channel(session, campaign=current_campaign(session))}
    for code, kind in codes.items():
        assert by_channel[kind] == counted[code]


def test_only_the_short_link_service_is_ever_followed() -> None:
    base = "http://127.0.0.1:8780/"
    post = {
        "text": "Lisez https://www.example.org/x puis http://127.0.0.1:8780.evil.example/abc et "
                "http://127.0.0.1:8780/k7m2p9q.",
        "facets": [{"features": [{"uri": "http://127.0.0.1:8780/k7m2p9q/2"}, {"tag": "W4R"}]},
                   {"features": [{"uri": "https://amnistie.ca/ecrire"}]}],
        "link": "http://127.0.0.1:8780/k7m2p9q",
    }
    assert short_links_in(post, base) == ["http://127.0.0.1:8780/k7m2p9q", "http://127.0.0.1:8780/k7m2p9q/2"]
    assert short_links_in({"text": "rien ici https://amnistie.ca"}, base) == []


def test_clicks_are_bounded_spread_and_stop_with_the_clicker(sandbox) -> None:
    """No service needed: the clicker's requests are recorded, with a clock the test moves."""
    now = [1000.0]
    asked: list[str] = []
    clicker = Clicker(sandbox.sandbox, "https://go.example.org", most=4, spread_seconds=240, seed=3,
                      get=lambda url: asked.append(url) or 302, clock=lambda: now[0])
    emulator = sandbox.sandbox.emulator("x")
    for n in range(30):  # thirty posts seen by the readers
        emulator._posts[str(n)] = {"id": str(n), "text": f"post {n} https://go.example.org/code{n:03d}",
                                   "display_text": "", "author_id": "1", "username": "u", "created": 0.0,
                                   "media": []}
    clicker.tick()
    assert asked == [] or all(u.startswith("https://go.example.org/code") for u in asked)
    first_minute = len(asked)
    now[0] += 60
    clicker.tick()
    assert len(asked) > first_minute  # clicks keep coming over the minutes
    now[0] += 240
    clicker.tick()
    total = len(asked)
    per_post: dict[str, int] = {}
    for url in asked:
        per_post[url] = per_post.get(url, 0) + 1
    assert len(per_post) == 30 and all(1 <= n <= 4 for n in per_post.values())
    assert total < 30 * 4  # a few per post, not always the most
    now[0] += 3600
    assert clicker.tick() == 0 and len(asked) == total  # nothing more for posts already clicked

    clicker.start()
    emulator._posts["late"] = {"id": "late", "text": "https://go.example.org/latecode", "display_text": "",
                               "author_id": "1", "username": "u", "created": 0.0, "media": []}
    clicker.stop()
    now[0] += 10_000
    time.sleep(0.1)
    assert "https://go.example.org/latecode" not in asked  # stopped: nothing more is requested
    assert clicker._thread is not None and not clicker._thread.is_alive()
