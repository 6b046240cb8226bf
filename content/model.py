"""Plain, immutable objects for one campaign edition: the campaign, its cases, calls to action
and post templates.

Everything here is data that campaign staff edit in YAML (see ``content/campaigns/README.md``);
nothing about a case is a constant in code. Validation messages are bilingual: a custom error
carries ``fr``/``en`` in its context so the loader can show French first to staff.
"""

from __future__ import annotations

import datetime as dt
import string
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from content.errors import ContentError
from content.fields import (
    HOSTNAME,
    PARAM_NAME,
    POSTAL_CODE,
    CountryCode,
    Hashtag,
    IsoDate,
    NonEmptyStr,
    PositiveInt,
    Slug,
    TimeZoneName,
    Url,
    problem,
)
from content.words import Message

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")  # French first, always

SolidarityKind = Literal["letter", "card", "drawing", "photo", "message"]
CaseStatus = Literal["active", "paused", "good_news", "closed"]
ActionKind = Literal["letter", "signature", "solidarity", "event"]
#: Mastodon visibilities a campaign may use, most public first (orchestrator/services/content_warnings.py).
Visibility = Literal["public", "unlisted", "private"]
#: Who may reply to a new post about a case (absent: everyone), mapped per platform in
#: channels/reply_limits.py.
ReplyLimit = Literal["followers", "mentioned", "nobody"]
#: Bluesky self-labels an author may put on a post about a case.
SelfLabel = Literal["graphic-media", "nudity"]
#: Longest content warning: Mastodon's default limit (the warning counts with the text there).
MAX_CONTENT_WARNING = 500

# Placeholders a template body may use; anything else is refused at load time so a typo such as
# {persone} is caught by `porte-voix content validate`, not on the morning of 10 December.
PLACEHOLDERS: tuple[str, ...] = (
    "person",
    "country",
    "authority",
    "ask",
    "link",
    "hashtags",
    "action",
    "date",
    "solidarity_to",
)
LINK_RULE_PLACEHOLDERS: tuple[str, ...] = ("channel", "case", "source")


class _Model(BaseModel):
    # extra="forbid" turns a misspelt key (e.g. "autority") into a problem instead of silence.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


# ---------------------------------------------------------------------------------------------
# Bilingual text and links


class Bilingual(_Model, Message):
    """The same text in French and English; both are required and non-empty (a
    :class:`~content.words.Message`: ``text(language)``, or ``get``)."""

    fr: NonEmptyStr
    en: NonEmptyStr

    def get(self, language: Language) -> str:
        return self.fr if language == "fr" else self.en


class LocalizedUrl(_Model):
    """A link that may exist in one language only (AICF pages are often French only)."""

    fr: Url | None = None
    en: Url | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> LocalizedUrl:
        if self.fr is None and self.en is None:
            raise problem(
                "donnez au moins une adresse (fr ou en)", "give at least one address (fr or en)"
            )
        return self

    def get(self, language: Language, *, fallback: bool = True) -> str | None:
        """The link in ``language``, else (with ``fallback``) the other language's."""
        first, second = (self.fr, self.en) if language == "fr" else (self.en, self.fr)
        return first or (second if fallback else None)


