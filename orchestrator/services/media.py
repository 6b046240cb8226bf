"""Images attached to posts: inline base64 data, a file path, or an image of the media library
(``{"media_id": N, "alt": ...}``, see :mod:`orchestrator.services.media_library`)."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from sqlmodel import Session

from channels.base import Image
from orchestrator.services.auth import ServiceError


def load_image(item: dict[str, Any], session: Session | None = None) -> Image:
    """An image reference stored on a post, with its alt text. A library image is read through
    ``session`` when given (the caller's transaction), else through a short session of its own."""
    alt = str(item.get("alt", ""))
    if "media_id" in item:
        return _library_image(item, alt, session)
    if "data" in item:
        data = base64.b64decode(item["data"])
        mime = item.get("mime_type", "image/jpeg")
        name = item.get("filename", "image")
    elif "path" in item:
        path = Path(item["path"])
        if not path.is_file():
            raise ServiceError(f"Image introuvable : {path}", f"Image not found: {path}")
        data = path.read_bytes()
        mime = item.get("mime_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        name = path.name
    else:
        raise ServiceError("Image sans contenu.", "Image without content.")
    return Image(data=data, mime_type=mime, alt=alt, filename=name)


def _library_image(item: dict[str, Any], alt: str, session: Session | None) -> Image:
    from orchestrator.services import media_library

    try:
        media_id = int(item["media_id"])
    except (TypeError, ValueError):
        raise ServiceError(f"Référence d'image illisible : {item.get('media_id')!r}.",
                           f"Unreadable image reference: {item.get('media_id')!r}.") from None
    if session is None:
        from orchestrator import db

        with db.session_scope(db.get_engine()) as own:
            return _library_image(item, alt, own)
    found = media_library.get_item(session, media_id=media_id)
    data = media_library.read_bytes(session, found)
    return Image(data=data, mime_type=found.mime_type, alt=alt or found.alt.get("fr", ""), filename=found.filename)
