"""Turn a template into a post's text for one case, and tag the links in it for attribution.

Rendering and link tagging are separate steps on purpose: the orchestrator renders when staff
write a post, and tags links per delivery (each delivery has its own ``source_code``).
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from content.errors import ContentError
from content.model import (
    PLACEHOLDERS,
    Bilingual,
    CallToAction,
    Campaign,
    Case,
    Language,
    LinkRules,
    LocalizedUrl,
    Template,
)

# French and English date words, written out so rendering does not depend on the system locale.
_DAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}


def format_date(day: dt.date, language: Language) -> str:
    """« samedi 6 décembre » / "Saturday, December 6" (no year: posts go out within the campaign)."""
    weekday = _DAYS[language][day.weekday()]
    month = _MONTHS[language][day.month - 1]
    if language == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        return f"{weekday} {number} {month}"
    return f"{weekday}, {month} {day.day}"


# Rendering works on the content models and, duck-typed, on the orchestrator's database rows,
# where bilingual text is a plain {"fr": ..., "en": ...} dict and some optional fields may be
# missing. Both offer ``.get(language)``; links and key dates need a little more care.

_OTHER = {"fr": "en", "en": "fr"}


def _localized(value: Any, language: str, *, fallback: bool) -> str | None:
    """Text of a Bilingual / LocalizedUrl / dict in ``language`` (or the other one, if allowed)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, LocalizedUrl):
        return value.get(language, fallback=fallback)  # type: ignore[arg-type]
    if isinstance(value, Bilingual):
        return value.get(language)  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        return value.get(language) or (value.get(_OTHER.get(language, "fr")) if fallback else None)
    return None


def _case_link(case: Any, kind: str) -> Any:
    links = getattr(case, "links", None)
    if isinstance(links, Mapping):
        return links.get(kind)
    return getattr(links, kind, None)


def default_link(*, case: Any, action: Any, campaign: Any, language: Language) -> str | None:
    """The page a post should send people to when staff did not choose one.

    A petition post goes to the petition, an event post to the event page, anything else to the
    case page; then whatever exists, the campaign page last. A link in the post's language is
    preferred, but a French-only AICF page is better than no link at all.
    """
    petition, page = _case_link(case, "petition"), _case_link(case, "page")
    action_url, campaign_url = getattr(action, "url", None), getattr(campaign, "url", None)
    order = {
        "signature": (petition, page, action_url, campaign_url),
        "event": (action_url, campaign_url, page),
    }.get(getattr(action, "kind", ""), (page, petition, action_url, campaign_url))
    for fallback in (False, True):
        for candidate in order:
            if url := _localized(candidate, language, fallback=fallback):
                return url
    return None


def _key_date(campaign: Any, slug: str | None) -> dt.date | None:
    if not slug:
        return None
    for item in getattr(campaign, "key_dates", None) or []:
        item_slug = item.get("slug") if isinstance(item, Mapping) else item.slug
        if item_slug == slug:
            value = item.get("date") if isinstance(item, Mapping) else item.date
            return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return None


class _Values(dict[str, str]):
    """Placeholder values; an unknown name raises a ContentError that names it."""

    def __missing__(self, key: str) -> str:
        if key == "date":
            raise ContentError(
                "{date} est utilisé, mais cet appel à l'action n'a pas de date clé (key_date)",
                "{date} is used, but this call to action has no key date (key_date)",
            )
        if key in PLACEHOLDERS:
            raise ContentError(
                f"{{{key}}} est utilisé, mais aucun cas n'est choisi pour cette publication",
                f"{{{key}}} is used, but no case is chosen for this post",
            )
        allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        raise ContentError(
            f"espace réservé inconnu {{{key}}} dans le modèle ; permis : {allowed}",
            f"unknown placeholder {{{key}}} in the template; allowed: {allowed}",
        )


def placeholder_values(
    *,
    case: Any,
    action: Any,
    campaign: Any,
    language: Language,
    link: str | None = None,
) -> dict[str, str]:
    """What each placeholder becomes for this case (None: a campaign-wide post), action and language."""
    hashtags = getattr(campaign, "hashtags", None) or {}
    values = {
        "hashtags": " ".join(hashtags.get(language, [])),
        "action": _localized(getattr(action, "label", None), language, fallback=True) or "",
    }
    if case is not None:
        if link is None:
            link = default_link(case=case, action=action, campaign=campaign, language=language)
        person = _localized(case.person, language, fallback=True) or ""
        values |= {
            "person": person,
            "country": _localized(case.country, language, fallback=True) or "",
            "authority": _localized(case.authority, language, fallback=True) or "",
            "ask": _localized(case.ask, language, fallback=True) or "",
            # database rows written before solidarity_to existed: the person is the next best
            "solidarity_to": _localized(
                getattr(case, "solidarity_to", None), language, fallback=True
            )
            or person,
        }
    elif link is None:
        link = _localized(getattr(action, "url", None), language, fallback=True) or _localized(
            getattr(campaign, "url", None), language, fallback=True
        )
    values["link"] = link or ""
    key_date = _key_date(campaign, getattr(action, "key_date", None))
    if key_date is not None:
        values["date"] = format_date(key_date, language)
    return values


