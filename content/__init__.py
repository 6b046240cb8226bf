"""Campaign content for Porte-voix: editions in YAML, loaded into plain objects, rendered into posts.

This package never touches the network and never imports ``orchestrator``; the service layer
stores what it hands over.
"""

from __future__ import annotations

from content.errors import ContentError, ContentInvalid, ContentProblem, format_problems
from content.loader import (
    bundled_campaign,
    bundled_campaigns_root,
    dump_campaign,
    load_all,
    load_campaign,
    validate_campaign,
)
from content.model import (
    LANGUAGES,
    PLACEHOLDERS,
    Bilingual,
    CallToAction,
    Campaign,
    CampaignContent,
    Case,
    CaseLinks,
    KeyDate,
    Language,
    LinkRules,
    LocalizedUrl,
    Template,
)
from content.render import (
    decorate_links,
    decorate_url,
    default_link,
    format_date,
    render_template,
    render_template_text,
)

__all__ = [
    "LANGUAGES",
    "PLACEHOLDERS",
    "Bilingual",
    "CallToAction",
    "Campaign",
    "CampaignContent",
    "Case",
    "CaseLinks",
    "ContentError",
    "ContentInvalid",
    "ContentProblem",
    "KeyDate",
    "Language",
    "LinkRules",
    "LocalizedUrl",
    "Template",
    "bundled_campaign",
    "bundled_campaigns_root",
    "decorate_links",
    "decorate_url",
    "default_link",
    "dump_campaign",
    "format_date",
    "format_problems",
    "load_all",
    "load_campaign",
    "render_template",
    "render_template_text",
    "validate_campaign",
]