class LinkRules(_Model):
    """How links in posts are tagged so actions can be credited to a case, channel and post.

    ``utm_*`` values may use {channel}, {case} and {source}; a parameter whose value comes out
    empty (e.g. {case} on a campaign-wide post) is left out. Only links whose host is one of
    ``domains`` (or a subdomain) are tagged; an empty list tags every link. Published links go
    through the short-link service unless ``shorten`` is false.
    """

    source_param: str = "source"
    utm_source: str = "{channel}"
    utm_medium: str = "social"
    utm_campaign: NonEmptyStr
    utm_content: str = "{case}"
    domains: list[str] = Field(default_factory=list)
    #: ``false``: this edition's posts carry the long tagged link, not a short one (no clicks
    #: counted). Unset: short links, as ``PORTEVOIX_LINKS_SHORTEN`` says (on by default).
    shorten: bool | None = None

    @field_validator("source_param")
    @classmethod
    def _param_name(cls, value: str) -> str:
        if not PARAM_NAME.match(value):
            raise problem(
                f"nom de paramètre invalide « {value} » (lettres, chiffres, _ . - seulement)",
                f"invalid parameter name '{value}' (letters, digits, _ . - only)",
            )
        return value

    @field_validator("utm_source", "utm_medium", "utm_campaign", "utm_content")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = sorted(set(placeholders_in(value)) - set(LINK_RULE_PLACEHOLDERS))
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in LINK_RULE_PLACEHOLDERS)
            raise problem(
                f"espace réservé inconnu {{{unknown[0]}}} ; permis : {allowed}",
                f"unknown placeholder {{{unknown[0]}}}; allowed: {allowed}",
            )
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        cleaned = []
        for domain in value:
            host = domain.strip().lower().strip(".")
            if not HOSTNAME.match(host):
                raise problem(
                    f"nom de domaine invalide « {domain} » (ex. : amnistie.ca, sans https://)",
                    f"invalid domain name '{domain}' (e.g. amnistie.ca, without https://)",
                )
            cleaned.append(host)
        return cleaned

    def matches(self, host: str | None) -> bool:
        """True if links to ``host`` should be tagged (subdomains included)."""
        if not self.domains:
            return True
        if not host:
            return False
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)

    def parameters(
        self, *, source_code: str, channel: str, case_slug: str | None
    ) -> list[tuple[str, str]]:
        """The (name, value) pairs to add, in a stable order, empty values left out."""
        values = {"channel": channel, "case": case_slug or "", "source": source_code}
        pairs = [
            (self.source_param, source_code),
            ("utm_source", self.utm_source.format_map(values)),
            ("utm_medium", self.utm_medium.format_map(values)),
            ("utm_campaign", self.utm_campaign.format_map(values)),
            ("utm_content", self.utm_content.format_map(values)),
        ]
        return [(name, value) for name, value in pairs if value]


def placeholders_in(text: str) -> list[str]:
    """Field names used in a str.format text, in order (raises ValueError on broken braces)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


# ---------------------------------------------------------------------------------------------
# Campaign


class KeyDate(_Model):
    slug: Slug
    date: IsoDate
    name: Bilingual


class SensitiveDate(_Model):
    """A day on which a post needs a second thought (6 December in Canada: the National Day of
    Remembrance and Action on Violence against Women): posts scheduled on it, in the edition's
    zone, show a warning to the approver. It may fall outside the campaign's window."""

    date: IsoDate
    label: Bilingual


class ListeningTerms(_Model):
    """What the worker listens for in one language: hashtags (written with or without "#",
    kept without) and keywords. Each platform's own rules are checked where terms are typed in
    the dashboard (orchestrator/services/listening.py)."""

    hashtags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("hashtags")
    @classmethod
    def _bare_hashtags(cls, value: list[str]) -> list[str]:
        out = []
        for tag in value:
            bare = tag.strip().lstrip("#")
            if not bare or any(c.isspace() for c in bare):
                raise problem(
                    f"mot-clic d'écoute invalide « {tag} » : des lettres ou des chiffres, sans espace",
                    f"invalid listening hashtag '{tag}': letters or digits, no spaces",
                )
            out.append(bare)
        return out

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, value: list[str]) -> list[str]:
        return [" ".join(k.split()) for k in value if k.strip()]


