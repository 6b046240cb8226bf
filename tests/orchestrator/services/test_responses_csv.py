"""The CSV reader on its own (no database): values, headers, encodings, separators, and the
personal-data columns that must be dropped unread. Property-based where a rule has many shapes."""

from __future__ import annotations

import codecs
import datetime as dt
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.services.auth import ServiceError
from orchestrator.services.responses_csv import FileFacts, inspect_bytes, load_mapping, parse
from orchestrator.services.responses_fields import (
    header_reason,
    parse_count,
    parse_day,
    value_reason,
)

CASES = {"juan lopez": 1, "sonia dahmani": 2, "damisoa": 3}
SLUGS = {1: "juan-lopez", 2: "sonia-dahmani", 3: "damisoa"}
KIND_WORDS = {"letter": ["letter", "lettre", "Lettres"], "signature": ["signature", "Pétition"],
              "solidarity": ["solidarity", "Message de solidarité"], "postcard": ["carte postale", "postcard"],
              "email": ["courriel", "email"], "social_action": ["social_action", "action sociale"],
              "other": ["autre", "other"]}
NAMES = ["Marie Tremblay", "Jean-François Côté", "Zoë Œuvray", "Ahmed Ben Salah", "Nguyễn Thị Lan"]


def run(data: bytes, **kwargs):
    stream = io.BytesIO(data)
    facts = inspect_bytes(stream, encoding=kwargs.pop("encoding", None))
    return parse(stream, facts=facts, cases=CASES, known_cases="juan-lopez, sonia-dahmani, damisoa", **kwargs)


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("0", 0), ("7", 7), (" 42 ", 42), ("1 234", 1234), ("1\u00a0234", 1234), ("1\u202f234", 1234),
    ("1.234", 1234), ("1,234", 1234), ("1 234 567", 1234567), ("1.234.567", 1234567), ("12,0", 12),
    ("12.00", 12), ("1'234", 1234),
])
def test_it_reads_french_and_english_whole_numbers(text: str, expected: int) -> None:
    assert parse_count(text) == expected


@pytest.mark.parametrize("text", ["", "-3", "1,5", "1.23", "1.2345", "abc", "12 345,67", "²", "1e3", "99999999"])
def test_it_refuses_what_is_not_a_whole_count(text: str) -> None:
    with pytest.raises(ValueError):
        parse_count(text)


@given(st.integers(min_value=0, max_value=10_000_000),
       st.sampled_from(["", " ", "\u00a0", "\u202f", ".", ","]))
def test_any_grouping_of_a_whole_number_reads_back(number: int, separator: str) -> None:
    text = f"{number:,}".replace(",", separator)
    if separator in ".," and number < 1000:
        text = str(number)
    assert parse_count(text) == number


@pytest.mark.parametrize("text, expected", [
    ("2025-12-06", dt.date(2025, 12, 6)), ("06/12/2025", dt.date(2025, 12, 6)), ("6/12/2025", dt.date(2025, 12, 6)),
    ("06-12-2025", dt.date(2025, 12, 6)), ("06.12.2025", dt.date(2025, 12, 6)),
    ("2025-12-06T14:03:00-05:00", dt.date(2025, 12, 6)), ("2025-12-06 14:03", dt.date(2025, 12, 6)),
])
def test_it_reads_iso_and_day_first_dates(text: str, expected: dt.date) -> None:
    assert parse_day(text) == expected


@pytest.mark.parametrize("text", ["12/31/2025", "2025-13-01", "31/02/2025", "hier", "", "1899-01-01"])
def test_it_never_guesses_a_date(text: str) -> None:
    with pytest.raises(ValueError):
        parse_day(text)


@pytest.mark.parametrize("header, reason", [
    ("Nom", "name"), ("Prénom", "name"), ("first_name", "name"), ("Last Name", "name"), ("Courriel", "email"),
    ("E-mail", "email"), ("Adresse courriel", "email"), ("Adresse", "address"), ("Code postal", "address"),
    ("Téléphone", "phone"), ("Tel.", "phone"), ("Mobile", "phone"), ("Adresse IP", "address"),
])
def test_it_recognises_personal_data_headers(header: str, reason: str) -> None:
    assert header_reason(header) == reason


@pytest.mark.parametrize("header", ["cas", "Nombre", "date", "source", "Commentaire", "Province"])
def test_ordinary_headers_are_not_personal_data(header: str) -> None:
    assert header_reason(header) is None


@pytest.mark.parametrize("value, reason", [
    ("marie@example.org", "email"), ("+1 514 555 1234", "phone"), ("(514) 555-1234", "phone"),
    ("514-555-1234", "phone"), ("H2X 1Y4", "address"), ("1234 rue Sainte-Catherine", "address"),
])
def test_it_recognises_personal_data_values(value: str, reason: str) -> None:
    assert value_reason(value) == reason


