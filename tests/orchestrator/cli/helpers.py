"""Running the real command line in a subprocess, as an operator or cron would."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(env: dict[str, str], *args: str, check: bool = True, stdin: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``porte-voix ARGS`` with ``env`` over this process's environment; ``stdin`` is the text typed
    in, if any (never the terminal pytest was started from). Fails with both outputs unless asked."""
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"porte-voix {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
