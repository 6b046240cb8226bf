"""Calls to action from the dashboard: the YAML loader's rules, slugs unique in the edition,
renames carried into templates, deletions refused while something uses the action, roles, audit,
and nothing half-saved on a refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import AuditEntry, CallToAction, Campaign, Post, Template
from orchestrator.services import actions_admin, campaign_admin, posts
from orchestrator.services.auth import PermissionDenied, ServiceError
from tests.orchestrator.services.helpers import ADMIN, EDITOR, VIEWER


def _cid(s) -> int:
    return s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()


def _action(s, slug: str, campaign_id: int | None = None) -> CallToAction:
    return s.exec(select(CallToAction).where(CallToAction.campaign_id == (campaign_id or _cid(s)),
                                             CallToAction.slug == slug)).one()


def _fields(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": "partager-le-cas", "kind": "solidarity",
        "label": {"fr": "Partager le cas", "en": "Share the case"},
        "text": {"fr": "Parlez du cas autour de vous.", "en": "Tell people around you about the case."},
        "url": {"fr": "https://amnistie.ca/partager", "en": ""}, "key_date": None,
    }
    data.update(changes)
    return data


def _snapshot(engine) -> tuple[list[tuple], list[tuple], int]:
    """Every action and template of the database, and the number of audit rows."""
    with db.session_scope(engine) as s:
        actions = [(a.id, a.campaign_id, a.slug, a.kind, a.label, a.text, a.url, a.key_date)
                   for a in s.exec(select(CallToAction).order_by(CallToAction.id))]
        templates = [(tp.id, tp.slug, tp.action_slug) for tp in s.exec(select(Template).order_by(Template.id))]
        return actions, templates, len(s.exec(select(AuditEntry)).all())


def _audit(s, action: str) -> list[AuditEntry]:
    return list(s.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def test_an_editor_creates_a_call_to_action_as_a_folder_would_hold_it(engine):
    with db.session_scope(engine) as s:
        saved = actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s),
                                          **_fields(slug="  partager-le-cas ", label={"fr": " Partager le cas ",
                                                                                      "en": "Share the case"}))
        new_id = saved.id
    with db.session_scope(engine) as s:
        action = s.get(CallToAction, new_id)
        assert (action.slug, action.kind, action.campaign_id) == ("partager-le-cas", "solidarity", _cid(s))
        assert action.label == {"fr": "Partager le cas", "en": "Share the case"}  # trimmed, as YAML would be
        assert action.url == {"fr": "https://amnistie.ca/partager"}  # the empty English link left out
        assert action.key_date is None
        slugs = [a.slug for a in actions_admin.list_actions(s, campaign_id=_cid(s))]
        assert slugs == sorted(slugs) and "partager-le-cas" in slugs and len(slugs) == 5
        (entry,) = _audit(s, "action_save")
        assert (entry.actor, entry.target_type, entry.target_id) == ("edith", "call_to_action", str(new_id))
        assert entry.detail == {"slug": "partager-le-cas", "created": True}
        # the edition still exports to a folder the loader accepts, with the new action in it
        content = campaign_admin.export_content(s, campaign_id=_cid(s))
        assert content.action("partager-le-cas").label.fr == "Partager le cas"


def test_an_editor_changes_an_action_and_a_known_key_date_is_accepted(engine):
    with db.session_scope(engine) as s:
        petition = _action(s, "signer-la-petition")
        actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), action_id=petition.id,
                                  **_fields(slug="signer-la-petition", kind="signature",
                                            label={"fr": "Signer maintenant", "en": "Sign now"},
                                            url={"fr": "https://amnistie.ca/signer", "en": "https://amnesty.ca/sign"},
                                            key_date="journee-droits-humains"))
    with db.session_scope(engine) as s:
        petition = _action(s, "signer-la-petition")
        assert petition.label == {"fr": "Signer maintenant", "en": "Sign now"}
        assert petition.url == {"fr": "https://amnistie.ca/signer", "en": "https://amnesty.ca/sign"}
        assert petition.key_date == "journee-droits-humains" and petition.kind == "signature"
        assert len(actions_admin.list_actions(s, campaign_id=_cid(s))) == 4  # changed, not added
        (entry,) = _audit(s, "action_save")
        assert entry.detail == {"slug": "signer-la-petition", "created": False}


def test_a_rename_is_carried_into_the_editions_templates_and_no_other(engine):
    with db.session_scope(engine) as s:
        copy = campaign_admin.copy_campaign(s, actor=ADMIN, source_id=_cid(s), slug="ecrire-2026",
                                     name={"fr": "Écrire 2026", "en": "Write 2026"},
                                     starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2026, 12, 31))
        copy_id = copy.id
    with db.session_scope(engine) as s:
        petition = _action(s, "signer-la-petition")
        actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), action_id=petition.id,
                                  **_fields(slug="signer-en-ligne", kind="signature",
                                            label=petition.label, text=petition.text, url={}))
    with db.session_scope(engine) as s:
        renamed = s.exec(select(Template.slug).where(Template.campaign_id == _cid(s),
                                                     Template.action_slug == "signer-en-ligne")).all()
        assert sorted(renamed) == ["petition-en", "petition-fr"]
        assert not s.exec(select(Template).where(Template.campaign_id == _cid(s),
                                                 Template.action_slug == "signer-la-petition")).all()
        # the copied edition has its own action and templates under the old name
        assert _action(s, "signer-la-petition", copy_id).id
        assert len(s.exec(select(Template).where(Template.campaign_id == copy_id,
                                                 Template.action_slug == "signer-la-petition")).all()) == 2
        (entry,) = _audit(s, "action_save")
        assert entry.detail["renamed_from"] == "signer-la-petition"
        assert entry.detail["templates_renamed"] == ["petition-en", "petition-fr"]
        assert _action(s, "signer-en-ligne").url == {}
        campaign_admin.export_content(s, campaign_id=_cid(s))  # still a consistent folder


def test_a_slug_already_used_in_the_edition_is_refused_and_nothing_is_saved(engine):
    before = _snapshot(engine)
    with db.session_scope(engine) as s:
        with pytest.raises(ServiceError, match="« ecrire-une-lettre » existe déjà") as new:
            actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), **_fields(slug="ecrire-une-lettre"))
        assert "already exists" in new.value.message("en")
        petition = _action(s, "signer-la-petition")
        with pytest.raises(ServiceError, match="existe déjà"):  # a rename onto another action
            actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), action_id=petition.id,
                                      **_fields(slug="marathon-montreal", kind="signature"))
    assert _snapshot(engine) == before


@pytest.mark.parametrize(("changes", "field_fr", "field_en"), [
    ({"kind": "petition"}, "Type : valeur non permise", "Kind: value not allowed"),
    ({"url": {"fr": "amnistie.ca/partager"}}, "Lien (français) : adresse web invalide", "Link (French): invalid web"),
    ({"label": {"fr": "  ", "en": "Share"}}, "Libellé (français) : ne doit pas être vide", "Label (French): must not"),
    ({"slug": "Partager Le Cas"}, "Identifiant : identifiant invalide", "Identifier: invalid identifier"),
])
def test_what_the_loader_refuses_is_refused_by_name_and_nothing_is_saved(engine, changes, field_fr, field_en):
    before = _snapshot(engine)
    with db.session_scope(engine) as s, pytest.raises(ServiceError) as refused:
        actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), **_fields(**changes))
    assert refused.value.message("fr").startswith("Appel à l'action invalide — " + field_fr)
    assert refused.value.message("en").startswith("Invalid call to action — " + field_en)
    assert _snapshot(engine) == before


def test_a_bad_edit_leaves_the_action_and_its_templates_as_they_were(engine):
    before = _snapshot(engine)
    with db.session_scope(engine) as s:
        petition = _action(s, "signer-la-petition")
        with pytest.raises(ServiceError, match="Lien"):  # a rename with a bad link: neither is applied
            actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), action_id=petition.id,
                                      **_fields(slug="signer-en-ligne", url={"en": "http://"}))
    assert _snapshot(engine) == before


def test_key_dates_must_be_the_editions_and_dated_templates_keep_theirs(engine):
    before = _snapshot(engine)
    with db.session_scope(engine) as s:
        with pytest.raises(ServiceError, match="Date clé inconnue « noel »") as unknown:
            actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), **_fields(key_date="noel"))
        assert "marathon-montreal" in unknown.value.fr and "Unknown key date 'noel'" in unknown.value.en
        marathon = _action(s, "marathon-montreal")
        # its templates say {date}: the loader would refuse the folder without a key date
        with pytest.raises(ServiceError, match=r"marathon-en, marathon-fr utilisent \{date\}"):
            actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), action_id=marathon.id,
                                      **_fields(slug="marathon-montreal", kind="event", key_date=None))
    assert _snapshot(engine) == before


def test_deleting_is_refused_while_templates_or_posts_use_the_action(engine):
    with db.session_scope(engine) as s:
        with pytest.raises(ServiceError, match="utilisé par les modèles petition-en, petition-fr"):
            actions_admin.delete_action(s, actor=EDITOR, action_id=_action(s, "signer-la-petition").id)
        fresh = actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), **_fields())
        post = posts.create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Partagez le cas de Juan.",
                                 action_slug="partager-le-cas", campaign=s.get(Campaign, _cid(s)))
        assert post.action_id == fresh.id
        fresh_id = fresh.id
    before = _snapshot(engine)
    with db.session_scope(engine) as s, pytest.raises(ServiceError, match=r"utilisé par 1 publication") as used:
        actions_admin.delete_action(s, actor=EDITOR, action_id=fresh_id)
    assert "used by 1 post(s)" in used.value.en
    assert _snapshot(engine) == before
    with db.session_scope(engine) as s:
        assert s.get(CallToAction, fresh_id) is not None
        assert s.exec(select(Post).where(Post.action_id == fresh_id)).one()


def test_an_unused_action_is_deleted_with_an_audit_row(engine):
    with db.session_scope(engine) as s:
        fresh_id = actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), **_fields()).id
    with db.session_scope(engine) as s:
        actions_admin.delete_action(s, actor=EDITOR, action_id=fresh_id)
    with db.session_scope(engine) as s:
        assert s.get(CallToAction, fresh_id) is None
        assert "partager-le-cas" not in [a.slug for a in actions_admin.list_actions(s, campaign_id=_cid(s))]
        (entry,) = _audit(s, "action_delete")
        assert (entry.actor, entry.target_id, entry.detail) == ("edith", str(fresh_id), {"slug": "partager-le-cas"})


def test_a_viewer_may_neither_create_change_nor_delete(engine):
    before = _snapshot(engine)
    with db.session_scope(engine) as s:
        with pytest.raises(PermissionDenied, match="Rédaction"):
            actions_admin.save_action(s, actor=VIEWER, campaign_id=_cid(s), **_fields())
        letter = _action(s, "ecrire-une-lettre")
        with pytest.raises(PermissionDenied):
            actions_admin.save_action(s, actor=VIEWER, campaign_id=_cid(s), action_id=letter.id,
                                      **_fields(slug="ecrire-une-lettre", kind="letter"))
        fresh = CallToAction(campaign_id=_cid(s), slug="inutilise", kind="letter",
                             label={"fr": "a", "en": "a"}, text={"fr": "a", "en": "a"})
        s.add(fresh)
        s.flush()
        with pytest.raises(PermissionDenied):
            actions_admin.delete_action(s, actor=VIEWER, action_id=fresh.id)
        assert s.get(CallToAction, fresh.id) is not None
        s.rollback()
    assert _snapshot(engine) == before


def test_an_action_of_another_edition_or_none_is_not_found(engine):
    with db.session_scope(engine) as s:
        copy_id = campaign_admin.copy_campaign(s, actor=ADMIN, source_id=_cid(s), slug="ecrire-2026",
                                        name={"fr": "Écrire 2026", "en": "Write 2026"},
                                        starts_on=dt.date(2026, 11, 2), ends_on=dt.date(2026, 12, 31)).id
    before = _snapshot(engine)
    with db.session_scope(engine) as s:
        other = _action(s, "signer-la-petition", copy_id)
        with pytest.raises(ServiceError, match="introuvable"):
            actions_admin.save_action(s, actor=EDITOR, campaign_id=_cid(s), action_id=other.id,
                                      **_fields(slug="signer-la-petition", kind="signature"))
        with pytest.raises(ServiceError, match="introuvable"):
            actions_admin.delete_action(s, actor=EDITOR, action_id=999_999)
    assert _snapshot(engine) == before
