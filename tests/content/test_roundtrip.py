"""dump_campaign writes the layout load_campaign reads: load → dump → load gives equal objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from content import Template, bundled_campaign, dump_campaign, load_campaign, validate_campaign


def test_load_dump_load_gives_equal_objects(tmp_path: Path):
    original = load_campaign(bundled_campaign("2025"))

    dump_campaign(original, tmp_path / "copy")
    again = load_campaign(tmp_path / "copy")

    assert again == original
    assert again.source != original.source  # where it came from is not part of equality
    assert sorted(p.name for p in (tmp_path / "copy" / "cases").iterdir()) == sorted(
        f"{c.slug}.yaml" for c in original.cases
    )


def test_round_trip_keeps_multiline_text_accents_and_norway(tmp_path: Path):
    original = load_campaign(bundled_campaign("2025"))
    body = "Ligne un : « {person} » · déplacé·e·s 💛\n\nLigne trois {link}"
    changed = original.model_copy(
        update={
            "templates": [
                *original.templates,
                Template(slug="extra", action="signer-la-petition", language="fr", body=body),
            ]
        }
    )

    dump_campaign(changed, tmp_path / "copy")
    again = load_campaign(tmp_path / "copy")

    assert again == changed
    assert again.templates[-1].body == body
    assert again.case("ellinor-guttorm-utsi").country_code == "NO"
    assert "|" in (tmp_path / "copy" / "templates.yaml").read_text(encoding="utf-8")


def test_a_modified_edition_is_not_equal(tmp_path: Path):
    original = load_campaign(bundled_campaign("2025"))
    fewer = original.model_copy(update={"cases": original.cases[:-1]})
    dump_campaign(fewer, tmp_path / "copy")
    assert load_campaign(tmp_path / "copy") != original


def test_dump_refuses_to_replace_an_edition_unless_asked(tmp_path: Path):
    original = load_campaign(bundled_campaign("2025"))
    dump_campaign(original, tmp_path / "copy")
    with pytest.raises(FileExistsError):
        dump_campaign(original, tmp_path / "copy")

    fewer = original.model_copy(update={"cases": original.cases[:3]})
    dump_campaign(fewer, tmp_path / "copy", overwrite=True)

    assert validate_campaign(tmp_path / "copy") == []
    assert load_campaign(tmp_path / "copy") == fewer  # stale case files were removed


def test_listening_terms_round_trip_for_the_edition_and_its_cases(tmp_path: Path):
    original = load_campaign(bundled_campaign("2025"))
    assert original.campaign.listening["fr"].hashtags[:2] == ["ÉcrireÇaLibère", "EcrireCaLibere"]
    assert original.case("juan-lopez").listening["fr"].keywords == ["Juan López"]
    dump_campaign(original, tmp_path / "copy")
    assert "listening:" in (tmp_path / "copy" / "cases" / "juan-lopez.yaml").read_text(encoding="utf-8")
    again = load_campaign(tmp_path / "copy")
    assert again.campaign.listening == original.campaign.listening
    assert [c.listening for c in again.cases] == [c.listening for c in original.cases]


def test_listening_terms_go_through_the_database_and_back(tmp_path: Path):
    from orchestrator import db
    from orchestrator.services.auth import SYSTEM
    from orchestrator.services.campaign_admin import export_content
    from orchestrator.services.campaigns import load_content

    original = load_campaign(bundled_campaign("2025"))
    engine = db.make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        campaign = load_content(session, actor=SYSTEM, content=original)
        assert campaign.listening["en"]["hashtags"] == ["WriteForRights", "W4R"]
        exported = export_content(session, campaign_id=campaign.id)
    engine.dispose()
    assert exported.campaign.listening == original.campaign.listening
    assert [c.listening for c in exported.cases] == [c.listening for c in original.cases]


def test_a_listening_hashtag_with_a_space_is_refused_with_the_reason(tmp_path: Path):
    import pydantic

    from content.model import ListeningTerms

    with pytest.raises(pydantic.ValidationError) as refused:
        ListeningTerms(hashtags=["Écrire ça"])
    context = refused.value.errors()[0]["ctx"]
    assert "sans espace" in context["fr"] and "no spaces" in context["en"]
    assert ListeningTerms(hashtags=["#W4R"]).hashtags == ["W4R"]
