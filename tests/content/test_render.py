"""render_template fills placeholders per case, action and language, and refuses what it cannot fill."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from content import (
    CampaignContent,
    ContentError,
    LocalizedUrl,
    Template,
    bundled_campaign,
    default_link,
    format_date,
    load_campaign,
    render_template,
    render_template_text,
)


@pytest.fixture(scope="module")
def content() -> CampaignContent:
    return load_campaign(bundled_campaign("2025"))


def _render(
    content: CampaignContent,
    body: str,
    *,
    case: str = "juan-lopez",
    action: str = "ecrire-une-lettre",
    language="fr",
    **kw,
):
    template = Template(slug="t", action=action, language=language, body=body)
    return render_template(
        template,
        case=content.case(case),
        action=content.action(action),
        campaign=content.campaign,
        language=language,
        **kw,
    )


def test_it_fills_every_placeholder_in_french(content: CampaignContent):
    body = "{person}|{country}|{authority}|{ask}|{link}|{hashtags}|{action}|{date}|{solidarity_to}"
    text = _render(content, body, action="marathon-montreal", link="https://amnistie.ca/x")
    assert text.split("|") == [
        "Juan López",
        "Honduras",
        "Procureur général du Honduras (Ministère public)",
        content.case("juan-lopez").ask.fr,
        "https://amnistie.ca/x",
        "#ÉcrireÇaLibère #W4R2025",
        "Venir au Grand marathon d'écriture",
        "samedi 6 décembre",
        "la famille et la communauté de Juan López",
    ]


def test_it_fills_placeholders_in_english(content: CampaignContent):
    text = _render(
        content,
        "{country} {date} {hashtags}",
        case="mother-nature-cambodia",
        action="marathon-montreal",
        language="en",
    )
    assert text == "Cambodia Saturday, December 6 #W4R2025 #WriteForRights"


def test_link_defaults_to_the_case_page_then_the_campaign_page(content: CampaignContent):
    assert (
        _render(content, "{link}")
        == "https://amnistie.ca/participer/2022/honduras/juan-lopez-ecrire-ca-libere-2025"
    )
    # French-only page: an English post still gets it rather than nothing
    assert _render(content, "{link}", language="en").endswith("juan-lopez-ecrire-ca-libere-2025")
    # no case page: the campaign's page
    assert _render(content, "{link}", case="sonia-dahmani") == "https://amnistie.ca/marathon"
    # an event post goes to the event page, not the case page
    assert _render(content, "{link}", action="marathon-montreal") == "https://amnistie.ca/marathon"


def test_a_petition_post_prefers_the_petition_in_its_language(content: CampaignContent):
    case = content.case("juan-lopez")
    links = case.links.model_copy(
        update={
            "petition": LocalizedUrl(fr="https://amnistie.ca/p-fr", en="https://amnesty.ca/p-en")
        }
    )
    case = case.model_copy(update={"links": links})
    action = content.action("signer-la-petition")
    assert (
        default_link(case=case, action=action, campaign=content.campaign, language="en")
        == "https://amnesty.ca/p-en"
    )
    assert (
        default_link(case=case, action=action, campaign=content.campaign, language="fr")
        == "https://amnistie.ca/p-fr"
    )


def test_an_unknown_placeholder_raises_a_clear_error(content: CampaignContent):
    # model_construct skips validation, as a template built in code might
    template = Template.model_construct(
        slug="t", action="ecrire-une-lettre", language="fr", body="Bonjour {prenom} !"
    )
    with pytest.raises(ContentError) as caught:
        render_template(
            template,
            case=content.cases[0],
            action=content.action("ecrire-une-lettre"),
            campaign=content.campaign,
            language="fr",
        )
    assert "{prenom}" in caught.value.message_fr and "{prenom}" in caught.value.message_en


def test_attribute_access_in_a_placeholder_is_refused(content: CampaignContent):
    template = Template.model_construct(
        slug="t", action="ecrire-une-lettre", language="fr", body="{person.__class__}"
    )
    with pytest.raises(ContentError):
        render_template(
            template,
            case=content.cases[0],
            action=content.action("ecrire-une-lettre"),
            campaign=content.campaign,
            language="fr",
        )


def test_date_without_a_key_date_raises(content: CampaignContent):
    with pytest.raises(ContentError, match="key_date"):
        _render(content, "Le {date}", action="ecrire-une-lettre")


def test_wrong_language_or_action_raises(content: CampaignContent):
    template = content.templates_for("ecrire-une-lettre", "fr")[0]
    kwargs = {"case": content.cases[0], "campaign": content.campaign}
    with pytest.raises(ContentError, match="pas en « en »"):
        render_template(
            template, action=content.action("ecrire-une-lettre"), language="en", **kwargs
        )
    with pytest.raises(ContentError, match="pas « signer-la-petition »"):
        render_template(
            template, action=content.action("signer-la-petition"), language="fr", **kwargs
        )


def test_an_empty_value_leaves_no_double_space(content: CampaignContent):
    assert (
        _render(content, "Agir : {link} {hashtags}", link="") == "Agir : #ÉcrireÇaLibère #W4R2025"
    )


def test_literal_braces_survive(content: CampaignContent):
    assert _render(content, "{{accolades}} {person}") == "{accolades} Juan López"


@pytest.mark.parametrize(
    ("day", "language", "expected"),
    [
        (dt.date(2025, 12, 6), "fr", "samedi 6 décembre"),
        (dt.date(2025, 12, 1), "fr", "lundi 1er décembre"),
        (dt.date(2025, 12, 10), "en", "Wednesday, December 10"),
        (dt.date(2026, 1, 31), "fr", "samedi 31 janvier"),
    ],
)
def test_format_date(day, language, expected):
    assert format_date(day, language) == expected


def test_render_template_text_accepts_rows_shaped_like_the_database(content: CampaignContent):
    # The orchestrator stores bilingual text as plain dicts and key dates as ISO strings.
    row = SimpleNamespace
    campaign = row(
        hashtags={"fr": ["#W4R2025"], "en": ["#W4R2025"]},
        key_dates=[
            {"slug": "marathon-montreal", "date": "2025-12-06", "name": {"fr": "M", "en": "M"}}
        ],
    )
    case = row(
        person={"fr": "Damisoa", "en": "Damisoa"},
        country={"fr": "Madagascar", "en": "Madagascar"},
        authority={"fr": "Directeur général", "en": "Director General"},
        ask={"fr": "des mesures", "en": "action"},
        links={"page": {"fr": "https://amnistie.ca/damisoa"}},
    )
    action = row(
        kind="event", label={"fr": "Venir", "en": "Come"}, url={}, key_date="marathon-montreal"
    )
    text = render_template_text(
        "{person} ({country}) {date} {solidarity_to} {link} {hashtags}",
        case=case,
        action=action,
        campaign=campaign,
        language="en",
    )
    assert (
        text
        == "Damisoa (Madagascar) Saturday, December 6 Damisoa https://amnistie.ca/damisoa #W4R2025"
    )


def test_a_campaign_wide_post_has_no_case(content: CampaignContent):
    action = content.action("marathon-montreal")
    text = render_template_text(
        "Le {date} : {action}. {link}",
        case=None,
        action=action,
        campaign=content.campaign,
        language="fr",
    )
    assert (
        text
        == "Le samedi 6 décembre : Venir au Grand marathon d'écriture. https://amnistie.ca/marathon"
    )
    with pytest.raises(ContentError, match="aucun cas"):
        render_template_text(
            "{person}", case=None, action=action, campaign=content.campaign, language="fr"
        )
