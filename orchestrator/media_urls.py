"""Signed, expiring public addresses for the images of posts, for platforms that fetch images
themselves instead of receiving their bytes (a channel whose ``needs_public_media`` is True).

An address is ``<PORTEVOIX_MEDIA_BASE_URL>/m/<ref>.<expires>.<digest>.<signature>.<ext>``:

- ``ref`` names what is served: ``12`` is image 12 of the media library, ``p34-0`` the first
  image of post 34 (an image kept inline on the post, or a file it names, read exactly as the
  worker reads it to publish);
- ``expires`` is a Unix time (``PORTEVOIX_MEDIA_URL_LIFETIME_SECONDS`` after signing);
- ``digest`` is the start of the SHA-256 of the bytes signed: if the image changed since (a post
  edited after the address was made), the address serves nothing;
- ``signature`` is an HMAC-SHA256 of all of the above and the extension, under a key derived from
  the encryption key in force (``orchestrator.secrets``: the key file or
  ``PORTEVOIX_SECRET_KEY``; during a rotation every key of the set verifies). The derived key is
  never written anywhere and never logged.

The service (``links serve``, and inside ``up``) answers ``404`` for anything it cannot verify
and ``410`` for a good signature past its time, with an empty body either way. What it serves is
only the image's bytes and its type: no file name, no alt text, nothing about the post, and no
path on the server is ever taken from the request.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from orchestrator.errors import ServiceError
from orchestrator.settings import Settings, get_settings

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlmodel import Session

    from channels.base import Image, PublishRequest

log = logging.getLogger("porte-voix.media")

PREFIX = "/m/"
_CONTEXT = b"porte-voix media address v1"
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
TOKEN = re.compile(
    r"^(?P<ref>[1-9][0-9]{0,11}|p[1-9][0-9]{0,11}-[0-9]{1,2})\.(?P<expires>[0-9]{1,12})\."
    r"(?P<digest>[A-Za-z0-9_-]{22})\.(?P<sig>[A-Za-z0-9_-]{43})\.(?P<ext>jpg|png|gif|webp|img)$"
)


class Refused(Exception):
    """Not served: ``status`` is 404 (unknown, malformed, forged, changed) or 410 (expired)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclasses.dataclass(frozen=True)
class Served:
    data: bytes
    mime_type: str


def library_ref(media_id: int) -> str:
    return str(int(media_id))


def post_ref(post_id: int, index: int) -> str:
    return f"p{int(post_id)}-{int(index)}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _digest(data: bytes) -> str:
    return _b64(hashlib.sha256(data).digest()[:16])


def _signing_keys(settings: Settings | None = None) -> list[bytes]:
    """One HMAC key per encryption key in force (current first), derived so that the encryption
    key itself never signs anything a stranger can see."""
    from orchestrator import secrets

    return [hmac.new(base64.urlsafe_b64decode(key), _CONTEXT, hashlib.sha256).digest()
            for key in secrets.load_keys(settings)]


def _message(ref: str, expires: int, digest: str, ext: str) -> bytes:
    return f"{ref}\n{expires}\n{digest}\n{ext}".encode()


def extension(mime_type: str) -> str:
    return EXTENSIONS.get(mime_type.lower(), "img")


def token_for(ref: str, data: bytes, mime_type: str, *, expires: int, settings: Settings | None = None) -> str:
    if not TOKEN.match(f"{ref}.0.{'A' * 22}.{'A' * 43}.img"):
        raise ValueError(f"not a media reference: {ref!r}")
    digest, ext = _digest(data), extension(mime_type)
    sig = hmac.new(_signing_keys(settings)[0], _message(ref, expires, digest, ext), hashlib.sha256).digest()
    return f"{ref}.{expires}.{digest}.{_b64(sig)}.{ext}"


