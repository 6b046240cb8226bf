"""The metrics poller: refreshes the figures of published posts, all of an account's due posts
in one ``fetch_metrics`` call, on a cadence that slows as a post ages."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import RateInfo
from channels.registry import channel_class
from orchestrator import budgets, states
from orchestrator.db import retry_db, session_scope
from orchestrator.models import Account, Delivery, MetricSnapshot
from orchestrator.services import metrics_rollup
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.channels import Channels

log = logging.getLogger("porte_voix.worker")


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
                metrics = channel.fetch_metrics([pid for _, pid in items])
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

    def _take_metrics(self, now: dt.datetime, limit: int) -> dict[int, list[tuple[int, str]]]:
        batches: dict[int, list[tuple[int, str]]] = defaultdict(list)
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
                calls = math.ceil(len(rows) / channel_class(kinds[account_id]).metrics_batch_size)
                ok, retry_at = budgets.spend(session, account_id=account_id, endpoint="metrics", n=calls, now=now)
                for delivery in rows:
                    # claimed for this round; a crash only delays the figures a little
                    delivery.next_metrics_at = now + dt.timedelta(minutes=5) if ok else retry_at
                    session.add(delivery)
                if ok:
                    batches[account_id] = [(d.id, d.platform_id) for d in rows]  # type: ignore[misc]
        return batches

    def _record_metrics(self, account_id: int, items: list[tuple[int, str]], metrics: list[Any],
                        infos: list[RateInfo], now: dt.datetime) -> int:
        by_pid = {m.platform_id: m for m in metrics}
        done = 0
        with session_scope(self.engine) as session:
            ids = [delivery_id for delivery_id, _ in items]
            for delivery in session.exec(select(Delivery).where(col(Delivery.id).in_(ids))):
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
