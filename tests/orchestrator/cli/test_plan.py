"""The command line: ``schedule --file`` and ``export deliveries``, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from tests.orchestrator.services.plan import conftest as plan_database
from tests.orchestrator.services.plan.helpers import add_accounts, counts, csv_text, later

#: The plan tests' database (one per module and backend, emptied between tests), as in
#: tests/orchestrator/services/plan/, where the service under this command is tested.
plan_env, engine, env = plan_database.plan_env, plan_database.engine, plan_database.env

runner = CliRunner()


@pytest.fixture
def plan(engine, tmp_path: Path) -> Path:
    add_accounts(engine, "x", "mastodon")
    path = tmp_path / "decembre.csv"
    path.write_bytes(csv_text(
        f"juan-lopez,fr,Écrivez pour Juan López.,,x-fr,{later()}",
        f"juan-lopez,fr,Écrivez pour Juan López.,,mastodon-fr,{later()}",
    ))
    return path


def test_schedule_file_prints_what_it_did(env, engine, plan):
    dry = runner.invoke(app, ["schedule", "--file", str(plan), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "rien n'est enregistré" in dry.stdout and counts(engine) == (0, 0)
    done = runner.invoke(app, ["schedule", "--file", str(plan), "--approve"])
    assert done.exit_code == 0, done.output
    assert "Publications : 1 créée(s), 0 déjà là. Envois : 2 créé(s), 0 déplacé(s), 0 inchangé(s)." in done.stdout
    again = runner.invoke(app, ["schedule", "--file", str(plan), "--lang", "en"])
    assert "Deliveries: 0 created, 0 moved, 2 unchanged." in again.stdout
    assert counts(engine) == (1, 2)


def test_schedule_file_lists_problems_in_english_and_fails(env, engine, plan):
    plan.write_bytes(csv_text(f"nobody,fr,Texte.,,x-fr,{later()}", "juan-lopez,fr,Texte.,,x-fr,2025-12-06T12:00"))
    result = runner.invoke(app, ["schedule", "--file", str(plan), "--lang", "en"])
    assert result.exit_code == 1
    assert "2 problem(s); nothing was saved" in result.stderr
    assert "Line 2: unknown case 'nobody'" in result.stderr and "Line 3: '2025-12-06T12:00' has no time zone" in result.stderr
    assert counts(engine) == (0, 0)


def test_schedule_takes_a_post_or_a_file_not_both(env, engine, plan):
    both = runner.invoke(app, ["schedule", "3", "--file", str(plan)])
    assert both.exit_code == 1 and "pas les deux" in both.stderr
    stray = runner.invoke(app, ["schedule", "3", "--account", "x-fr", "--at", "now", "--dry-run"])
    assert stray.exit_code == 1 and "vont avec --file" in stray.stderr


def test_export_deliveries_writes_a_file_that_imports_back(env, engine, plan, tmp_path: Path):
    runner.invoke(app, ["schedule", "--file", str(plan)])
    out = tmp_path / "envois.json"
    result = runner.invoke(app, ["export", "deliveries", "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert [d["state"] for d in json.loads(out.read_text())["deliveries"]] == ["scheduled", "scheduled"]
    back = runner.invoke(app, ["schedule", "--file", str(out)])
    assert "0 créé(s), 0 déplacé(s), 2 inchangé(s)" in back.stdout
    to_stdout = runner.invoke(app, ["export", "deliveries"])
    assert to_stdout.stdout.startswith("case,language,text,link,account,at,")
    assert runner.invoke(app, ["export", "deliveries", "--format", "xml"]).exit_code == 1