class Campaign(_Model):
    slug: Slug
    name: Bilingual
    timezone: TimeZoneName
    starts_on: IsoDate
    ends_on: IsoDate
    key_dates: list[KeyDate] = Field(default_factory=list)
    hashtags: dict[Language, list[Hashtag]]
    goal: PositiveInt
    link_rules: LinkRules
    url: LocalizedUrl | None = None  # the campaign's public page, used when a case has none
    #: What the worker listens for across the whole edition, per language.
    listening: dict[Language, ListeningTerms] = Field(default_factory=dict)
    #: Days on which posts show a warning to the approver (orchestrator/services/sensitive_dates.py).
    #: (Absent, as the other optional fields, so a folder without any is written back without.)
    sensitive_dates: list[SensitiveDate] | None = None

    @field_validator("sensitive_dates")
    @classmethod
    def _one_label_a_day(cls, value: list[SensitiveDate] | None) -> list[SensitiveDate] | None:
        if not value:
            return None
        seen: set[dt.date] = set()
        for item in value:
            if item.date in seen:
                raise problem(f"date sensible en double : {item.date}", f"duplicate sensitive date: {item.date}")
            seen.add(item.date)
        return sorted(value, key=lambda item: item.date)

    @field_validator("ends_on")
    @classmethod
    def _ends_after_start(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and value < starts_on:
            raise problem(
                f"la campagne finit ({value}) avant de commencer ({starts_on})",
                f"the campaign ends ({value}) before it starts ({starts_on})",
            )
        return value

    @field_validator("key_dates")
    @classmethod
    def _key_dates_in_window(cls, value: list[KeyDate], info: ValidationInfo) -> list[KeyDate]:
        starts_on, ends_on = info.data.get("starts_on"), info.data.get("ends_on")
        seen: set[str] = set()
        for key_date in value:
            if key_date.slug in seen:
                raise problem(
                    f"date clé en double : « {key_date.slug} »",
                    f"duplicate key date: '{key_date.slug}'",
                )
            seen.add(key_date.slug)
            if starts_on and ends_on and not starts_on <= key_date.date <= ends_on:
                raise problem(
                    f"la date clé « {key_date.slug} » ({key_date.date}) tombe hors de la campagne "
                    f"({starts_on} au {ends_on})",
                    f"key date '{key_date.slug}' ({key_date.date}) falls outside the campaign "
                    f"({starts_on} to {ends_on})",
                )
        return value

    @field_validator("hashtags")
    @classmethod
    def _both_languages(cls, value: dict[Language, list[str]]) -> dict[Language, list[str]]:
        missing = [lang for lang in LANGUAGES if lang not in value]
        if missing:
            raise problem(
                f"mots-clics manquants pour la langue : {', '.join(missing)}",
                f"hashtags missing for language: {', '.join(missing)}",
            )
        return {lang: value[lang] for lang in LANGUAGES}

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def key_date(self, slug: str) -> KeyDate | None:
        return next((k for k in self.key_dates if k.slug == slug), None)


# ---------------------------------------------------------------------------------------------
# Cases


class CaseLinks(_Model):
    petition: LocalizedUrl | None = None
    page: LocalizedUrl | None = None


class Consent(_Model):
    """What the person or family agreed to: may posts name them, show their face, say where
    they are (orchestrator/services/consent.py). Absent from a case file: all three agreed."""

    name: bool = True
    face: bool = True
    location: bool = True


def clean_terms(value: list[str], what_fr: str, what_en: str) -> list[str]:
    """Names or places to look for in posts: spaces tidied, each once, two characters at least."""
    out: list[str] = []
    for term in value:
        term = " ".join(term.split())
        if len(term) < 2:
            raise problem(f"{what_fr} trop court : « {term} »", f"{what_en} too short: '{term}'")
        if term not in out:
            out.append(term)
    return out


class Case(_Model):
    slug: Slug
    position: PositiveInt  # order on the dashboard and in lists, 1 = first
    person: Bilingual  # person or group; usually the same name in both languages
    country: Bilingual
    country_code: CountryCode  # ISO 3166-1 alpha-2
    status: CaseStatus = "active"
    goal: PositiveInt  # actions hoped for this case
    story: Bilingual  # 2 to 4 sentences per language
    authority: Bilingual  # who to write to, with the title, as on an envelope's first line
    ask: Bilingual  # what we ask; reads after « Exigez » / "Demand"
    solidarity_kind: SolidarityKind
    solidarity_to: Bilingual  # who receives solidarity messages; reads after « pour » / "for"
    solidarity_address: Bilingual  # how messages get there (an office, never a private address)
    image_alt: Bilingual
    links: CaseLinks = Field(default_factory=CaseLinks)
    tags: list[Slug] = Field(default_factory=list)
    #: The case's own listening terms, per language (its posts count for the case).
    listening: dict[Language, ListeningTerms] = Field(default_factory=dict)
    #: What a post about the case carries unless staff change it: a Mastodon content warning in
    #: both languages (e.g. for a killing or torture), the Mastodon visibility (absent: public)
    #: and Bluesky self-labels.
    content_warning: Bilingual | None = None
    visibility: Visibility | None = None
    self_labels: list[SelfLabel] | None = None
    #: Who may reply to new posts about the case where the platform lets us limit it (absent:
    #: everyone).
    reply_limit: ReplyLimit | None = None
    #: What the person or family agreed to; the name's other spellings looked for besides
    #: ``person``; the place names that say where the person is (a prison, a town).
    #: (Absent when all agreed and when empty: a case file says only what differs.)
    consent: Consent | None = None
    aliases: list[str] | None = None
    location_terms: list[str] | None = None

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, value: list[str] | None) -> list[str] | None:
        return clean_terms(value, "autre nom", "other name") or None if value else None

    @field_validator("location_terms")
    @classmethod
    def _places(cls, value: list[str] | None) -> list[str] | None:
        return clean_terms(value, "lieu", "place") or None if value else None

    @field_validator("content_warning")
    @classmethod
    def _warning_length(cls, value: Bilingual | None) -> Bilingual | None:
        for text in (value.fr, value.en) if value is not None else ():
            if len(text) > MAX_CONTENT_WARNING:
                raise problem(
                    f"avertissement de {len(text)} caractères : {MAX_CONTENT_WARNING} au plus",
                    f"content warning of {len(text)} characters: {MAX_CONTENT_WARNING} at most",
                )
        return value

    @field_validator("solidarity_address")
    @classmethod
    def _no_postal_address(cls, value: Bilingual) -> Bilingual:
        if POSTAL_CODE.search(value.fr) or POSTAL_CODE.search(value.en):
            raise problem(
                "pas d'adresse postale ici : indiquez le bureau ou la page du cas par lesquels passent "
                "les messages",
                "no postal address here: name the office or case page the messages go through",
            )
        return value


