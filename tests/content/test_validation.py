"""Broken copies of the 2025 edition: every problem is found, named by file and field, in French
and English, and nothing is half-loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from content import ContentInvalid, ContentProblem, load_all, load_campaign, validate_campaign
from tests.content.conftest import edit


def _only(problems: list[ContentProblem], file: str) -> list[ContentProblem]:
    return [p for p in problems if p.file == file]


def test_a_missing_field_names_the_file_and_the_field(campaign_folder: Path):
    case = campaign_folder / "cases" / "juan-lopez.yaml"
    text = case.read_text(encoding="utf-8")
    start = text.index("  fr: >-\n    Dès 2015")
    end = text.index("  en: >-\n    From 2015")
    case.write_text(text[:start] + text[end:], encoding="utf-8")

    problems = validate_campaign(campaign_folder)

    assert len(problems) == 1
    (problem,) = problems
    assert (problem.file, problem.field) == ("cases/juan-lopez.yaml", "story.fr")
    assert problem.message == "champ obligatoire manquant"
    assert problem.message_en == "required field missing"
    assert problem.line == text[:start].count("\n")  # the "story:" line, 1-based


def test_a_bad_date_says_what_format_is_expected(campaign_folder: Path):
    edit(campaign_folder / "campaign.yaml", "date: 2025-12-06", "date: 2025-12-32")
    edit(campaign_folder / "campaign.yaml", "ends_on: 2026-01-31", "ends_on: 31/01/2026")

    problems = validate_campaign(campaign_folder)

    fields = {p.field: p for p in problems}
    assert set(fields) == {"key_dates[1].date", "ends_on"}
    assert all(p.file == "campaign.yaml" for p in problems)
    assert fields["ends_on"].message.startswith("date invalide : attendu AAAA-MM-JJ")
    assert "YYYY-MM-DD" in fields["ends_on"].message_en
    lines = (campaign_folder / "campaign.yaml").read_text(encoding="utf-8").splitlines()
    assert "2025-12-32" in lines[fields["key_dates[1].date"].line - 1]


def test_a_bad_timezone_is_refused(campaign_folder: Path):
    edit(campaign_folder / "campaign.yaml", "timezone: America/Toronto", "timezone: America/Montreall")

    (problem,) = validate_campaign(campaign_folder)

    assert (problem.file, problem.field) == ("campaign.yaml", "timezone")
    assert "fuseau horaire inconnu « America/Montreall »" in problem.message


def test_a_yaml_syntax_error_gives_its_line(campaign_folder: Path):
    path = campaign_folder / "cases" / "damisoa.yaml"
    edit(path, "country_code: MG", "country_code: MG\n  broken: [unclosed")
    bad_line = path.read_text(encoding="utf-8").splitlines().index("  broken: [unclosed") + 1

    (problem,) = validate_campaign(campaign_folder)

    assert problem.file == "cases/damisoa.yaml"
    assert problem.message.startswith("erreur de syntaxe YAML à la ligne")
    assert abs(problem.line - bad_line) <= 1  # PyYAML reports where it noticed, at most a line on
    assert f"(ligne {problem.line})" in str(problem)


def test_duplicate_slugs_and_positions_are_reported(campaign_folder: Path):
    shutil.copy(campaign_folder / "cases" / "damisoa.yaml", campaign_folder / "cases" / "zz-copie.yaml")

    problems = validate_campaign(campaign_folder)

    copy = _only(problems, "cases/zz-copie.yaml")
    assert {p.field for p in copy} == {"slug", "position"}
    duplicate = next(p for p in copy if p.field == "slug" and "déjà utilisé" in p.message)
    assert "cases/damisoa.yaml" in duplicate.message
    assert any("doit être le nom du fichier" in p.message for p in copy)
    assert not _only(problems, "cases/damisoa.yaml")  # the first one is not to blame


def test_a_duplicate_position_alone_is_reported(campaign_folder: Path):
    edit(campaign_folder / "cases" / "sonia-dahmani.yaml", "position: 7", "position: 3")

    (problem,) = validate_campaign(campaign_folder)

    assert (problem.file, problem.field) == ("cases/sonia-dahmani.yaml", "position")
    assert "« 3 »" in problem.message and "cases/juan-lopez.yaml" in problem.message


def test_a_template_for_an_unknown_action_is_reported(campaign_folder: Path):
    edit(
        campaign_folder / "templates.yaml",
        "action: signer-la-petition\n    language: en",
        "action: signer-petition\n    language: en",
    )

    problems = validate_campaign(campaign_folder)

    unknown = [p for p in problems if p.field.endswith(".action")]
    assert len(unknown) == 1
    assert unknown[0].file == "templates.yaml"
    assert unknown[0].field == "templates[5].action"
    assert "appel à l'action inconnu « signer-petition »" in unknown[0].message
    lines = (campaign_folder / "templates.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[unknown[0].line - 1].strip() == "action: signer-petition"
    # and since signer-la-petition lost its English template, that is reported too
    missing = [p for p in problems if p.field == "templates"]
    assert [p.message_en for p in missing] == [
        "no template for call to action 'signer-la-petition' in English"
    ]


def test_an_unknown_placeholder_in_a_template_is_reported(campaign_folder: Path):
    edit(
        campaign_folder / "templates.yaml",
        "Write for {person} ({country})",
        "Write for {persone} ({country})",
    )

    (problem,) = validate_campaign(campaign_folder)

    assert (problem.file, problem.field) == ("templates.yaml", "templates[1].body")
    assert "espace réservé inconnu {persone}" in problem.message


def test_date_placeholder_needs_a_key_date_and_key_dates_must_exist(campaign_folder: Path):
    edit(campaign_folder / "templates.yaml", "✍️ Write for {person}", "✍️ On {date}, write for {person}")
    edit(campaign_folder / "actions.yaml", "key_date: marathon-montreal", "key_date: marathon-quebec")

    problems = validate_campaign(campaign_folder)

    by_field = {p.field: p for p in problems}
    assert "{date} est utilisé" in by_field["templates[1].body"].message
    assert "date clé inconnue « marathon-quebec »" in by_field["actions[3].key_date"].message


def test_problems_are_collected_across_all_files(campaign_folder: Path):
    edit(campaign_folder / "campaign.yaml", "goal: 100000", "goal: 0")
    edit(campaign_folder / "cases" / "damisoa.yaml", "goal: 12000", 'goal: "12 000"')
    edit(
        campaign_folder / "cases" / "juan-lopez.yaml", "solidarity_kind: card", "solidarity_kind: postcard"
    )
    edit(campaign_folder / "cases" / "sai-zaw-thaike.yaml", "image_alt:", "image_alte:")
    edit(campaign_folder / "actions.yaml", "kind: event", "kind: party")
    (campaign_folder / "templates.yaml").unlink()

    problems = validate_campaign(campaign_folder)

    found = {(p.file, p.field) for p in problems}
    assert found == {
        ("campaign.yaml", "goal"),
        ("cases/damisoa.yaml", "goal"),
        ("cases/juan-lopez.yaml", "solidarity_kind"),
        ("cases/sai-zaw-thaike.yaml", "image_alt"),
        ("cases/sai-zaw-thaike.yaml", "image_alte"),
        ("actions.yaml", "actions[3].kind"),
        ("templates.yaml", ""),
    }
    messages = {(p.file, p.field): p.message for p in problems}
    assert messages[("campaign.yaml", "goal")] == "doit être plus grand que 0"
    assert messages[("cases/damisoa.yaml", "goal")].startswith("nombre entier attendu")
    assert messages[("cases/sai-zaw-thaike.yaml", "image_alte")].startswith("champ inconnu")
    assert messages[("templates.yaml", "")] == "fichier manquant"


def test_load_campaign_raises_with_every_problem_and_loads_nothing(campaign_folder: Path):
    edit(campaign_folder / "campaign.yaml", "timezone: America/Toronto", "timezone: Mars/Olympus")
    edit(campaign_folder / "cases" / "damisoa.yaml", "country_code: MG", "country_code: XX")

    with pytest.raises(ContentInvalid) as caught:
        load_campaign(campaign_folder)

    error = caught.value
    assert [(p.file, p.field) for p in error.problems] == [
        ("campaign.yaml", "timezone"),
        ("cases/damisoa.yaml", "country_code"),
    ]
    text = str(error).splitlines()
    assert text[0] == "Contenu invalide : 2 problème(s)"
    assert (
        text[1].startswith("campaign.yaml (ligne ")
        and " : timezone : fuseau horaire inconnu" in text[1]
    )
    assert " : country_code : code de pays inconnu « XX »" in text[2]
    assert "Invalid content: 2 problem(s)" in error.message("en")


def test_norway_stays_norway_and_duplicate_keys_are_caught(campaign_folder: Path):
    # YAML 1.1 would read an unquoted NO as false; a duplicated key would silently win.
    path = campaign_folder / "cases" / "ellinor-guttorm-utsi.yaml"
    edit(path, 'country_code: "NO"', "country_code: NO")
    assert validate_campaign(campaign_folder) == []
    assert load_campaign(campaign_folder).case("ellinor-guttorm-utsi").country_code == "NO"

    edit(path, "goal: 12000", "goal: 12000\ngoal: 15000")
    (problem,) = validate_campaign(campaign_folder)
    assert (problem.file, problem.field) == ("cases/ellinor-guttorm-utsi.yaml", "goal")
    assert "écrite deux fois" in problem.message


def test_private_postal_addresses_are_refused(campaign_folder: Path):
    edit(
        campaign_folder / "cases" / "sonia-dahmani.yaml",
        "  fr: Remis par Amnistie internationale\n",
        "  fr: Remis au 50 rue Sainte-Catherine Ouest, Montréal H2X 3V4\n",
    )
    (problem,) = validate_campaign(campaign_folder)
    assert (problem.file, problem.field) == ("cases/sonia-dahmani.yaml", "solidarity_address")


def test_a_missing_folder_or_empty_case_list_is_a_problem(tmp_path: Path, campaign_folder: Path):
    assert validate_campaign(tmp_path / "nope")[0].message.startswith("dossier introuvable")
    for case in (campaign_folder / "cases").iterdir():
        case.unlink()
    problems = validate_campaign(campaign_folder)
    assert [(p.file, p.message_en) for p in problems] == [
        ("cases", "no cases: add one file per case in cases/")
    ]


def test_load_all_reports_problems_with_the_edition_folder(tmp_path: Path, campaign_folder: Path):
    campaigns = tmp_path / "root" / "campaigns"
    campaigns.mkdir(parents=True)
    shutil.copytree(campaign_folder, campaigns / "2025")
    shutil.copytree(campaign_folder, campaigns / "2026")
    edit(campaigns / "2026" / "campaign.yaml", "slug: ecrire-2025", "slug: Écrire 2026")

    with pytest.raises(ContentInvalid) as caught:
        load_all(tmp_path / "root")

    assert [(p.file, p.field) for p in caught.value.problems] == [("2026/campaign.yaml", "slug")]
    assert "identifiant invalide" in caught.value.problems[0].message
