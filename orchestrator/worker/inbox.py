"""The inbox's fetcher: the replies to our posts and the mentions of our accounts, on every
healthy account whose platform has an inbox (``channel.inbox``), within each account's rate
budget, shared with publishing and listening.

It is a :class:`~orchestrator.worker.listen.Listener` with one stream per account,
``services.inbox.STREAM``, resumed from its cursor (stored in ``listen_cursor`` with the page's
items, in one transaction: a crash re-reads at most the page in flight, and the item's unique key
records it once). After downtime it pages (``InboxPage.more``) up to ``inbox_max_pages`` pages an
account per pass; the rest waits for the next pass. Every call takes its tokens from the bucket
of ``channel.inbox_endpoint`` (else the answers' endpoint) only while that leaves
``listen_reserve`` of it for publishing, as listening does; the calls a page says it made beyond
are charged after it. Publishing comes first (:meth:`Listener.give_way`).

Each pass also marks ``done`` the items whose reply was published (``inbox.settle_replies``) and
purges the texts and handles past the retention period (``inbox.purge``, docs/privacy.md).
Nothing of an item's text or author is ever logged: the log says how many.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from typing import Any

from sqlmodel import col, select

from channels.base import (
    AuthError,
    Channel,
    ChannelError,
    InboxPage,
    ListeningUnavailable,
    RateLimited,
)
from orchestrator import budgets, secrets
from orchestrator.db import read_scope, retry_db, session_scope
from orchestrator.models import Account, Campaign
from orchestrator.services import inbox, listening
from orchestrator.services.auth import NotFound
from orchestrator.services.campaigns import current_campaign
from orchestrator.timeutil import utcnow
from orchestrator.worker.listen import Listener, _error

log = logging.getLogger("porte_voix.worker")


@dataclasses.dataclass
class InboxReport:
    new: int = 0
    duplicates: int = 0
    flagged: int = 0
    calls: int = 0
    pages: int = 0
    settled: int = 0
    purged: int = 0
    held_for_budget: list[str] = dataclasses.field(default_factory=list)
    errors: list[tuple[str, dict[str, str]]] = dataclasses.field(default_factory=list)
    unavailable: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"new": self.new, "duplicates": self.duplicates, "flagged": self.flagged, "calls": self.calls,
                "pages": self.pages, "settled": self.settled, "purged": self.purged,
                "held_for_budget": self.held_for_budget, "unavailable": self.unavailable,
                "errors": [{"account": a, **e} for a, e in self.errors]}


def has_inbox(channel: Channel) -> bool:
    return type(channel).inbox is not Channel.inbox


class InboxFetcher(Listener):
    def fetch(self, now: dt.datetime | None = None) -> InboxReport:
        """One pass over every healthy account; then settle the answered items and purge."""
        report = InboxReport()
        report.settled = retry_db(self._settle, "settle inbox replies")
        report.purged = retry_db(functools.partial(self._purge_inbox, now), "purge inbox")
        try:
            key = listening.listening_key(self.settings)
        except secrets.SecretKeyError as exc:
            log.warning("inbox skipped: %s", exc)
            return report
        with read_scope(self.engine) as session:
            try:
                campaign: Campaign | None = current_campaign(session)
            except NotFound:
                campaign = None
            accounts = list(session.exec(select(Account).where(col(Account.healthy).is_(True))
                                         .order_by(col(Account.kind), col(Account.name))))
            session.expunge_all()
        for account in accounts:
            try:
                channel = self.channels.get(account, "inbox")
            except Exception as exc:  # credentials unreadable with the key in force, no instance URL
                log.warning("inbox skipped for account %s: %s", account.name, exc)
                continue
            if not has_inbox(channel):
                continue
            retry_db(functools.partial(self._ensure_buckets, account), "inbox buckets")
            with self._polling(account.id or 0, inbox.STREAM) as alone:
                if not alone:
                    continue
                row = retry_db(functools.partial(self._fresh, account.id or 0, inbox.STREAM), "inbox cursor")
                if listening.unavailable(row):
                    report.unavailable.append(account.name)
                    continue
                self._account(account, campaign, channel, row.cursor if row is not None else None, key, now, report)
            try:
                self.channels.keep_session(account, "inbox", channel)
            except Exception:
                pass
        settled = retry_db(self._settle, "settle inbox replies")
        report.settled += settled
        if report.new or report.errors or report.purged:
            log.info("inbox: %s new items (%s to review first), %s calls, %s errors, %s purged", report.new,
                     report.flagged, report.calls, len(report.errors), report.purged,
                     extra={"event": "inbox_pass", "new": report.new, "calls": report.calls})
        return report

    def _account(self, account: Account, campaign: Campaign | None, channel: Any, cursor: str | None, key: bytes,
                 now: dt.datetime | None, report: InboxReport) -> None:
        endpoint = channel.inbox_endpoint or channel.listen_answers_endpoint or channel.listen_endpoint
        size = channel.listen_page_size or None
        for _ in range(max(1, self.settings.inbox_max_pages)):
            ahead = max(1, int(channel.listen_calls_ahead()))
            self.give_way()
            if not retry_db(functools.partial(self._take, account.id, endpoint, now or utcnow(), ahead), "inbox budget"):
                report.held_for_budget.append(account.name)
                return
            report.calls += ahead
            try:
                page: InboxPage = channel.inbox(cursor=cursor, limit=size)
            except ChannelError as exc:
                infos = channel.take_rate_info()
                error = _error(exc)
                retry_db(functools.partial(self._inbox_failed, account, error, exc, endpoint, infos, now), "inbox error")
                if isinstance(exc, ListeningUnavailable):
                    report.unavailable.append(account.name)
                else:
                    report.errors.append((account.name, error))
                log.warning("inbox on %s: %s", account.name, exc.text("en"))
                return
            infos = channel.take_rate_info()
            extra = max(0, page.calls - ahead)
            report.calls += extra
            self.give_way()
            recorded = retry_db(functools.partial(self._record_inbox, account, campaign, page, key, infos, now,
                                                  endpoint, extra), "record inbox")
            report.pages += 1
            report.new += recorded.new
            report.duplicates += recorded.duplicates
            report.flagged += recorded.flagged
            cursor = page.cursor
            if not page.more:
                return

    def _record_inbox(self, account: Account, campaign: Campaign | None, page: InboxPage, key: bytes,
                      infos: list[Any], now: dt.datetime | None, endpoint: str, extra: int) -> inbox.Recorded:
        with session_scope(self.engine) as session:
            recorded = inbox.record_page(session, account=account, campaign=campaign, page=page, key=key, now=now)
            self._charge(session, account.id or 0, endpoint, extra, utcnow())
            budgets.correct(session, account_id=account.id or 0, infos=infos)
        return recorded

    def _inbox_failed(self, account: Account, error: dict[str, str], exc: ChannelError, endpoint: str,
                      infos: list[Any], now: dt.datetime | None) -> None:
        with session_scope(self.engine) as session:
            listening.note_error(session, account_id=account.id or 0, stream=inbox.STREAM, code=error["code"],
                                 fr=error["fr"], en=error["en"], calls=1, now=now)
            budgets.correct(session, account_id=account.id or 0, infos=infos)
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                budgets.block_until(session, account_id=account.id or 0, endpoint=endpoint, until=exc.reset_at)
            if isinstance(exc, AuthError):
                pass  # publishing's own calls decide whether the account is unhealthy

    def _settle(self) -> int:
        with session_scope(self.engine) as session:
            return inbox.settle_replies(session)

    def _purge_inbox(self, now: dt.datetime | None) -> int:
        with session_scope(self.engine) as session:
            return inbox.purge(session, settings=self.settings, now=now)