def sign(ref: str, data: bytes, mime_type: str, *, base_url: str, now: float | None = None,
         lifetime: int | None = None, settings: Settings | None = None) -> str:
    """The public address of ``data`` (the bytes ``ref`` names), valid ``lifetime`` seconds."""
    settings = settings or get_settings()
    seconds = lifetime if lifetime is not None else settings.media_url_lifetime_seconds
    expires = int((now if now is not None else time.time()) + max(1, seconds))
    return base_url.rstrip("/") + PREFIX + token_for(ref, data, mime_type, expires=expires, settings=settings)


@dataclasses.dataclass(frozen=True)
class Verified:
    ref: str
    expires: int
    digest: str
    ext: str


def verify(token: str, *, now: float | None = None, settings: Settings | None = None) -> Verified:
    """The token's parts once its signature holds and its time has not passed; else Refused."""
    found = TOKEN.match(token)
    if found is None:
        raise Refused(404)
    ref, expires, digest, sig, ext = (found.group(k) for k in ("ref", "expires", "digest", "sig", "ext"))
    try:
        keys = _signing_keys(settings)
    except Exception:  # no key here (a misconfigured service): nothing can be verified
        raise Refused(404) from None
    message = _message(ref, int(expires), digest, ext)
    good = False
    for key in keys:  # every key is tried: the time taken says nothing about which one matched
        # compared as text: one signature has one spelling (base64's spare bits are not ignored)
        good |= hmac.compare_digest(_b64(hmac.new(key, message, hashlib.sha256).digest()), sig)
    if not good:
        raise Refused(404)
    if int(expires) < (now if now is not None else time.time()):
        raise Refused(410)
    return Verified(ref=ref, expires=int(expires), digest=digest, ext=ext)


def load(session: Session, ref: str) -> Served:
    """The bytes and type ``ref`` names, read as publishing reads them; Refused(404) if gone."""
    from orchestrator.models import Post
    from orchestrator.services import media_library
    from orchestrator.services.media import load_image

    try:
        if ref.startswith("p"):
            post_id, index = (int(part) for part in ref[1:].split("-"))
            post = session.get(Post, post_id)
            if post is None or not 0 <= index < len(post.images or []):
                raise Refused(404)
            image = load_image(post.images[index], session)
            return Served(image.data, image.mime_type)
        item = media_library.get_item(session, media_id=int(ref))
        return Served(media_library.read_bytes(session, item), item.mime_type)
    except (ServiceError, KeyError, TypeError, ValueError, OSError):
        raise Refused(404) from None


def serve(engine: sa.Engine, token: str, *, now: float | None = None, settings: Settings | None = None) -> Served:
    """What ``/m/<token>`` answers with, or Refused: the signature first (cheap), then the
    database, then the bytes against the signed digest."""
    from orchestrator import db

    verified = verify(token, now=now, settings=settings)
    with db.session_scope(engine) as session:
        served = load(session, verified.ref)
    if not hmac.compare_digest(_digest(served.data), verified.digest) \
            or extension(served.mime_type) != verified.ext:
        raise Refused(404)  # changed since it was signed: not what the platform was promised
    return served


