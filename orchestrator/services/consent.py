"""Consent: what the person featured in a case, or their family, agreed to. May posts name the
person, show their face, say where they are. Each is a flag on the case (all three granted by
default, see docs/safety.md); a withdrawn flag is a rule every post of the edition must keep.

How a post breaks a withdrawn flag (the checks are on what goes out: the post's text, each
per-account variant, and each image's alt text; a published delivery's frozen text too):

- **name**: the text contains the person's name as recorded on the case (``person`` in French
  and English, and ``aliases``), ignoring accents and capitals, as whole words (« Sonia
  Dahmani » is found in "SONIA DAHMANI's letter", not in "Sonias"); or the name written
  without spaces or hyphens inside a hashtag or a mention (#LibérezSoniaDahmani). Any language:
  the name is looked for in every text, whatever the post's language. Links are left out (a
  tagged link carries the case's slug; the page it leads to is the campaign's own).
- **face**: the post has an image marked as showing the person's face (the media library's
  "shows the person's face" mark, or ``shows_face`` on an image stored with the post). A library
  image of a case shows that case's person; an image of the whole edition, or one stored with
  the post, counts for the post's case (for every case when the post has none).
- **location**: the text contains one of the case's ``location_terms`` (a prison, a town), the
  same way as a name.

A post that breaks a withdrawn flag cannot be submitted or approved (``post_review.problems_of``
says why, naming the flag). Withdrawing a flag holds the queued deliveries of every post that
breaks it, with the deliveries' own hold (``states.HeldFor.CONSENT``), and lists the published
ones (:func:`published_breaking`) so staff can retract them. Granting it again releases what it
held. A delivery released for another reason (its case resumed, a suspension lifted) stays held
while its post breaks a withdrawn flag (:func:`still_held`).

Who may change what follows the embargo's rule: withdrawing a flag, or adding a name or a place
to look for, only makes publishing stricter, and an editor may do it at once (as pausing a case);
granting a flag again, or removing a term, lets things out: that takes an approver. Audited.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from content.words import Message
from orchestrator import states
from orchestrator.models import Case, Delivery, MediaItem, Post
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.timeutil import utcnow

#: The three flags, in the order pages show them.
FLAGS = ("name", "face", "location")
#: What each flag allows, inside a sentence.
FLAG_WORDS: dict[str, dict[str, str]] = {
    "name": {"fr": "nommer la personne", "en": "name the person"},
    "face": {"fr": "montrer son visage", "en": "show their face"},
    "location": {"fr": "dire où elle se trouve", "en": "publish their location"},
}
#: Queued deliveries: what withdrawing a flag holds.
QUEUED = (states.SCHEDULED, states.RETRYING)

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_TAG = re.compile(r"[#@]([^\W_]+(?:_[^\W_]+)*)")


def fold(text: str) -> str:
    """Lower case, accents off, every run of what is not a letter or digit one space, with a
    space at each end: whole words are found by looking for `` word ``."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return " " + " ".join(re.sub(r"[^\w]|_", " ", bare).split()) + " "


def _squashed(term: str) -> str:
    return fold(term).replace(" ", "")


def found_in(terms: Iterable[str], texts: Iterable[str]) -> str | None:
    """The first of ``terms`` found in ``texts`` (whole words, or squashed inside a hashtag or
    a mention), as written on the case; None when none is."""
    terms = [t for t in terms if fold(t).strip()]
    if not terms:
        return None
    # links are left out: a tagged link names the case's slug (utm_content=juan-lopez)
    bare = [_URL.sub(" ", text) for text in texts if text]
    folded = [(fold(text), [_squashed(tag) for tag in _TAG.findall(text)]) for text in bare]
    for term in terms:
        whole, squashed = fold(term), _squashed(term)
        for text, tags in folded:
            if whole in text or (len(squashed) >= 4 and any(squashed in tag for tag in tags)):
                return term
    return None


def name_terms(case: Case) -> list[str]:
    return list(dict.fromkeys([*(v for v in (case.person or {}).values() if v), *(case.aliases or [])]))


def granted(case: Case, flag: str) -> bool:
    return bool(getattr(case, f"consent_{flag}"))


def withdrawn(case: Case) -> list[str]:
    return [flag for flag in FLAGS if not granted(case, flag)]


@dataclasses.dataclass(frozen=True)
class Breach(Message):
    """One post breaking one withdrawn flag of one case, and what in it does."""

    case_id: int
    case_slug: str
    flag: str
    found: str
    fr: str
    en: str


