"""The metrics poller: refreshes the figures of published posts, all of an account's due posts
in one ``fetch_metrics`` call, on a cadence that slows as a post ages."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import Metrics, RateInfo
from channels.registry import channel_class
from orchestrator import budgets, states
from orchestrator.db import retry_db, session_scope
from orchestrator.models import Account, Delivery, MetricSnapshot
from orchestrator.services import metrics_rollup
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels

log = logging.getLogger("porte_voix.worker")


FIGURES = ("likes", "shares", "replies", "quotes", "views", "saves")


def _figures(m: Metrics) -> dict[str, int | None]:
    return {name: getattr(m, name) for name in FIGURES}


def thread_metrics(part_ids: Sequence[str], by_pid: Mapping[str, Metrics]) -> Metrics | None:
    """A thread's figures as one delivery's: each figure summed over the parts the platform
    answered for (None where none gives it), less the thread's own replies: each part after the
    first is itself a reply (or a comment) the platform counts. None when no part was found."""
    found = [by_pid[pid] for pid in part_ids if pid in by_pid]
    if not found:
        return None
    sums: dict[str, int | None] = {}
    for name in FIGURES:
        values = [v for v in (getattr(m, name) for m in found) if v is not None]
        sums[name] = sum(values) if values else None
    if sums["replies"] is not None:
        sums["replies"] = max(0, sums["replies"] - (len(part_ids) - 1))
    return Metrics(platform_id=part_ids[0], **sums)


class MetricsPoller:
    def __init__(self, engine: sa.Engine, settings: Settings, *, channels: Channels) -> None:
        self.engine = engine
        self.settings = settings
        self.postgres = engine.dialect.name == "postgresql"
        self.channels = channels

    def next_poll(self, published_at: dt.datetime, now: dt.datetime) -> dt.datetime | None:
        age = (now - published_at).total_seconds()
        if age > self.settings.metrics_horizon_days * 86400:
            return None
        if age < self.settings.metrics_first_poll_seconds:
            return published_at + dt.timedelta(seconds=self.settings.metrics_first_poll_seconds)
        for up_to, every in self.settings.metrics_cadence:
            if age < up_to:
                return now + dt.timedelta(seconds=every)
        return now + dt.timedelta(days=1)

    def poll(self, now: dt.datetime | None = None, limit: int = 50_000) -> int:
        """Refresh every due figure, all of an account's posts in one ``fetch_metrics`` call
        (the channel splits it into the platform's largest batches): ceil(N / batch) requests."""
        now = now or utcnow()
        batches = retry_db(lambda: self._take_metrics(now, limit), "metrics claim")
        done = 0
        for account_id, items in batches.items():
            account = self.channels.account(account_id)
            channel = self.channels.get(account, "metrics")
            try:
                metrics = channel.fetch_metrics([pid for _, pids in items for pid in pids])
            except Exception as exc:  # never lets a metrics problem touch publishing
                log.warning("metrics for account %s failed: %s", account.name, exc)
                channel.take_rate_info()
                continue
            finally:
                self.channels.keep_session(account, "metrics", channel)
            infos = channel.take_rate_info()
            done += retry_db(functools.partial(self._record_metrics, account_id, items, metrics, infos, now),
                             "record metrics")
        return done

    def _take_metrics(self, now: dt.datetime, limit: int) -> dict[int, list[tuple[int, list[str]]]]:
        batches: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
        with session_scope(self.engine) as session:
            query = (select(Delivery).where(Delivery.state == states.PUBLISHED, col(Delivery.next_metrics_at) <= now,
                                            col(Delivery.platform_id).is_not(None),
                                            col(Delivery.retracted_at).is_(None))  # gone: figures kept as they were
                     .order_by(col(Delivery.next_metrics_at)).limit(limit))
            if self.postgres:
                query = query.with_for_update(skip_locked=True)
            by_account: dict[int, list[Delivery]] = defaultdict(list)
            for delivery in session.exec(query):
                by_account[delivery.account_id].append(delivery)
            kinds = dict(session.exec(select(Account.id, Account.kind).where(  # type: ignore[arg-type]
                col(Account.id).in_(list(by_account)))).all()) if by_account else {}
            for account_id in sorted(by_account):
                rows = by_account[account_id]
                # a thread: every part's figures (not Facebook's comments: their figures are not the
                # post's, and the post's already count what is said under it)
                every_part = not channel_class(kinds[account_id]).replies_under_root
                ids = sum(max(1, len(d.part_ids or []) if every_part else 1) for d in rows)
                calls = math.ceil(ids / channel_class(kinds[account_id]).metrics_batch_size)
                ok, retry_at = budgets.spend(session, account_id=account_id, endpoint="metrics", n=calls, now=now)
                for delivery in rows:
                    # claimed for this round; a crash only delays the figures a little
                    delivery.next_metrics_at = now + dt.timedelta(minutes=5) if ok else retry_at
                    session.add(delivery)
                if ok:
                    batches[account_id] = [(d.id, (list(d.part_ids or []) if every_part else [])  # type: ignore[misc]
                                            or [str(d.platform_id)]) for d in rows]
        return batches

    def _record_metrics(self, account_id: int, items: list[tuple[int, list[str]]], metrics: list[Any],
                        infos: list[RateInfo], now: dt.datetime) -> int:
        by_pid = {m.platform_id: m for m in metrics}
        done = 0
        with session_scope(self.engine) as session:
            ids = [delivery_id for delivery_id, _ in items]
            for delivery in session.exec(select(Delivery).where(col(Delivery.id).in_(ids))):
                if delivery.part_ids:  # a thread: one delivery, its parts' figures summed
                    m = thread_metrics(delivery.part_ids, by_pid)
                    delivery.part_metrics = {pid: _figures(by_pid[pid]) for pid in delivery.part_ids if pid in by_pid}
                else:
                    m = by_pid.get(delivery.platform_id or "")
                if m is not None:
                    for field in ("likes", "shares", "replies", "quotes", "views", "saves"):
                        setattr(delivery, field, getattr(m, field))
                    delivery.metrics_at = now
                    session.add(MetricSnapshot(delivery_id=delivery.id, taken_at=now, likes=m.likes,  # type: ignore[arg-type]
                                               shares=m.shares, replies=m.replies, quotes=m.quotes, views=m.views,
                                               saves=m.saves))
                    done += 1
                delivery.next_metrics_at = self.next_poll(delivery.published_at or now, now)
                session.add(delivery)
            metrics_rollup.refresh(session, ids)  # the overview's curve: hours whose figures changed
            budgets.correct(session, account_id=account_id, infos=infos)
        return done
