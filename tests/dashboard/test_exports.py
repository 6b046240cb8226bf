from __future__ import annotations

import csv
import datetime as dt
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


def test_a_visit_builds_no_file_until_asked(app, scheduled):
    """The calendar file was built on every visit: seconds of a busy session at 100,000 deliveries."""
    from tests.dashboard.helpers import texts

    scheduled()
    at = app("victor", "exports")
    assert not at.get("download_button")
    assert "porte-voix" not in texts(at)  # no command line on a page
    at.button(key="export_ics_prepare").click().run()
    (button,) = at.get("download_button")
    assert at.session_state["export_ics_1_fr"].count("BEGIN:VEVENT") == 1


def test_a_file_prepared_for_one_edition_is_not_offered_for_another(app, scheduled, bare_engine):
    from orchestrator import db
    from orchestrator.services import campaign_admin
    from orchestrator.services.auth import SYSTEM

    scheduled()
    with db.session_scope(bare_engine) as s:
        other = campaign_admin.copy_campaign(s, actor=SYSTEM, source_id=1, slug="ecrire-2026", name={"fr": "2026", "en": "2026"},
                                      starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2027, 1, 31)).id
    at = app("victor", "exports")
    at.button(key="export_prepare").click().run()
    assert at.get("download_button")
    at.sidebar.selectbox(key="campaign_id").set_value(other).run()
    assert not at.get("download_button")
