"""What an import keeps of a file's free text: sources only when they are ours, lines one by one
even after a stray quote, an encoding it can name, and no personal data where counts belong."""

from __future__ import annotations

import codecs
import io

import pytest
import sqlalchemy as sa

from orchestrator.services.auth import ServiceError
from orchestrator.services.responses_csv import inspect_bytes, load_mapping, parse
from tests.orchestrator.helpers import csv_bytes, every_text, published
from tests.orchestrator.services.test_responses_import import do_import, responses, total

HEADER = "case,kind,count,date,source"
CASES = {"juan lopez": 1, "sonia dahmani": 2}  # normalized, as responses_import.case_lookup gives them


def parsed(raw: bytes):
    stream = io.BytesIO(raw)
    facts = inspect_bytes(stream)
    return parse(stream, facts=facts, cases=CASES, known_cases="juan-lopez, sonia-dahmani")


def test_only_sources_we_know_are_stored(engine: sa.Engine) -> None:
    delivery = published(engine)
    mapping = load_mapping("values: {source: {'Kiosque Berri': kiosque-berri}}")
    raw = csv_bytes(HEADER,
                    f"juan-lopez,letter,1,2025-12-06,{delivery.source_code}",  # a code we issued
                    "juan-lopez,letter,2,2025-12-06,mastodon",                # a platform
                    "juan-lopez,letter,4,2025-12-06,lancement",               # an event of the campaign
                    "juan-lopez,letter,8,2025-12-06,Kiosque Berri",           # declared in the mapping
                    "juan-lopez,letter,16,2025-12-06,marie.tremblay",         # a person
                    "juan-lopez,letter,32,2025-12-06,5145551234",             # a phone number
                    "juan-lopez,letter,64,2025-12-06,Jean_Dupont_Montréal",   # a person and a place
                    "juan-lopez,letter,128,2025-12-06,Jean Dupont")
    report = do_import(engine, raw, mapping=mapping)
    assert report.saved and report.total == 255
    assert report.unknown_source_actions == 240 and report.unknown_source_values == 4
    stored = {(r[3], r[4]): r[1] for r in responses(engine)}
    assert stored == {("delivery", delivery.source_code): 1, ("channel", "mastodon"): 2, ("event", "lancement"): 4,
                      ("import", "kiosque-berri"): 8, ("import", ""): 240}
    haystack = every_text(engine).lower()
    for person in ("marie.tremblay", "5145551234", "jean_dupont", "dupont"):
        assert person not in haystack
    shown = "\n".join(report.summary("fr") + report.summary("en"))
    assert "240 action(s) d'une source inconnue (4 valeur(s)" in shown
    assert "tremblay" not in shown.lower() and "5145551234" not in shown


def test_a_stray_quote_costs_one_line_not_the_rest_of_the_file(engine: sa.Engine) -> None:
    lines = [f"juan-lopez,letter,1,2025-12-{1 + n % 9:02d},web" for n in range(92)]
    lines[1] = 'juan-lopez,letter,1,2025-12-02,"kiosque'  # line 3 of the file: a quote never closed
    raw = csv_bytes(HEADER, *lines)
    blocked = do_import(engine, raw)
    assert not blocked.saved and blocked.bad_lines == 1
    assert [e.line for e in blocked.errors] == [3] and "guillemet" in blocked.errors[0].fr
    report = do_import(engine, raw, skip_bad_lines=True)
    assert report.saved and report.total == 91 and total(engine) == 91


def test_a_quote_that_closes_lines_later_loses_only_its_own_line() -> None:
    raw = csv_bytes(HEADER, 'juan-lopez,letter,1,2025-12-06,"a', "juan-lopez,letter,2,2025-12-06,web",
                    'juan-lopez,letter,4,2025-12-06,b"', "sonia-dahmani,letter,8,2025-12-06,web")
    result = parsed(raw)
    # line 2 opened a quote that line 4 closed: line 2 is lost, lines 3 and 4 are read on their own
    # (a quote inside a cell is just a character there; the source "b\"" is then not one of ours)
    assert result.bad_lines == 1 and [e.line for e in result.errors] == [2]
    assert sum(result.totals.values()) == 14


