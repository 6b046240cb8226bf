"""Signed, expiring image addresses (orchestrator/media_urls.py): what a valid address says, and
that every change to it (its time, its image, its bytes, its key) makes it worthless."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet

from orchestrator import media_urls
from orchestrator.media_urls import Refused, sign, verify
from orchestrator.settings import Settings

KEY = Fernet.generate_key().decode()
OTHER = Fernet.generate_key().decode()
NOW = 1_765_000_000.0
BASE = "https://lien.example.org"
DATA = b"\x89PNG\r\n\x1a\n image bytes"


def settings(key: str = KEY, **changes) -> Settings:
    return Settings(secret_key=key, media_base_url=BASE, **changes)


def token_of(url: str) -> str:
    assert url.startswith(BASE + "/m/")
    return url.removeprefix(BASE + "/m/")


def refused(token: str, *, now: float = NOW, key: str = KEY) -> int:
    with pytest.raises(Refused) as caught:
        verify(token, now=now, settings=settings(key))
    return caught.value.status


def test_a_signed_address_verifies_until_it_expires() -> None:
    url = sign("12", DATA, "image/png", base_url=BASE + "/", now=NOW, settings=settings())
    token = token_of(url)
    assert token.endswith(".png") and "//" not in url.removeprefix("https://")
    found = verify(token, now=NOW + 3599, settings=settings())
    assert (found.ref, found.expires, found.ext) == ("12", int(NOW) + 3600, "png")  # the default hour
    assert refused(token, now=NOW + 3601) == 410
    # a post's own image (inline on the post) by the post and its place
    assert verify(token_of(sign("p34-1", DATA, "image/jpeg", base_url=BASE, now=NOW, settings=settings())),
                  now=NOW, settings=settings()).ref == "p34-1"


def test_the_lifetime_is_a_setting() -> None:
    short = settings(media_url_lifetime_seconds=120)
    token = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=short))
    assert verify(token, now=NOW + 119, settings=short)
    assert refused(token, now=NOW + 121) == 410


@pytest.mark.parametrize("part", range(5), ids=["ref", "expires", "digest", "signature", "extension"])
def test_any_change_to_the_address_is_refused(part: int) -> None:
    token = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    pieces = token.split(".")
    changed = {0: "13", 1: str(int(pieces[1]) + 86400), 2: pieces[2][::-1],
               3: ("B" if pieces[3][0] == "A" else "A") + pieces[3][1:], 4: "jpg"}[part]
    pieces[part] = changed
    assert refused(".".join(pieces)) == 404


def test_another_media_id_is_refused_even_signed_at_the_same_moment() -> None:
    mine = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    theirs = token_of(sign("13", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    ref, rest = mine.split(".", 1)
    _, their_rest = theirs.split(".", 1)
    assert refused("13." + rest) == 404
    assert refused(ref + "." + their_rest) == 404
    assert refused("p12-0." + rest) == 404


def test_a_signature_has_one_spelling() -> None:
    """The last base64 character carries two spare bits a lenient decoder ignores: another
    spelling of the same bytes is still a changed address."""
    token = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    pieces = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(pieces[3][-1])
    pieces[3] = pieces[3][:-1] + alphabet[last ^ 1]  # same decoded bytes, other text
    assert base64.urlsafe_b64decode(pieces[3] + "=") == base64.urlsafe_b64decode(token.split(".")[3] + "=")
    assert refused(".".join(pieces)) == 404


def test_an_expired_address_with_a_bad_signature_says_nothing_more_than_not_found() -> None:
    token = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    pieces = token.split(".")
    pieces[3] = pieces[3][::-1]
    assert refused(".".join(pieces), now=NOW + 7200) == 404


def test_another_key_refuses_and_a_rotation_keeps_addresses_valid() -> None:
    token = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    assert refused(token, key=OTHER) == 404
    # during a rotation the key set is NEW,OLD: what OLD signed still verifies
    assert verify(token, now=NOW, settings=settings(f"{OTHER},{KEY}")).ref == "12"
    rotated = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings(f"{OTHER},{KEY}")))
    assert refused(rotated, key=KEY) == 404  # new addresses are signed with the new key


@pytest.mark.parametrize("token", [
    "", "12", "12.1.a.b.png", "../secret.key", "..%2fsecret.key", "0." + "1" * 10 + "." + "A" * 22 + "." + "A" * 43 + ".png",
    "12.1765003600." + "A" * 22 + "." + "A" * 43 + ".exe", "12.1765003600." + "A" * 22 + "." + "A" * 43 + ".png\n",
])
def test_malformed_tokens_are_not_found(token: str) -> None:
    assert refused(token) == 404


def test_no_key_in_force_refuses_without_an_error(tmp_path) -> None:
    token = token_of(sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings()))
    keyless = Settings(secret_key="", home=tmp_path, media_base_url=BASE)
    with pytest.raises(Refused) as caught:
        verify(token, now=NOW, settings=keyless)
    assert caught.value.status == 404


def test_the_encryption_key_is_not_the_signing_key_and_never_in_the_address() -> None:
    url = sign("12", DATA, "image/png", base_url=BASE, now=NOW, settings=settings())
    raw = base64.urlsafe_b64decode(KEY)
    assert KEY not in url and KEY.rstrip("=") not in url
    token = token_of(url)
    ref, expires, digest, sig, ext = token.split(".")
    message = f"{ref}\n{expires}\n{digest}\n{ext}".encode()
    signed_with_raw_key = base64.urlsafe_b64encode(hmac.new(raw, message, hashlib.sha256).digest()).rstrip(b"=").decode()
    assert sig != signed_with_raw_key  # a derived key signs, not the key that encrypts credentials
    assert media_urls._digest(DATA) == digest


def test_a_request_is_signed_again_just_before_the_call() -> None:
    from channels.base import Image, PublishRequest

    old = sign("12", DATA, "image/png", base_url=BASE, now=NOW - 3000, settings=settings())
    request = PublishRequest(key="k", text="t", images=(
        Image(data=DATA, mime_type="image/png", alt="a", url=old), Image(data=b"other", mime_type="image/png", alt="b")))
    fresh = media_urls.refreshed(request, now=NOW, settings=settings())
    assert fresh.images[1] == request.images[1]  # no address: none is made
    token = token_of(fresh.images[0].url)
    assert verify(token, now=NOW + 3599, settings=settings()).ref == "12"
    assert refused(token_of(old), now=NOW + 3599) == 410
    plain = PublishRequest(key="k", text="t", images=(Image(data=DATA, mime_type="image/png", alt="a"),))
    assert media_urls.refreshed(plain, settings=settings()) is plain