def post_texts(post: Post, extra: Iterable[str | None] = ()) -> list[str]:
    """What goes out of a post in words: its text, variants, images' alt text (and ``extra``,
    e.g. a delivery's frozen text)."""
    texts = [post.text, *(post.variants or {}).values(),
             *(str(i.get("alt", "")) for i in _all_images(post) if isinstance(i, dict))]
    for part in post.parts or []:  # a thread's other parts (a Facebook post's first comments)
        if isinstance(part, dict):
            texts.append(str(part.get("text") or ""))
    return [t for t in [*texts, *extra] if t]


def _all_images(post: Post) -> list[Any]:
    """The images of the post and of every other part of its thread, in order."""
    images = list(post.images or [])
    for part in post.parts or []:
        if isinstance(part, dict):
            images += list(part.get("images") or [])
    return images


def _face_of(session: Session, post: Post, item: Any, case: Case) -> str | None:
    """The image's name ("" when it has none) if ``item`` shows the face of ``case``'s person,
    else None."""
    if not isinstance(item, dict):
        return None
    owner: int | None = post.case_id
    marked = bool(item.get("shows_face"))
    media = None
    if "media_id" in item:
        try:
            media = session.get(MediaItem, int(item["media_id"]))
        except (TypeError, ValueError):
            media = None
        if media is not None:
            marked = marked or media.shows_face
            owner = media.case_id or post.case_id
    if marked and (owner is None or owner == case.id):
        return str(item.get("filename") or "") or (media.filename if media is not None else "")
    return None


def _face_image(session: Session, post: Post, case: Case) -> str | None:
    """The first image of ``post`` showing the face of ``case``'s person, named, or None."""
    for number, item in enumerate(_all_images(post), start=1):
        name = _face_of(session, post, item, case)
        if name is not None:
            return f"{number}" + (f" ({name})" if name else "")
    return None


def hidden_images(session: Session, post: Post, *, cases: Sequence[Case] | None = None) -> set[int]:
    """The numbers (from 1, as on its card) of the images of ``post`` itself that show the face of
    a person whose consent to show it is withdrawn: pages show the reason in their place, never
    the face, to staff as to the public. ``cases``: the edition's restricted cases, when the page
    has read them already."""
    restricted = restricted_cases(session, campaign_id=post.campaign_id) if cases is None else cases
    faces = [c for c in restricted if not granted(c, "face")]
    return {number for number, item in enumerate(post.images or [], start=1)
            if any(_face_of(session, post, item, case) is not None for case in faces)}


def of_fr(name: str) -> str:
    """« de Juan López », « d'Ellinor Guttorm Utsi »: French elides « de » before a vowel."""
    return f"d'{name}" if fold(name[:1]).strip() in set("aeiouy") else f"de {name}"


def breaks(session: Session, post: Post, case: Case, flag: str, *, extra: Iterable[str | None] = ()) -> Breach | None:
    """How ``post`` breaks ``flag`` of ``case`` (whether or not it is withdrawn now), or None."""
    slug = case.slug
    words = FLAG_WORDS[flag]
    # The person as staff know them, not the case's slug (a word for links and files).
    person = case.person or {}
    name_fr = person.get("fr") or person.get("en") or slug
    name_en = person.get("en") or person.get("fr") or slug
    head_fr = f"Consentement retiré (« {words['fr']} ») pour le cas {of_fr(name_fr)}"
    head_en = f"Consent withdrawn ('{words['en']}') for the case of {name_en}"
    if flag == "face":
        image = _face_image(session, post, case)
        if image is None:
            return None
        return Breach(case.id or 0, slug, flag, image,
                      f"{head_fr} : l'image {image} montre son visage. Retirez l'image.",
                      f"{head_en}: image {image} shows their face. Remove the image.")
    terms = name_terms(case) if flag == "name" else list(case.location_terms or [])
    term = found_in(terms, post_texts(post, extra))
    if term is None:
        return None
    what_fr = "son nom" if flag == "name" else "le lieu où elle se trouve"
    what_en = "their name" if flag == "name" else "where they are"
    return Breach(case.id or 0, slug, flag, term,
                  f"{head_fr} : le texte contient « {term} » ({what_fr}). Retirez-le du texte, des variantes et des "
                  "textes alternatifs.",
                  f"{head_en}: the text contains '{term}' ({what_en}). Remove it from the text, the variants and "
                  "the alt texts.")


def restricted_cases(session: Session, *, campaign_id: int) -> list[Case]:
    """The edition's cases with a flag withdrawn (a post about any case may name another's person)."""
    return list(session.exec(select(Case).where(
        Case.campaign_id == campaign_id,
        col(Case.consent_name).is_(False) | col(Case.consent_face).is_(False) | col(Case.consent_location).is_(False),
    ).order_by(col(Case.position))))


