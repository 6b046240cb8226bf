from __future__ import annotations

import csv
import io

from typer.testing import CliRunner


def test_csv_has_each_delivery_with_its_latest_figures(app, scheduled):
    scheduled(state="published", likes=7, shares=2)
    at = app("victor", "exports")
    at.button(key="export_prepare").click().run()
    assert not at.exception
    data = at.session_state["export_csv_data"]
    rows = list(csv.DictReader(io.StringIO(data)))
    assert len(rows) == 1
    assert (rows[0]["case"], rows[0]["likes"], rows[0]["shares"], rows[0]["state"]) == ("juan-lopez", "7", "2", "published")
    assert rows[0]["at"].endswith("-05:00")  # campaign time zone


def test_export_ics_cli(scheduled, tmp_path):
    from orchestrator.cli import app as cli

    scheduled()
    out = tmp_path / "plan.ics"
    result = CliRunner().invoke(cli, ["export", "ics", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("BEGIN:VEVENT") == 1