@pytest.mark.parametrize("value", ["12", "1 234", "2025-12-06", "juan-lopez", "x", "ab2cd3e", "marathon-montreal"])
def test_ordinary_values_are_not_personal_data(value: str) -> None:
    assert value_reason(value) is None


# --- files -----------------------------------------------------------------------------------

ROW = st.tuples(
    st.sampled_from(sorted(SLUGS)),
    st.sampled_from(sorted(KIND_WORDS)),
    st.integers(min_value=0, max_value=2_000_000),
    st.dates(min_value=dt.date(2025, 11, 1), max_value=dt.date(2026, 1, 31)),
    st.sampled_from(["", "x", "mastodon", "marathon-montreal", "ab2cd3e", "petition-2025"]),
)


def render(rows, *, delimiter: str, french: bool, group: str, day_first: bool, pii: bool, data) -> str:
    header = ["cas", "type", "nombre", "date", "source"] if french else ["case", "kind", "count", "date", "source"]
    if pii:
        header += ["Prénom", "Courriel", "Téléphone"]
    lines = [delimiter.join(header)]
    for case, kind, count, day, source in rows:
        word = data.draw(st.sampled_from(KIND_WORDS[kind]))
        number = f"{count:,}".replace(",", group) if group else str(count)
        when = day.strftime("%d/%m/%Y") if day_first else day.isoformat()
        cells = [SLUGS[case], word, number, when, source]
        if pii:
            cells += [data.draw(st.sampled_from(NAMES)), "quelqu.un@example.org", "+1 438 555 0199"]
        lines.append(delimiter.join(f'"{c}"' if delimiter in c else c for c in cells))
    return "\r\n".join(lines) + "\r\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, max_size=40), delimiter=st.sampled_from([",", ";", "\t"]), french=st.booleans(),
       group=st.sampled_from(["", " ", "\u00a0", "\u202f"]), day_first=st.booleans(), pii=st.booleans(),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]), data=st.data())
def test_any_well_formed_file_sums_to_the_same_totals(rows, delimiter, french, group, day_first, pii, encoding, data) -> None:
    text = render(rows, delimiter=delimiter, french=french, group=group, day_first=day_first, pii=pii, data=data)
    if encoding == "cp1252":
        text = text.replace("\u202f", " ")  # not in Windows-1252; a real cp1252 export has none
        raw = text.encode("cp1252", errors="replace")
    else:
        raw = text.encode(encoding)
    parsed = run(raw)
    expected: dict = {}
    for case, kind, count, day, source in rows:
        expected[(case, kind, day, source)] = expected.get((case, kind, day, source), 0) + count
    assert parsed.errors == [] and parsed.bad_lines == 0
    assert parsed.totals == expected
    assert parsed.lines == len(rows)
    assert parsed.delimiter == delimiter
    if pii:
        assert [reason for _, _, reason in parsed.dropped] == ["name", "email", "phone"]
        assert not any(name in repr(parsed) for name in NAMES)
        assert "example.org" not in repr(parsed)


def test_it_detects_each_encoding() -> None:
    text = "cas;type;nombre;date\njuan-lopez;lettre;3;2025-12-06\n"
    assert inspect_bytes(io.BytesIO(text.encode("utf-8"))).encoding == "utf-8"
    assert inspect_bytes(io.BytesIO(codecs.BOM_UTF8 + text.encode("utf-8"))).encoding == "utf-8-sig"
    assert inspect_bytes(io.BytesIO("cas;type;nombre;date\ndamisoa;carte réponse;3;2025-12-06\n".encode("cp1252"))).encoding == "cp1252"
    # a multi-byte character split across two read chunks is still UTF-8
    big = ("x" * (65536 - 1) + "é\n").encode("utf-8")
    assert inspect_bytes(io.BytesIO(big)).encoding == "utf-8"


def test_a_bom_does_not_hide_the_first_header() -> None:
    raw = codecs.BOM_UTF8 + b"case,kind,count,date\njuan-lopez,letter,3,2025-12-06\n"
    assert run(raw).totals == {(1, "letter", dt.date(2025, 12, 6), ""): 3}


@pytest.mark.parametrize("raw", [b"", b"\n\n  \r\n"])
def test_an_empty_file_is_refused_clearly(raw: bytes) -> None:
    with pytest.raises(ServiceError, match="vide"):
        run(raw)


def test_a_header_alone_imports_nothing() -> None:
    parsed = run(b"case,kind,count,date,source\n")
    assert parsed.lines == 0 and parsed.totals == {}


def test_missing_columns_are_named() -> None:
    with pytest.raises(ServiceError) as caught:
        run(b"case;date\njuan-lopez;2025-12-06\n")
    assert "kind" in caught.value.fr and "count" in caught.value.fr and "Rien n'a été importé" in caught.value.fr