def breaches(session: Session, post: Post, *, cases: Sequence[Case] | None = None,
             extra: Iterable[str | None] = ()) -> list[Breach]:
    """Every withdrawn flag of the edition's cases that ``post`` breaks ([] when it breaks none)."""
    extra = list(extra)
    found = []
    for case in restricted_cases(session, campaign_id=post.campaign_id) if cases is None else cases:
        for flag in withdrawn(case):
            breach = breaks(session, post, case, flag, extra=extra)
            if breach is not None:
                found.append(breach)
    return found


def problems(session: Session, post: Post) -> list[tuple[str, str]]:
    """The breaches as (fr, en) problems, for the checks before submitting and approving."""
    return [(b.fr, b.en) for b in breaches(session, post)]


# ---------------------------------------------------------------------------------------------
# Deliveries: held while their post breaks a withdrawn flag


def _campaign_deliveries(session: Session, campaign_id: int, state_in: tuple[str, ...]) -> list[tuple[Delivery, Post]]:
    return [(d, p) for d, p in session.exec(
        select(Delivery, Post).join(Post, col(Post.id) == Delivery.post_id)
        .where(Post.campaign_id == campaign_id, col(Delivery.state).in_(state_in))
        .order_by(col(Delivery.scheduled_at), col(Delivery.id)))]


def _breaking(session: Session, case: Case, flag: str, state_in: tuple[str, ...]) -> list[Delivery]:
    return [d for d, p in _campaign_deliveries(session, case.campaign_id, state_in)
            if breaks(session, p, case, flag, extra=[d.rendered_text]) is not None]


def published_breaking(session: Session, case_id: int, flag: str) -> list[Delivery]:
    """The published deliveries (of any post of the case's edition) whose post or frozen text
    breaks ``flag`` of the case, earliest first: what staff are offered to retract."""
    if flag not in FLAGS:
        raise ServiceError(f"Consentement inconnu « {flag} ».", f"Unknown consent '{flag}'.")
    case = session.get(Case, case_id)
    if case is None:
        return []
    return _breaking(session, case, flag, (states.PUBLISHED,))


def queued_breaking(session: Session, case_id: int, flag: str) -> list[Delivery]:
    """The queued deliveries whose post breaks ``flag`` of the case."""
    case = session.get(Case, case_id)
    return [] if case is None else _breaking(session, case, flag, QUEUED)


def reason_for(breach: Breach) -> states.HeldReason:
    return states.HeldReason.consent(breach.flag, breach.case_slug)


def hold_breaking(session: Session, *, case: Case, flag: str, actor: Actor) -> int:
    """Hold every queued delivery whose post breaks ``flag`` of ``case`` (an editor may: it only
    makes publishing stricter)."""
    require(actor, "editor", "retenir des envois", "hold deliveries")
    held = 0
    for delivery in _breaking(session, case, flag, QUEUED):
        reason = states.HeldReason.consent(flag, case.slug)
        states.transition(session, delivery, states.HELD, actor=actor.username, outcome="held", detail=str(reason),
                          held_reason=str(reason))
        held += 1
    return held


def still_held(session: Session, deliveries: Iterable[Delivery]) -> list[Delivery]:
    """Of held deliveries about to be released, those whose post breaks a withdrawn flag: they
    stay held, now for that reason (their ``held_reason`` is changed); the caller releases the
    others only."""
    kept = []
    cache: dict[int, list[Breach]] = {}
    restricted: dict[int, list[Case]] = {}
    for delivery in deliveries:
        post = session.get(Post, delivery.post_id)
        if post is None:
            continue
        if post.campaign_id not in restricted:
            restricted[post.campaign_id] = restricted_cases(session, campaign_id=post.campaign_id)
        if not restricted[post.campaign_id]:
            continue
        found = cache.get(post.id or 0)
        if found is None:
            found = cache[post.id or 0] = breaches(session, post, cases=restricted[post.campaign_id])
        if found:
            delivery.held_reason = str(reason_for(found[0]))
            session.add(delivery)
            kept.append(delivery)
    return kept


def release_for(session: Session, *, case: Case, flag: str, actor: Actor) -> int:
    """Release what ``flag`` of ``case`` held (what still breaks another withdrawn flag stays);
    an approver's act, as granting the flag back is."""
    require(actor, "approver", "relâcher des envois retenus", "release held deliveries")
    from orchestrator.services.deliveries import _release

    mine = str(states.HeldReason.consent(flag, case.slug))
    held = list(session.exec(select(Delivery).where(Delivery.state == states.HELD, Delivery.held_reason == mine)))
    return _release(session, held, actor=actor.username)


# ---------------------------------------------------------------------------------------------
# Changing the flags


