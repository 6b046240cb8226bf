"""``porte-voix up`` runs the short-link service beside the worker and the dashboard, on the port
the demo's short links point at; the planned command really starts the service."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from orchestrator.cli.start import LINKS_PORT, local_links_port, process_plan


def test_the_plan_has_the_worker_the_links_service_and_the_dashboard() -> None:
    plan = process_plan(port=8600, host="127.0.0.1", links_base_url="http://127.0.0.1:8790")
    assert set(plan) == {"worker", "links", "dashboard"}
    links = plan["links"]
    assert links[1:5] == ["-m", "orchestrator", "links", "serve"]
    assert links[links.index("--port") + 1] == "8790"  # where the demo's posts send readers
    assert links[links.index("--host") + 1] == "127.0.0.1"
    assert plan["worker"][-1] == "worker"
    assert "8600" in plan["dashboard"]


def test_a_public_short_address_keeps_the_service_local_on_its_usual_port() -> None:
    plan = process_plan(port=8501, host="127.0.0.1", links_base_url="https://go.amnistie.ca")
    links = plan["links"]
    assert links[links.index("--port") + 1] == str(LINKS_PORT)
    assert links[links.index("--host") + 1] == "127.0.0.1"


@pytest.mark.parametrize(("address", "port"), [
    ("http://127.0.0.1:8780", 8780), ("http://localhost:9000/", 9000), ("http://127.0.0.1", 80),
    ("https://go.amnistie.ca", None), ("http://192.168.1.4:8780", None), ("http://127.0.0.1:x", None),
])
def test_which_short_addresses_are_on_this_machine(address: str, port: int | None) -> None:
    assert local_links_port(address) == port


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_planned_links_command_serves_short_links(env: dict[str, str], engine) -> None:
    port = free_port()
    command = process_plan(port=8501, host="127.0.0.1", links_base_url=f"http://127.0.0.1:{port}")["links"]
    child = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        answer = None
        for _ in range(100):  # at most ~20 s for the interpreter to start on a busy machine
            if child.poll() is not None:
                break
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, child.stderr.read().decode() if child.stderr else ""
        assert answer.status_code == 200 and answer.text == "ok"
        unknown = httpx.get(f"http://127.0.0.1:{port}/zzzz9999", timeout=2.0)
        assert unknown.status_code == 404
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def test_a_taken_links_port_is_seen_before_anything_starts() -> None:
    from orchestrator.cli.start import port_free

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        assert not port_free("127.0.0.1", taken)
    assert port_free("127.0.0.1", free_port())


def test_up_starts_the_sandbox_readers_only_toward_its_own_links_service(sandbox, monkeypatch) -> None:
    from orchestrator.cli.start import start_clicks
    from orchestrator.settings import get_settings

    get_settings.cache_clear()
    try:
        clicker = start_clicks(sandbox, "http://127.0.0.1:8780")
        assert clicker is not None and clicker.prefix == "http://127.0.0.1:8780/"
        assert clicker._thread is not None and clicker._thread.is_alive()
        clicker.stop()
        assert not clicker._thread.is_alive()
        assert start_clicks(sandbox, "https://go.amnistie.ca") is None  # a real service: never clicked
        monkeypatch.setenv("PORTEVOIX_SANDBOX_CLICKS", "false")
        get_settings.cache_clear()
        assert start_clicks(sandbox, "http://127.0.0.1:8780") is None
    finally:
        get_settings.cache_clear()
