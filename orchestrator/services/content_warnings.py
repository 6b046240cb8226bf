"""Content warnings, visibility and self-labels: what a post about a hard case carries so that
people choose to read it.

- **Mastodon** shows a post's content warning (``spoiler_text``) in place of its text, which is
  folded behind it; the warning counts toward the instance's character limit with the text.
  Its visibility says who sees it: ``public`` (public timelines, search, the hashtag pages),
  ``unlisted`` (followers and the post's page, not the public timelines) or ``private``
  (followers only, no boost). A campaign posts ``public``: the point is to reach people who do
  not follow us yet, and hashtags only gather public posts.
- **Bluesky** has no warning text; an author labels their own record (``self-labels``,
  ``com.atproto.label.defs#selfLabels``) and the apps blur the post's media behind the label's
  own words. ``graphic-media`` is the one for violent images.
- X and Facebook offer neither to an API client: their posts go without.

A case holds defaults (the warning per language, the visibility, the labels); a post written
about the case takes them, then they are the post's own: staff may change them before approval
and the change is recorded like any other edit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, get_args

from channels.registry import ByKind
from content.model import MAX_CONTENT_WARNING, SelfLabel, Visibility
from orchestrator.errors import ServiceError

#: Mastodon's visibilities a campaign may use, most public first. ``direct`` is left out: a
#: campaign post mentions nobody in private.
VISIBILITIES: tuple[str, ...] = get_args(Visibility)
DEFAULT_VISIBILITY = "public"

#: Self-labels an author may put on a Bluesky post (values of ``com.atproto.label.defs``'s
#: label values that the apps offer to authors; the sexual ones have no place in a campaign).
SELF_LABELS: tuple[str, ...] = get_args(SelfLabel)

#: Longest warning accepted at all: Mastodon's default character limit. On Mastodon the warning
#: and the text share the instance's limit (its validation counts both).
MAX_WARNING = MAX_CONTENT_WARNING


@dataclasses.dataclass(frozen=True)
class PostWarning:
    """What one post carries: the warning text ("" for none), the visibility, the labels."""

    text: str = ""
    visibility: str = DEFAULT_VISIBILITY
    labels: tuple[str, ...] = ()

    @property
    def is_default(self) -> bool:
        """Nothing to send: no warning, public, no label (what every post had before)."""
        return not self.text and self.visibility == DEFAULT_VISIBILITY and not self.labels


def clean_text(text: str | None) -> str:
    """A warning as stored: spaces and line breaks at its ends removed."""
    return (text or "").strip()


def check(text: str | None = None, visibility: str | None = None, labels: Iterable[str] | None = None) -> None:
    """Refuse, in French and English, a warning too long, a visibility or a label not offered."""
    text = clean_text(text)
    if len(text) > MAX_WARNING:
        raise ServiceError(
            f"L'avertissement compte {len(text)} caractères : {MAX_WARNING} au plus (sur Mastodon, il compte "
            "avec le texte dans la limite de l'instance).",
            f"The content warning has {len(text)} characters: {MAX_WARNING} at most (on Mastodon it counts "
            "with the text toward the instance's limit).",
        )
    if visibility is not None and visibility not in VISIBILITIES:
        raise ServiceError(
            f"Visibilité inconnue « {visibility} » : choisissez parmi {', '.join(VISIBILITIES)}.",
            f"Unknown visibility '{visibility}': choose one of {', '.join(VISIBILITIES)}.",
        )
    for label in labels or ():
        if label not in SELF_LABELS:
            raise ServiceError(
                f"Étiquette Bluesky inconnue « {label} » : choisissez parmi {', '.join(SELF_LABELS)}.",
                f"Unknown Bluesky label '{label}': choose one of {', '.join(SELF_LABELS)}.",
            )


def clean_labels(labels: Iterable[str] | None) -> list[str]:
    """Labels once each, in the order of ``SELF_LABELS``."""
    chosen = set(labels or ())
    return [label for label in SELF_LABELS if label in chosen]


def case_default(case: Any, language: str) -> PostWarning:
    """What a post in ``language`` about ``case`` carries unless staff change it (nothing for a
    post about no case)."""
    if case is None:
        return PostWarning()
    texts: Mapping[str, str] = case.content_warning or {}
    return PostWarning(
        text=clean_text(texts.get(language)),
        visibility=case.visibility or DEFAULT_VISIBILITY,
        labels=tuple(clean_labels(case.self_labels)),
    )


def resolve(case: Any, language: str, *, text: str | None, visibility: str | None,
            labels: Iterable[str] | None) -> PostWarning:
    """The case's default, with whatever the caller gave (``None``: keep the default) in its
    place; checked."""
    default = case_default(case, language)
    check(text, visibility, labels)
    return PostWarning(
        text=default.text if text is None else clean_text(text),
        visibility=default.visibility if visibility is None else visibility,
        labels=default.labels if labels is None else tuple(clean_labels(labels)),
    )


def of_post(post: Any) -> PostWarning:
    return PostWarning(clean_text(post.content_warning), post.visibility or DEFAULT_VISIBILITY,
                   tuple(post.self_labels or ()))


def fingerprint_part(warning: PostWarning) -> dict[str, Any] | None:
    """What approval covers of the warning: None when there is nothing (so posts approved before
    warnings existed keep their fingerprint)."""
    if warning.is_default:
        return None
    return {"text": warning.text, "visibility": warning.visibility, "labels": list(warning.labels)}


#: What each kind of account carries (declared by its channel): a content warning with a
#: visibility (Mastodon), self-labels (Bluesky), a language field (Mastodon's ``language``,
#: Bluesky's ``langs``; the others guess the language from the text).
WARNS: Mapping[str, bool] = ByKind(lambda cls: cls.can_content_warning)
LABELS: Mapping[str, bool] = ByKind(lambda cls: cls.can_self_label)
HAS_LANGUAGE: Mapping[str, bool] = ByKind(lambda cls: cls.has_language_field)


def preview_notes(kind: str, platform: str, warning: PostWarning, language: str) -> dict[str, Any]:
    """What the compose preview shows of the warning on one platform: the warning and visibility
    (Mastodon), the labels (Bluesky), and notes where the platform has neither a warning nor a
    language field."""
    fr = language == "fr"
    out: dict[str, Any] = {"warning": "", "visibility": "", "labels": [], "warning_note": None,
                           "language_note": None}
    warns, labels = WARNS.get(kind, False), LABELS.get(kind, False)
    if warns:
        out.update(warning=warning.text, visibility=warning.visibility)
    if labels:
        out["labels"] = list(warning.labels)
        if warning.text and not warning.labels:
            out["warning_note"] = (
                f"{platform} n'a pas d'avertissement en texte : ajoutez une étiquette si les images le demandent."
                if fr else f"{platform} has no warning text: add a label if the images call for one.")
    elif not warns and (warning.text or warning.labels):
        out["warning_note"] = (
            f"{platform} n'offre pas d'avertissement de contenu : le texte paraît sans avertissement."
            if fr else f"{platform} offers no content warning: the text shows without one.")
    if not HAS_LANGUAGE.get(kind, False):
        out["language_note"] = (
            f"{platform} n'a pas de champ de langue : la plateforme devine la langue du texte."
            if fr else f"{platform} has no language field: the platform guesses the text's language.")
    return out