@dataclasses.dataclass
class ConsentChange:
    case: Case
    withdrawn: list[str]
    granted: list[str]
    #: Queued deliveries held now, and released (a flag granted again).
    held: int
    released: int
    #: Per flag withdrawn now: the published deliveries that break it (to offer retraction).
    published: dict[str, list[Delivery]]


def _clean_terms(values: Iterable[str] | None, what: str) -> list[str] | None:
    from pydantic_core import PydanticCustomError

    from content.model import clean_terms

    if values is None:
        return None
    try:
        return clean_terms([str(v) for v in values if str(v).strip()],
                           *(("autre nom", "other name") if what == "aliases" else ("lieu", "place")))
    except PydanticCustomError as exc:
        context = exc.context or {}
        raise ServiceError(str(context.get("fr", exc)), str(context.get("en", exc))) from None


def set_consent(session: Session, *, actor: Actor, case_id: int, name: bool | None = None,
                face: bool | None = None, location: bool | None = None, aliases: Iterable[str] | None = None,
                location_terms: Iterable[str] | None = None, note: str = "") -> ConsentChange:
    """Change what the case's person or family agreed to (``None``: unchanged), and the names
    and places looked for. Withdrawing holds the queued deliveries that break the flag and lists
    the published ones; granting again releases what the flag held."""
    from orchestrator.services.case_edit import get_case_by_id

    require(actor, "editor", "retirer un consentement", "withdraw a consent")
    case = get_case_by_id(session, case_id=case_id)
    wanted = {"name": name, "face": face, "location": location}
    before = {flag: granted(case, flag) for flag in FLAGS}
    after = {flag: before[flag] if wanted[flag] is None else bool(wanted[flag]) for flag in FLAGS}
    new_aliases = _clean_terms(aliases, "aliases")
    new_places = _clean_terms(location_terms, "places")
    granting = [f for f in FLAGS if after[f] and not before[f]]
    withdrawing = [f for f in FLAGS if before[f] and not after[f]]
    dropped = [t for new, old in ((new_aliases, case.aliases), (new_places, case.location_terms)) if new is not None
               for t in (old or []) if t not in new]
    if granting or dropped:
        require(actor, "approver", "rendre un consentement ou retirer un nom ou un lieu surveillé",
                "grant a consent again or remove a name or place looked for")
    for flag in FLAGS:
        setattr(case, f"consent_{flag}", after[flag])
    if new_aliases is not None:
        case.aliases = new_aliases
    if new_places is not None:
        case.location_terms = new_places
    case.updated_at = utcnow()
    session.add(case)
    session.flush()
    held = sum(hold_breaking(session, case=case, flag=flag, actor=actor) for flag in withdrawn(case))
    released = sum(release_for(session, case=case, flag=flag, actor=actor) for flag in granting)
    published = {flag: published_breaking(session, case.id or 0, flag) for flag in withdrawing}
    audit(session, actor=actor, action="consent", target_type="case", target_id=case.slug,
          before=before, after=after, note=note.strip(), aliases=list(case.aliases or []),
          location_terms=list(case.location_terms or []), held=held, released=released,
          published={flag: [d.id for d in found] for flag, found in published.items()})
    return ConsentChange(case=case, withdrawn=withdrawing, granted=granting, held=held, released=released,
                         published=published)


def as_content(case: Case) -> dict[str, Any]:
    """The case's consent as a case file writes it (absent when all is granted and empty)."""
    data: dict[str, Any] = {}
    if withdrawn(case):
        data["consent"] = {flag: granted(case, flag) for flag in FLAGS}
    if case.aliases:
        data["aliases"] = list(case.aliases)
    if case.location_terms:
        data["location_terms"] = list(case.location_terms)
    return data


def published_rows(session: Session, *, case_id: int) -> dict[str, list[dict[str, Any]]]:
    """For each withdrawn flag of the case, the published deliveries that break it as the case
    page lists them: number, account, when, the link to the post (checked: ``safe_links``) or
    the address as plain text when it is not one the dashboard may link to."""
    from orchestrator.models import Account
    from orchestrator.services.safe_links import for_account

    case = session.get(Case, case_id)
    if case is None:
        return {}
    accounts: dict[int, Account] = {}
    out: dict[str, list[dict[str, Any]]] = {}
    for flag in withdrawn(case):
        rows = []
        for delivery in published_breaking(session, case_id, flag):
            if delivery.account_id not in accounts:
                accounts[delivery.account_id] = session.get(Account, delivery.account_id)  # type: ignore[assignment]
            account = accounts[delivery.account_id]
            rows.append({"delivery_id": delivery.id, "post_id": delivery.post_id,
                         "account": account.name if account else "", "published_at": delivery.published_at,
                         "link": for_account(delivery.platform_url, account) if account else None,
                         "url": delivery.platform_url})
        out[flag] = rows
    return out
