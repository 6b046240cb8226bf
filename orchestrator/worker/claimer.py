"""The claimer: which due deliveries a worker takes, in what order, and how many accounts at once;
and giving back what was claimed and not started.

PostgreSQL: the due rows are locked with ``FOR UPDATE SKIP LOCKED`` and each account with a
transaction-scoped advisory lock, then checked again for a publication in flight elsewhere, so two
workers never run one account (its posts go out in order). SQLite: every transaction is
``BEGIN IMMEDIATE``, one writer at a time. A claim spends the account's publish budget for the
whole batch; what the budget cannot cover waits for its next token instead of being refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import math
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from channels.base import PublishRequest
from orchestrator import budgets, secrets, states
from orchestrator.db import SQLITE_INDEXED_BY, fetch_rows, read_scope, session_scope
from orchestrator.models import (
    CLAIMABLE_SQL,
    Account,
    Attempt,
    Case,
    Delivery,
    Post,
    RateBucket,
    WorkerHeartbeat,
)
from orchestrator.services import content_warnings, four_eyes, link_cards, suspensions
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow

log = logging.getLogger("porte_voix.worker")

_ADVISORY_NAMESPACE = 0x5056  # "PV": keeps our advisory locks apart from anyone else's


@dataclasses.dataclass
class Claimed:
    """A delivery this worker claimed (``publishing``, leased until ``lease_until``), with what
    publishing it needs."""

    delivery_id: int
    account_id: int
    request: PublishRequest
    lease_until: dt.datetime
    attempts: int
    first_try_at: dt.datetime | None = None
    was_ambiguous: bool = False


class Claimer:
    def __init__(self, engine: sa.Engine, settings: Settings, worker_id: str) -> None:
        self.engine = engine
        self.settings = settings
        self.id = worker_id
        self.postgres = engine.dialect.name == "postgresql"
        #: account id -> the credentials token last found readable (not decrypted again meanwhile)
        self._readable: dict[int, str] = {}
        #: account name -> why its credentials could not be read, found since the worker started
        self.key_problems: dict[str, str] = {}

    def _busy_elsewhere(self, session: Any) -> set[int]:
        """Accounts another worker is publishing on: they stay with it (one account, one order)."""
        d = Delivery.__table__  # type: ignore[attr-defined]
        return set(session.connection().execute(
            sa.select(d.c.account_id).where(d.c.state == states.PUBLISHING, d.c.worker_id != self.id).distinct()
        ).scalars())

    def _due_query(self, now: dt.datetime, limit: int, account_id: int | None, skip: set[int]) -> Any:
        """What is due, earliest first, with everything a claim needs (one query: most claims
        take every row they read): the statement and its parameters."""
        params: dict[str, Any] = {"now": now, "limit": limit}
        if account_id is not None:
            params["account_id"] = account_id
        if skip:
            params["skip"] = sorted(skip)
        return _due_statement(account_id is not None, bool(skip), self.postgres), params

    def _due_accounts(self, session: Any, now: dt.datetime, skip: set[int]) -> list[int]:
        """Healthy accounts outside ``skip`` with something due, the earliest first. Each account's
        earliest due time is read from the head of ``ix_delivery_claim_account``: a dispatch tick
        while some accounts are busy costs a few index probes, where walking the claiming order
        would read the busy accounts' whole backlog to skip it."""
        d, a = Delivery.__table__, Account.__table__  # type: ignore[attr-defined]
        first_due = (sa.select(sa.func.min(d.c.due_at))
                     .where(d.c.account_id == a.c.id, sa.text(f"delivery.{CLAIMABLE_SQL}"), d.c.due_at <= now)
                     .scalar_subquery())
        query = (sa.select(a.c.id, first_due.label("first_due")).where(a.c.healthy == sa.true())
                 .execution_options(**{SQLITE_INDEXED_BY: ("delivery", "ix_delivery_claim_account")}))
        if skip:
            query = query.where(a.c.id.not_in(sorted(skip)))
        rows = [(due, account_id) for account_id, due in session.connection().execute(query) if due is not None]
        return [account_id for _, account_id in sorted(rows)]

    def claim(self, now: dt.datetime | None = None, *, account_id: int | None = None,
              max_accounts: int | None = None, exclude: set[int] | None = None) -> list[Claimed]:
        """Claim what is due: one account's next batch (``account_id``), or batches of up to
        ``max_accounts`` accounts not in ``exclude`` (those with the earliest due first)."""
        now = now or utcnow()
        per_account = max(1, self.settings.claim_batch)
        accounts_wanted = 1 if account_id is not None else (max_accounts or self.settings.publish_threads)
        claimed: list[Claimed] = []
        if account_id is None and exclude:
            # A tick while runners are busy usually finds nothing for the other accounts: look
            # first without the write lock, which the runners' claims and records are waiting for.
            with read_scope(self.engine) as session:
                if not self._due_accounts(session, now, exclude | self._busy_elsewhere(session)):
                    return []
        with session_scope(self.engine) as session:
            skip = (exclude or set()) | self._busy_elsewhere(session)
            chosen = self._choose(session, now, account_id, skip, per_account, accounts_wanted)
            # read after the due rows are locked: a suspension committed before is seen
            stopped = suspensions.in_force(session, for_claim=True) if chosen else []
            images: dict[int, tuple[Any, ...]] = {}  # per post, within this claim
            as_approved: dict[int, bool] = {}  # per post: its content is still what was approved
            for acc_id in sorted(chosen):  # locks in account order: no deadlock with the recorder
                if self.postgres and not self._lock_account(session, acc_id):
                    continue
                if not self._credentials_readable(session, acc_id):
                    continue  # now unhealthy, its queue held: nothing of it is claimed
                batch = self._apply_gates(session, chosen[acc_id], stopped, now)
                if batch:
                    claimed.extend(self._claim_batch(session, acc_id, batch, now, images, as_approved))
        return claimed

    def _choose(self, session: Any, now: dt.datetime, account_id: int | None, skip: set[int], per_account: int,
                accounts_wanted: int) -> dict[int, list[Any]]:
        """The due rows to claim, per account: one walk of the claiming order (or of one
        account's part of it); when some accounts are taken, the others asked one by one,
        earliest due first."""
        connection = session.connection()
        chosen: dict[int, list[Any]] = {}
        if account_id is None and not skip:
            # the walk reads per_account rows for each account wanted: no more than have work
            accounts_wanted = max(1, min(accounts_wanted, len(self._due_accounts(session, now, skip))))
        if account_id is None and skip:
            for candidate in self._due_accounts(session, now, skip):
                if len(chosen) >= accounts_wanted:
                    break
                rows = fetch_rows(connection, *self._due_query(now, per_account, candidate, set()))
                if rows:
                    chosen[candidate] = rows
            return chosen
        for row in fetch_rows(connection, *self._due_query(now, per_account * accounts_wanted, account_id, skip)):
            taken = chosen.setdefault(row.account_id, []) if len(chosen) < accounts_wanted else \
                chosen.get(row.account_id)
            if taken is not None and len(taken) < per_account:
                taken.append(row)
        return chosen

    def _credentials_readable(self, session: Any, account_id: int) -> bool:
        """Whether the key in force decrypts the account's credentials, checked before anything
        of the account is claimed: a delivery claimed and then not sendable would go through
        ``publishing`` to ``unconfirmed`` ("stopped while sending") although nothing was sent.
        An unreadable account is marked unhealthy with the reason, in this transaction, which
        holds its queue. A token once read is not decrypted again until it changes."""
        a = Account.__table__  # type: ignore[attr-defined]
        token = session.connection().execute(sa.select(a.c.credentials).where(a.c.id == account_id)).scalar_one()
        if self._readable.get(account_id) == token:
            return True
        try:
            secrets.decrypt(token)
        except secrets.SecretKeyError as exc:
            from orchestrator.services.accounts import UNREADABLE_FR, mark_unhealthy

            account = session.get(Account, account_id)
            mark_unhealthy(session, account=account, reason=UNREADABLE_FR)
            self.key_problems[account.name] = str(exc)
            log.error("account %s: credentials unreadable with the key in force; account marked unhealthy, "
                      "its deliveries held (%s)", account.name, exc)
            return False
        self._readable[account_id] = token
        return True

    def release(self, delivery_ids: list[int]) -> None:
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

    def check_credentials(self) -> dict[str, str]:
        """Every account's credentials against the key in force, at start: an unreadable one is
        marked unhealthy (its queue held) and listed in ``key_problems``, even if it was already
        unhealthy, so ``worker --once`` can say so and fail."""
        a = Account.__table__  # type: ignore[attr-defined]
        with session_scope(self.engine) as session:
            rows = session.connection().execute(
                sa.select(a.c.id, a.c.name, a.c.credentials, a.c.healthy).where(a.c.credentials != "")).all()
            for account_id, name, token, healthy in rows:
                if healthy:
                    self._credentials_readable(session, account_id)
                    continue
                try:
                    secrets.decrypt(token)
                except secrets.SecretKeyError as exc:
                    self.key_problems[name] = str(exc)
        return dict(self.key_problems)

    def _lock_account(self, session: Any, account_id: int) -> bool:
        got = session.execute(sa.select(sa.func.pg_try_advisory_xact_lock(_ADVISORY_NAMESPACE, account_id))).scalar()
        if not got:
            return False  # another worker is claiming this account right now
        busy = session.exec(
            select(Delivery.id).where(Delivery.account_id == account_id, Delivery.state == states.PUBLISHING,
                                      Delivery.worker_id != self.id).limit(1)
        ).first()
        return busy is None

    def _apply_gates(self, session: Any, batch: list[Any], stopped: list[suspensions.InForce],
                     now: dt.datetime) -> list[Any]:
        """A suspension in force (the organisation's, the edition's or the account's) holds what
        it covers, whatever is scheduled; an embargo (the post's or its case's) not yet over
        moves the delivery's next eligible time to its end, whatever is scheduled; a paused case
        holds its deliveries even if the pause raced the claim."""
        kept = []
        embargoed: dict[dt.datetime, list[int]] = {}
        for row in batch:
            ends = [end for end in (row.post_embargo, row.case_embargo) if end is not None]
            if ends:
                until = max(_aware(end) for end in ends)
                if until > now:
                    embargoed.setdefault(until, []).append(row.id)
                    continue
            suspension = suspensions.covering(stopped, campaign_id=row.campaign_id, account_id=row.account_id)
            if suspension is not None:
                delivery = session.get(Delivery, row.id)
                reason = str(states.HeldReason.suspended(suspension.id, suspension.reason))
                states.transition(session, delivery, states.HELD, actor=self.id, outcome="held", detail=reason,
                                  held_reason=reason)
                continue
            if row.case_status is not None and row.case_status != "active":
                delivery = session.get(Delivery, row.id)
                reason = str(states.HeldReason.case(row.case_status))
                states.transition(session, delivery, states.HELD, actor=self.id, outcome="held", detail=reason,
                                  held_reason=reason)
                continue
            kept.append(row)
        table = Delivery.__table__  # type: ignore[attr-defined]
        for until, ids in embargoed.items():
            session.execute(table.update().where(table.c.id.in_(ids)).values(due_at=until))
        return kept

    def _claim_batch(self, session: Any, account_id: int, batch: list[Any], now: dt.datetime,
                     images: dict[int, tuple[Any, ...]], as_approved: dict[int, bool]) -> list[Claimed]:
        bucket = budgets.read_bucket(session, account_id=account_id, endpoint="publish")
        allowed, next_free = len(batch), None
        if bucket is not None:
            allowed, next_free = _take_calls(bucket, now, batch)
            budgets.write_bucket(session, bucket)
        if batch[allowed:]:
            # spread the burst: wait for the budget instead of being refused
            table = Delivery.__table__  # type: ignore[attr-defined]
            session.execute(table.update().where(table.c.id.in_([row.id for row in batch[allowed:]]))
                            .values(due_at=next_free or now + dt.timedelta(seconds=1)))
        taken = batch[:allowed]
        history = self._history(session, [row.id for row in taken if row.attempts])
        lease = now + dt.timedelta(seconds=self.settings.lease_seconds)
        claimed = []
        moves: list[tuple[int, str, dict[str, Any]]] = []
        public_media = self._public_media(session, account_id) if any(row.images for row in taken) else None
        # a post's card (and its thumbnail's bytes) is read only for a platform that shows it
        with_cards = any(row.rendered_link for row in taken) and self._shows_cards(session, account_id)
        cards: dict[int, Any] = {}
        parts: dict[int, tuple[Any, ...]] = {}
        for row in taken:
            try:
                if row.images and row.post_id not in images:
                    from orchestrator.services.deliveries import post_images

                    images[row.post_id] = tuple(post_images(session.get(Post, row.post_id)))
                attached = images.get(row.post_id, ()) if row.images else ()
                if attached and public_media is not None:
                    # the platform fetches them: each gets a freshly signed public address
                    from orchestrator.media_urls import with_urls

                    attached = with_urls(attached, list(row.images), post_id=row.post_id, is_sandbox=public_media,
                                         settings=self.settings)
                request = PublishRequest(
                    key=f"pv-{row.source_code}-{row.id}", text=row.rendered_text, link=row.rendered_link,
                    images=attached, language=row.language,
                    content_warning=row.content_warning or "", visibility=row.visibility or "public",
                    self_labels=tuple(row.self_labels or ()),
                    card=self._card(session, row.post_id, cards) if with_cards and row.rendered_link else None,
                    parts=self._parts(session, row, parts),
                    reply_to=row.reply_to,
                    # who may answer: the case's setting, for a new post (a reply takes none)
                    reply_limit="" if row.reply_to else (row.case_reply_limit or ""),
                )
            except Exception as exc:  # e.g. an image file gone: a person must fix the post
                delivery = session.get(Delivery, row.id)
                reason = getattr(exc, "fr", None) or str(exc)
                states.transition(session, delivery, states.FAILED, actor=self.id, outcome="permanent",
                                  detail=reason, last_error=reason, last_error_kind="permanent")
                continue
            if not self._as_approved(session, row, images.get(row.post_id, ()) if row.images else (), as_approved,
                                     parts.get(row.post_id, ())):
                continue
            moves.append((row.id, row.state, {}))
            first_try, was_ambiguous = history.get(row.id, (None, False))
            claimed.append(Claimed(
                delivery_id=row.id, account_id=account_id, request=request, lease_until=lease,
                attempts=row.attempts, first_try_at=first_try or now, was_ambiguous=was_ambiguous,
            ))
        states.transition_many(session, moves, states.PUBLISHING, actor=self.id, outcome="claimed",
                               worker_id=self.id, lease_until=lease)
        return claimed

    @staticmethod
    def _shows_cards(session: Any, account_id: int) -> bool:
        from channels import registry

        a = Account.__table__  # type: ignore[attr-defined]
        kind = session.connection().execute(sa.select(a.c.kind).where(a.c.id == account_id)).scalar()
        try:
            return bool(registry.channel_class(kind).shows_link_card)
        except registry.UnknownKind:
            return False

    @staticmethod
    def _card(session: Any, post_id: int, cards: dict[int, Any]) -> Any:
        """The post's stored link card for the channel (once per post in a batch)."""
        if post_id not in cards:
            p = Post.__table__  # type: ignore[attr-defined]
            link, card = session.connection().execute(
                sa.select(p.c.link, p.c.link_card).where(p.c.id == post_id)).one()
            cards[post_id] = link_cards.for_channel(card, link)
        return cards[post_id]

    @staticmethod
    def _public_media(session: Any, account_id: int) -> bool | None:
        """None when the account's platform takes image bytes; else whether it is a sandbox
        account (its images may then be served from this machine)."""
        from channels import registry

        a = Account.__table__  # type: ignore[attr-defined]
        kind, is_sandbox = session.connection().execute(
            sa.select(a.c.kind, a.c.is_sandbox).where(a.c.id == account_id)).one()
        try:
            needs = registry.channel_class(kind).needs_public_media
        except registry.UnknownKind:
            return None  # the runner says what is wrong with the account
        return bool(is_sandbox) if needs else None

    @staticmethod
    def _parts(session: Any, row: Any, parts: dict[int, tuple[Any, ...]]) -> tuple[Any, ...]:
        """A thread's parts after the first, with their images (once per post in a batch)."""
        if not row.parts:
            return ()
        if row.post_id not in parts:
            from orchestrator.services.deliveries import post_parts

            parts[row.post_id] = tuple(post_parts(session.get(Post, row.post_id)))
        return parts[row.post_id]

    @staticmethod
    def _as_approved(session: Any, row: Any, images: tuple[Any, ...], seen: dict[int, bool],
                     parts: tuple[Any, ...] = ()) -> bool:
        """Whether the post's text, link, variants, images and a thread's other parts are still
        what was approved. One that changed by any path is sent back for approval (its
        deliveries wait), not sent."""
        if row.post_id not in seen:
            current = four_eyes.fingerprint(text=row.text, link=row.link, variants=row.variants, images=images,
                                            warning=content_warnings.fingerprint_part(content_warnings.of_post(row)),
                                            parts=[(part.text, part.images) for part in parts])
            seen[row.post_id] = four_eyes.still_as_approved(row.approved_fingerprint, current)
            if not seen[row.post_id]:
                from orchestrator.services.posts import void_approval

                log.warning("post %s changed after its approval: sent back for approval, nothing sent", row.post_id)
                void_approval(session, post=session.get(Post, row.post_id), why="content changed after approval")
        return seen[row.post_id]

    def _history(self, session: Any, ids: list[int]) -> dict[int, tuple[dt.datetime, bool]]:
        """For deliveries tried before: when the first try was claimed, and whether any try may
        have gone out (a safe retry with the same key only holds within the platform's window)."""
        if not ids:
            return {}
        rows = session.exec(
            select(Attempt.delivery_id, sa.func.min(Attempt.at),
                   sa.func.max(sa.case((col(Attempt.to_state) == states.UNCONFIRMED, 1),
                                       (col(Attempt.outcome).like("ambiguous%"), 1), else_=0)))
            .where(col(Attempt.delivery_id).in_(ids), col(Attempt.to_state).in_(
                (states.PUBLISHING, states.UNCONFIRMED, states.RETRYING)))
            .group_by(col(Attempt.delivery_id))
        )
        return {delivery_id: (first, bool(flag)) for delivery_id, first, flag in rows}

    def fair_share(self) -> int:
        """How many accounts this worker may run at once: all of them when alone; a fair part
        of the accounts that have work when other workers' heartbeats are fresh."""
        now = utcnow()
        stale = now - dt.timedelta(seconds=self.settings.heartbeat_stale_seconds)
        with read_scope(self.engine) as session:  # advice only: it need not wait for a writer
            live = session.exec(
                select(sa.func.count()).select_from(WorkerHeartbeat)
                .where(WorkerHeartbeat.running(stale), WorkerHeartbeat.id != self.id)
            ).one() + 1
            if live == 1:
                return self.settings.publish_threads
            with_work = session.exec(
                select(sa.func.count(sa.distinct(col(Delivery.account_id)))).where(
                    sa.or_(sa.and_(col(Delivery.state).in_(states.CLAIMABLE), col(Delivery.due_at) <= now),
                           col(Delivery.state) == states.PUBLISHING))
            ).one()
        return max(1, math.ceil(with_work / live))