def render_template_text(
    body: str,
    *,
    case: Any,
    action: Any,
    campaign: Any,
    language: Language,
    link: str | None = None,
    name: str = "",
) -> str:
    """Fill ``body``'s placeholders. Accepts content models or objects shaped like them (the
    orchestrator's rows); ``case`` may be None for a campaign-wide post without case placeholders.
    """
    values = _Values(
        placeholder_values(
            case=case, action=action, campaign=campaign, language=language, link=link
        )
    )
    try:
        for _, field, spec, conversion in string.Formatter().parse(body):
            # {person.__class__} or {person[0]} would reach into Python objects: only plain
            # names are placeholders (text built in code skips the model's validation).
            if field is not None and (not field.isidentifier() or spec or conversion):
                raise ValueError(field)
        text = body.format_map(values)
    except (AttributeError, IndexError, KeyError, ValueError) as error:
        raise ContentError(
            f"espace réservé mal formé dans le modèle « {name} » ({error})",
            f"malformed placeholder in template '{name}' ({error})",
        ) from error
    # An empty value (no link, no hashtags) must not leave double spaces or blank line ends.
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return text.strip()


def render_template(
    template: Template,
    *,
    case: Case | None,
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
            f"le modèle « {template.slug} » est pour l'appel à l'action « {template.action} », "
            f"pas « {action.slug} »",
            f"template '{template.slug}' is for call to action '{template.action}', "
            f"not '{action.slug}'",
        )
    return render_template_text(
        template.body,
        case=case,
        action=action,
        campaign=campaign,
        language=language,
        link=link,
        name=template.slug,
    )


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
        out.append(
            decorate_url(
                text[start:end],
                source_code=source_code,
                channel=channel,
                case_slug=case_slug,
                rules=rules,
            )
        )
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def tag_post(
    body: str, link: str | None, *, source_code: str, channel: str, case_slug: str | None = None,
    rules: LinkRules,
) -> tuple[str, str | None]:
    """A post's text and link as tagged for one delivery: every link of ``body`` tagged, and the
    post's own ``link`` tagged and appended after a blank line unless the text already has it."""
    text = decorate_links(body, source_code=source_code, channel=channel, case_slug=case_slug, rules=rules)
    tagged = None
    if link:
        tagged = decorate_url(link, source_code=source_code, channel=channel, case_slug=case_slug, rules=rules)
        if link not in body:
            text = f"{text}\n\n{tagged}"
    return text, tagged


def link_targets(text: str, link: str | None, *, rules: LinkRules, skip: str = "") -> list[str | None]:
    """Where a delivery's short links lead, by number: ``[0]`` is the main link (``/<code>``):
    the post's own ``link``, else its first link to a campaign domain, else ``None`` (the short
    link then leads to the campaign's page); ``[1]`` is ``/<code>/2`` and so on, the text's other
    links in order, each address once. Addresses starting with ``skip`` (short links already)
    are left out."""
    urls: list[str] = []
    for start, end in find_urls(text):
        url = text[start:end]
        if url not in urls and not (skip and url.startswith(skip)):
            urls.append(url)
    main = link or next((u for u in urls if rules.matches(_host(u))), None)
    return [main, *(u for u in urls if u != main)]


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def short_address(base_url: str, source_code: str, number: int = 0) -> str:
    """``base/<code>`` for a delivery's main link, ``base/<code>/<n+1>`` for its other links."""
    base = f"{base_url.rstrip('/')}/{source_code}"
    return base if number == 0 else f"{base}/{number + 1}"


def shorten_links(
    text: str, link: str | None, *, base_url: str, source_code: str, rules: LinkRules
) -> tuple[str, str | None]:
    """``text`` and ``link`` (both already tagged) with every address replaced by its short
    link under ``base_url``, numbered as :func:`link_targets` numbers them."""
    prefix = base_url.rstrip("/") + "/"
    targets = link_targets(text, link, rules=rules, skip=prefix)
    number = {url: i for i, url in enumerate(targets) if url is not None}
    out, cursor = [], 0
    for start, end in find_urls(text):
        url = text[start:end]
        out.append(text[cursor:start])
        out.append(short_address(base_url, source_code, number[url]) if url in number else url)
        cursor = end
    out.append(text[cursor:])
    return "".join(out), (short_address(base_url, source_code, number[link]) if link in number else link)
