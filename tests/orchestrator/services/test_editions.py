"""Editions from the service layer: create, edit, current, archive, copy, and the round trip
between a folder, the database and a folder again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from content.loader import bundled_campaign, load_campaign
from orchestrator import db
from orchestrator.models import AuditEntry, CallToAction, Campaign, Case, Template
from orchestrator.services import campaign_admin, case_edit
from orchestrator.services.auth import SYSTEM, PermissionDenied, ServiceError
from tests.orchestrator.services.helpers import ADMIN, EDITOR

SOURCE = "ecrire-2025"


def _id(session, slug: str = SOURCE) -> int:
    return session.exec(select(Campaign.id).where(Campaign.slug == slug)).one()


def _new(**changes):
    data = {
        "slug": "ecrire-2026", "name": {"fr": "Écrire, ça libère ! 2026", "en": "Write for Rights 2026"},
        "timezone": "America/Toronto", "starts_on": dt.date(2026, 11, 2), "ends_on": dt.date(2027, 1, 31),
        "hashtags": {"fr": ["#W4R2026"], "en": ["#W4R2026"]}, "goal": 90000,
        "link_rules": {"utm_campaign": "ecrire-2026", "domains": ["amnistie.ca"]},
        "key_dates": [{"slug": "marathon", "date": "2026-12-05", "name": {"fr": "Marathon", "en": "Write-a-thon"}}],
    }
    data.update(changes)
    return data


def test_an_admin_creates_an_edition_and_the_first_stays_current(engine):
    with db.session_scope(engine) as s:
        made = campaign_admin.create_campaign(s, actor=ADMIN, data=_new())
        assert made.name["en"] == "Write for Rights 2026" and made.key_dates[0]["date"] == "2026-12-05"
        assert not made.is_current
    with db.session_scope(engine) as s:
        assert [c.slug for c in s.exec(select(Campaign).where(Campaign.is_current))] == [SOURCE]


def test_every_problem_is_listed_in_both_languages_and_nothing_is_saved(engine):
    with db.session_scope(engine) as s, pytest.raises(ServiceError) as caught:
        campaign_admin.create_campaign(s, actor=ADMIN, data=_new(timezone="Mars/Olympus", ends_on=dt.date(2026, 1, 1),
                                                          name={"fr": "Seulement en français"}))
    assert "timezone" in caught.value.fr and "name.en" in caught.value.fr and "ends_on" in caught.value.fr
    assert "Invalid edition" in caught.value.en
    with db.session_scope(engine) as s:
        assert s.exec(select(Campaign).where(Campaign.slug == "ecrire-2026")).first() is None


def test_only_admins_change_editions(engine):
    with db.session_scope(engine) as s:
        with pytest.raises(PermissionDenied):
            campaign_admin.create_campaign(s, actor=EDITOR, data=_new())
        with pytest.raises(PermissionDenied):
            campaign_admin.update_campaign(s, actor=EDITOR, campaign_id=_id(s), changes={"goal": 1})


def test_editing_keeps_the_slug_and_checks_like_a_folder(engine):
    with db.session_scope(engine) as s:
        campaign_admin.update_campaign(s, actor=ADMIN, campaign_id=_id(s), changes={"goal": 120000,
                                "hashtags": {"fr": ["#ÉcrireÇaLibère"], "en": ["#WriteForRights"]}})
        with pytest.raises(ServiceError, match="Champ non modifiable"):
            campaign_admin.update_campaign(s, actor=ADMIN, campaign_id=_id(s), changes={"slug": "autre"})
        with pytest.raises(ServiceError, match="hashtags"):
            campaign_admin.update_campaign(s, actor=ADMIN, campaign_id=_id(s), changes={"hashtags": {"fr": ["sans-croisillon"]}})
    with db.session_scope(engine) as s:
        campaign = s.get(Campaign, _id(s))
        assert campaign.goal == 120000 and campaign.hashtags["en"] == ["#WriteForRights"]
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "edition_edit")).first() is not None


def test_one_current_edition_and_the_current_one_cannot_be_archived(engine):
    with db.session_scope(engine) as s:
        new = campaign_admin.create_campaign(s, actor=ADMIN, data=_new())
        with pytest.raises(ServiceError, match="édition en cours"):
            campaign_admin.archive_campaign(s, actor=ADMIN, campaign_id=_id(s))
        campaign_admin.set_current(s, actor=ADMIN, campaign_id=new.id)
        campaign_admin.archive_campaign(s, actor=ADMIN, campaign_id=_id(s))
        with pytest.raises(ServiceError, match="archivée"):
            campaign_admin.set_current(s, actor=ADMIN, campaign_id=_id(s))
    with db.session_scope(engine) as s:
        assert [c.slug for c in s.exec(select(Campaign).where(Campaign.is_current))] == ["ecrire-2026"]
        assert [c.slug for c in campaign_admin.list_campaigns(s, include_archived=False)] == ["ecrire-2026"]
        campaign_admin.archive_campaign(s, actor=ADMIN, campaign_id=_id(s), archived=False)
    with db.session_scope(engine) as s:
        assert s.get(Campaign, _id(s)).archived_at is None


def test_copying_an_edition_takes_its_settings_actions_and_templates_not_its_cases(engine):
    with db.session_scope(engine) as s:
        source = s.get(Campaign, _id(s))
        copy = campaign_admin.copy_campaign(s, actor=ADMIN, source_id=source.id, slug="ecrire-2026",
                                     name={"fr": "Écrire, ça libère ! 2026", "en": "Write for Rights 2026"},
                                     starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2027, 1, 15))
        copy_id = copy.id
    with db.session_scope(engine) as s:
        copy, source = s.get(Campaign, copy_id), s.get(Campaign, _id(s))
        assert copy.hashtags == source.hashtags and copy.timezone == source.timezone and copy.goal == source.goal
        assert copy.link_rules["utm_campaign"] == "ecrire-2026" and source.link_rules["utm_campaign"] == "ecrire-2025"
        # the start moved by 364 days: the marathon of 6 December 2025 lands on 5 December 2026;
        # the last day (31 January) would fall after the new end and is left out
        dates = {k["slug"]: k["date"] for k in copy.key_dates}
        assert dates["marathon-montreal"] == "2026-12-05" and "dernier-appel" not in dates
        actions = {a.slug: a for a in s.exec(select(CallToAction).where(CallToAction.campaign_id == copy_id))}
        assert set(actions) == {a.slug for a in s.exec(select(CallToAction).where(CallToAction.campaign_id == source.id))}
        assert all(a.key_date in (None, *dates) for a in actions.values())
        n_templates = len(list(s.exec(select(Template).where(Template.campaign_id == source.id))))
        assert len(list(s.exec(select(Template).where(Template.campaign_id == copy_id)))) == n_templates > 0
        assert not list(s.exec(select(Case).where(Case.campaign_id == copy_id)))
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "edition_copy")).one()
        assert entry.detail["source"] == SOURCE and entry.detail["key_dates_dropped"] == 1


def test_a_copy_with_cases_starts_them_active(engine):
    with db.session_scope(engine) as s:
        juan = s.exec(select(Case).where(Case.slug == "juan-lopez")).first()
        case_edit.set_status(s, actor=EDITOR, case_id=juan.id, status="good_news", note="Libéré")
        copy = campaign_admin.copy_campaign(s, actor=ADMIN, source_id=_id(s), slug="ecrire-2026",
                                     name={"fr": "É 2026", "en": "W 2026"}, starts_on=dt.date(2026, 11, 2),
                                     ends_on=dt.date(2027, 1, 31), include_cases=True)
        cases = list(s.exec(select(Case).where(Case.campaign_id == copy.id)))
        assert len(cases) == 8 and {c.status for c in cases} == {"active"}


def _copy_with_cases(s) -> int:
    return campaign_admin.copy_campaign(s, actor=ADMIN, source_id=_id(s), slug="ecrire-2026",
                                 name={"fr": "É 2026", "en": "W 2026"}, starts_on=dt.date(2026, 11, 2),
                                 ends_on=dt.date(2027, 1, 31), include_cases=True).id


def test_the_edition_chosen_is_shown_and_a_choice_gone_or_missing_falls_back_to_the_current(engine):
    from orchestrator.services.campaigns import chosen_campaign

    with db.session_scope(engine) as s:
        copy_id = _copy_with_cases(s)
        current_id = _id(s)
        assert chosen_campaign(s, campaign_id=copy_id).id == copy_id
        assert chosen_campaign(s, campaign_id=None).id == current_id
        assert chosen_campaign(s, campaign_id=copy_id + 1000).id == current_id


def test_the_audit_names_cases_by_slug_and_number_and_a_shared_slug_as_the_edition_read_names_it(engine):
    from orchestrator.services.campaigns import cases_by_key

    with db.session_scope(engine) as s:
        copy_id = _copy_with_cases(s)
        source_id = _id(s)
        old = s.exec(select(Case).where(Case.campaign_id == source_id, Case.slug == "juan-lopez")).one()
        new = s.exec(select(Case).where(Case.campaign_id == copy_id, Case.slug == "juan-lopez")).one()
        for read, other in ((source_id, new), (copy_id, old)):
            found = cases_by_key(s, campaign_id=read)
            assert found["juan-lopez"].campaign_id == read
            assert found[str(other.id)] is other  # the other edition's case, by its number
        assert len(cases_by_key(s, campaign_id=source_id)) == 8 + 16  # 8 shared slugs, 16 numbers


# ---------------------------------------------------------------------------------------------
# Folder -> database -> folder


def test_load_then_dump_gives_back_the_same_edition(engine, tmp_path: Path):
    from content.loader import dump_campaign

    original = load_campaign(bundled_campaign("2025"))
    with db.session_scope(engine) as s:
        exported = campaign_admin.export_content(s, campaign_id=_id(s))
    assert exported == original
    dump_campaign(exported, tmp_path / "again")
    assert load_campaign(tmp_path / "again") == original


def test_dashboard_edits_reach_the_folder_and_load_back_into_a_fresh_database(engine, tmp_path: Path):
    from content.loader import dump_campaign
    from orchestrator.services.campaigns import load_content

    with db.session_scope(engine) as s:
        juan = s.exec(select(Case).where(Case.slug == "juan-lopez")).first()
        case_edit.update_case(s, actor=EDITOR, case_id=juan.id, changes={"ask": {"fr": "justice pour Juan",
                                                                                 "en": "justice for Juan"}})
        case_edit.create_case(s, actor=EDITOR, campaign_id=_id(s), data=__import__(
            "tests.orchestrator.services.helpers", fromlist=["case_fields"]).case_fields())
        exported = campaign_admin.export_content(s, campaign_id=_id(s))
    dump_campaign(exported, tmp_path / "edited")
    again = load_campaign(tmp_path / "edited")
    assert again == exported
    assert again.case("juan-lopez").ask.en == "justice for Juan" and again.case("nouvelle-personne").position == 9

    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    db.upgrade(fresh)
    other = db.make_engine(fresh)
    try:
        with db.session_scope(other) as s:
            load_content(s, actor=SYSTEM, content=again)
        with db.session_scope(other) as s:
            assert campaign_admin.export_content(s, campaign_id=_id(s)) == exported
    finally:
        other.dispose()


def test_the_cli_dumps_what_load_reads(engine, env, tmp_path: Path):
    from orchestrator.cli import app

    runner = CliRunner()
    out = tmp_path / "dumped"
    result = runner.invoke(app, ["content", "dump", SOURCE, str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "campaign.yaml").is_file() and len(list((out / "cases").glob("*.yaml"))) == 8
    assert load_campaign(out) == load_campaign(bundled_campaign("2025"))
    again = runner.invoke(app, ["content", "dump", SOURCE, str(out)])
    assert again.exit_code != 0 and "existe déjà" in again.output
    assert runner.invoke(app, ["content", "dump", SOURCE, str(out), "--overwrite"]).exit_code == 0
    assert runner.invoke(app, ["content", "load", str(out)]).exit_code == 0
    unknown = runner.invoke(app, ["content", "dump", "nope", str(tmp_path / "x")])
    assert unknown.exit_code != 0 and "ecrire-2025" in unknown.output


def test_an_edition_without_calls_to_action_says_why_it_cannot_be_dumped(engine):
    with db.session_scope(engine) as s:
        new = campaign_admin.create_campaign(s, actor=ADMIN, data=_new())
        case_edit.create_case(s, actor=EDITOR, campaign_id=new.id, data=__import__(
            "tests.orchestrator.services.helpers", fromlist=["case_fields"]).case_fields())
        with pytest.raises(ServiceError, match="appel à l'action"):
            campaign_admin.export_content(s, campaign_id=new.id)
