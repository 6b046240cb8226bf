"""The media library: images uploaded once per case, each with alt text in both languages and a
credit line, then picked by posts as ``{"media_id": N, "alt": "..."}``.

Uploads are checked by opening them with Pillow (the file must really be a PNG, JPEG, GIF or
WebP image, whatever its name says) and by size. The bytes go in the database by default (the
embedded SQLite file is then the whole backup), or in files under ``PORTEVOIX_MEDIA_DIR`` with
``PORTEVOIX_MEDIA_STORAGE=disk``. An image used by a post that may still go out cannot be deleted.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Campaign, Case, Delivery, MediaBlob, MediaItem, Post
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow

#: Pillow's format name -> the MIME type and file extension we store.
FORMATS = {"PNG": ("image/png", "png"), "JPEG": ("image/jpeg", "jpg"), "GIF": ("image/gif", "gif"),
           "WEBP": ("image/webp", "webp")}
#: Beyond this an image is refused as a likely decompression bomb (no platform takes it anyway).
MAX_PIXELS = 50_000_000


def inspect(data: bytes, *, max_bytes: int | None = None) -> tuple[str, str, int, int]:
    """(mime type, extension, width, height) of a real image, or a ServiceError saying why not."""
    from PIL import Image, UnidentifiedImageError

    limit = max_bytes if max_bytes is not None else get_settings().media_max_bytes
    if not data:
        raise ServiceError("Le fichier est vide.", "The file is empty.")
    if len(data) > limit:
        from channels.base import number

        size, most = len(data) / 1e6, limit / 1e6
        raise ServiceError(f"Image trop lourde : {number(size, 'fr', 1)} Mo (au plus {number(most, 'fr', 1)} Mo).",
                           f"Image too large: {number(size, 'en', 1)} MB (at most {number(most, 'en', 1)} MB).")
    refused = ServiceError("Ce fichier n'est pas une image PNG, JPEG, GIF ou WebP lisible.",
                           "This file is not a readable PNG, JPEG, GIF or WebP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt, (width, height) = probe.format, probe.size
                probe.verify()  # checks the structure without decoding every pixel
            with Image.open(io.BytesIO(data)) as image:  # verify() leaves the first one unusable
                image.load()  # a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise refused from None
    if fmt not in FORMATS:
        raise refused
    if width * height > MAX_PIXELS:
        raise ServiceError("Image trop grande (plus de 50 mégapixels).", "Image too large (over 50 megapixels).")
    mime, ext = FORMATS[fmt]
    return mime, ext, width, height


def _storage() -> str:
    value = get_settings().media_storage.strip().lower() or "db"
    if value not in ("db", "disk"):
        raise ServiceError(f"PORTEVOIX_MEDIA_STORAGE doit valoir db ou disk, pas « {value} ».",
                           f"PORTEVOIX_MEDIA_STORAGE must be db or disk, not '{value}'.")
    return value


def _bilingual_alt(alt: dict[str, str]) -> dict[str, str]:
    cleaned = {lang: str(alt.get(lang, "")).strip() for lang in ("fr", "en")}
    missing = [lang for lang, text in cleaned.items() if not text]
    if missing:
        raise ServiceError("Le texte alternatif est obligatoire en français et en anglais : il décrit l'image "
                           "aux personnes qui ne la voient pas.",
                           "Alt text is required in French and English: it describes the image to people who "
                           "cannot see it.")
    return cleaned


def add_image(session: Session, *, actor: Actor, campaign_id: int, case_slug: str | None, data: bytes,
              filename: str, alt: dict[str, str], credit: str = "", shows_face: bool = False) -> MediaItem:
    """Check and store one image. The same bytes twice for the same case are refused: the
    library keeps one copy and posts share it."""
    require(actor, "editor", "ajouter une image", "add an image")
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Édition {campaign_id} introuvable.", f"Edition {campaign_id} not found.")
    case = None
    if case_slug:
        case = session.exec(select(Case).where(Case.campaign_id == campaign_id, Case.slug == case_slug)).first()
        if case is None:
            raise NotFound(f"Cas inconnu « {case_slug} ».", f"Unknown case '{case_slug}'.")
    alt = _bilingual_alt(alt)
    mime, ext, width, height = inspect(data)
    digest = hashlib.sha256(data).hexdigest()
    twin = session.exec(select(MediaItem).where(
        MediaItem.campaign_id == campaign_id, MediaItem.sha256 == digest,
        MediaItem.case_id == case.id if case else col(MediaItem.case_id).is_(None))).first()
    if twin is not None:
        raise ServiceError(f"Cette image est déjà dans la bibliothèque (n° {twin.id}, « {twin.filename} »).",
                           f"This image is already in the library (no. {twin.id}, '{twin.filename}').")
    storage = _storage()
    item = MediaItem(campaign_id=campaign_id, case_id=case.id if case else None, filename=Path(filename).name[:255],
                     mime_type=mime, size=len(data), width=width, height=height, sha256=digest, alt=alt,
                     credit=credit.strip(), storage=storage, uploaded_by=actor.username, shows_face=bool(shows_face))
    session.add(item)
    session.flush()
    if storage == "db":
        session.add(MediaBlob(media_id=item.id, data=data))  # type: ignore[arg-type]
    else:
        # Named by content, so a rolled-back upload leaves at worst an orphan file, never a
        # row pointing at a file that is not there.
        relative = f"{campaign.slug}/{digest}.{ext}"
        target = get_settings().resolved_media_dir() / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            tmp = target.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        item.path = relative
        session.add(item)
    audit(session, actor=actor, action="media_add", target_type="media", target_id=item.id,
          case=case_slug or "", size=len(data), mime=mime, storage=storage, shows_face=bool(shows_face))
    return item


def get_item(session: Session, *, media_id: int) -> MediaItem:
    item = session.get(MediaItem, media_id)
    if item is None:
        raise NotFound(f"Image {media_id} introuvable dans la bibliothèque.", f"Image {media_id} not found in the library.")
    return item


def read_bytes(session: Session, item: MediaItem) -> bytes:
    if item.storage == "db":
        blob = session.get(MediaBlob, item.id)
        if blob is None:
            raise NotFound(f"Contenu de l'image {item.id} introuvable.", f"Content of image {item.id} not found.")
        return blob.data
    path = get_settings().resolved_media_dir() / item.path
    if not path.is_file():
        raise ServiceError(f"Fichier de l'image {item.id} introuvable : {path}", f"File of image {item.id} not found: {path}")
    return path.read_bytes()


def list_images(session: Session, *, campaign_id: int, case_slug: str | None = None,
                with_shared: bool = True) -> list[MediaItem]:
    """The edition's images; with ``case_slug``, that case's (and, with ``with_shared``, those
    for the whole edition)."""
    query = select(MediaItem).where(MediaItem.campaign_id == campaign_id)
    if case_slug:
        case = session.exec(select(Case).where(Case.campaign_id == campaign_id, Case.slug == case_slug)).first()
        case_id = case.id if case else -1
        condition = col(MediaItem.case_id) == case_id
        if with_shared:
            condition = sa.or_(condition, col(MediaItem.case_id).is_(None))
        query = query.where(condition)
    return list(session.exec(query.order_by(col(MediaItem.id))))


def update_image(session: Session, *, actor: Actor, media_id: int, alt: dict[str, str], credit: str,
                 shows_face: bool | None = None) -> MediaItem:
    """New alt text or credit. Posts copied the alt text when they picked the image; approved
    ones keep theirs (what was approved goes out).

    ``shows_face``: the image shows the face of its case's person (``services/consent.py``).
    Marking it is stricter: the queued posts using it that break a withdrawn face consent are
    held. Unmarking it lets them out: that takes an approver."""
    from orchestrator.services import consent

    require(actor, "editor", "modifier une image", "edit an image")
    item = get_item(session, media_id=media_id)
    before = item.shows_face
    if shows_face is not None and before and not shows_face:
        require(actor, "approver", "dire qu'une image ne montre pas le visage de la personne",
                "say an image does not show the person's face")
    item.alt = _bilingual_alt(alt)
    item.credit = credit.strip()
    if shows_face is not None:
        item.shows_face = bool(shows_face)
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    held = released = 0
    if item.shows_face != before:
        for case in consent.restricted_cases(session, campaign_id=item.campaign_id):
            if consent.granted(case, "face") or (item.case_id is not None and item.case_id != case.id):
                continue
            if item.shows_face:
                held += consent.hold_breaking(session, case=case, flag="face", actor=actor)
            else:
                released += consent.release_for(session, case=case, flag="face", actor=actor)
    audit(session, actor=actor, action="media_edit", target_type="media", target_id=item.id,
          **({"shows_face": item.shows_face, "held": held, "released": released} if item.shows_face != before else {}))
    return item


def users_of(session: Session, *, media_id: int) -> list[tuple[Post, list[str]]]:
    """Posts that picked this image, each with the states of its deliveries."""
    item = get_item(session, media_id=media_id)
    # The JSON list is matched as text first (portable across SQLite and PostgreSQL), then
    # checked exactly in Python: "media_id": 1 must not match 12.
    candidates = session.exec(select(Post).where(
        Post.campaign_id == item.campaign_id, sa.cast(Post.images, sa.Text).like('%"media_id"%')))
    found = []
    for post in candidates:
        if any(isinstance(i, dict) and i.get("media_id") == item.id for i in post.images):
            states_ = list(session.exec(select(Delivery.state).where(Delivery.post_id == post.id)))
            found.append((post, states_))
    return found


def blocking_posts(session: Session, *, media_id: int) -> list[int]:
    """Posts that may still go out with this image: one of their deliveries is not final, or
    (drafts and posts awaiting approval or scheduling) none exists yet."""
    blocking: list[int] = []
    for post, states_ in users_of(session, media_id=media_id):
        if post.status == "rejected" and not states_:
            continue
        if not states_ or any(s not in states.FINAL for s in states_):
            blocking.append(post.id)  # type: ignore[arg-type]
    return blocking


def delete_image(session: Session, *, actor: Actor, media_id: int) -> None:
    require(actor, "editor", "supprimer une image", "delete an image")
    item = get_item(session, media_id=media_id)
    blocking = blocking_posts(session, media_id=media_id)
    if blocking:
        ids = ", ".join(str(i) for i in blocking)
        raise ServiceError(f"Image encore utilisée par une publication qui peut partir (n° {ids}) : annulez-la ou "
                           "changez son image d'abord.",
                           f"Image still used by a post that may go out (no. {ids}): cancel it or change its "
                           "image first.")
    blob = session.get(MediaBlob, item.id)
    if blob is not None:
        session.delete(blob)
    path = item.path
    audit(session, actor=actor, action="media_delete", target_type="media", target_id=item.id,
          filename=item.filename, sha256=item.sha256)
    session.delete(item)
    session.flush()
    if item.storage == "disk" and path:
        still = session.exec(select(MediaItem.id).where(MediaItem.path == path)).first()
        if still is None:  # another case may hold the same bytes under the same name
            target = get_settings().resolved_media_dir() / path
            # only once the row is gone for good: a rollback must find its file still there
            sa.event.listen(session, "after_commit", lambda _s: target.unlink(missing_ok=True), once=True)


def reference(item: MediaItem, language: str) -> dict[str, Any]:
    """What a post stores when it picks this image."""
    return {"media_id": item.id, "alt": item.alt.get(language) or item.alt.get("fr", ""),
            "filename": item.filename, "mime_type": item.mime_type}
