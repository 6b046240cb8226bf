"""Reading a plan file: encodings, separators, headers in both languages, line numbers. No database."""

from __future__ import annotations

import pytest

from orchestrator.services.plan_io import read_plan


def test_it_reads_commas_and_skips_blank_lines_keeping_spreadsheet_line_numbers():
    rows, problems = read_plan(b"case,language,text,account,at,extra\n\njuan-lopez,FR, Bonjour ,x-fr,now,ignored\n")
    assert not problems
    (row,) = rows
    assert (row.line, row.case, row.language, row.text, row.link, row.account, row.at) == \
        (3, "juan-lopez", "fr", "Bonjour", None, "x-fr", "now")


def test_it_reads_semicolons_french_headers_and_a_bom():
    data = "\ufeffCas;Langue;Texte;Lien;Compte;Quand;Image;Alt\njuan-lopez;fr;Un, deux;https://a.ca;x-fr;now;p.png;Une photo\n"
    (row,), problems = read_plan(data.encode())
    assert not problems
    assert (row.text, row.link, row.image, row.alt) == ("Un, deux", "https://a.ca", "p.png", "Une photo")


def test_a_quoted_text_over_several_lines_counts_as_one_row():
    data = 'case,language,text,account,at\njuan-lopez,fr,"un\r\ndeux",x-fr,now\nsonia-dahmani,fr,trois,x-fr,now\n'
    rows, _ = read_plan(data.encode())
    assert [(r.line, r.text) for r in rows] == [(2, "un\ndeux"), (3, "trois")]


def test_it_reads_the_json_export_layout():
    data = b'{"deliveries": [{"case": "juan-lopez", "language": "fr", "text": "Bonjour", "link": "", "account": "x-fr", "at": "now", "likes": 3}]}'
    (row,), problems = read_plan(data)
    assert not problems and (row.line, row.link, row.at) == (2, None, "now")


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "vide"),
    (b"case,language,text\njuan-lopez,fr,x\n", "colonnes manquantes : account, at"),
    ("case,language,text,account,at\njuan-lopez,fr,Été,x-fr,now\n".encode("latin-1"), "pas en UTF-8 (octet illisible à la ligne 2)"),
    (b"case,cas,language,text,account,at\n", "deux fois"),
    (b"case,language,text,account,at\n\n", "aucun envoi"),
    (b"[1, 2]", "liste d'envois"),
    (b"[{", "JSON illisible"),
])
def test_a_malformed_file_is_refused_as_a_whole(data, needle):
    rows, problems = read_plan(data)
    assert not rows and needle in problems[0].text("fr")
    assert problems[0].text("en") != problems[0].text("fr")


def test_the_example_in_the_docs_reads_without_problems():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[4] / "docs" / "bulk-scheduling.md").read_text(encoding="utf-8")
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    rows, problems = read_plan(example.encode())
    assert not problems
    assert [r.account for r in rows] == ["x-fr", "mastodon-fr", "facebook-fr", "bluesky-en"]
    assert rows[0].text == rows[1].text and rows[2].image == "images/sonia.jpg" and rows[3].at == "now"
