"""Links that come from the platforms (or that a person pasted) are checked before the dashboard
shows them as links: an address a platform returned, or a compromised instance made up, must not
turn a click in our dashboard into a visit to a phishing page or a ``javascript:`` URL.

A link passes when it is ``https`` on a host known for the account's kind (x.com, facebook.com,
bsky.app …) or on the host of the account's own server address (a Mastodon instance); a sandbox
account may also use plain ``http`` on its own address. Anything else is shown as plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from channels.registry import ByKind

#: Where each platform shows its posts and profiles.
#: (declared by each channel as ``public_hosts``; a Mastodon account has only its own instance).
KNOWN_HOSTS: Mapping[str, frozenset[str]] = ByKind(lambda cls: cls.public_hosts)
_MAX_LENGTH = 2048


def _host(url: str) -> str | None:
    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower() or None
    except ValueError:
        return None


def checked_link(url: str | None, *, kind: str, base_url: str | None = None, sandbox: bool = False) -> str | None:
    """``url`` when it may be shown as a link for an account of this kind, else None."""
    if not url or len(url) > _MAX_LENGTH:
        return None
    if any(ord(c) < 33 or c in "\\\x7f" for c in url):  # spaces, control characters, backslashes
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is not a number, a broken IPv6 address
        return None
    if parts.username is not None or parts.password is not None:  # https://x.com@evil.example/
        return None
    host = _host(url)
    if host is None:
        return None
    own = _host(base_url) if base_url else None
    if parts.scheme == "https" and port in (None, 443) and (host in KNOWN_HOSTS.get(kind, ()) or host == own):
        return url
    if sandbox and own is not None and host == own and parts.scheme in ("http", "https"):
        try:
            same_port = port == urlsplit(base_url or "").port
        except ValueError:
            return None
        return url if same_port else None
    return None


def for_account(url: str | None, account: Any) -> str | None:
    """The same check for an ``Account`` row (anything with kind, base_url and is_sandbox)."""
    return checked_link(url, kind=account.kind, base_url=account.base_url, sandbox=bool(account.is_sandbox))
