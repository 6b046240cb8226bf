"""Templates from the dashboard: placeholders checked, and a template too long for a platform
says so before anyone uses it (rendered with the longest case, links tagged)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from channels.registry import KINDS
from orchestrator import db
from orchestrator.models import Campaign, Template
from orchestrator.services import templates_admin
from orchestrator.services.auth import PermissionDenied, ServiceError
from tests.orchestrator.services.helpers import EDITOR, VIEWER, x_account


def _cid(s) -> int:
    return s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()


def test_a_short_template_fits_everywhere_and_is_saved(engine):
    with db.session_scope(engine) as s:
        template, report = templates_admin.save_template(
            s, actor=EDITOR, campaign_id=_cid(s), slug="court-fr", action_slug="ecrire-une-lettre", language="fr",
            body="Écrivez pour {person} ({country}). {link}")
        assert {r["kind"] for r in report} == set(KINDS)  # no account yet: every platform
        assert templates_admin.too_long(report) == []
        assert template.id and template.action_slug == "ecrire-une-lettre"


def test_a_template_over_the_limit_names_the_platform_and_the_longest_case(engine):
    x_account(engine)  # from now on only the kinds actually used are checked
    body = "Exigez {ask} — écrivez à {authority} pour {person} ({country}). " * 3 + "{link} {hashtags}"
    with db.session_scope(engine) as s:
        report = templates_admin.fit_report(s, campaign_id=_cid(s), body=body, language="fr",
                                            action_slug="ecrire-une-lettre")
        assert [r["kind"] for r in report] == ["x"]
        (row,) = templates_admin.too_long(report)
        assert row["length"] > row["limit"] == 280 and row["problems"]["fr"] and row["problems"]["en"]
        # the case reported is the one whose text comes out longest on X
        from channels.base import AccountConfig
        from channels.x import XChannel
        from content.render import render_template_text
        from orchestrator.models import Account, Case, Post
        from orchestrator.services.deliveries import rendered

        x = XChannel(AccountConfig(kind="x", name="x", credentials={"bearer_token": "t"}))
        campaign = s.get(Campaign, _cid(s))
        lengths = {}
        for case in s.exec(select(Case).where(Case.campaign_id == campaign.id)):
            text = render_template_text(body, case=case, action=None, campaign=campaign, language="fr")
            out, _ = rendered(Post(campaign_id=campaign.id, text=text), campaign=campaign, case=case,
                              account=Account(name="x", kind="x"), source_code="x" * 7)
            lengths[case.slug] = x.validate(out).length
        assert row["length"] == max(lengths.values()) and lengths[row["case"]] == row["length"]
        assert len(set(lengths.values())) > 1  # the cases differ: picking the longest matters


def test_bad_placeholders_and_roles_are_refused_and_nothing_is_saved(engine):
    with db.session_scope(engine) as s:
        before = len(templates_admin.list_templates(s, campaign_id=_cid(s)))
        with pytest.raises(ServiceError, match="persone"):
            templates_admin.save_template(s, actor=EDITOR, campaign_id=_cid(s), slug="faute-fr",
                                          action_slug="ecrire-une-lettre", language="fr", body="Pour {persone}")
        with pytest.raises(ServiceError, match="date"):
            templates_admin.save_template(s, actor=EDITOR, campaign_id=_cid(s), slug="date-fr",
                                          action_slug="ecrire-une-lettre", language="fr", body="Le {date}")
        with pytest.raises(ServiceError, match="existe déjà"):
            templates_admin.save_template(s, actor=EDITOR, campaign_id=_cid(s), slug="lettre-fr",
                                          action_slug="ecrire-une-lettre", language="fr", body="Pour {person}")
        with pytest.raises(PermissionDenied):
            templates_admin.save_template(s, actor=VIEWER, campaign_id=_cid(s), slug="v-fr",
                                          action_slug="ecrire-une-lettre", language="fr", body="Pour {person}")
    with db.session_scope(engine) as s:
        assert len(templates_admin.list_templates(s, campaign_id=_cid(s))) == before


def test_editing_and_deleting_keep_one_template_per_action_and_language(engine):
    with db.session_scope(engine) as s:
        lettre = s.exec(select(Template).where(Template.slug == "petition-fr")).one()
        templates_admin.save_template(s, actor=EDITOR, campaign_id=_cid(s), slug="petition-fr",
                                      action_slug="signer-la-petition", language="fr",
                                      body="Signez pour {person}. {link}", template_id=lettre.id)
        with pytest.raises(ServiceError, match="dernier modèle"):
            templates_admin.delete_template(s, actor=EDITOR, template_id=lettre.id)
        extra, _ = templates_admin.save_template(s, actor=EDITOR, campaign_id=_cid(s), slug="petition-2-fr",
                                                 action_slug="signer-la-petition", language="fr", body="Signez ! {link}")
        templates_admin.delete_template(s, actor=EDITOR, template_id=lettre.id)
    with db.session_scope(engine) as s:
        assert s.exec(select(Template).where(Template.slug == "petition-fr")).first() is None
        assert s.get(Template, extra.id).body == "Signez ! {link}"
