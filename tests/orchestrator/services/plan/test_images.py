"""A plan's images come from the media library or from folders the operator chose, never from
anywhere else on the server; they are decoded before they are accepted. And a date no clock can
hold is a row problem, not a crash."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign, Post
from orchestrator.services import media_library
from orchestrator.services.auth import SYSTEM, Actor
from orchestrator.settings import get_settings
from tests.orchestrator.services.plan.helpers import add_accounts, csv_text, later, run

TEXT = "Écrivez pour Juan López : défendre la forêt n'est pas un crime. #ÉcrireÇaLibère"
HEADER = "case,language,text,link,account,at,image,alt"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
EDITH = Actor("edith", "editor")


@pytest.fixture
def accounts(engine: sa.Engine) -> list[str]:
    return add_accounts(engine, "x")


def _row(image: str, alt: str = "Juan López souriant", text: str = TEXT) -> bytes:
    return csv_text(f"juan-lopez,fr,{text},,x-fr,{later()},{image},{alt}", header=HEADER)


def test_the_dashboard_cannot_read_files_of_the_server(engine, accounts, tmp_path: Path) -> None:
    """An editor uploading a plan learns nothing about the server's files: a file that exists, one
    that does not, the key file and a real image all get the same answer, and nothing is stored."""
    image = tmp_path / "juan.png"
    image.write_bytes(PNG)
    key = get_settings().key_file()
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("pas une image")
    answers = set()
    for path in (str(image), "/etc/hostname", "/root/.bash_history", "/nulle/part.png", str(key), "../../etc/passwd"):
        result = run(engine, _row(path), actor=EDITH)  # the dashboard passes no folder
        assert not result.ok and len(result.problems) == 1
        answers.add(result.problems[0].fr.replace(path, "…"))
    assert len(answers) == 1 and "médiathèque" in answers.pop()
    with db.session_scope(engine) as s:
        assert list(s.exec(select(Post))) == []


def test_a_declared_folder_is_the_only_place_read(engine, accounts, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "images-du-plan"
    folder.mkdir()
    (folder / "juan.png").write_bytes(PNG)
    outside = tmp_path / "secret.png"
    outside.write_bytes(PNG)
    (folder / "lien.png").symlink_to(outside)
    (folder / "faux.png").write_text("SECRET_KEY=abc, not an image")
    monkeypatch.setenv("PORTEVOIX_PLAN_IMAGE_DIR", str(folder))
    get_settings.cache_clear()

    ok = run(engine, _row("juan.png"), actor=EDITH)
    assert ok.ok, [p.fr for p in ok.problems]
    with db.session_scope(engine) as s:
        (stored,) = s.exec(select(Post)).one().images
    assert base64.b64decode(stored["data"]) == PNG and stored["mime_type"] == "image/png"

    for escape in ("lien.png", "../secret.png", str(outside)):
        refused = run(engine, _row(escape, text=f"Autre texte {escape}"), actor=EDITH)
        assert not refused.ok and "médiathèque" in refused.problems[0].fr, escape
    fake = run(engine, _row("faux.png", text="Encore un autre texte"), actor=EDITH)
    assert not fake.ok and "refusée" in fake.problems[0].fr
    assert "SECRET_KEY" not in fake.problems[0].fr
    missing = run(engine, _row("absente.png", text="Un dernier texte"), actor=EDITH)
    assert not missing.ok and "introuvable" in missing.problems[0].fr
    get_settings.cache_clear()


def test_at_the_command_line_the_plan_folder_is_allowed_but_not_beyond(engine, accounts, tmp_path: Path) -> None:
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "juan.png").write_bytes(PNG)
    (tmp_path / "ailleurs.png").write_bytes(PNG)
    assert run(engine, _row("juan.png"), base_dir=plans).ok
    beyond = run(engine, _row("../ailleurs.png", text="Autre"), base_dir=plans)
    assert not beyond.ok and "médiathèque" in beyond.problems[0].fr


def test_an_image_of_the_media_library_is_named_by_its_number(engine, accounts) -> None:
    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.is_current)).one()
        item = media_library.add_image(s, actor=SYSTEM, campaign_id=campaign.id, case_slug="juan-lopez", data=PNG,
                                       filename="juan.png", alt={"fr": "Juan López", "en": "Juan López"})
        media_id = item.id
    result = run(engine, _row(f"media:{media_id}", alt=""), actor=EDITH)
    assert result.ok, [p.fr for p in result.problems]
    with db.session_scope(engine) as s:
        (stored,) = s.exec(select(Post)).one().images
    assert stored["media_id"] == media_id and stored["alt"] == "Juan López" and "data" not in stored
    unknown = run(engine, _row("media:999999", text="Autre"), actor=EDITH)
    assert not unknown.ok and "999999" in unknown.problems[0].fr


@pytest.mark.parametrize("when", ["9999-12-31T23:59-05:00", "9999-12-31T23:59:59+00:00", "2300-01-01T12:00-05:00"])
def test_a_date_beyond_any_campaign_is_a_row_problem(engine, accounts, when: str) -> None:
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{when}"))
    assert not result.ok
    assert [p.line for p in result.problems] == [2] and "trop loin" in result.problems[0].fr