@settings(max_examples=40, deadline=None)
@given(good=st.lists(ROW, min_size=1, max_size=15),
       bad=st.lists(st.sampled_from([
           "juan-lopez,letter,douze,2025-12-06,",      # count
           "juan-lopez,letter,3,12/31/2025,",          # date
           "personne,letter,3,2025-12-06,",            # case
           "juan-lopez,danse,3,2025-12-06,",           # kind
           "juan-lopez,letter,3",                      # too few columns
           "juan-lopez,letter,3,2025-12-06,x,y",       # too many
           "juan-lopez,letter,3,2025-12-06,marie@example.org",  # personal data as a source
           "juan-lopez,letter,-1,2025-12-06,",
       ]), min_size=1, max_size=10),
       seed=st.randoms())
def test_malformed_lines_are_each_reported_with_their_line(good, bad, seed) -> None:
    lines = [f"{SLUGS[c]},{k},{n},{d.isoformat()},{s}" for c, k, n, d, s in good]
    tagged = [(line, False) for line in lines] + [(line, True) for line in bad]
    seed.shuffle(tagged)
    raw = ("case,kind,count,date,source\n" + "\n".join(line for line, _ in tagged) + "\n").encode()
    parsed = run(raw)
    assert parsed.bad_lines == len(bad)
    assert [e.line for e in parsed.errors] == [i + 2 for i, (_, is_bad) in enumerate(tagged) if is_bad]
    assert all(e.fr and e.en for e in parsed.errors)
    assert not any("marie@example.org" in e.text("fr") + e.text("en") for e in parsed.errors)
    assert sum(parsed.totals.values()) == sum(n for _, _, n, _, _ in good)


def test_errors_name_the_column_but_never_quote_the_cell() -> None:
    parsed = run(b"cas;type;nombre;date\njuan-lopez;lettre;Marie Tremblay;2025-12-06\n")
    (error,) = parsed.errors
    assert error.line == 2 and error.column == "nombre"
    assert "Marie" not in error.text("fr") and "Marie" not in error.text("en")
    assert error.text("fr").startswith("ligne 2, colonne « nombre » :")


def test_an_unterminated_quote_cannot_swallow_memory() -> None:
    raw = b'case,kind,count,date\njuan-lopez,letter,3,2025-12-06\n"' + b"a" * 300_000 + b"\n"
    parsed = run(raw)
    assert parsed.bad_lines == 1 and parsed.totals


def test_an_unknown_column_with_emails_in_it_is_reported_as_personal_data() -> None:
    raw = ("case,kind,count,date,Contact,Commentaire\n"
           "juan-lopez,letter,3,2025-12-06,,très touchant\n"
           "juan-lopez,letter,2,2025-12-06,lea@example.net,\n").encode()
    parsed = run(raw)
    assert [(p, r) for p, _, r in parsed.dropped] == [(5, "email")]
    assert [h for _, h in parsed.ignored] == ["Commentaire"]


def test_a_mapping_reads_another_layout() -> None:
    mapping = load_mapping("""
columns: {case: Campagne, date: Date de signature}
defaults: {kind: signature, count: "1"}
values:
  case: {"Pétition Juan": juan-lopez}
""")
    raw = ("Prénom;Nom;Courriel;Campagne;Date de signature\n"
           "Marie;Tremblay;m@example.org;Pétition Juan;2025-12-06 10:00\n"
           "Jean;Côté;j@example.org;Pétition Juan;2025-12-06 11:00\n"
           "Léa;Roy;l@example.org;damisoa;2025-12-07 09:00\n").encode()
    parsed = run(raw, mapping=mapping)
    assert parsed.totals == {(1, "signature", dt.date(2025, 12, 6), ""): 2, (3, "signature", dt.date(2025, 12, 7), ""): 1}
    assert [r for _, _, r in parsed.dropped] == ["name", "name", "email"]


def test_a_mapping_cannot_read_a_personal_data_column() -> None:
    mapping = load_mapping('{"columns": {"source": "Courriel"}}')
    with pytest.raises(ServiceError, match="données personnelles"):
        run(b"case,kind,count,date,Courriel\njuan-lopez,letter,1,2025-12-06,a@b.ca\n", mapping=mapping)


@pytest.mark.parametrize("text", ["columns: [1, 2]", "colonnes: {}", "columns: {pays: X}", "delimiter: '#'", "{bad json"])
def test_a_bad_mapping_is_refused_in_french(text: str) -> None:
    with pytest.raises(ServiceError):
        load_mapping(text, name="m.yaml")


def test_facts_are_what_the_bytes_say() -> None:
    facts = inspect_bytes(io.BytesIO(b"abc"))
    assert facts == FileFacts(sha256="ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                              encoding="utf-8", size=3)
