"""HTTP plumbing shared by the ``requests``-based clients (tweepy, facebook-sdk, Mastodon.py)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class RedirectAdapter(HTTPAdapter):
    """Send requests meant for a platform's host to another base URL (sandbox, proxy).

    requests signs (OAuth 1.0a) in ``prepare_request``, before ``send``: the signature stays the
    one computed over the platform's real URL, and ``X-Original-Host`` tells the receiver which.
    """

    def __init__(self, target: str, **kwargs: object) -> None:
        self.target = urlsplit(target.rstrip("/"))
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def send(self, request: requests.PreparedRequest, **kwargs):  # type: ignore[no-untyped-def,override]
        assert request.url is not None
        parts = urlsplit(request.url)
        request.headers["X-Original-Host"] = parts.netloc
        path = self.target.path + parts.path
        request.url = urlunsplit(
            (self.target.scheme, self.target.netloc, path, parts.query, parts.fragment)
        )
        return super().send(request, **kwargs)


def redirected_session(
    base_url: str | None, hosts: tuple[str, ...], session: requests.Session | None = None
) -> requests.Session:
    """A session that reaches ``base_url`` for each of ``hosts`` (or the hosts themselves)."""
    session = session or requests.Session()
    if base_url:
        adapter = RedirectAdapter(base_url, pool_maxsize=32)
        for host in hosts:
            session.mount(f"https://{host}/", adapter)
    return session
