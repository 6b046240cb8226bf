from __future__ import annotations

import datetime as dt

import yaml
from typer.testing import CliRunner

from orchestrator.models import Delivery, Post
from tests.dashboard.helpers import texts


def _fill(at, account):
    at.date_input(key="series_start").set_value(dt.date(2030, 12, 1))
    at.date_input(key="series_end").set_value(dt.date(2030, 12, 3))
    at.multiselect(key="series_accounts").set_value([account])
    at.selectbox(key="series_template").set_value("lettre-fr")
    return at.run()


def test_preview_then_apply_twice_creates_once(app, account, session):
    at = _fill(app("edith", "series"), account)
    at.button(key="series_preview").click().run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 3
    at.button(key="series_apply").click().run()
    assert "3 publication(s), 3 envoi(s), 0 déjà là" in texts(at)
    at.button(key="series_apply").click().run()
    assert "0 publication(s), 0 envoi(s), 3 déjà là" in texts(at)
    assert session.query(Post).count() == 3
    assert {p.status for p in session.query(Post)} == {"pending"}  # still four eyes
    times = sorted(d.scheduled_at for d in session.query(Delivery))
    assert times[0] == dt.datetime(2030, 12, 1, 17, 0, tzinfo=dt.UTC)  # 12:00 in Montréal
    slugs = [p.case_id for p in session.query(Post).order_by(Post.id)]
    assert len(set(slugs)) == 3  # rotating through the cases


def test_plan_apply_cli_reads_yaml(account, session, tmp_path):
    from orchestrator.cli import app as cli

    plan = {"name": "midi", "start": "2030-12-01", "end": "2030-12-02", "time": "12:00", "accounts": [account],
            "template": "lettre-fr", "cases": ["juan-lopez"]}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    result = CliRunner().invoke(cli, ["plan", "apply", str(path), "--approve"])
    assert result.exit_code == 0, result.output
    assert "2 publication(s)" in result.output
    assert {p.status for p in session.query(Post)} == {"approved"}
    session.rollback()  # SQLite: every transaction takes the write lock (BEGIN IMMEDIATE); let go
    again = CliRunner().invoke(cli, ["plan", "apply", str(path)])
    assert "0 publication(s)" in again.output


def test_a_viewer_cannot_apply(app, account):
    at = app("victor", "series")
    assert "series_apply" not in {b.key for b in at.button}


def test_the_plan_offered_starts_tomorrow_not_on_a_past_day(app):
    """The edition's first day is often behind (the page is used during the campaign): a plan
    offered from it would put every post of its first days in the past."""
    from zoneinfo import ZoneInfo

    at = app("edith", "series")
    tomorrow = dt.datetime.now(ZoneInfo("America/Toronto")).date() + dt.timedelta(days=1)
    start, end = at.date_input(key="series_start").value, at.date_input(key="series_end").value
    assert start >= tomorrow and end > start


def test_dates_already_passed_follow_compose_s_rule(app, account, session):
    """Refused unless the person confirms « publier maintenant » ; then sent now, not at the past
    time, and applying again still adds nothing."""
    from zoneinfo import ZoneInfo

    from orchestrator.timeutil import utcnow

    yesterday = dt.datetime.now(ZoneInfo("America/Toronto")).date() - dt.timedelta(days=1)
    at = app("edith", "series")
    at.date_input(key="series_start").set_value(yesterday - dt.timedelta(days=1))
    at.date_input(key="series_end").set_value(yesterday + dt.timedelta(days=5))
    at.multiselect(key="series_accounts").set_value([account])
    at.selectbox(key="series_template").set_value("lettre-fr")
    at.run()
    assert any("déjà passées" in w.value for w in at.warning)
    at.button(key="series_apply").click().run()
    assert any("déjà passée" in e.value for e in at.error)
    assert session.query(Post).count() == 0  # nothing half applied
    session.rollback()
    before = utcnow()
    at.checkbox(key="series_publish_now").check().run()
    at.button(key="series_apply").click().run()
    assert not at.exception and not at.error
    times = sorted(d.scheduled_at.replace(tzinfo=dt.UTC) for d in session.query(Delivery))
    assert len(times) == 7 and all(t >= before for t in times)  # the two past days go now, not yesterday
    session.rollback()
    at.button(key="series_apply").click().run()
    assert "0 publication(s), 0 envoi(s), 7 déjà là" in texts(at)
    assert session.query(Post).count() == 7


def test_the_command_line_refuses_passed_dates_without_publish_now(account, session, tmp_path):
    from orchestrator.cli import app as cli

    plan = {"name": "hier", "start": "2020-12-01", "end": "2020-12-01", "time": "12:00", "accounts": [account],
            "template": "lettre-fr", "cases": ["juan-lopez"]}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    refused = CliRunner().invoke(cli, ["plan", "apply", str(path)])
    assert refused.exit_code != 0 and "déjà passée" in refused.output
    assert session.query(Post).count() == 0
    session.rollback()
    sent = CliRunner().invoke(cli, ["plan", "apply", str(path), "--publish-now"])
    assert sent.exit_code == 0, sent.output
    assert session.query(Delivery).one().scheduled_at.year > 2020
