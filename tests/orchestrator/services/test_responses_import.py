"""Importing response counts into the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import AuditEntry, Response, ResponseImport
from orchestrator.services.auth import Actor, PermissionDenied
from orchestrator.services.responses_csv import load_mapping
from orchestrator.services.responses_import import import_responses
from tests.orchestrator.helpers import csv_bytes, every_text, published

EDITH = Actor("edith", "editor")


def do_import(engine: sa.Engine, raw: bytes, **kwargs):
    with db.session_scope(engine) as s:
        return import_responses(s, actor=kwargs.pop("actor", EDITH), data=io.BytesIO(raw),
                                filename=kwargs.pop("filename", "export.csv"), **kwargs)


def responses(engine: sa.Engine) -> list[tuple]:
    with db.session_scope(engine) as s:
        rows = s.exec(select(Response).order_by(Response.day, Response.kind, Response.source)).all()
        return [(r.kind, r.count, r.day, r.source_type, r.source) for r in rows]


def total(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT COALESCE(SUM(count), 0) FROM response")).scalar_one())


def test_it_imports_a_french_file(engine: sa.Engine) -> None:
    raw = csv_bytes("cas;type;nombre;date;source",
                    "juan-lopez;lettre;1\u202f234;06/12/2025;marathon-montreal",
                    "juan-lopez;lettre;6;06/12/2025;marathon-montreal",
                    "Juan López;signature;12;2025-12-07;X", sep=";")
    report = do_import(engine, raw)
    assert report.saved and report.total == 1252 and report.keys == 2
    assert responses(engine) == [("letter", 1240, dt.date(2025, 12, 6), "event", "marathon-montreal"),
                                 ("signature", 12, dt.date(2025, 12, 7), "channel", "x")]
    with db.session_scope(engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "import_responses")).one()
        assert entry.actor == "edith" and entry.detail["total"] == 1252


def test_the_same_file_counts_nothing_twice(engine: sa.Engine) -> None:
    raw = csv_bytes("case,kind,count,date", "damisoa,postcard,40,2025-12-06")
    assert do_import(engine, raw).saved
    again = do_import(engine, raw, filename="renamed.csv")
    assert again.already_imported is not None and not again.saved
    assert "déjà été importé" in again.summary("fr")[0]
    assert total(engine) == 40


def test_a_corrected_file_replaces_the_figures_it_holds(engine: sa.Engine) -> None:
    do_import(engine, csv_bytes("case,kind,count,date", "damisoa,postcard,40,2025-12-06",
                                "damisoa,postcard,10,2025-12-07"))
    # the same export, re-saved from a spreadsheet with a fixed figure and one more day
    report = do_import(engine, csv_bytes("cas;type;nombre;date", "damisoa;carte postale;45;06/12/2025",
                                         "damisoa;carte postale;5;08/12/2025", sep=";"))
    assert report.keys_replaced == 1
    assert [(n, d.day) for _, n, d, _, _ in responses(engine)] == [(45, 6), (10, 7), (5, 8)]
    with db.session_scope(engine) as s:
        assert len(s.exec(select(ResponseImport)).all()) == 2


def test_tallies_are_not_replaced_by_imports(engine: sa.Engine) -> None:
    from orchestrator.services.responses import record_tally

    with db.session_scope(engine) as s:
        record_tally(s, actor=EDITH, case_slug="damisoa", kind="postcard", count=7, day=dt.date(2025, 12, 6))
    do_import(engine, csv_bytes("case,kind,count,date", "damisoa,postcard,40,2025-12-06"))
    assert total(engine) == 47


def test_a_file_with_errors_imports_nothing(engine: sa.Engine) -> None:
    raw = csv_bytes("case,kind,count,date", "damisoa,postcard,40,2025-12-06", "damisoa,postcard,beaucoup,2025-12-06")
    report = do_import(engine, raw)
    assert report.blocked and not report.saved
    assert any("ligne 3, colonne « count »" in line for line in report.summary("fr"))
    assert total(engine) == 0
    with db.session_scope(engine) as s:
        assert s.exec(select(ResponseImport)).all() == []
    # asked to, it imports the good lines and says how many were skipped
    report = do_import(engine, raw, skip_bad_lines=True)
    assert report.saved and report.bad_lines == 1 and total(engine) == 40


def test_a_dry_run_reports_and_saves_nothing(engine: sa.Engine) -> None:
    raw = csv_bytes("case,kind,count,date", "damisoa,postcard,40,2025-12-06")
    report = do_import(engine, raw, dry_run=True)
    assert report.total == 40 and not report.saved and "Simulation" in report.summary("fr")[-1]
    assert total(engine) == 0
    assert do_import(engine, raw).saved  # and the real import is not refused as a duplicate


def test_a_post_code_credits_the_post(engine: sa.Engine) -> None:
    delivery = published(engine)
    report = do_import(engine, csv_bytes("case,kind,count,date,source",
                                         f"juan-lopez,signature,9,2025-12-06,{delivery.source_code.upper()}",
                                         f"juan-lopez,signature,1,2025-12-06,{delivery.source_code}"))
    assert report.by_source_type == {"delivery": 10}
    assert responses(engine) == [("signature", 10, dt.date(2025, 12, 6), "delivery", delivery.source_code)]


def test_a_mapping_imports_a_petition_export(engine: sa.Engine) -> None:
    mapping = load_mapping("columns: {date: Signed at}\ndefaults: {kind: signature, count: '1', case: sonia-dahmani, source: petition}\n")
    raw = csv_bytes("First name,Last name,Email,Signed at", "Ana,Silva,ana@example.com,2025-12-06T10:00:00Z",
                    "Bo,Li,bo@example.com,2025-12-06T11:00:00Z")
    report = do_import(engine, raw, mapping=mapping)
    assert report.saved and responses(engine) == [("signature", 2, dt.date(2025, 12, 6), "import", "petition")]


def test_a_viewer_may_not_import(engine: sa.Engine) -> None:
    with pytest.raises(PermissionDenied):
        do_import(engine, csv_bytes("case,kind,count,date", "damisoa,postcard,40,2025-12-06"),
                  actor=Actor("victor", "viewer"))


NAMES = ["Marie-Ève Tremblay", "Jean-François Côté", "Aïcha Benali", "Thanh Nguyen", "Olusegun Adeyemi"]
EMAILS = ["marie-eve.tremblay@example.org", "jfcote@courriel.example", "aicha.benali@example.net",
          "thanh.nguyen@example.com", "o.adeyemi@example.org"]


def test_names_and_email_addresses_never_reach_the_database_or_the_logs(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    lines = ["Prénom;Nom;Courriel;Téléphone;Adresse;Code postal;cas;type;nombre;date;Commentaire;Contact;source"]
    for i in range(200):
        first, last = NAMES[i % 5].split(" ", 1)
        # every 50th line puts a name or an address where the source belongs: an e-mail, a phone number
        # or a postal code refuses the line; a name is counted as an unknown source. Never stored.
        source = (NAMES[i % 5], EMAILS[i % 5], "+15145550123", "H2X1Y4")[i // 50] if i % 50 == 0 else "web"
        lines.append(f"{first};{last};{EMAILS[i % 5]};+1 514 555 01{i % 100:02d};{100 + i} rue Ontario Est;H2X 1Y{i % 10};"
                     f"juan-lopez;lettre;1;2025-12-0{1 + i % 9};{NAMES[(i + 1) % 5]} était là;{EMAILS[(i + 2) % 5]};{source}")
    lines.append(f"{NAMES[0]};x;y;z;w;v;juan-lopez;lettre;{EMAILS[0]};2025-12-01;;;")  # an error line too
    raw = "\n".join(lines).encode("cp1252", errors="replace")
    caplog.set_level(logging.DEBUG)
    report = do_import(engine, raw, filename="signataires.csv", skip_bad_lines=True)
    assert report.saved and report.total == 197 and report.bad_lines == 4
    assert report.unknown_source_actions == 197  # "web" is none of ours either
    assert sorted(r for _, _, r in report.dropped) == ["address", "address", "email", "email", "name", "name", "phone"]
    haystack = every_text(engine)
    assert "juan-lopez" in haystack or "letter" in haystack  # the dump does see the data
    for secret in [*NAMES, *(n.split(" ")[0] for n in NAMES), *(n.split(" ")[-1] for n in NAMES), *EMAILS,
                   "rue Ontario", "H2X", "555 01", "5550123", "Prénom", "Courriel", "était là"]:
        assert secret.lower() not in haystack.lower(), secret
        assert secret.lower() not in caplog.text.lower(), secret
    shown = "\n".join(report.summary("fr") + report.summary("en"))
    assert not any(e in shown for e in EMAILS) and not any(n in shown for n in NAMES)


def test_an_import_written_half_way_leaves_nothing(engine: sa.Engine) -> None:
    """A failure in the middle of writing (here: a case deleted under our feet on PostgreSQL's
    foreign key, simulated by an unknown case id) rolls back the whole import."""
    from orchestrator.services import responses_import as ri

    with pytest.raises(sa.exc.IntegrityError), db.session_scope(engine) as s:
        record = ResponseImport(campaign_id=1, sha256="0" * 64)
        s.add(record)
        s.flush()
        ri.write_rows(s, [(1, "letter", dt.date(2025, 12, 6), "import", "", 5),
                          (999_999, "letter", dt.date(2025, 12, 6), "import", "", 5)],
                      import_id=record.id, entered_by="edith")
    assert total(engine) == 0
