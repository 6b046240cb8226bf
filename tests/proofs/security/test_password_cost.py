"""Passwords are hashed with argon2id at the library's recommended cost in the running product.

The test session lowers the cost in its own process (tests/conftest.py) to create people quickly;
this check runs in a separate interpreter, as the dashboard and the command line do."""

from __future__ import annotations

import subprocess
import sys

from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY


def test_the_product_hashes_with_argon2id_at_the_recommended_cost() -> None:
    code = ("from orchestrator.services import users\n"
            "print(users._hasher.hash('tortue violette lampe navire'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    stored = out.stdout.strip()
    expected = RFC_9106_LOW_MEMORY
    assert stored.startswith(f"$argon2id$v=19$m={expected.memory_cost},t={expected.time_cost},p={expected.parallelism}$")
    assert not PasswordHasher.from_parameters(expected).check_needs_rehash(stored)
