"""The short-link service: it counts per code and hour, stores nothing about the visitor, and
sends people only to the post's own link or the campaign's sites."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from orchestrator import db
from orchestrator.links import ClickBuffer, create_app
from orchestrator.models import LinkClickHour
from orchestrator.services.responses import add_clicks, clicks_by_code
from tests.orchestrator.helpers import every_text, published


@pytest.fixture
def client(engine: sa.Engine) -> Iterator[TestClient]:
    app = create_app(engine, flush_seconds=3600)  # tests flush by hand
    with TestClient(app, follow_redirects=False, client=("203.0.113.77", 4242),
                    headers={"user-agent": "Navigateur-Temoin/9.9"}) as test_client:
        yield test_client


def clicks(engine: sa.Engine, code: str) -> int:
    with db.session_scope(engine) as s:
        return clicks_by_code(s, codes=[code]).get(code, 0)


def test_it_redirects_to_the_posts_tagged_link_and_counts(engine: sa.Engine, client: TestClient) -> None:
    delivery = published(engine)
    for _ in range(3):
        response = client.get(f"/{delivery.source_code}")
        assert response.status_code == 302
    target = response.headers["location"]
    assert target == delivery.rendered_link
    query = parse_qs(urlsplit(target).query)
    assert query["source"] == [delivery.source_code] and query["utm_source"] == ["x"]
    assert response.headers["cache-control"] == "no-store"
    assert clicks(engine, delivery.source_code) == 0  # buffered, not yet written
    assert client.app.state.flush() == 3
    client.get(f"/{delivery.source_code.upper()}")
    client.app.state.flush()
    assert clicks(engine, delivery.source_code) == 4


def test_it_counts_per_hour(engine: sa.Engine) -> None:
    buffer = ClickBuffer()
    at = dt.datetime(2025, 12, 6, 14, 59, 59, tzinfo=dt.UTC)
    buffer.add("abc2345", at=at)
    buffer.add("abc2345", at=at + dt.timedelta(seconds=2))
    buffer.add("abc2345", at=at + dt.timedelta(seconds=1, microseconds=1))
    with engine.begin() as conn:
        add_clicks(conn, buffer.drain())
    with engine.begin() as conn:
        add_clicks(conn, {("abc2345", dt.datetime(2025, 12, 6, 14, tzinfo=dt.UTC)): 5})
    with db.session_scope(engine) as s:
        rows = sorted((r.hour, r.count) for r in s.query(LinkClickHour).all())
    assert rows == [(dt.datetime(2025, 12, 6, 14, tzinfo=dt.UTC), 6), (dt.datetime(2025, 12, 6, 15, tzinfo=dt.UTC), 2)]


def test_no_ip_address_or_user_agent_is_stored(engine: sa.Engine, client: TestClient) -> None:
    delivery = published(engine)
    client.get(f"/{delivery.source_code}", headers={"referer": "https://x.com/someone/status/1"})
    client.app.state.flush()
    assert clicks(engine, delivery.source_code) == 1
    columns = {c["name"] for c in sa.inspect(engine).get_columns("link_click_hour")}
    assert columns == {"source_code", "hour", "count"}
    haystack = every_text(engine)
    for trace in ("203.0.113.77", "Navigateur-Temoin", "x.com/someone"):
        assert trace not in haystack


UNKNOWN = ["/zzzzzzz", "/abc", "/" + "a" * 40, "/../etc/passwd", "/%00", "/", "/a/b"]


def test_an_unknown_code_gets_a_french_404_and_counts_nothing(engine: sa.Engine, client: TestClient) -> None:
    for path in UNKNOWN:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Lien introuvable" in response.text and "does not exist" in response.text, path
        assert response.headers["content-type"].startswith("text/html")
    client.app.state.flush()
    with db.session_scope(engine) as s:
        assert clicks_by_code(s) == {}


OPEN_REDIRECTS = [
    "https://evil.example/phish",
    "https://amnistie.ca.evil.example/",
    "https://amnistie.ca@evil.example/",
    "https://evil.example\\@amnistie.ca/",
    "//evil.example/",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://evil.example/?x=https://amnistie.ca",
    "https://amnistie.ca\t.evil.example/",
    "ftp://amnistie.ca/",
    "",
    # a campaign domain, but over plain HTTP (rewritable on the way) or on another port (another service)
    "http://amnistie.ca/ecrire",
    "https://amnistie.ca:8443/ecrire",
    "https://amnistie.ca:80/ecrire",
    "http://amnistie.ca:443/ecrire",
    "https://amnistie.ca:99999/",
]


def test_open_redirects_are_refused(engine: sa.Engine, client: TestClient) -> None:
    delivery = published(engine)
    for to in OPEN_REDIRECTS:
        response = client.get(f"/{delivery.source_code}", params={"to": to})
        assert response.status_code == 400 and "location" not in response.headers, to
        assert "Lien refusé" in response.text
    client.app.state.flush()
    assert clicks(engine, delivery.source_code) == 0


def test_other_campaign_pages_are_allowed_and_tagged(engine: sa.Engine, client: TestClient) -> None:
    delivery = published(engine, case="sonia-dahmani")
    response = client.get(f"/{delivery.source_code}", params={"to": "https://takeaction.amnesty.ca/page/159540/petition/1"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["source"] == [delivery.source_code] and query["utm_content"] == ["sonia-dahmani"]
    response = client.get(f"/{delivery.source_code}", params={"to": delivery.rendered_link})
    assert response.headers["location"] == delivery.rendered_link
    client.app.state.flush()
    assert clicks(engine, delivery.source_code) == 2


def test_a_post_without_a_link_sends_people_to_the_campaign(engine: sa.Engine, client: TestClient) -> None:
    delivery = published(engine, link=None)
    response = client.get(f"/{delivery.source_code}")
    assert response.status_code == 302 and response.headers["location"] == "https://amnistie.ca/marathon"


def test_stopping_the_service_writes_the_buffered_clicks(engine: sa.Engine) -> None:
    delivery = published(engine)
    with TestClient(create_app(engine, flush_seconds=3600), follow_redirects=False) as test_client:
        for _ in range(5):
            test_client.get(f"/{delivery.source_code}")
    assert clicks(engine, delivery.source_code) == 5


def test_source_codes_are_short_unique_and_on_every_campaign_link(engine: sa.Engine) -> None:
    first, second = published(engine), published(engine, kind="mastodon")
    assert len(first.source_code) == 7 and first.source_code != second.source_code
    assert set(first.source_code) <= set("23456789abcdefghjkmnpqrstuvwxyz")
    for delivery, channel in ((first, "x"), (second, "mastodon")):
        query = parse_qs(urlsplit(delivery.rendered_link).query)
        assert query == {"source": [delivery.source_code], "utm_source": [channel], "utm_medium": ["social"],
                         "utm_campaign": ["ecrire-2025"], "utm_content": ["juan-lopez"]}
        assert delivery.rendered_link in delivery.rendered_text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_real_server_counts_and_logs_no_visitor(engine: sa.Engine, env: dict[str, str]) -> None:
    """`porte-voix links serve` under uvicorn: clicks are counted, and nothing it prints names a visitor."""
    delivery = published(engine)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "links", "serve", "--port", str(port),
                             "--flush-seconds", "0.2"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"user-agent": "Navigateur-Temoin/9.9"}) as http:
            codes = [http.get(f"/{delivery.source_code}").status_code for _ in range(20)]
            assert http.get("/zzzzzzz").status_code == 404
        assert codes == [302] * 20
        deadline = time.monotonic() + 10
        while clicks(engine, delivery.source_code) < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert clicks(engine, delivery.source_code) == 20
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=20)
    assert "127.0.0.1:" not in output.replace(f"http://127.0.0.1:{port}", "")
    assert "Navigateur" not in output and "GET /" not in output


def test_a_head_request_is_answered_but_not_counted(engine: sa.Engine, client: TestClient) -> None:
    """Link checkers, chat previews and crawlers send HEAD: they are not people following a link."""
    delivery = published(engine)
    for _ in range(3):
        response = client.head(f"/{delivery.source_code}")
        assert response.status_code == 302 and response.headers["location"] == delivery.rendered_link
    client.get(f"/{delivery.source_code}")
    assert client.app.state.flush() == 1
    assert clicks(engine, delivery.source_code) == 1


def test_the_default_https_port_written_out_is_still_the_campaign(engine: sa.Engine, client: TestClient) -> None:
    delivery = published(engine, case="sonia-dahmani")
    response = client.get(f"/{delivery.source_code}", params={"to": "https://amnistie.ca:443/ecrire"})
    assert response.status_code == 302
