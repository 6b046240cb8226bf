"""Images attached to posts (the media library grows here)."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import Any

from channels.base import Image
from orchestrator.services.auth import ServiceError


def load_image(item: dict[str, Any]) -> Image:
    """An image reference stored on a post: inline base64 data or a file path, with alt text."""
    alt = str(item.get("alt", ""))
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
