"""The worker's channels and what it does with a failed call (one decision per error class).

Safe retries: Bluesky (``publish_is_idempotent``: the record key is derived from the delivery) and
Mastodon (``retry_is_safe``: the ``Idempotency-Key`` is honoured for an hour) cannot make a second
post when the same ``PublishRequest.key`` is sent again. So an ambiguous outcome on those channels
goes straight back to the queue as ``retrying`` (outcome ``ambiguous_safe_retry``) instead of
waiting for a look at the timeline: the retry itself settles the question, sooner and with one
call. On Mastodon this holds only while the first try is less than the window old (minus a
margin); later, and on X and Facebook always, an ambiguous outcome is ``unconfirmed`` and
reconciled first. When retries run out the delivery is ``unconfirmed``, never ``failed``: it may
be out there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import AmbiguousError, Channel, ChannelError, PublishRequest, RateLimited
from orchestrator import budgets, outcomes, states
from orchestrator.db import read_scope, session_scope
from orchestrator.models import Account, Delivery, RateBucket
from orchestrator.outcomes import ForAccount, Result
from orchestrator.services.accounts import build_channel, mark_unhealthy, store_session
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.worker")
T = TypeVar("T")

#: Keep this much of a platform's idempotency window unused: the retry must land well inside it.
WINDOW_MARGIN = dt.timedelta(minutes=10)


@dataclasses.dataclass
class Claimed:
    delivery_id: int
    account_id: int
    request: PublishRequest
    lease_until: dt.datetime
    attempts: int
    first_try_at: dt.datetime | None = None
    was_ambiguous: bool = False


def retry_db(fn: Callable[[], T], what: str, *, tries: int = 3) -> T:
    """Run a short transaction again when the database connection was lost (a restarted server,
    a killed backend): the pool hands out a fresh, pinged connection the next time."""
    for attempt in range(1, tries + 1):
        try:
            return fn()
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DBAPIError):
            if attempt == tries:
                raise
            log.warning("%s: database error, trying again (%d/%d)", what, attempt, tries - 1)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


class OutcomesMixin:
    engine: sa.Engine
    settings: Settings
    id: str
    postgres: bool

    # ------------------------------------------------------------------------------------------
    # channels

    def _init_channels(self, factory: Any) -> None:
        self._channels: dict[tuple[int, str], tuple[tuple[str, str, str], Channel]] = {}
        self._sessions: dict[tuple[int, str], str | None] = {}
        self._channels_lock = threading.Lock()
        self._channel_factory = factory or self._build_channel

    def _build_channel(self, account: Account) -> Channel:
        http = None
        if account.kind != "bluesky" and (account.is_sandbox or _loopback(account.base_url)):
            import requests

            # No proxy or .netrc lookup per request: there is no proxy to find on this host.
            http = requests.Session()
            http.trust_env = False
        return build_channel(account, timeout=self.settings.request_timeout, session=http)

    def channel(self, account: Account, purpose: str) -> Channel:
        """One client per account and purpose (publishing, metrics and reconciling run in
        different threads), rebuilt when the account's credentials or settings change."""
        assert account.id is not None
        key = (account.id, purpose)
        fingerprint = (account.credentials, str(account.base_url), repr(sorted((account.options or {}).items())))
        with self._channels_lock:
            cached = self._channels.get(key)
            if cached is not None and cached[0] == fingerprint:
                return cached[1]
            channel = self._channel_factory(account)
            self._channels[key] = (fingerprint, channel)
            self._sessions[key] = getattr(channel, "session_string", None)
            return channel

    def _load_account(self, account_id: int) -> Account:
        with read_scope(self.engine) as session:
            account = session.get(Account, account_id)
        assert account is not None
        return account

    def _persist_session(self, account: Account, purpose: str, channel: Channel) -> None:
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
        with self._channels_lock:
            self._sessions[key] = current
            cached = self._channels.get(key)
            if token and cached is not None:  # same client, now matching the stored credentials
                self._channels[key] = ((token, *cached[0][1:]), cached[1])  # type: ignore[assignment]

    # ------------------------------------------------------------------------------------------
    # failures

    def _safe_to_retry(self, item: Claimed, channel: Channel, now: dt.datetime) -> bool:
        if getattr(channel, "publish_is_idempotent", False):
            return True
        window = getattr(channel, "idempotency_window", None)
        if getattr(channel, "retry_is_safe", False) and window is not None:
            first = item.first_try_at or now
            return now + dt.timedelta(seconds=self.settings.backoff_base * 2) < first + window - WINDOW_MARGIN
        return False

    def _outside_idempotency_window(self, item: Claimed, channel: Channel) -> bool:
        """A Mastodon retry after a possible first post, once the key may have been forgotten."""
        window = getattr(channel, "idempotency_window", None)
        if not (item.was_ambiguous and getattr(channel, "retry_is_safe", False) and window is not None):
            return False
        if getattr(channel, "publish_is_idempotent", False):
            return False
        return utcnow() > (item.first_try_at or utcnow()) + window - WINDOW_MARGIN

    def _record_failure(self, item: Claimed, account: Account, exc: BaseException, duration: int,
                        channel: Channel) -> ForAccount:
        """Record the outcome of a failed call (the table of :mod:`orchestrator.outcomes`); what
        it means for the account's other deliveries."""
        return retry_db(lambda: self._record_failure_once(item, account, exc, duration, channel),
                        "record failure", tries=4)

    def _record_failure_once(self, item: Claimed, account: Account, exc: BaseException, duration: int,
                             channel: Channel) -> ForAccount:
        now = utcnow()
        result = Result.of(exc)
        if not isinstance(exc, ChannelError):  # a bug of ours or the SDK's: we cannot know whether it posted
            exc = AmbiguousError(f"unexpected error: {exc!r}")
        reason = exc.message("fr")
        infos = channel.take_rate_info()
        with session_scope(self.engine) as session:
            query = select(Delivery).where(Delivery.id == item.delivery_id)
            if self.postgres:
                query = query.with_for_update()
            delivery = session.exec(query).one()
            if delivery.state != states.PUBLISHING or delivery.worker_id != self.id:
                log.warning("delivery %s changed while publishing (now %s); outcome %s dropped",
                            delivery.id, delivery.state, exc.kind)
                return ForAccount.GOES_ON
            attempts = delivery.attempts + 1
            then = outcomes.decide(result, outcomes.Facts(
                attempts=attempts, max_attempts=self.settings.max_attempts,
                safe_retry=self._safe_to_retry(item, channel, now),
                tried_before=delivery.attempts > 0 or item.was_ambiguous))
            reset_at = exc.reset_at if isinstance(exc, RateLimited) else None
            due = outcomes.due_at(then.due, now=now, current=delivery.due_at, attempts=attempts,
                                  settings=self.settings, reset_at=reset_at)
            charged = attempts if then.counts else delivery.attempts
            states.transition(session, delivery, outcomes.target_state(then, charged), actor=self.id,
                              outcome=then.outcome, detail=reason, duration_ms=duration, worker_id=None,
                              lease_until=None, last_error=reason, last_error_kind=exc.kind, attempts=charged,
                              due_at=due)
            if then.account is ForAccount.PAUSED:
                budgets.block_until(session, account_id=item.account_id, endpoint="publish", until=due)
            elif then.account is ForAccount.UNHEALTHY:
                fresh = session.get(Account, account.id)
                assert fresh is not None
                mark_unhealthy(session, account=fresh, reason=reason)
            budgets.correct(session, account_id=item.account_id, infos=infos)
        return then.account

    def _release(self, delivery_ids: list[int]) -> None:
        """Give back claimed deliveries that were not started (held if the account is down)."""
        if not delivery_ids:
            return
        with session_scope(self.engine) as session:
            query = select(Delivery).where(col(Delivery.id).in_(delivery_ids)).order_by(col(Delivery.id))
            if self.postgres:
                query = query.with_for_update()
            for delivery in session.exec(query):
                if delivery.state != states.PUBLISHING or delivery.worker_id != self.id:
                    continue
                account = session.get(Account, delivery.account_id)
                if account is not None and not account.healthy:
                    states.transition(session, delivery, states.HELD, actor=self.id, outcome="held",
                                      worker_id=None, lease_until=None,
                                      held_reason=str(states.HeldReason.account(account.last_error)))
                    continue
                # behind a platform's "stop", the rest waits for the same reset
                bucket = session.exec(select(RateBucket).where(RateBucket.account_id == delivery.account_id,
                                                               RateBucket.endpoint == "publish")).first()
                due = delivery.due_at
                if bucket is not None and bucket.blocked_until is not None and bucket.blocked_until > due:
                    due = bucket.blocked_until
                states.transition(session, delivery, states.requeue_state(delivery.attempts), actor=self.id, outcome="released",
                                  worker_id=None, lease_until=None, due_at=due)


def _loopback(url: str | None) -> bool:
    if not url:
        return False
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in {"127.0.0.1", "localhost", "::1"}