# ---------------------------------------------------------------------------------------------
# Calls to action and templates


class CallToAction(_Model):
    slug: Slug
    kind: ActionKind
    label: Bilingual  # short, e.g. « Écrire une lettre »
    text: Bilingual  # one or two sentences explaining the action
    url: LocalizedUrl | None = None
    key_date: Slug | None = None  # a campaign key date (events); gives templates their {date}


class Template(_Model):
    slug: Slug
    action: Slug  # a CallToAction slug
    language: Language
    body: NonEmptyStr

    @field_validator("body")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError:
            raise problem(
                "accolades mal fermées : écrivez {person}, ou doublez-les ({{ }}) pour une accolade seule",
                "unbalanced braces: write {person}, or double them ({{ }}) for a literal brace",
            ) from None
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        for _, name, spec, conversion in parsed:
            if name is None:
                continue
            if name not in PLACEHOLDERS:
                raise problem(
                    f"espace réservé inconnu {{{name}}} ; permis : {allowed}",
                    f"unknown placeholder {{{name}}}; allowed: {allowed}",
                )
            if spec or conversion:
                raise problem(
                    f"mise en forme non prise en charge dans {{{name}}} : retirez ce qui suit « : » ou « ! »",
                    f"formatting is not supported in {{{name}}}: remove what follows ':' or '!'",
                )
        return value

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(placeholders_in(self.body))


# ---------------------------------------------------------------------------------------------
# One edition, loaded


class CampaignContent(_Model):
    campaign: Campaign
    cases: list[Case]  # sorted by position
    actions: list[CallToAction]
    templates: list[Template]
    source: Path | None = None  # the folder it was loaded from; not part of equality

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CampaignContent):
            return NotImplemented
        fields = ("campaign", "cases", "actions", "templates")
        return all(getattr(self, f) == getattr(other, f) for f in fields)

    __hash__ = None  # type: ignore[assignment]  # holds lists: not hashable

    def case(self, slug: str) -> Case:
        return _find(self.cases, slug, "cas", "case")

    def action(self, slug: str) -> CallToAction:
        return _find(self.actions, slug, "appel à l'action", "call to action")

    def templates_for(self, action: str, language: Language) -> list[Template]:
        return [t for t in self.templates if t.action == action and t.language == language]


def _find(items: list[Any], slug: str, what_fr: str, what_en: str) -> Any:
    for item in items:
        if item.slug == slug:
            return item
    raise ContentError(f"{what_fr} inconnu : « {slug} »", f"unknown {what_en}: '{slug}'")