def test_a_quoted_cell_with_a_line_break_in_an_unread_column_is_still_one_line() -> None:
    raw = csv_bytes("case,kind,count,date,Commentaire", 'juan-lopez,letter,3,2025-12-06,"très\ntouchant"',
                    "juan-lopez,letter,2,2025-12-07,")
    result = parsed(raw)
    assert result.bad_lines == 0 and sum(result.totals.values()) == 5


def test_utf16_with_its_mark_is_read_and_said(engine: sa.Engine) -> None:
    text = "cas\ttype\tnombre\tdate\njuan-lopez\tlettre\t3\t2025-12-06\nsonia-dahmani\tcarte\t4\t2025-12-06\n"
    for raw in (codecs.BOM_UTF16_LE + text.encode("utf-16-le"), text.encode("utf-16")):
        facts = inspect_bytes(io.BytesIO(raw))
        assert facts.encoding == "utf-16"
    report = do_import(engine, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert report.saved and report.total == 7 and report.encoding == "utf-16"
    assert "Encodage utf-16" in report.summary("fr")[0]


def test_utf16_without_its_mark_gets_an_encoding_message() -> None:
    raw = "case,kind,count,date\njuan-lopez,letter,3,2025-12-06\n".encode("utf-16-le")
    with pytest.raises(ServiceError, match="UTF-16") as refused:
        inspect_bytes(io.BytesIO(raw))
    assert "Colonnes obligatoires" not in refused.value.fr


# The value-level guard (``personal()`` in responses_csv): personal data found where a case, a kind
# or a source belongs refuses the line with a message that says so, and never quotes the value.
PERSONAL = ["marie.tremblay@example.org", "+1 514 555 0123", "(514) 555-0123", "H2X 1Y4", "1234 rue Ontario Est"]


@pytest.mark.parametrize("value", PERSONAL)
@pytest.mark.parametrize("column", ["case", "kind", "source"])
def test_personal_data_in_a_kept_column_refuses_the_line(value: str, column: str) -> None:
    cells = {"case": "juan-lopez", "kind": "letter", "count": "3", "date": "2025-12-06", "source": "web"}
    cells[column] = f'"{value}"'
    raw = csv_bytes(HEADER, ",".join(cells[c] for c in HEADER.split(",")), "sonia-dahmani,letter,2,2025-12-06,web")
    result = parsed(raw)
    assert result.bad_lines == 1, (column, value)
    (error,) = result.errors
    assert (error.line, error.column) == (2, column)
    assert "donnée personnelle" in error.fr and "personal data" in error.en
    assert value not in error.text("fr") + error.text("en")
    assert sum(result.totals.values()) == 2  # the other line is counted


@pytest.mark.parametrize("value", ["ana@example.com", "+15145550123", "514-555-0123", "H3B 2Y5"])
def test_personal_data_in_an_unread_column_is_reported_as_dropped(value: str) -> None:
    raw = csv_bytes("case,kind,count,date,Référence", "juan-lopez,letter,3,2025-12-06,", f"juan-lopez,letter,1,2025-12-06,{value}")
    result = parsed(raw)
    assert [(position, header) for position, header, _ in result.dropped] == [(5, "Référence")]
    assert result.ignored == []


# The rules the guard and the reader apply, at their edges (found by mutation testing: a change
# at these edges broke no test).
@pytest.mark.parametrize(("value", "reason"), [
    ("514-555-0123-12345", "phone"),      # 15 digits, separated: the longest international number
    ("5145-5501-2345-6789", None),        # 16 digits: an identifier, not a phone number
    ("+33 1 23 45", "phone"),             # a leading + makes it a phone number whatever its length
    ("+1 (514) 555-0123", "phone"),
    ("+ 12", "phone"),
    ("12345678901", None),                # digits alone: a count or a code, read by their own rules
    ("1-2", None),
])
def test_phone_numbers_are_recognised_at_their_edges(value: str, reason: str | None) -> None:
    from orchestrator.services.responses_fields import value_reason

    assert value_reason(value) == reason


@pytest.mark.parametrize(("text", "ok"), [("2000-01-01", True), ("2100-12-31", True), ("1999-12-31", False),
                                          ("2101-01-01", False), ("01/01/2000", True), ("31/12/2100", True)])
def test_dates_are_kept_within_the_campaigns_century(text: str, ok: bool) -> None:
    from orchestrator.services.responses_fields import parse_day

    if ok:
        assert parse_day(text).year in (2000, 2100)
    else:
        with pytest.raises(ValueError):
            parse_day(text)