def _take_calls(bucket: Any, now: dt.datetime, batch: list[Any]) -> tuple[int, dt.datetime | None]:
    """Publishing budget for the batch, in order: a single post costs one call, a thread one per
    part (at most the bucket's capacity, so a long thread still goes when the budget is full).
    How many rows are covered, and when more budget frees when not all are."""
    costs = [min(1 + len(row.parts or []), max(1, int(bucket.capacity))) for row in batch]
    got, next_free = budgets.take(bucket, now, sum(costs))
    allowed = spent = 0
    for cost in costs:
        if spent + cost > got:
            break
        spent, allowed = spent + cost, allowed + 1
    bucket.tokens += got - spent  # what a thread could not use waits for it, not lost
    if allowed < len(batch) and next_free is None:
        next_free = now + dt.timedelta(seconds=1)
    return allowed, next_free


def _aware(value: dt.datetime) -> dt.datetime:
    """A time read by a core select (no ORM type on the way): UTC if the driver gave it naive."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def publish_request(delivery: Delivery, post: Post, case: Case | None = None) -> PublishRequest:
    """What publishing ``delivery`` sends (its key is stable across retries); ``case``: the
    post's case, whose reply limit a new post carries."""
    from orchestrator.services.deliveries import post_images, post_parts

    assert delivery.rendered_text is not None
    return PublishRequest(
        key=f"pv-{delivery.source_code}-{delivery.id}",
        text=delivery.rendered_text,
        link=delivery.rendered_link,
        images=tuple(post_images(post)),
        language=post.language,
        content_warning=post.content_warning or "",
        visibility=post.visibility or "public",
        self_labels=tuple(post.self_labels or ()),
        card=link_cards.for_channel(post.link_card, post.link) if delivery.rendered_link else None,
        parts=tuple(post_parts(post)),
        reply_to=post.reply_to,
        reply_limit="" if post.reply_to or case is None else (case.reply_limit or ""),
    )


