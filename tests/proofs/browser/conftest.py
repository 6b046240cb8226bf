"""The browser suite's world, shared by every test in this folder: one sandbox with the four
platforms' emulators, one database with the 2025 campaign and an edition in progress today (made
as ``porte-voix up`` makes its demo's, by orchestrator/demo.py: on most dates the 2025 edition is
over, and a finished edition shows its results instead of the week's work), one account of each
kind on the sandbox, one person per role, a worker and the dashboard, each in its own process as
in production (``porte-voix up`` starts the same three), and one headless Chromium.

Outside CI a test here skips, saying why, when Debian's Chromium or Playwright's Python package
is missing; in CI (``CI`` set, as ``.ci/run`` does) the same reason fails it instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import requests
import sqlalchemy as sa
from cryptography.fernet import Fernet

from channels.sandbox import SandboxServer, start_sandbox
from orchestrator.services.auth import SYSTEM
from tests.factories import make_account
from tests.proofs.browser.screen import CHROMIUM, LAUNCH_ARGS, Screen

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "correct-horse-battery"
PEOPLE = {"edith": "editor", "amir": "approver", "ada": "admin", "victor": "viewer"}
#: One account of each kind, French, on the sandbox: Mastodon's instance and Bluesky's PDS are
#: the sandbox's own address, as an organisation's would be theirs.
ACCOUNTS = [("x", "x-fr"), ("facebook", "facebook-fr"), ("mastodon", "mastodon-fr"), ("bluesky", "bluesky-fr")]
#: Simulated seconds of the public's attention per real second: a post's figures grow within
#: seconds instead of hours, and still grow a minute after publication (half of their reach
#: comes in the first 20 simulated minutes), so a journey sees them change.
SANDBOX_SPEED = 60.0


def unavailable(reason: str) -> NoReturn:
    """Skip, or fail in CI, where the browser tests must run."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def missing_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return (f"Debian's Chromium is not installed at {CHROMIUM} "
                "(apt-get install chromium fonts-noto-color-emoji)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Site:
    """The running dashboard and what stands behind it."""

    url: str
    database_url: str
    sandbox: SandboxServer
    env: dict[str, str]
    logs: Path

    def engine(self) -> sa.Engine:
        from orchestrator import db

        return db.get_engine(self.database_url)

    def worker_once(self, timeout: float = 60) -> None:
        """What is due now, at once (publishing, then figures), in a process of its own."""
        subprocess.run([sys.executable, "-m", "orchestrator", "worker", "--once"], env={**os.environ, **self.env},
                       cwd=ROOT, timeout=timeout, check=True, stdout=subprocess.DEVNULL,
                       stderr=(self.logs / "worker-once.log").open("a"))


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="package")
def site(sqlite_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    reason = missing_browser()
    if reason:
        unavailable(reason)
    from orchestrator import db, demo
    from orchestrator.services import users
    from orchestrator.services.accounts import SANDBOX_CREDENTIALS
    from orchestrator.settings import get_settings

    folder = tmp_path_factory.mktemp("browser")
    shutil.copyfile(sqlite_sample, folder / "porte-voix.db")
    url = f"sqlite:///{folder / 'porte-voix.db'}"
    env = {
        "PORTEVOIX_DATABASE_URL": url,
        "PORTEVOIX_HOME": str(folder / "home"),
        "PORTEVOIX_SECRET_KEY": Fernet.generate_key().decode(),
        "PORTEVOIX_LOG_LEVEL": "WARNING",
        # Figures a few seconds after publication, not a minute: the journeys wait for them.
        "PORTEVOIX_METRICS_FIRST_POLL_SECONDS": "1",
    }
    sandbox = start_sandbox(seed=15, speed=SANDBOX_SPEED)
    procs: list[subprocess.Popen[bytes]] = []
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():  # this process reads and writes the same database
            mp.setenv(key, value)
        get_settings.cache_clear()
        db._cached_engine.cache_clear()
        try:
            with db.session_scope(db.get_engine(url)) as s:
                for username, role in PEOPLE.items():
                    users.add_user(s, actor=SYSTEM, username=username, password=PASSWORD, role=role)
                for kind, name in ACCOUNTS:  # the demo's sandbox credentials, as `porte-voix up` sets them
                    make_account(s, kind, name=name, base_url=sandbox.url, credentials=SANDBOX_CREDENTIALS[kind],
                                 is_sandbox=True)
                demo.campaign_in_progress(s)  # the journeys' edition; the 2025 one stays, finished or not
            port = _free_port()
            procs.append(_start([sys.executable, "-m", "orchestrator", "worker"], env, folder / "worker.log"))
            procs.append(_start(
                [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port",
                 str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
                 "--client.toolbarMode", "minimal"], env, folder / "dashboard.log"))
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, procs[-1], folder / "dashboard.log")
            yield Site(url=base, database_url=url, sandbox=sandbox, env=env, logs=folder)
        finally:
            for proc in reversed(procs):
                _stop(proc)
            sandbox.stop()
            db._cached_engine.cache_clear()
    get_settings.cache_clear()


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the dashboard stopped at start: {log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{base}/_stcore/health", timeout=1).ok:
                return
        time.sleep(0.3)
    pytest.fail(f"the dashboard did not answer within {timeout:.0f} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="package")
def chromium(site: Site) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def screen(site: Site, chromium: Any, request: pytest.FixtureRequest) -> Iterator[Screen]:
    """A new browser window (no cookies, no session) on the dashboard, in French."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-CA")
    page = context.new_page()
    page.set_default_timeout(30_000)
    view = Screen(page, site.url)
    yield view
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:  # what the page showed when the test failed
        with contextlib.suppress(Exception):
            page.screenshot(path=str(site.logs / f"failure-{request.node.name}.png"), full_page=True)
            print(f"screenshot of the failure: {site.logs / f'failure-{request.node.name}.png'}; "
                  f"logs in {site.logs}")
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"rep_{report.when}", report)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The accessibility audit runs after the journeys, on the pages as they left them (published
    posts with figures, a failed delivery retried, a paused case, imported responses): pages
    with content in them, not only what the audit sets up. It stays among this folder's tests,
    which share one dashboard."""
    here = Path(__file__).parent
    audits = [i for i in items if i.path.parent == here and i.path.name == "test_accessibility.py"]
    if not audits:
        return
    rest = [i for i in items if i not in audits]
    last = max((n for n, i in enumerate(rest) if i.path.parent == here), default=len(rest) - 1)
    items[:] = rest[: last + 1] + audits + rest[last + 1:]
