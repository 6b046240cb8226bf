"""Turn a template into a post's text for one case, and tag the links in it for attribution.

Rendering and link tagging are separate steps on purpose: the orchestrator renders when staff
write a post, and tags links per delivery (each delivery has its own ``source_code``).
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from content.errors import ContentError
from content.model import PLACEHOLDERS, Campaign, CallToAction, Case, Language, LinkRules, Template

# French and English date words, written out so rendering does not depend on the system locale.
_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"),
}


def format_date(day: dt.date, language: Language) -> str:
    """« samedi 6 décembre » / "Saturday, December 6" (no year: posts go out within the campaign)."""
    weekday = _DAYS[language][day.weekday()]
    month = _MONTHS[language][day.month - 1]
    if language == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        return f"{weekday} {number} {month}"
    return f"{weekday}, {month} {day.day}"


def default_link(*, case: Case, action: CallToAction, campaign: Campaign, language: Language) -> str | None:
    """The page a post should send people to when staff did not choose one.

    A petition post goes to the petition, an event post to the event page, anything else to the
    case page; then whatever exists, the campaign page last. A link in the post's language is
    preferred, but a French-only AICF page is better than no link at all.
    """
    petition = case.links.petition
    page = case.links.page
    order = {
        "signature": (petition, page, action.url, campaign.url),
        "event": (action.url, campaign.url, page),
    }.get(action.kind, (page, petition, action.url, campaign.url))
    for fallback in (False, True):
        for candidate in order:
            if candidate is not None and (url := candidate.get(language, fallback=fallback)):
                return url
    return None


class _Values(dict[str, str]):
    """Placeholder values; an unknown name raises a ContentError that names it."""

    def __missing__(self, key: str) -> str:
        if key == "date":
            raise ContentError(
                "{date} est utilisé, mais cet appel à l'action n'a pas de date clé (key_date)",
                "{date} is used, but this call to action has no key date (key_date)",
            )
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ContentError(
            f"espace réservé inconnu {{{key}}} dans le modèle ; permis : {allowed}",
            f"unknown placeholder {{{key}}} in the template; allowed: {allowed}",
        )


def placeholder_values(
    *, case: Case, action: CallToAction, campaign: Campaign, language: Language, link: str | None = None
) -> dict[str, str]:
    """What each placeholder becomes for this case, action and language."""
    if link is None:
        link = default_link(case=case, action=action, campaign=campaign, language=language) or ""
    values = {
        "person": case.person.get(language),
        "country": case.country.get(language),
        "authority": case.authority.get(language),
        "ask": case.ask.get(language),
        "link": link,
        "hashtags": " ".join(campaign.hashtags.get(language, [])),
        "action": action.label.get(language),
        "solidarity_to": case.solidarity_to.get(language),
    }
    key_date = campaign.key_date(action.key_date) if action.key_date else None
    if key_date is not None:
        values["date"] = format_date(key_date.date, language)
    return values


def render_template(
    template: Template,
    *,
    case: Case,
    action: CallToAction,
    campaign: Campaign,
    language: Language,
    link: str | None = None,
) -> str:
    """The text of a post. ``link`` defaults to ``default_link(...)``.

    Raises ContentError if the template is for another action or language, or uses a
    placeholder that does not exist or has no value here (e.g. {date} without a key date).
    """
    if template.language != language:
        raise ContentError(
            f"le modèle « {template.slug} » est en « {template.language} », pas en « {language} »",
            f"template '{template.slug}' is in '{template.language}', not '{language}'",
        )
    if template.action != action.slug:
        raise ContentError(
            f"le modèle « {template.slug} » est pour l'appel à l'action « {template.action} », pas « {action.slug} »",
            f"template '{template.slug}' is for call to action '{template.action}', not '{action.slug}'",
        )
    values = _Values(placeholder_values(case=case, action=action, campaign=campaign, language=language, link=link))
    try:
        text = template.body.format_map(values)
    except (AttributeError, IndexError, KeyError, ValueError) as error:
        # e.g. {person.name} or {person[0]} in a template built without validation
        raise ContentError(
            f"espace réservé mal formé dans le modèle « {template.slug} » ({error})",
            f"malformed placeholder in template '{template.slug}' ({error})",
        ) from error
    # An empty value (no link, no hashtags) must not leave double spaces or blank line ends.
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return text.strip()


# ---------------------------------------------------------------------------------------------
# Link tagging

# A URL runs to the first space or character that cannot be part of one in prose (quotes,
# French guillemets, angle brackets); trailing punctuation is trimmed afterwards.
_URL = re.compile(r"https?://[^\s<>\"'«»“”‘’`]+", re.IGNORECASE)
_TRAILING = ".,;:!?…"
_PAIRS = {")": "(", "]": "[", "}": "{"}


def find_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of every http(s) URL in ``text``, without trailing punctuation."""
    spans = []
    for match in _URL.finditer(text):
        url = match.group()
        while url:
            last = url[-1]
            if last in _TRAILING or (last in _PAIRS and url.count(_PAIRS[last]) < url.count(last)):
                url = url[:-1]
            else:
                break
        if len(url) > len("https://"):
            spans.append((match.start(), match.start() + len(url)))
    return spans


def decorate_url(
    url: str, *, source_code: str, channel: str, case_slug: str | None = None, rules: LinkRules
) -> str:
    """``url`` with the source code and utm_* parameters added, if its host is in ``rules.domains``.

    The existing query and fragment are kept byte for byte; a parameter already present (under
    any value) is never added again, so decorating twice changes nothing.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # e.g. a broken IPv6 literal: leave it as the author wrote it
        return url
    if parts.scheme.lower() not in ("http", "https") or not host or not rules.matches(host):
        return url
    present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    wanted = rules.parameters(source_code=source_code, channel=channel, case_slug=case_slug)
    additions = [(name, value) for name, value in wanted if name not in present]
    if not additions:
        return url
    before_fragment, hash_sign, fragment = url.partition("#")
    base, _, query = before_fragment.partition("?")
    joiner = "&" if query and not query.endswith("&") else ""
    return f"{base}?{query}{joiner}{urlencode(additions)}{hash_sign}{fragment}"


def decorate_links(
    text: str, *, source_code: str, channel: str, case_slug: str | None = None, rules: LinkRules
) -> str:
    """``text`` with every matching http(s) link tagged by ``decorate_url``."""
    out, cursor = [], 0
    for start, end in find_urls(text):
        out.append(text[cursor:start])
        out.append(decorate_url(text[start:end], source_code=source_code, channel=channel, case_slug=case_slug, rules=rules))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
