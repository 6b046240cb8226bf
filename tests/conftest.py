from __future__ import annotations

from collections.abc import Iterator

import pytest

from channels.sandbox import SandboxServer, start_sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = start_sandbox(seed=7)
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """A running sandbox with no posts, faults or revoked tokens left by another test."""
    sandbox_server.sandbox.clear()
    yield sandbox_server
    sandbox_server.sandbox.clear()
