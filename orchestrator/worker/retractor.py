"""The retractor: deletes the posts of retraction jobs (:mod:`orchestrator.services.retractions`)
with the same guarantees as publishing.

- A job is claimed like a delivery: ``queued`` and due, its account healthy, within the
  account's deletion budget (``Channel.delete_endpoint``, the platform's own limit, apart from
  publishing); what the budget cannot cover waits for its next token. PostgreSQL: rows locked
  ``FOR UPDATE SKIP LOCKED``; SQLite: one writer.
- A claimed job is ``deleting``, leased to this worker. A worker that dies mid-call leaves the
  lease to expire: :meth:`Retractor.sweep` queues the job again, and the next try deletes again
  (harmless: a post already gone counts as deleted).
- The outcome is recorded in one transaction: ``retracted`` (and ``Delivery.retracted_at``),
  ``failed`` with the reason and the post's address to remove it by hand (a refusal, a platform
  that cannot delete), or queued again: after the platform's reset on a throttle (no try
  charged), with back-off on a server error or a lost answer, until ``max_attempts``. A refused
  token marks the account unhealthy and the job waits for it. A recorded outcome is final: the
  job is never claimed again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import AuthError, Channel, ChannelError, PermanentError, RateInfo, RateLimited
from channels.registry import UnknownKind, channel_class
from orchestrator import budgets
from orchestrator.db import retry_db, session_scope
from orchestrator.models import Account, Delivery, RetractionJob
from orchestrator.outcomes import backoff
from orchestrator.services import retractions as r
from orchestrator.services.accounts import mark_unhealthy, rate_limits_of
from orchestrator.services.auth import Actor, audit
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels

log = logging.getLogger("porte_voix.worker")


@dataclasses.dataclass(frozen=True)
class Deletion:
    """A job this worker claimed: what to delete, on which account."""

    job_id: int
    account_id: int
    platform_ids: tuple[str, ...]
    attempts: int


class Retractor:
    def __init__(self, engine: sa.Engine, settings: Settings, worker_id: str, *, channels: Channels) -> None:
        self.engine = engine
        self.settings = settings
        self.id = worker_id
        self.postgres = engine.dialect.name == "postgresql"
        self.channels = channels

    # -- the loop --------------------------------------------------------------------------------

    def run_due(self, now: dt.datetime | None = None, *, max_rounds: int = 1000) -> int:
        """Sweep expired leases, then claim and run what is due until nothing is (or
        ``max_rounds``); how many jobs were run."""
        done = 0
        self.sweep(now)
        for _ in range(max_rounds):
            claimed = retry_db(functools.partial(self.claim, now), "retraction claim")
            if not claimed:
                break
            done += self.run(claimed)
        return done

    def run(self, claimed: list[Deletion]) -> int:
        """Each account's deletions in order, accounts side by side."""
        by_account: dict[int, list[Deletion]] = defaultdict(list)
        for deletion in claimed:
            by_account[deletion.account_id].append(deletion)
        threads = max(1, min(len(by_account), self.settings.publish_threads, 32))
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="retract") as pool:
            return sum(pool.map(self._run_account, by_account.values()))

    def _run_account(self, deletions: list[Deletion]) -> int:
        account = self.channels.account(deletions[0].account_id)
        for deletion in deletions:
            error: BaseException | None = None
            infos: list[RateInfo] = []
            channel: Channel | None = None
            try:
                channel = self.channels.get(account, "retract")
                for platform_id in deletion.platform_ids:
                    channel.delete(platform_id)
            except Exception as exc:  # every failure is recorded, never lost
                error = exc
            if channel is not None:
                infos = channel.take_rate_info()
                self.channels.keep_session(account, "retract", channel)
            retry_db(functools.partial(self.record, deletion, error, infos), "record retraction")
            if isinstance(error, (RateLimited, AuthError)):
                # the rest of this account's batch waits too: give it back untouched
                rest = [d.job_id for d in deletions[deletions.index(deletion) + 1:]]
                retry_db(functools.partial(self.release, rest, error), "release retractions")
                return deletions.index(deletion) + 1
        return len(deletions)

    # -- claiming ----------------------------------------------------------------------------------

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Jobs whose worker died mid-deletion go back to the queue (deleting again is harmless)."""
        now = now or utcnow()
        with session_scope(self.engine) as session:
            query = select(RetractionJob).where(RetractionJob.state == r.DELETING,
                                                col(RetractionJob.lease_until) < now)
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            expired = list(session.exec(query))
            for job in expired:
                log.warning("retraction job %s: lease of %s expired; queued again", job.id, job.worker_id)
                r.move(job, r.QUEUED, worker_id=None, lease_until=None, due_at=now)
                session.add(job)
        return len(expired)

    def claim(self, now: dt.datetime | None = None, per_account: int | None = None) -> list[Deletion]:
        """Due jobs of healthy accounts, each account's within its deletion budget."""
        now = now or utcnow()
        # an account's batch runs one call after another: it must end well within the lease
        s = self.settings
        per_account = per_account or max(1, min(s.claim_batch, 100, int(s.lease_seconds // (2 * (s.request_timeout + 1)))))
        claimed: list[Deletion] = []
        with session_scope(self.engine) as session:
            j, a = RetractionJob.__table__, Account.__table__  # type: ignore[attr-defined]
            query = (sa.select(j.c.id, j.c.account_id).select_from(j.join(a, a.c.id == j.c.account_id))
                     .where(j.c.state == r.QUEUED, j.c.due_at <= now, a.c.healthy == sa.true())
                     .order_by(j.c.due_at, j.c.id).limit(per_account * 64))
            if self.postgres:
                query = query.with_for_update(skip_locked=True, of=j)
            by_account: dict[int, list[int]] = defaultdict(list)
            for job_id, account_id in session.connection().execute(query):
                if len(by_account[account_id]) < per_account:
                    by_account[account_id].append(job_id)
            lease = now + dt.timedelta(seconds=self.settings.lease_seconds)
            for account_id in sorted(by_account):
                ids = by_account[account_id]
                allowed, next_free = self._budget(session, account_id, len(ids), now)
                if ids[allowed:]:
                    session.execute(j.update().where(j.c.id.in_(ids[allowed:]))
                                    .values(due_at=next_free or now + dt.timedelta(seconds=1)))
                for job in session.exec(select(RetractionJob).where(col(RetractionJob.id).in_(ids[:allowed]))
                                        .order_by(col(RetractionJob.id))):
                    delivery = session.get(Delivery, job.delivery_id)
                    assert delivery is not None and job.id is not None
                    r.move(job, r.DELETING, worker_id=self.id, lease_until=lease, attempts=job.attempts + 1)
                    session.add(job)
                    claimed.append(Deletion(job.id, account_id, tuple(r.delivery_platform_ids(delivery)),
                                            job.attempts))
        return claimed

    def _budget(self, session: Any, account_id: int, wanted: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How many deletions the account's budget allows now, and when the next token frees."""
        account = session.get(Account, account_id)
        try:
            endpoint = channel_class(account.kind).delete_endpoint
        except UnknownKind:
            return wanted, None  # the run says what is wrong with the account
        limit = rate_limits_of(account).get(endpoint)
        if limit is None:
            return wanted, None  # no deletion budget: the platform cannot delete (by hand)
        budgets.ensure_buckets(session, account_id=account_id, limits={endpoint: limit})
        bucket = budgets.read_bucket(session, account_id=account_id, endpoint=endpoint)
        if bucket is None:
            return wanted, None
        allowed, next_free = budgets.take(bucket, now, wanted)
        budgets.write_bucket(session, bucket)
        return allowed, next_free

    # -- recording ---------------------------------------------------------------------------------

    def record(self, deletion: Deletion, error: BaseException | None, infos: list[RateInfo]) -> None:
        """The outcome of one job, in one transaction (with the budget corrections it brought)."""
        now = utcnow()
        worker = Actor(self.id[:64], "admin", operator=True)
        with session_scope(self.engine) as session:
            query = select(RetractionJob).where(RetractionJob.id == deletion.job_id)
            if self.postgres:
                query = query.with_for_update()
            job = session.exec(query).one()
            account = session.get(Account, deletion.account_id)
            assert account is not None
            if infos:
                budgets.correct(session, account_id=account.id or 0, infos=infos)
            if job.state == r.QUEUED:
                # our lease ran out and the job was queued again, not yet taken: record the truth
                r.move(job, r.DELETING, worker_id=self.id)
            elif job.state != r.DELETING or job.worker_id != self.id:
                return  # recorded already, or another worker holds it now: its outcome stands
            if error is None:
                r.move(job, r.RETRACTED, worker_id=None, lease_until=None, done_at=now, error="", error_kind="")
                delivery = session.get(Delivery, job.delivery_id)
                assert delivery is not None
                if delivery.retracted_at is None:
                    delivery.retracted_at = now
                delivery.next_metrics_at = None  # the figures earned before are kept as they are
                session.add(delivery)
                audit(session, actor=worker, action="retracted", target_type="delivery", target_id=job.delivery_id,
                      retraction=job.retraction_id, account=account.name)
            else:
                self._failed(session, job, account, error, now, worker)
            session.add(job)

    def _failed(self, session: Any, job: RetractionJob, account: Account, error: BaseException,
                now: dt.datetime, worker: Actor) -> None:
        err = error if isinstance(error, ChannelError) else None
        text = err.text("fr") if err is not None else f"{type(error).__name__}: {error}"
        if isinstance(error, RateLimited):
            until = error.reset_at if error.reset_at and error.reset_at > now else now + dt.timedelta(seconds=60)
            endpoint = _endpoint(account)
            if endpoint:
                budgets.block_until(session, account_id=account.id or 0, endpoint=endpoint, until=until)
            r.move(job, r.QUEUED, worker_id=None, lease_until=None, due_at=until, attempts=max(0, job.attempts - 1),
                   error=text, error_kind="rate_limited")
            return
        if isinstance(error, AuthError):
            mark_unhealthy(session, account=account, reason=text)
            r.move(job, r.QUEUED, worker_id=None, lease_until=None, due_at=now, attempts=max(0, job.attempts - 1),
                   error=text, error_kind="auth")
            return
        if isinstance(error, PermanentError) or job.attempts >= self.settings.max_attempts:
            r.move(job, r.FAILED, worker_id=None, lease_until=None, done_at=now, error=text,
                   error_kind=err.kind if err is not None else "error")
            audit(session, actor=worker, action="retract_failed", target_type="delivery", target_id=job.delivery_id,
                  retraction=job.retraction_id, account=account.name, error=text, manual_url=job.manual_url or "")
            return
        # a server error, a lost answer, a broken connection: again after a while
        r.move(job, r.QUEUED, worker_id=None, lease_until=None,
               due_at=now + dt.timedelta(seconds=backoff(job.attempts, self.settings)), error=text,
               error_kind=err.kind if err is not None else "transient")

    def release(self, job_ids: list[int], error: BaseException) -> None:
        """Give back claimed jobs not started (the account is throttled or its token refused)."""
        if not job_ids:
            return
        now = utcnow()
        until = error.reset_at if isinstance(error, RateLimited) and error.reset_at else now
        with session_scope(self.engine) as session:
            for job in session.exec(select(RetractionJob).where(col(RetractionJob.id).in_(job_ids))
                                    .order_by(col(RetractionJob.id))):
                if job.state == r.DELETING and job.worker_id == self.id:
                    r.move(job, r.QUEUED, worker_id=None, lease_until=None, due_at=max(until, now),
                           attempts=max(0, job.attempts - 1))
                    session.add(job)


def _endpoint(account: Account) -> str | None:
    try:
        return channel_class(account.kind).delete_endpoint
    except UnknownKind:
        return None
