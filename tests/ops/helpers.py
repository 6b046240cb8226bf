"""Running the real command line in a subprocess, as an operator or cron would."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(env: dict[str, str], *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"porte-voix {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
