"""Export of every delivery, and the round trip: export, import the export, nothing new."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Delivery
from orchestrator.services.campaigns import current_campaign
from orchestrator.services.plan_io import EXPORT_COLUMNS, export_deliveries
from tests.orchestrator.services.plan.helpers import add_accounts, counts, csv_text, later, run

TEXT = "Sonia Dahmani est emprisonnée pour avoir parlé. Écrivez aux autorités tunisiennes."


def _plan_with_one_published(engine) -> dt.datetime:
    """Three deliveries, the first published yesterday with figures; returns its time."""
    add_accounts(engine, "x", "bluesky")
    result = run(engine, csv_text(
        f'sonia-dahmani,fr,"{TEXT}",https://amnistie.ca/sonia,x-fr,{later()}',
        f'sonia-dahmani,fr,"{TEXT}",https://amnistie.ca/sonia,bluesky-fr,{later()}',
        f"juan-lopez,en,Write for Juan López.,,x-fr,{later(3)}",
    ), approve=True)
    assert result.ok, [p.text() for p in result.problems]
    yesterday = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    with db.session_scope(engine) as s:
        d = s.exec(select(Delivery).order_by(Delivery.id)).first()
        assert d is not None
        d.scheduled_at = d.due_at = yesterday
        states.transition(s, d, states.PUBLISHING, actor="test")
        states.transition(s, d, states.PUBLISHED, actor="test", platform_id="1867", published_at=yesterday,
                          platform_url="https://x.com/i/status/1867", likes=12, shares=3, replies=1, views=450,
                          metrics_at=yesterday)
    return yesterday


def _export(engine, fmt: str) -> str:
    with db.session_scope(engine) as s:
        return export_deliveries(s, campaign=current_campaign(s), fmt=fmt)


def test_the_csv_export_has_state_times_ids_and_figures(engine):
    yesterday = _plan_with_one_published(engine)
    rows = list(csv.DictReader(io.StringIO(_export(engine, "csv"))))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [r["state"] for r in rows] == ["published", "scheduled", "scheduled"]
    first = rows[0]
    assert (first["case"], first["account"], first["platform_id"], first["likes"], first["views"], first["quotes"]) == \
        ("sonia-dahmani", "x-fr", "1867", "12", "450", "")
    assert first["platform_url"] == "https://x.com/i/status/1867"
    # Times are written in the campaign's zone, with its offset: the same instant reads back.
    at = dt.datetime.fromisoformat(first["at"])
    assert at == yesterday and at.utcoffset() == yesterday.astimezone(ZoneInfo("America/Toronto")).utcoffset()
    assert dt.datetime.fromisoformat(first["published_at"]) == yesterday


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_importing_an_export_creates_nothing(engine, fmt):
    _plan_with_one_published(engine)
    exported = _export(engine, fmt).encode()
    result = run(engine, exported)
    assert result.ok, [p.text() for p in result.problems]
    assert (result.posts_created, result.count("create"), result.count("move"), result.count("unchanged")) == (0, 0, 0, 3)
    assert counts(engine) == (2, 3)
    assert _export(engine, fmt).encode() == exported


def test_the_json_export_keeps_numbers_as_numbers(engine):
    _plan_with_one_published(engine)
    data = json.loads(_export(engine, "json"))
    assert data["timezone"] == "America/Toronto"
    assert data["deliveries"][0]["likes"] == 12 and data["deliveries"][1]["likes"] is None


def test_an_unknown_format_is_refused(engine):
    from orchestrator.services.auth import ServiceError

    with pytest.raises(ServiceError, match="csv ou json"):
        _export(engine, "xlsx")


def test_a_text_a_spreadsheet_would_run_is_neutralised_and_still_reads_back(engine):
    add_accounts(engine, "x")
    formula = '=HYPERLINK("https://evil.example","Signez ici")'
    result = run(engine, csv_text(f'juan-lopez,fr,"{formula.replace(chr(34), chr(34) * 2)}",,x-fr,{later()}'),
                 approve=True)
    assert result.ok, [p.text() for p in result.problems]
    exported = _export(engine, "csv")
    [row] = list(csv.DictReader(io.StringIO(exported)))
    assert row["text"] == "'" + formula  # shown as text by Excel, LibreOffice and Google Sheets
    again = run(engine, exported.encode())
    assert again.ok and again.count("unchanged") == 1 and again.posts_created == 0
    assert counts(engine) == (1, 1)
