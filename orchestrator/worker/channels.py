"""The worker's platform clients: one per account and purpose, shared by the publisher, the
reconciler and the metrics poller, and a new platform session (Bluesky) kept for the next start."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa

from channels.base import Channel
from channels.registry import channel_class
from orchestrator.db import read_scope, session_scope
from orchestrator.models import Account
from orchestrator.services.accounts import build_channel, store_session
from orchestrator.settings import Settings

log = logging.getLogger("porte_voix.worker")

Factory = Callable[[Account], Channel]

#: Credentials a client stays current for: the ones it was built from and those it stored since
#: (a Bluesky session is refreshed every two hours or so), the oldest forgotten first.
_KEPT = 8


class Channels:
    def __init__(self, engine: sa.Engine, settings: Settings, factory: Factory | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self._factory = factory or self._build
        #: per (account, purpose): the fingerprints the client is current for, and the client
        self._cache: dict[tuple[int, str], tuple[list[tuple[str, str, str]], Channel]] = {}
        self._sessions: dict[tuple[int, str], str | None] = {}
        self._lock = threading.Lock()

    def _build(self, account: Account) -> Channel:
        http = None
        if channel_class(account.kind).uses_requests_session and (account.is_sandbox or _loopback(account.base_url)):
            import requests

            # No proxy or .netrc lookup per request: there is no proxy to find on this host.
            http = requests.Session()
            http.trust_env = False
        return build_channel(account, timeout=self.settings.request_timeout, session=http)

    def get(self, account: Account, purpose: str) -> Channel:
        """One client per account and purpose (publishing, metrics and reconciling run in
        different threads), rebuilt when the account's credentials or settings change.

        A client that saved a new platform session (:meth:`keep_session`) changed the stored
        credentials itself: it stays current for both the credentials it was built from and
        the ones it wrote, so a caller holding the account as read before the save (a batch
        reads it once) does not rebuild it, and a rebuilt Bluesky client does not log in
        again (createSession: 30 per 5 min) for every post of a batch."""
        assert account.id is not None
        key = (account.id, purpose)
        fingerprint = _fingerprint(account)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and fingerprint in cached[0]:
                return cached[1]
            channel = self._factory(account)
            self._cache[key] = ([fingerprint], channel)
            self._sessions[key] = getattr(channel, "session_string", None)
            return channel

    def account(self, account_id: int) -> Account:
        """The account as stored now (its credentials decide which client is current)."""
        with read_scope(self.engine) as session:
            account = session.get(Account, account_id)
        assert account is not None
        return account

    def keep_session(self, account: Account, purpose: str, channel: Channel) -> None:
        """Keep a new platform session (Bluesky) in the account's encrypted credentials, so other
        processes and the next start reuse it instead of logging in again (createSession is
        scarce). Never raises: a session not saved only costs a login later."""
        key = (account.id or 0, purpose)
        current = getattr(channel, "session_string", None)
        if not current or self._sessions.get(key) == current:
            return
        try:
            with session_scope(self.engine) as session:
                token = store_session(session, account_id=account.id or 0, session_string=current)
        except Exception:
            log.warning("could not keep the session of account %s", account.name)
            return
        with self._lock:
            self._sessions[key] = current
            cached = self._cache.get(key)
            if token and cached is not None and cached[1] is channel:
                # the same client, now also matching the credentials it stored
                _, base_url, options = cached[0][-1]
                cached[0][:] = [*cached[0][-(_KEPT - 1):], (token, base_url, options)]


def _fingerprint(account: Account) -> tuple[str, str, str]:
    return (account.credentials, str(account.base_url), repr(sorted((account.options or {}).items())))


def _loopback(url: str | None) -> bool:
    if not url:
        return False
    return (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}
