"""The listener: reads the public's posts carrying the edition's terms, and the answers to our
own posts, on every healthy account, within each account's rate budget.

One pass (:meth:`Listener.listen`) walks every stream of every account — one per term
("tag:<term>", "keyword:<term>") plus "answers" — from where it stopped, a page at a time, at most
``listen_max_pages`` pages per stream (the rest of a backlog waits for the next pass). Each page
is stored with the stream's cursor in one transaction (services/listening.record_page), so a
crash anywhere re-reads at most the page in flight, and the keyed post hash makes re-reading it
harmless.

A channel whose listening reads shared edges rather than searching (``listen_reads_all``:
Facebook's Page edges hold every post, whatever its words) gets ONE stream for all the terms,
"page", read through ``channel.listen_all`` with every term in the order of
``listening.terms_of`` (the cases' terms first, then the edition's): each post is recorded under
the first term it matched, so each post is read and counted once, not once per term. The first
time, the stream starts from where the per-term cursors it replaces were
(``channel.listen_all_resume``: Facebook takes the oldest of their marks; what that reads again is
recognised by the post key).

Within an account, the streams least recently polled (good or failed) go first, never polled
ones before all: a budget that allows only some streams a pass rotates through all of them over
the passes instead of always stopping at the same term.

Publishing comes first: every platform call spends one token of the stream's bucket
(``channel.listen_endpoint`` for the terms, ``listen_answers_endpoint`` for the answers,
``listen_count_endpoint`` for count requests; the buckets an account lacks — one added before
these endpoints existed — are created at the start of the pass). Before a call the worker takes
what the call will cost at least (``channel.listen_calls_ahead()``), and only while that leaves
``listen_reserve`` of the bucket's capacity; after it, the calls the page says it really made
(``ListenPage.calls``: finding our user id, a post's further comments) are charged too, down to
an empty bucket, never below. Listening stops for that account as soon as the reserve is reached.

A term's first poll (no cursor yet) asks ``channel.listen_start``: the platforms that bill reads
(X) start from now instead of reading their whole recent window, and where the platform counts
without reading (``count_term``), the term's recent volume is counted once a day on a
"count:<term>" stream, for the account page's estimate of what reading it costs.

Two workers never poll the same stream at once on PostgreSQL: a stream is polled under a
session advisory lock on (account, stream), taken without waiting (a stream another worker is
polling is skipped in this pass). Whatever happens, a post is stored and counted once: the
``public_post`` key is unique and the responses only grow by the rows actually inserted. A refusal (rate limit, 5xx, network) is written on the
stream for the account page and tried again at the next pass; a platform that does not give this
account search (:class:`~channels.base.ListeningUnavailable`) marks the stream unavailable, and it
is not polled again until the account is re-tested.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import AuthError, ChannelError, ListeningUnavailable, ListenPage, RateLimited
from orchestrator import budgets, secrets
from orchestrator.db import read_scope, retry_db, session_scope
from orchestrator.models import CLAIMABLE_SQL, Account, Campaign, Case, Delivery, ListenCursor
from orchestrator.services import accounts as accounts_service
from orchestrator.services import listening
from orchestrator.services.auth import NotFound
from orchestrator.services.campaigns import current_campaign
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels

log = logging.getLogger("porte_voix.worker")

#: How often a term's volume is counted where the platform counts without reading, and over what.
COUNT_EVERY = dt.timedelta(days=1)
COUNT_WINDOW = dt.timedelta(days=7)


@dataclasses.dataclass
class ListenReport:
    """What one pass did, for the command line and the logs."""

    campaign: str = ""
    #: (case slug or "" for the edition's own terms, platform) -> kind -> new posts
    found: dict[tuple[str, str], dict[str, int]] = dataclasses.field(default_factory=dict)
    calls: int = 0
    pages: int = 0
    duplicates: int = 0
    answers: int = 0
    #: account name -> streams left for the next pass to keep the publishing reserve
    held_for_budget: dict[str, int] = dataclasses.field(default_factory=dict)
    #: (account name, stream, {"code", "fr", "en"})
    errors: list[tuple[str, str, dict[str, str]]] = dataclasses.field(default_factory=list)
    unavailable: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: (account name, stream) another worker was polling at the same time (left to it)
    busy: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: (account name, stream) -> public posts carrying the term over the last days, counted
    counted: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)

    @property
    def new(self) -> int:
        return sum(sum(kinds.values()) for kinds in self.found.values())

    def as_dict(self) -> dict[str, Any]:
        cases: dict[str, dict[str, dict[str, int]]] = {}
        for (case, platform), kinds in sorted(self.found.items()):
            cases.setdefault(case, {})[platform] = dict(sorted(kinds.items()))
        return {
            "campaign": self.campaign, "new": self.new, "cases": cases, "calls": self.calls, "pages": self.pages,
            "duplicates": self.duplicates, "answers": self.answers, "held_for_budget": self.held_for_budget,
            "errors": [{"account": a, "stream": s, **e} for a, s, e in self.errors],
            "unavailable": [{"account": a, "stream": s} for a, s in self.unavailable],
            "busy": [{"account": a, "stream": s} for a, s in self.busy],
            "counted": [{"account": a, "stream": s, "posts": n} for (a, s), n in sorted(self.counted.items())],
        }


#: Seconds a due delivery is still "about to be claimed" for :meth:`Listener.give_way` (less than
#: one look of the dispatcher at its default pace); older, it waits for something else.
JUST_DUE = 0.2
#: The next claimable delivery's due time (the claim order's partial index answers it).
_DELIVERY = Delivery.__table__  # type: ignore[attr-defined]
_NEXT_DUE = (sa.select(sa.func.min(_DELIVERY.c.due_at))
             .where(sa.text(f"delivery.{CLAIMABLE_SQL}"), _DELIVERY.c.due_at >= sa.bindparam("after")))


def _last_polled(row: ListenCursor | None) -> tuple[int, float]:
    """Sort key: never polled first, then the longest since the last poll, good or failed (a
    stream that keeps failing does not stay first and take the whole budget every pass)."""
    times = [t for t in (row.last_ok_at, row.last_error_at) if t is not None] if row is not None else []
    if not times:
        return (0, 0.0)
    return (1, max((t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp() for t in times))


def _error(exc: ChannelError) -> dict[str, str]:
    code = "unavailable" if isinstance(exc, ListeningUnavailable) else exc.kind
    return {"code": code, "fr": exc.text("fr"), "en": exc.text("en")}


class Listener:
    def __init__(self, engine: sa.Engine, settings: Settings, *, channels: Channels,
                 publishing: Callable[[], bool] = lambda: False, stopping: threading.Event | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = channels
        self._publishing = publishing
        self._stopping = stopping or threading.Event()

    def give_way(self) -> float:
        """Publishing first: before each listening page (and its write), wait while the publisher
        has accounts at work, or while a delivery falls due within ``listen_yield_ahead_seconds``
        (its claim and outcome need the database, and on SQLite its single writer: a page written
        just then would make it late), at most ``listen_yield_seconds``, so listening is slowed,
        never stopped, by a steady stream of due posts. Returns the seconds waited."""
        started = time.monotonic()
        deadline = started + max(0.0, self.settings.listen_yield_seconds)
        next_due, checked = None, -1.0
        while time.monotonic() < deadline and not self._stopping.is_set():
            if self._publishing():
                self._stopping.wait(0.02)
                continue
            if time.monotonic() - checked >= 0.1:  # a read, at most ten a second
                next_due, checked = self._next_due(), time.monotonic()
            if next_due is None:
                break
            due_in = (next_due - utcnow()).total_seconds()
            # only what falls due now, or within the window; a delivery overdue by more than the
            # claimer's next look waits for something else (its account's pace, a held case)
            if not -JUST_DUE < due_in < self.settings.listen_yield_ahead_seconds:
                break
            self._stopping.wait(min(0.05, max(0.01, due_in)))
        return time.monotonic() - started

    def _next_due(self) -> dt.datetime | None:
        """When the next claimable delivery falls due (None when there is none, or the engine is
        not there: the unit tests of :meth:`give_way`)."""
        if self.engine is None or self.settings.listen_yield_ahead_seconds <= 0:
            return None
        try:
            with self.engine.connect() as connection:
                value = connection.execute(_NEXT_DUE, {"after": utcnow() - dt.timedelta(seconds=JUST_DUE)}).scalar()
        except sa.exc.SQLAlchemyError:
            return None
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    # ------------------------------------------------------------------------------------------

    def listen(self, now: dt.datetime | None = None) -> ListenReport:
        """One pass over every healthy account and stream of the current edition."""
        report = ListenReport()
        try:
            key = listening.listening_key(self.settings)
        except secrets.SecretKeyError as exc:
            log.warning("listening skipped: %s", exc)
            return report
        with read_scope(self.engine) as session:
            try:
                campaign = current_campaign(session)
            except NotFound:
                return report
            terms = listening.terms_of(session, campaign)
            accounts = list(session.exec(select(Account).where(col(Account.healthy).is_(True))
                                         .order_by(col(Account.kind), col(Account.name))))
            slugs = {c.id: c.slug for c in session.exec(select(Case).where(Case.campaign_id == campaign.id))}
            cursors = {(r.account_id, r.stream): r for r in session.exec(select(ListenCursor))}
            session.expunge_all()
        report.campaign = campaign.slug
        retry_db(self._purge, "purge public posts")  # past editions' hashes (docs/privacy.md)
        streams: list[tuple[str, listening.Term | None]] = [(t.stream, t) for t in terms]
        streams.append((listening.ANSWERS, None))
        for account in accounts:
            try:
                channel = self.channels.get(account, "listen")
            except Exception as exc:  # credentials unreadable with the key in force, no instance URL
                log.warning("listening skipped for account %s: %s", account.name, exc)
                continue
            retry_db(functools.partial(self._ensure_buckets, account), "listen buckets")
            mine = list(streams)
            resume: str | None = None
            if channel.listen_reads_all:
                # shared edges, not a search: one stream for all the terms (never one per term)
                mine = [(listening.PAGE, None)] if terms else []
                mine.append((listening.ANSWERS, None))
                if (account.id, listening.PAGE) not in cursors:
                    resume = channel.listen_all_resume([
                        r.cursor for (a, s), r in sorted(cursors.items(), key=lambda i: i[0][1])
                        if a == account.id and s.startswith(("tag:", "keyword:")) and r.cursor])
            ours: list[str] = []
            if channel.listen_quotes_of:
                ours = retry_db(functools.partial(self._ours, account.id or 0, now or utcnow(),
                                                  int(getattr(channel, "QUOTED_POSTS", 10))), "recent posts")
                if ours:
                    mine.append((listening.QUOTES, None))
            # the least recently polled first, so a budget too tight for every stream in one
            # pass rotates through them all over the passes (the sort is stable: never polled
            # streams keep the order of terms_of, cases first)
            mine.sort(key=lambda item: _last_polled(cursors.get((account.id, item[0]))))  # type: ignore[arg-type]
            for index, (stream, term) in enumerate(mine):
                row = cursors.get((account.id, stream))  # type: ignore[arg-type]
                if listening.unavailable(row):
                    report.unavailable.append((account.name, stream))
                    continue
                endpoint = (channel.listen_answers_endpoint or channel.listen_endpoint) if stream == listening.ANSWERS \
                    else channel.listen_endpoint
                with self._polling(account.id or 0, stream) as alone:
                    if not alone:
                        report.busy.append((account.name, stream))
                        continue
                    row = retry_db(functools.partial(self._fresh, account.id or 0, stream), "listen cursor")
                    outcome = self._stream(account, campaign, channel, endpoint, stream, term, row, key, now, report,
                                           slugs, ours, all_terms=terms if stream == listening.PAGE else None,
                                           resume=resume)
                    if outcome == "done" and term is not None and channel.listen_counts:
                        outcome = self._count(account, channel, term, cursors.get((account.id, f"count:{term.stream}")),  # type: ignore[arg-type]
                                              now or utcnow(), report)
                if outcome == "budget":
                    report.held_for_budget[account.name] = len(mine) - index
                    break
                if outcome == "auth":
                    break
            try:
                self.channels.keep_session(account, "listen", channel)
            except Exception:
                pass
        if report.new or report.errors:
            log.info("listening: %s new public posts, %s calls, %s errors", report.new, report.calls,
                     len(report.errors), extra={"event": "listen_pass", "new": report.new, "calls": report.calls})
        return report

    # ------------------------------------------------------------------------------------------

    def _stream(self, account: Account, campaign: Campaign, channel: Any, endpoint: str, stream: str,
                term: listening.Term | None, row: ListenCursor | None, key: bytes, now: dt.datetime | None,
                report: ListenReport, slugs: dict[int | None, str], ours: list[str] | None = None, *,
                all_terms: list[listening.Term] | None = None, resume: str | None = None) -> str:
        """Page through one stream; "done", "budget" (reserve reached) or "auth"/"error".
        ``all_terms``: the stream reads shared edges for all of them (:data:`listening.PAGE`),
        starting, the first time, from ``resume`` (where the per-term cursors it replaces were)."""
        cursor = row.cursor if row is not None else None
        if all_terms is not None and row is None:
            cursor = resume
        by_label = {listening.term_key(t.label): t for t in all_terms} if all_terms is not None else None
        size = channel.listen_page_size or None
        pages = max(1, self.settings.listen_max_pages)
        taken = 0  # tokens already taken for the next call, in the previous page's write
        for page_no in range(pages):
            ahead = max(1, int(channel.listen_calls_ahead()))
            if taken < ahead:
                self.give_way()
                if not retry_db(functools.partial(self._take, account.id, endpoint, now or utcnow(), ahead - taken),
                                "listen budget"):
                    if taken:
                        retry_db(functools.partial(self._give_back, account.id or 0, endpoint, taken), "listen budget")
                    return "budget"
            elif taken > ahead:
                retry_db(functools.partial(self._give_back, account.id or 0, endpoint, taken - ahead), "listen budget")
            report.calls += ahead
            try:
                if all_terms is not None:
                    page: ListenPage = channel.listen_all([(t.text, t.hashtag) for t in all_terms], cursor=cursor,
                                                          limit=size)
                elif stream == listening.QUOTES:
                    page = channel.listen_quotes(list(ours or []), cursor=cursor, limit=size)
                elif term is None:
                    page = channel.listen_answers(cursor=cursor, limit=size)
                elif cursor is None:
                    page = channel.listen_start(term.text, hashtag=term.hashtag, limit=size)
                else:
                    page = channel.listen(term.text, hashtag=term.hashtag, cursor=cursor, limit=size)
            except ChannelError as exc:
                infos = channel.take_rate_info()
                error = _error(exc)
                retry_db(functools.partial(self._failed, account, stream, error, exc, endpoint, infos, now),
                         "listen error")
                if isinstance(exc, ListeningUnavailable):
                    report.unavailable.append((account.name, stream))
                else:
                    report.errors.append((account.name, stream, error))
                (log.info if isinstance(exc, ListeningUnavailable) else log.warning)(
                    "listening %s on %s: %s", stream, account.name, exc.text("en"))
                return "auth" if isinstance(exc, AuthError) else "error"
            infos = channel.take_rate_info()
            extra = max(0, page.calls - ahead)
            report.calls += extra
            self.give_way()  # the page's write, too, after what is going out
            # one write per page: the posts, the cursor, and the tokens of the next call (when
            # there is one), so listening holds SQLite's single writer half as often
            want = ahead if page.more and page_no + 1 < pages else 0
            recorded, taken = retry_db(functools.partial(self._record, account, campaign, stream, page, term, key,
                                                         infos, now, endpoint, extra, by_label, want),
                                       "record public posts")
            report.pages += 1
            report.duplicates += recorded.duplicates
            report.answers += recorded.answers
            for case_id, kinds in recorded.by_case.items():
                slot = report.found.setdefault((slugs.get(case_id, "") if case_id else "", account.kind), {})
                for kind, n in kinds.items():
                    slot[kind] = slot.get(kind, 0) + n
            cursor = page.cursor
            if not page.more:
                return "done"
            if want and not taken:
                return "budget"
        return "done"

    def _purge(self) -> int:
        with session_scope(self.engine) as session:
            return listening.purge(session)

    def _take(self, account_id: int | None, endpoint: str, now: dt.datetime, n: int = 1) -> bool:
        """``n`` tokens for a listening call, only while the bucket keeps its publishing reserve."""
        with session_scope(self.engine) as session:
            return self._take_in(session, account_id, endpoint, now, n)

    def _take_in(self, session: Any, account_id: int | None, endpoint: str, now: dt.datetime, n: int) -> bool:
        bucket = budgets.read_bucket(session, account_id=account_id or 0, endpoint=endpoint)
        if bucket is None:
            return True
        if bucket.blocked_until is not None and bucket.blocked_until > now:
            return False
        budgets.refill(bucket, now)
        if bucket.tokens - n < self.settings.listen_reserve * bucket.capacity:
            return False
        bucket.tokens -= n
        budgets.write_bucket(session, bucket)
        return True

    def _give_back(self, account_id: int, endpoint: str, n: int) -> None:
        """Tokens taken for a call that was not made (the rest of its take was refused)."""
        with session_scope(self.engine) as session:
            bucket = budgets.read_bucket(session, account_id=account_id, endpoint=endpoint)
            if bucket is not None:
                bucket.tokens = min(float(bucket.capacity), bucket.tokens + n)
                budgets.write_bucket(session, bucket)

    @staticmethod
    def _charge(session: Any, account_id: int, endpoint: str, n: int, now: dt.datetime) -> None:
        """Calls already made beyond what was taken before them: spent, down to an empty bucket."""
        if n <= 0:
            return
        bucket = budgets.read_bucket(session, account_id=account_id, endpoint=endpoint)
        if bucket is None:
            return
        budgets.refill(bucket, now)
        bucket.tokens = max(0.0, bucket.tokens - n)
        budgets.write_bucket(session, bucket)

    def _ensure_buckets(self, account: Account) -> None:
        """The buckets of the account's platform it does not have yet (an account added before
        the listening endpoints existed), so listening is never unlimited by mistake."""
        with session_scope(self.engine) as session:
            budgets.ensure_buckets(session, account_id=account.id or 0,
                                   limits=accounts_service.rate_limits_of(account))

    def _ours(self, account_id: int, now: dt.datetime, limit: int) -> list[str]:
        """Our posts of the platform's recent-search window whose quotes are looked for."""
        with read_scope(self.engine) as session:
            return listening.recent_posts(session, account_id=account_id, since=now - COUNT_WINDOW, limit=limit)

    def _fresh(self, account_id: int, stream: str) -> ListenCursor | None:
        """The stream's cursor as it is now (another worker may have moved it since the pass began)."""
        with read_scope(self.engine) as session:
            row = session.exec(select(ListenCursor).where(ListenCursor.account_id == account_id,
                                                          ListenCursor.stream == stream)).first()
            if row is not None:
                session.expunge(row)
            return row

    @contextmanager
    def _polling(self, account_id: int, stream: str) -> Iterator[bool]:
        """True while this worker alone polls the stream (PostgreSQL advisory lock, not waited
        for); always True on SQLite (one writer; the unique post key still counts a post once)."""
        if self.engine.dialect.name != "postgresql":
            yield True
            return
        key = zlib.crc32(stream.encode()) - (1 << 31)  # a signed 32-bit integer
        with self.engine.connect() as connection:
            got = bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:a, :b)"),
                                          {"a": account_id, "b": key}).scalar())
            connection.commit()
            try:
                yield got
            finally:
                if got:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:a, :b)"), {"a": account_id, "b": key})
                    connection.commit()

    def _count(self, account: Account, channel: Any, term: listening.Term, row: ListenCursor | None,
               now: dt.datetime, report: ListenReport) -> str:
        """Once a day, the term's public posts of the last days, counted without reading them."""
        if row is not None and row.last_ok_at is not None and now - row.last_ok_at < COUNT_EVERY:
            return "done"
        stream = f"count:{term.stream}"
        endpoint = channel.listen_count_endpoint or channel.listen_endpoint
        if not retry_db(functools.partial(self._take, account.id, endpoint, now), "listen budget"):
            return "budget"
        since = now - COUNT_WINDOW
        try:
            posts = channel.count_term(term.text, hashtag=term.hashtag, since=since)
        except ChannelError as exc:
            infos = channel.take_rate_info()
            error = _error(exc)
            report.calls += 1
            retry_db(functools.partial(self._failed, account, stream, error, exc, endpoint, infos, now), "count error")
            report.errors.append((account.name, stream, error))
            return "auth" if isinstance(exc, AuthError) else "error"
        infos = channel.take_rate_info()
        calls = 0 if posts is None else 1  # None: the platform does not count for this account (no call)
        report.calls += calls
        if posts is not None:
            report.counted[(account.name, term.stream)] = posts
        retry_db(functools.partial(self._counted, account, stream, posts, since, now, calls, infos), "count")
        return "done"

    def _counted(self, account: Account, stream: str, posts: int | None, since: dt.datetime, now: dt.datetime,
                 calls: int, infos: list[Any]) -> None:
        with session_scope(self.engine) as session:
            listening.note_count(session, account_id=account.id or 0, stream=stream, posts=posts, since=since,
                                 now=now, calls=calls)
            budgets.correct(session, account_id=account.id or 0, infos=infos)

    def _record(self, account: Account, campaign: Campaign, stream: str, page: ListenPage,
                term: listening.Term | None, key: bytes, infos: list[Any], now: dt.datetime | None,
                endpoint: str = "", extra: int = 0, by_label: dict[str, listening.Term] | None = None,
                want: int = 0) -> tuple[Any, int]:
        """The page's posts and cursor; and, when ``want``, the next call's tokens (how many
        were taken: ``want`` or 0)."""
        with session_scope(self.engine) as session:
            recorded = listening.record_page(session, account=account, campaign=campaign, stream=stream, page=page,
                                             term=term, key=key, now=now, terms=by_label)
            self._charge(session, account.id or 0, endpoint, extra, utcnow())
            budgets.correct(session, account_id=account.id or 0, infos=infos)
            taken = want if want and self._take_in(session, account.id, endpoint, now or utcnow(), want) else 0
        return recorded, taken

    def _failed(self, account: Account, stream: str, error: dict[str, str], exc: ChannelError, endpoint: str,
                infos: list[Any], now: dt.datetime | None) -> None:
        with session_scope(self.engine) as session:
            listening.note_error(session, account_id=account.id or 0, stream=stream, code=error["code"],
                                 fr=error["fr"], en=error["en"], calls=1, now=now)
            budgets.correct(session, account_id=account.id or 0, infos=infos)
            if isinstance(exc, RateLimited) and exc.reset_at is not None:
                budgets.block_until(session, account_id=account.id or 0, endpoint=endpoint, until=exc.reset_at)