@functools.lru_cache(maxsize=16)
def _due_statement(per_account: bool, skipping: bool, postgres: bool) -> Any:
    """The claim's query, built once per shape (parameters ``now``, ``limit``, ``account_id``,
    ``skip``). The claimable condition is written as the partial indexes write it, so the
    database walks ``ix_delivery_claim_order`` (or ``_account``) in order and stops at ``limit``
    instead of sorting the whole backlog."""
    d, p, a, c = (Delivery.__table__, Post.__table__, Account.__table__,  # type: ignore[attr-defined]
                  Case.__table__)  # type: ignore[attr-defined]
    query = (
        sa.select(d.c.id, d.c.account_id, d.c.state, d.c.attempts, d.c.source_code, d.c.rendered_text,
                  d.c.rendered_link, d.c.post_id, p.c.campaign_id, p.c.language, p.c.images, p.c.text, p.c.link, p.c.variants,
                  p.c.approved_fingerprint, p.c.content_warning, p.c.visibility, p.c.self_labels, p.c.reply_to,
                  p.c.parts, c.c.status.label("case_status"), p.c.embargo_until.label("post_embargo"),
                  c.c.embargo_until.label("case_embargo"), c.c.reply_limit.label("case_reply_limit"))
        .select_from(d.join(p, p.c.id == d.c.post_id).join(a, a.c.id == d.c.account_id)
                     .outerjoin(c, c.c.id == p.c.case_id))
        .where(
            sa.text(f"delivery.{CLAIMABLE_SQL}"),
            d.c.due_at <= sa.bindparam("now"),
            p.c.status == "approved",
            d.c.rendered_text.is_not(None),
            a.c.healthy == sa.true(),
        )
        .order_by(d.c.due_at, d.c.scheduled_at, d.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )
    index = "ix_delivery_claim_order"
    if per_account:
        query = query.where(d.c.account_id == sa.bindparam("account_id"))
        index = "ix_delivery_claim_account"
    query = query.execution_options(**{SQLITE_INDEXED_BY: ("delivery", index)})
    if skipping:
        query = query.where(d.c.account_id.not_in(sa.bindparam("skip", expanding=True)))
    if postgres:
        query = query.with_for_update(skip_locked=True, of=d)
    return query