def routes(engine: sa.Engine) -> list[Any]:
    """The ``/m/<token>`` route, mounted in the short-link service (orchestrator/links.py)."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    plain = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}

    async def media(request: Request) -> Response:
        try:
            served = await run_in_threadpool(serve, engine, request.path_params["token"])
        except Refused as refused:
            return Response(b"", status_code=refused.status, headers=plain)
        except Exception:  # the database is away: nothing to say to a stranger
            log.warning("media address not served: storage unavailable", exc_info=True)
            return Response(b"", status_code=503, headers=plain)
        headers = {**plain, "Content-Length": str(len(served.data)), "Content-Disposition": "inline"}
        body = b"" if request.method == "HEAD" else served.data
        return Response(body, media_type=served.mime_type, headers=headers)

    return [Route(PREFIX + "{token}", media, methods=["GET", "HEAD"])]


# -- the worker's side -----------------------------------------------------------------------------


def base_url_for(*, is_sandbox: bool, settings: Settings | None = None) -> str:
    """Where addresses for an account's images start; a ServiceError naming the setting when it
    is missing or is not an address the platform can reach."""
    from orchestrator.links import reachable_by_public

    settings = settings or get_settings()
    base = settings.media_base_url.strip().rstrip("/")
    if not base and is_sandbox:
        return settings.links_base_url.strip().rstrip("/")  # ``up`` serves /m/ there
    if not base:
        raise ServiceError(
            "Cette plateforme va chercher les images à une adresse publique : définissez PORTEVOIX_MEDIA_BASE_URL "
            "(l'adresse https publique du service de liens, voir docs/deploy.md), puis relancez la publication. "
            "(This platform fetches images from a public address: set PORTEVOIX_MEDIA_BASE_URL (the link "
            "service's public https address, see docs/deploy.md), then retry the delivery.)",
            "This platform fetches images from a public address: set PORTEVOIX_MEDIA_BASE_URL (the link "
            "service's public https address, see docs/deploy.md), then retry the delivery.")
    if not is_sandbox and not reachable_by_public(base):
        raise ServiceError(
            f"PORTEVOIX_MEDIA_BASE_URL ({base}) n'est pas une adresse https publique : la plateforme ne pourrait "
            f"pas y chercher les images. (PORTEVOIX_MEDIA_BASE_URL ({base}) is not a public https address: the "
            "platform could not fetch the images there.)",
            f"PORTEVOIX_MEDIA_BASE_URL ({base}) is not a public https address: the platform could not fetch the "
            "images there.")
    return base


def with_urls(images: tuple[Image, ...], items: list[dict[str, Any]], *, post_id: int, is_sandbox: bool,
              now: float | None = None, settings: Settings | None = None) -> tuple[Image, ...]:
    """``images`` (the post's, in order, as loaded from its stored ``items``) each with a freshly
    signed address: a library image by its number, any other by the post and its place."""
    settings = settings or get_settings()
    base = base_url_for(is_sandbox=is_sandbox, settings=settings)
    filled = []
    for index, image in enumerate(images):
        item = items[index] if index < len(items) else {}
        ref = library_ref(item["media_id"]) if isinstance(item, dict) and str(item.get("media_id", "")).isdigit() \
            else post_ref(post_id, index)
        filled.append(dataclasses.replace(image, url=sign(ref, image.data, image.mime_type, base_url=base,
                                                          now=now, settings=settings)))
    return tuple(filled)


def refreshed(request: PublishRequest, *, now: float | None = None, settings: Settings | None = None) -> PublishRequest:
    """``request`` with each image's address signed again from now, just before the call: a
    claimed batch can wait a while behind the platform's pace, and the address must outlive the
    platform's fetch. A request without addresses is returned as it is."""
    if not any(image.url for image in request.images):
        return request
    images = []
    for image in request.images:
        base, found, token = (image.url or "").rpartition(PREFIX)
        if not found or not base:
            images.append(image)
            continue
        ref = token.split(".", 1)[0]
        images.append(dataclasses.replace(image, url=sign(ref, image.data, image.mime_type, base_url=base, now=now,
                                                          settings=settings)))
    return dataclasses.replace(request, images=tuple(images))


def missing_for(kinds: set[str] | list[str], settings: Settings | None = None,
                language: str | None = None) -> str | None:
    """A note for ``check``/the account page when accounts of ``kinds`` need public media and no
    usable address is set, in ``language`` (both, French first, when None: ``status``); None when
    all is well."""
    from channels import registry
    from orchestrator.links import reachable_by_public

    settings = settings or get_settings()
    needing = sorted(k for k in kinds if k in registry.CHANNELS and registry.channel_class(k).needs_public_media)
    base = settings.media_base_url.strip()
    if not needing or (base and reachable_by_public(base)):
        return None
    names = ", ".join(registry.channel_class(k).platform_name for k in needing)
    fr = (f"Les comptes {names} ont besoin de PORTEVOIX_MEDIA_BASE_URL (adresse https publique du service de "
          "liens) pour publier des images.")
    en = (f"{names} accounts need PORTEVOIX_MEDIA_BASE_URL (the link service's public https address) to "
          "publish images.")
    return fr if language == "fr" else en if language == "en" else f"{fr} ({en})"
