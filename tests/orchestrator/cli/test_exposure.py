"""``porte-voix up`` (what ``make run`` starts) serves the dashboard to this machine only, unless
an address is given on purpose, and then says loudly that it is open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on ``port`` (from /proc: what the kernel binds)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                if width == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, 32, 8))
                    found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _run_up(env: dict[str, str], *args: str, port: int) -> tuple[set[str], str, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "up", "--no-sandbox", "--port", str(port), *args],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not _listening_addresses(port):
            assert process.poll() is None, process.communicate()
            time.sleep(0.3)
        addresses = _listening_addresses(port)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    return addresses, out, err


@pytest.mark.slow
def test_up_serves_the_dashboard_on_this_machine_only_by_default(sqlite_env: dict[str, str]) -> None:
    port = _free_port()
    addresses, out, err = _run_up(sqlite_env, port=port)
    assert addresses == {"127.0.0.1"}, addresses
    assert f"http://127.0.0.1:{port}" in out
    assert "ATTENTION" not in err
    assert "Network URL" not in out + err  # Streamlit's banner for an open dashboard


@pytest.mark.slow
def test_an_explicit_host_opens_it_and_says_so(sqlite_env: dict[str, str]) -> None:
    port = _free_port()
    addresses, _out, err = _run_up(sqlite_env, "--host", "0.0.0.0", port=port)
    assert addresses & {"0.0.0.0", "::"}, addresses
    assert "ATTENTION : le tableau de bord est ouvert sur toutes les interfaces réseau" in err
    assert "HTTP non chiffré" in err and "WARNING" in err
