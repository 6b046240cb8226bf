"""One end-to-end run in headless Chromium: an editor composes and submits, an approver approves,
the delivery shows in the calendar and the queue. Screenshots of every page go to
docs/screenshots/ (the README shows them)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from channels.sandbox import SandboxServer

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct-horse-battery"


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def dashboard(env: dict[str, str], engine, sandbox: SandboxServer, database_url: str) -> Iterator[str]:
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser test runs once, on the embedded database")
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from orchestrator import db
    from orchestrator.services import accounts, users

    with db.session_scope(engine) as session:
        users.add_user(session, username="edith", password=PASSWORD, role="editor")
        users.add_user(session, username="amir", password=PASSWORD, role="approver")
        users.add_user(session, username="ada", password=PASSWORD, role="admin")
        accounts.add_account(session, kind="x", name="x-fr", credentials={"bearer_token": "tok"},
                             base_url=sandbox.url, language="fr")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "app.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1",
         "--client.toolbarMode", "minimal"],
        env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/_stcore/health", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the dashboard did not start within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def settle(page, text: str | None = None, timeout: float = 45_000) -> None:
    """Wait for Streamlit to finish its run (and for ``text`` to be shown)."""
    if text:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )
    page.wait_for_timeout(400)


def login(page, base: str, username: str) -> None:
    page.goto(base)
    page.get_by_label("Nom d'utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    settle(page, "Se déconnecter")


def navigate(page, label: str) -> None:
    """Follow the sidebar link: reloading the URL would start a new, signed-out session."""
    try:
        page.locator('[data-testid="stSidebarNav"] a', has_text=label).first.click()
        settle(page)
    except Exception:
        shoot(page, "zz-failure")
        raise


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_editor_composes_approver_approves_and_the_delivery_is_planned(dashboard: str, engine) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from sqlmodel import select

    from orchestrator import db
    from orchestrator.models import Delivery, Post

    text = "Juan López défendait la forêt de Guapinol. Écrivez pour que justice soit rendue. #ÉcrireÇaLibère"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                  "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="fr-CA")
        page.set_default_timeout(45_000)

        page.goto(dashboard)
        settle(page, "Se connecter")
        shoot(page, "00-connexion")

        login(page, dashboard, "edith")
        navigate(page, "Rédiger")
        settle(page, "Texte commun")
        page.get_by_label("Cas", exact=True).first.click()
        page.keyboard.type("Juan")
        page.keyboard.press("Enter")
        settle(page)
        page.get_by_label("Texte commun").fill(text)
        page.keyboard.press("Tab")
        settle(page)
        accounts = page.get_by_label("Comptes").first
        accounts.click()
        page.keyboard.type("x-fr")
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")
        settle(page)
        page.get_by_text("Prochain créneau libre").click()
        settle(page)
        shoot(page, "03-rediger")
        page.get_by_role("button", name="Soumettre pour approbation").click()
        settle(page)
        with db.session_scope(engine) as session:
            post = session.exec(select(Post)).one()
            assert (post.status, post.author, post.text) == ("pending", "edith", text)
            assert post.case_id is not None
            assert session.exec(select(Delivery).where(Delivery.post_id == post.id)).one().state == "scheduled"

        page.get_by_role("button", name="Se déconnecter").click()
        settle(page, "Se connecter")
        login(page, dashboard, "amir")
        navigate(page, "Approbations")
        settle(page, "Approuver")
        shoot(page, "04-approbations")
        page.get_by_role("button", name="Approuver").first.click()
        settle(page, "approuvée")
        with db.session_scope(engine) as session:
            post = session.exec(select(Post)).one()
            assert (post.status, post.approved_by) == ("approved", "amir")
            delivery = session.exec(select(Delivery)).one()
            assert delivery.rendered_text and delivery.rendered_text.startswith(text)

        navigate(page, "Calendrier")
        settle(page, "x-fr")
        shoot(page, "05-calendrier")
        navigate(page, "File d'envoi")
        settle(page, "Agir sur un envoi")
        assert "#1 · Programmée · x-fr" in page.content()
        shoot(page, "02-file-d-envoi")

        for number, label, name in ((1, "Vue d'ensemble", "vue-d-ensemble"), (6, "Séries", "series"),
                                    (7, "Cas", "cas"), (8, "Comptes", "comptes"), (9, "Exports", "exports")):
            navigate(page, label)
            shoot(page, f"{number:02d}-{name}")

        page.get_by_role("button", name="Se déconnecter").click()
        settle(page, "Se connecter")
        login(page, dashboard, "ada")
        for number, label, name in ((10, "Personnes", "personnes"), (11, "Journal d'audit", "journal")):
            navigate(page, label)
            shoot(page, f"{number:02d}-{name}")
        browser.close()
    assert shutil.which("true")  # keep the module importable without playwright at collection
