"""Accessibility of what we publish: warnings, never refusals, on what makes a post hard to read
with a screen reader or a braille display. Every offline validator adds them to its verdict
(``orchestrator/services/validators.py``), so Compose and Approvals show them per account, in
French and English, beside the platform's own warnings.

The rules and their heuristics (docs/accessibility.md, « What we publish »):

- **Hashtags not in CamelCase.** A screen reader reads #ecrirecaliberelibere as one long word;
  #ÉcrireÇaLibère word by word. A hashtag of more than ``LONG_HASHTAG`` letters written with
  fewer than two capitals, or in capitals only, is taken for several words run together. No
  dictionary is used: a long single word (#environnement) is warned about too, and that is the
  price of a rule that knows no language. Digits do not count as letters (#W4R2025 is fine).
- **More than ``MAX_EMOJI_RUN`` emoji in a row** (spaces between them do not break the row): each
  is read aloud by its name (« visage qui pleure de joie »).
- **A link in the middle of a sentence, on X**: the reader hears a t.co address in the middle of
  the sentence, and X shows it shortened. A link followed on its line by a word (not a hashtag or
  a mention, not punctuation) is in the middle of a sentence.
- **Alt text** that is empty or a placeholder (« image », "photo"), the file's name (with or
  without its extension), or longer than the platform reads (``Channel.alt_text_read_limit``:
  the Bluesky app shows 2,000 characters; X, Mastodon, Instagram and Threads refuse longer alt
  text outright, which is a problem of their own, not a warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

import regex

from channels.base import Image, Problem, number

if TYPE_CHECKING:
    from channels.base import Channel

#: More letters than this in a hashtag without CamelCase: several words run together, it seems.
LONG_HASHTAG = 12
#: More emoji than this in a row is worth a warning.
MAX_EMOJI_RUN = 3
#: Alt texts that say nothing (compared without accents' case, punctuation or spaces).
PLACEHOLDER_ALTS = frozenset({"image", "photo", "picture", "img", "alt", "texte alternatif", "alt text", "visuel",
                              "illustration", "capture", "screenshot", "graphic"})

_HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_&])[#＃]([\p{L}\p{M}\p{N}_]+)")
_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}{2}|[0-9#*]\uFE0F?\u20E3)")


def camel_case_warnings(text: str) -> list[Problem]:
    found = []
    for tag in dict.fromkeys(_HASHTAG.findall(text)):
        letters = [c for c in tag if c.isalpha()]
        capitals = sum(c.isupper() for c in letters)
        if len(letters) > LONG_HASHTAG and (capitals < 2 or capitals == len(letters)):
            found.append(tag)
    if not found:
        return []
    tags = ", ".join(f"#{t}" for t in found)
    return [Problem(
        "hashtag_camel_case",
        f"Mot-clic sans majuscules aux mots ({tags}) : un lecteur d'écran le lit comme un seul long mot. "
        "Écrivez chaque mot avec une majuscule (#ÉcrireÇaLibère).",
        f"Hashtag without capitals on its words ({tags}): a screen reader reads it as one long word. "
        "Capitalise each word (#WriteForRights).",
    )]


def emoji_run(text: str) -> int:
    """The longest run of emoji in ``text`` (spaces between them do not break it)."""
    longest = run = 0
    for grapheme in _GRAPHEME.findall(text):
        if _EMOJI.match(grapheme):
            run += 1
            longest = max(longest, run)
        elif not grapheme.isspace() or "\n" in grapheme:
            run = 0
    return longest


def emoji_warnings(text: str) -> list[Problem]:
    longest = emoji_run(text)
    if longest <= MAX_EMOJI_RUN:
        return []
    return [Problem(
        "emoji_run",
        f"{longest} émojis à la suite : un lecteur d'écran lit le nom de chacun. Gardez-en {MAX_EMOJI_RUN} au plus.",
        f"{longest} emoji in a row: a screen reader reads out each one's name. Keep {MAX_EMOJI_RUN} at most.",
    )]


def _links(text: str) -> list[tuple[int, int]]:
    import twitter_text

    return [(u["indices"][0], u["indices"][1]) for u in twitter_text.extract_urls_with_indices(text)]


def link_mid_sentence(text: str) -> bool:
    """Whether a link is followed, on its line, by a word that carries the sentence on."""
    for _, end in _links(text):
        rest = text[end:].split("\n", 1)[0].strip()
        first = rest.split()[0] if rest else ""
        if first and first[0] not in "#@＃" and regex.search(r"\p{L}", first):
            return True
    return False


def link_warnings(kind: str, text: str) -> list[Problem]:
    if kind != "x" or not link_mid_sentence(text):
        return []
    return [Problem(
        "link_mid_sentence",
        "Un lien coupe la phrase : sur X, le lecteur d'écran lit l'adresse raccourcie au milieu. "
        "Mettez le lien à la fin du texte ou sur sa propre ligne.",
        "A link cuts the sentence: on X, a screen reader reads the shortened address in the middle of it. "
        "Put the link at the end of the text or on its own line.",
    )]


def _plain(text: str) -> str:
    return " ".join(regex.sub(r"[\p{P}\p{S}_]+", " ", text.casefold()).split())


def alt_warnings(images: Sequence[Image], *, platform: str, read_limit: int | None) -> list[Problem]:
    found = []
    for i, image in enumerate(images, start=1):
        alt = _plain(image.alt)
        name = PurePath(image.filename or "").name
        names = {_plain(name), _plain(PurePath(name).stem)} - {""}
        if not alt or alt in PLACEHOLDER_ALTS:
            found.append(Problem(
                "alt_empty",
                f"Le texte alternatif de l'image {i} ne la décrit pas : dites ce qu'elle montre.",
                f"Image {i}'s alt text does not describe it: say what it shows.",
            ))
        elif alt in names:
            found.append(Problem(
                "alt_file_name",
                f"Le texte alternatif de l'image {i} est le nom de son fichier : dites ce qu'elle montre.",
                f"Image {i}'s alt text is its file name: say what it shows.",
            ))
        if read_limit is not None and len(image.alt) > read_limit:
            found.append(Problem(
                "alt_unread",
                f"Le texte alternatif de l'image {i} compte {number(len(image.alt), 'fr')} caractères ; {platform} "
                f"n'en montre que {number(read_limit, 'fr')} : la fin ne sera pas lue.",
                f"Image {i}'s alt text has {number(len(image.alt), 'en')} characters; {platform} shows only "
                f"{number(read_limit, 'en')}: the end will not be read.",
            ))
    return found


def warnings(channel: Channel, text: str, images: Sequence[Image] = ()) -> list[Problem]:
    """Every accessibility warning for ``text`` and ``images`` on ``channel``'s platform."""
    return [*camel_case_warnings(text), *emoji_warnings(text), *link_warnings(channel.kind, text),
            *alt_warnings(images, platform=channel.platform_name, read_limit=channel.alt_text_read_limit)]
