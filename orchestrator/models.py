"""Every table, in one module. The schema is created only by the Alembic migrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, col

from orchestrator.timeutil import UTC, require_aware, utcnow


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out; a naive datetime is refused, not guessed."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = require_aware(value)
        if dialect.name == "sqlite":  # SQLite keeps no offset: store UTC wall time
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _ts(*, nullable: bool = False, index: bool = False, default: bool = False) -> Any:
    kwargs: dict[str, Any] = {"sa_type": UTCDateTime, "nullable": nullable, "index": index}
    if default:
        kwargs["default_factory"] = utcnow
    return Field(**kwargs)


def _json(default: Any = None) -> Any:
    factory = (lambda: dict(default)) if isinstance(default, dict) else (lambda: list(default or []))
    return Field(default_factory=factory, sa_type=sa.JSON, nullable=False)


# ---------------------------------------------------------------------------------------------
# Content


class Campaign(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=64)
    name: dict[str, str] = _json({})
    timezone: str = Field(default="America/Toronto", max_length=64)
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    key_dates: list[dict[str, Any]] = _json([])
    hashtags: dict[str, list[str]] = _json({})
    goal: int = 0
    link_rules: dict[str, Any] = _json({})
    url: dict[str, str] = _json({})
    is_current: bool = False
    #: Four eyes on retractions: one person asks, a second confirms before anything is deleted.
    retract_four_eyes: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    #: What the worker listens for across the whole edition, per language:
    #: ``{"fr": {"hashtags": ["EcrireCaLibere"], "keywords": []}, "en": {...}}`` (hashtags
    #: without "#"). See orchestrator/services/listening.py.
    listening: dict[str, Any] = _json({})
    #: Days on which a post needs a second thought (6 December in Canada), in the edition's zone:
    #: ``[{"date": "2026-12-06", "label": {"fr": "...", "en": "..."}}]``; see services/sensitive_dates.py.
    sensitive_dates: list[dict[str, Any]] = _json([])
    #: Words that put an inbox item "à revoir en premier" (migration 0022), any language.
    inbox_words: list[str] = _json([])
    archived_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts(default=True)
    updated_at: dt.datetime = _ts(default=True)


class Case(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("campaign_id", "slug"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    slug: str = Field(max_length=64)
    position: int = 0
    status: str = Field(default="active", max_length=16)  # active, paused, good_news, closed
    status_note: str = ""
    status_changed_at: dt.datetime | None = _ts(nullable=True)
    person: dict[str, str] = _json({})
    country: dict[str, str] = _json({})
    country_code: str = Field(default="", max_length=2)
    story: dict[str, str] = _json({})
    authority: dict[str, str] = _json({})
    ask: dict[str, str] = _json({})
    solidarity_kind: str = Field(default="letter", max_length=16)
    solidarity_address: dict[str, str] = _json({})
    solidarity_to: dict[str, str] = _json({})
    goal: int = 0
    image_alt: dict[str, str] = _json({})
    links: dict[str, Any] = _json({})
    tags: list[str] = _json([])
    #: The case's own listening terms, same shape as ``Campaign.listening``.
    listening: dict[str, Any] = _json({})
    #: What a post about this case carries unless staff change it (see
    #: orchestrator/services/warnings.py): the Mastodon content warning per language
    #: (``{"fr": "...", "en": "..."}``, empty: none), the Mastodon visibility, and the
    #: Bluesky self-labels (``["graphic-media"]``).
    content_warning: dict[str, str] = _json({})
    visibility: str = Field(default="public", max_length=16, sa_column_kwargs={"server_default": "public"})
    self_labels: list[str] = _json([])
    #: Who may reply to a new post about the case where the platform lets us say so ("":
    #: everyone; "followers", "mentioned", "nobody": channels/reply_limits.py maps them per
    #: platform). Set by an approver; applied to the first part of each new post.
    reply_limit: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    #: Nothing about the case is published before this time, whatever is scheduled (the claim
    #: enforces it); empty: no embargo.
    embargo_until: dt.datetime | None = _ts(nullable=True)
    #: What the person or family agreed to (services/consent.py): may posts name them, show their
    #: face, say where they are. A post that breaks a withdrawn one cannot be approved.
    consent_name: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    consent_face: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    consent_location: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    #: Other spellings of the person's name looked for besides ``person`` (a nickname, a
    #: transliteration); and the place names that say where they are (a prison, a town).
    aliases: list[str] = _json([])
    location_terms: list[str] = _json([])
    created_at: dt.datetime = _ts(default=True)
    updated_at: dt.datetime = _ts(default=True)

    def label(self, language: str = "fr") -> str:
        return self.person.get(language) or self.person.get("fr") or self.slug


class CallToAction(SQLModel, table=True):
    __tablename__ = "call_to_action"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "slug"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    slug: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # letter, signature, solidarity, event
    label: dict[str, str] = _json({})
    text: dict[str, str] = _json({})
    url: dict[str, str] = _json({})
    key_date: str | None = Field(default=None, max_length=64)


class Template(SQLModel, table=True):
    __table_args__ = (sa.UniqueConstraint("campaign_id", "slug", "language"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    slug: str = Field(max_length=64)
    action_slug: str = Field(max_length=64)
    language: str = Field(max_length=2)
    body: str


# ---------------------------------------------------------------------------------------------
# Posts and their deliveries


class Post(SQLModel, table=True):
    """What staff write and approve: one text in one language about a case."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    action_id: int | None = Field(default=None, foreign_key="call_to_action.id")
    sibling_id: int | None = Field(default=None, foreign_key="post.id")
    language: str = Field(default="fr", max_length=2)
    text: str
    link: str | None = None
    images: list[dict[str, Any]] = _json([])
    #: Text adjusted for one account (account id as a string -> text); the others get ``text``.
    variants: dict[str, str] = _json({})
    #: Accounts chosen when the post was written (ids), kept while no time is set.
    accounts: list[int] = _json([])
    #: Taken from the case's defaults when the post is written, then the post's own: the
    #: Mastodon content warning ("" for none) and visibility, the Bluesky self-labels.
    content_warning: str = Field(default="", sa_column_kwargs={"server_default": ""})
    visibility: str = Field(default="public", max_length=16, sa_column_kwargs={"server_default": "public"})
    self_labels: list[str] = _json([])
    #: The card of ``link`` (``services/link_cards``), read when the post is approved and kept so
    #: publishing does not read the page again: url, title, description, image, thumb, error.
    link_card: dict[str, Any] = _json({})
    #: A thread's parts after the first (the first is ``text``/``images``), in order: each
    #: ``{"text": str, "images": [as in images]}``. Empty: a single post. Covered by approval.
    parts: list[dict[str, Any]] = _json([])
    #: The compose form the post came from: the same form submitted twice makes one post.
    form_token: str | None = Field(default=None, max_length=64, unique=True, index=True)
    status: str = Field(default="draft", max_length=16, index=True)  # draft, pending, approved, rejected
    author: str = Field(default="system", max_length=64)
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: dt.datetime | None = _ts(nullable=True)
    #: What was approved (text, link, variants, images' bytes), hashed at approval; the worker
    #: sends nothing of a post whose content no longer matches it (see ``four_eyes``).
    approved_fingerprint: str | None = Field(default=None, max_length=64)
    review_comment: str = ""
    #: The post is not published before this time, whatever is scheduled (its case's embargo
    #: holds it too); empty: no embargo of its own.
    embargo_until: dt.datetime | None = _ts(nullable=True)
    #: A reply from the inbox (migration 0022): the platform id of the post it answers, in the
    #: platform's thread (``PublishRequest.reply_to``); None for an ordinary post.
    reply_to: str | None = Field(default=None, max_length=512)
    created_at: dt.datetime = _ts(default=True)
    updated_at: dt.datetime = _ts(default=True)


class PostEdit(SQLModel, table=True):
    """One change to a post's text, link, variants or images: who, when, what. Whoever wrote or
    edited a post's text may not approve it (four eyes)."""

    __tablename__ = "post_edit"
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    at: dt.datetime = _ts(default=True)
    actor: str = Field(max_length=64)
    changed: list[str] = _json([])


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True, max_length=64)
    kind: str = Field(max_length=16)
    base_url: str | None = None
    language: str | None = Field(default=None, max_length=2)
    handle: str | None = None
    credentials: str = ""  # Fernet token of a JSON object; never decrypted outside memory
    options: dict[str, Any] = _json({})
    is_sandbox: bool = False
    healthy: bool = True
    last_error: str = ""
    last_checked_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts(default=True)


#: The claimable states (``states.CLAIMABLE``) as SQL, written out literally: a partial index is
#: only used when the query repeats its condition with constants, not bound parameters.
CLAIMABLE_SQL = "state IN ('scheduled', 'retrying')"


class Delivery(SQLModel, table=True):
    """One post going to one account at one time."""

    __table_args__ = (
        sa.Index("ix_delivery_due", "state", "due_at"),
        # Covering index for the overview's sums per post and state (migration 0006).
        sa.Index("ix_delivery_figures", "post_id", "state", "likes", "shares", "replies", "quotes"),
        # Claimable rows only, in claiming order (migration 0007): a claim reads what it takes.
        sa.Index("ix_delivery_claim_order", "due_at", "scheduled_at", "id",
                 sqlite_where=sa.text(CLAIMABLE_SQL), postgresql_where=sa.text(CLAIMABLE_SQL)),
        sa.Index("ix_delivery_claim_account", "account_id", "due_at", "scheduled_at", "id",
                 sqlite_where=sa.text(CLAIMABLE_SQL), postgresql_where=sa.text(CLAIMABLE_SQL)),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    state: str = Field(default="scheduled", max_length=16)
    scheduled_at: dt.datetime = _ts()
    #: When the delivery is next eligible to be claimed (scheduled_at, then each retry's time).
    due_at: dt.datetime = _ts()
    source_code: str = Field(unique=True, max_length=16)
    rendered_text: str | None = None  # frozen when the post is approved
    rendered_link: str | None = None
    worker_id: str | None = Field(default=None, max_length=64)
    lease_until: dt.datetime | None = _ts(nullable=True)
    attempts: int = 0
    last_error: str = ""
    last_error_kind: str = Field(default="", max_length=32)
    held_reason: str = ""
    platform_id: str | None = Field(default=None, index=True)
    platform_url: str | None = None
    #: A thread's parts' platform ids in order (the first is ``platform_id``); empty for one post.
    part_ids: list[str] = _json([])
    #: Each part's last figures, by platform id (the delivery's own figures are their sums).
    part_metrics: dict[str, Any] = _json({})
    #: How it went out when not quite as asked (X refused the thread's replies), ``{"fr", "en"}``.
    note: dict[str, Any] = _json({})
    published_at: dt.datetime | None = _ts(nullable=True, index=True)
    likes: int | None = None
    shares: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    saves: int | None = None  # Instagram's "saved"
    metrics_at: dt.datetime | None = _ts(nullable=True)
    next_metrics_at: dt.datetime | None = _ts(nullable=True, index=True)
    #: When its post was removed from the platform by a retraction (see ``Retraction``). The
    #: delivery stays ``published`` (it went out; its figures, attribution and counts are kept):
    #: this says it is no longer there.
    retracted_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts(default=True)
    updated_at: dt.datetime = _ts(default=True)


class Retraction(SQLModel, table=True):
    """A request to remove what was published: one delivery, every published delivery of a post,
    or of a case (``scope`` and ``target``: the delivery's or post's number, the case's slug),
    optionally only those published before ``before``; who asked and why. With four eyes (the
    edition's ``retract_four_eyes``) it waits for a second person's confirmation before
    anything is deleted. Each delivery it covers is one :class:`RetractionJob`."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    scope: str = Field(max_length=16)  # delivery, post, case
    target: str = Field(max_length=64)
    before: dt.datetime | None = _ts(nullable=True)
    reason: str
    requested_by: str = Field(max_length=64)
    requested_at: dt.datetime = _ts(default=True)
    #: awaiting_confirmation (four eyes), confirmed (its jobs run), declined
    status: str = Field(default="confirmed", max_length=24, index=True)
    confirmed_by: str | None = Field(default=None, max_length=64)
    confirmed_at: dt.datetime | None = _ts(nullable=True)


class RetractionJob(SQLModel, table=True):
    """Deleting one delivery's post, claimed by the worker like a delivery: ``waiting`` (its
    request awaits confirmation), ``queued`` (due at ``due_at``), ``deleting`` (leased to a
    worker until ``lease_until``), then ``retracted`` or ``failed`` (``error``, and the post's
    address to remove it by hand). A recorded outcome is never run again."""

    __tablename__ = "retraction_job"
    __table_args__ = (
        sa.UniqueConstraint("retraction_id", "delivery_id"),
        sa.Index("ix_retraction_job_due", "state", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    retraction_id: int = Field(foreign_key="retraction.id", index=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    state: str = Field(default="queued", max_length=16)
    due_at: dt.datetime = _ts(default=True)
    attempts: int = 0
    worker_id: str | None = Field(default=None, max_length=64)
    lease_until: dt.datetime | None = _ts(nullable=True)
    error: str = ""
    error_kind: str = Field(default="", max_length=32)
    #: where to remove it by hand when the platform would not (the post's public address)
    manual_url: str | None = None
    done_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _ts(default=True)
    updated_at: dt.datetime = _ts(default=True)


class PublishProgress(SQLModel, table=True):
    """How far a publication in several calls went, by platform, account and request key (the
    delivery's), written by the channel as it goes (Meta's container made, not yet published):
    the next try, in any worker, resumes it. A row is removed once its post is known."""

    __tablename__ = "publish_progress"
    __table_args__ = (sa.UniqueConstraint("kind", "account", "request_key"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    account: str = Field(max_length=128)
    request_key: str = Field(max_length=128)
    data: dict[str, Any] = _json({})
    updated_at: dt.datetime = _ts(default=True, index=True)


class Suspension(SQLModel, table=True):
    """All publishing stopped by an admin, for the organisation (no edition, no account), one
    edition (``campaign_id``) or one account (``account_id``), with the reason, who set it and
    when. In force while ``lifted_at`` is empty: the worker claims nothing it covers."""

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    reason: str
    set_by: str = Field(max_length=64)
    set_at: dt.datetime = _ts(default=True)
    lifted_by: str | None = Field(default=None, max_length=64)
    lifted_at: dt.datetime | None = _ts(nullable=True, index=True)
    #: what was done with the overdue deliveries when it was lifted: publish, reschedule or cancel
    lift_choice: str = Field(default="", max_length=16)


class Attempt(SQLModel, table=True):
    """Every transition of a delivery, with who made it and why."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    at: dt.datetime = _ts(default=True)
    actor: str = Field(default="", max_length=64)  # worker id or username
    from_state: str = Field(max_length=16)
    to_state: str = Field(max_length=16)
    outcome: str = Field(default="", max_length=32)
    detail: str = ""
    duration_ms: int | None = None


class MetricSnapshot(SQLModel, table=True):
    __tablename__ = "metric_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    taken_at: dt.datetime = _ts(default=True, index=True)
    likes: int | None = None
    shares: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    saves: int | None = None


# ---------------------------------------------------------------------------------------------
# Operations


class WorkerHeartbeat(SQLModel, table=True):
    __tablename__ = "worker_heartbeat"
    id: str = Field(primary_key=True, max_length=64)
    host: str = ""
    pid: int = 0
    version: str = ""
    started_at: dt.datetime = _ts(default=True)
    last_seen: dt.datetime = _ts(default=True)
    #: Set when the worker stops (a ``worker --once`` run that finished, a worker shut down);
    #: cleared by its next heartbeat. An ended worker is not at work, however fresh its row.
    ended_at: dt.datetime | None = _ts(nullable=True)

    @staticmethod
    def running(since: dt.datetime) -> Any:
        """SQL for "at work": seen since ``since`` and not ended (every count of workers uses it)."""
        return sa.and_(col(WorkerHeartbeat.last_seen) >= since, col(WorkerHeartbeat.ended_at).is_(None))


class RateBucket(SQLModel, table=True):
    """A token bucket per account and endpoint, shared by every worker through the database."""

    __tablename__ = "rate_bucket"
    __table_args__ = (sa.UniqueConstraint("account_id", "endpoint"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    endpoint: str = Field(max_length=32)
    capacity: int
    window_seconds: int
    tokens: float
    updated_at: dt.datetime = _ts(default=True)
    blocked_until: dt.datetime | None = _ts(nullable=True)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = ""
    role: str = Field(default="viewer", max_length=16)
    language: str = Field(default="fr", max_length=2)
    disabled: bool = False
    #: Raised when the password is reset or the account disabled: a dashboard session remembers
    #: the epoch it signed in under and ends when it no longer matches (dashboard/login.py).
    credentials_epoch: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: dt.datetime = _ts(default=True)


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = _ts(default=True, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target_type: str = Field(max_length=32)
    target_id: str = Field(default="", max_length=64)
    detail: dict[str, Any] = _json({})


# ---------------------------------------------------------------------------------------------
# Responses and attribution (counts only: nobody who acted is ever stored)

RESPONSE_KINDS = ("letter", "solidarity", "signature", "email", "postcard", "social_action", "other")
RESPONSE_SOURCE_TYPES = ("delivery", "channel", "event", "import", "tally", "listening")


class ResponseImport(SQLModel, table=True):
    """One imported file. Its SHA-256 makes a second import of the same bytes count nothing."""

    __tablename__ = "response_import"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    sha256: str = Field(unique=True, max_length=64)
    filename: str = Field(default="", max_length=255)
    encoding: str = Field(default="", max_length=16)
    delimiter: str = Field(default=",", max_length=1)
    lines: int = 0
    lines_skipped: int = 0
    keys_written: int = 0
    keys_replaced: int = 0
    total: int = 0
    #: [{"position": 3, "reason": "email"}]: positions and reasons only, never headers or values.
    dropped_columns: list[dict[str, Any]] = _json([])
    imported_by: str = Field(default="system", max_length=64)
    created_at: dt.datetime = _ts(default=True)


class Response(SQLModel, table=True):
    """So many actions of one kind for one case on one day, credited to one source.

    Rows from imports carry a natural key (case, kind, day, source type, source) that is unique
    among imported rows: a corrected export replaces the earlier figure instead of adding to it.
    Tallies entered by hand are additive, one row per entry.
    """

    __table_args__ = (
        sa.Index("ix_response_case_day", "case_id", "day"),
        sa.Index("ix_response_source", "source_type", "source"),
        sa.Index(
            "ux_response_imported_key", "case_id", "kind", "day", "source_type", "source",
            unique=True,
            sqlite_where=sa.text("import_id IS NOT NULL"),
            postgresql_where=sa.text("import_id IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id")
    kind: str = Field(max_length=16)
    count: int
    day: dt.date
    source_type: str = Field(max_length=16)
    source: str = Field(default="", max_length=64)
    import_id: int | None = Field(default=None, foreign_key="response_import.id", index=True)
    entered_by: str = Field(default="system", max_length=64)
    created_at: dt.datetime = _ts(default=True)


class LinkClickHour(SQLModel, table=True):
    """Clicks on one short link in one UTC hour. No IP address, no user agent: a count."""

    __tablename__ = "link_click_hour"
    source_code: str = Field(primary_key=True, max_length=16)
    hour: dt.datetime = Field(sa_type=UTCDateTime, primary_key=True)
    count: int = 0


# ---------------------------------------------------------------------------------------------
# Editions run from the dashboard: media library, status history, the marathon counter


class MediaItem(SQLModel, table=True):
    """One image in the library, uploaded once per case (or for the whole edition) and picked
    by posts as ``{"media_id": id, "alt": ...}``. The bytes live in ``media_blob`` (storage
    "db") or in a file under the media folder (storage "disk"), never in this row: listing the
    library must not read every image."""

    __tablename__ = "media_item"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    filename: str = Field(default="", max_length=255)
    mime_type: str = Field(max_length=32)
    size: int = 0
    width: int = 0
    height: int = 0
    sha256: str = Field(max_length=64, index=True)
    alt: dict[str, str] = _json({})
    credit: str = ""
    #: The image shows the face of the person of its case (of any person featured, for an
    #: image of the whole edition): a post using it breaks a withdrawn face consent.
    shows_face: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    storage: str = Field(default="db", max_length=8)  # db, disk
    path: str = ""  # relative to the media folder when storage is "disk"
    uploaded_by: str = Field(default="system", max_length=64)
    created_at: dt.datetime = _ts(default=True)
    updated_at: dt.datetime = _ts(default=True)


class MediaBlob(SQLModel, table=True):
    __tablename__ = "media_blob"
    media_id: int = Field(foreign_key="media_item.id", primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary, nullable=False)


class CaseStatusNote(SQLModel, table=True):
    """Every status change of a case, dated, with its note: the history staff read later."""

    __tablename__ = "case_status_note"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: dt.datetime = _ts(default=True)
    from_status: str = Field(default="", max_length=16)
    status: str = Field(max_length=16)
    note: str = ""
    actor: str = Field(default="system", max_length=64)


class CounterLink(SQLModel, table=True):
    """The marathon counter published for a projector. Only the SHA-256 of the secret token is
    kept: whoever reads the database cannot open the page. Revoked rows stay for the record."""

    __tablename__ = "counter_link"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    day_goal: int = 0
    published_by: str = Field(default="system", max_length=64)
    published_at: dt.datetime = _ts(default=True)
    revoked_at: dt.datetime | None = _ts(nullable=True)


# ---------------------------------------------------------------------------------------------
# Sign-in throttling (shared by every dashboard process, so it lives in the database)


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins counted per username and per browser session. ``key`` is the SHA-256 of
    the scope and the name (or session id): what a person typed in the username field is never
    kept as such (it is sometimes a password typed in the wrong box), nor is any password."""

    __tablename__ = "login_throttle"
    key: str = Field(primary_key=True, max_length=64)
    scope: str = Field(default="user", max_length=8)  # user, session
    failures: int = 0
    first_failure_at: dt.datetime | None = _ts(nullable=True)
    last_failure_at: dt.datetime | None = _ts(nullable=True, index=True)
    #: No attempt is checked before this instant (a growing delay, or a lock).
    not_before: dt.datetime | None = _ts(nullable=True)
    locked: bool = False


# ---------------------------------------------------------------------------------------------
# The overview's engagement curve, kept small (migration 0006)


class EngagementHour(SQLModel, table=True):
    """Engagement of the deliveries published in one UTC hour, per case and account: the sum of
    their latest figures. The worker recomputes the hours it touched when it records metrics
    (orchestrator.services.metrics_rollup), so the overview reads a few thousand rows instead of
    every delivery. ``case_id`` 0 stands for posts without a case (a key column cannot be NULL)."""

    __tablename__ = "engagement_hour"
    campaign_id: int = Field(primary_key=True)
    hour: dt.datetime = Field(sa_type=UTCDateTime, primary_key=True)
    case_id: int = Field(default=0, primary_key=True)
    account_id: int = Field(primary_key=True)
    engagement: int = 0


# ---------------------------------------------------------------------------------------------
# The schedule as a calendar feed staff subscribe to (migration 0009)


class CalendarFeed(SQLModel, table=True):
    """A secret address serving an edition's schedule as iCalendar, for calendar apps that
    cannot sign in. Looked up by the SHA-256 of its token; the token itself is kept encrypted
    (like credentials) only so the calendar page can show the address again to staff. Revoked
    rows stay for the record."""

    __tablename__ = "calendar_feed"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    token_encrypted: str = ""
    created_by: str = Field(default="system", max_length=64)
    created_at: dt.datetime = _ts(default=True)
    revoked_at: dt.datetime | None = _ts(nullable=True)


# ---------------------------------------------------------------------------------------------
# Listening: the public's own posts, counted without their authors (migration 0013)

PUBLIC_POST_KINDS = ("original", "reply", "quote", "repost", "photo")


class PublicPost(SQLModel, table=True):
    """One post by the public that carried a listening term or answered one of our posts.

    Only what counting needs: the platform, a keyed hash of the platform's id (so the same post
    found twice, by two terms or two accounts, counts once; the id itself is not kept), what it
    matched, its kind and the UTC hour. Never its author, handle, text or media."""

    __tablename__ = "public_post"
    __table_args__ = (
        sa.UniqueConstraint("platform", "post_key"),
        sa.Index("ix_public_post_case_hour", "case_id", "hour"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    #: HMAC-SHA256 (hex) of the platform's id under the installation's listening key.
    post_key: str = Field(max_length=64)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    #: The term it matched ("#EcrireCaLibere", a keyword), empty when it answers one of our posts.
    term: str = Field(default="", max_length=140)
    kind: str = Field(max_length=16)  # one of PUBLIC_POST_KINDS
    hour: dt.datetime = Field(sa_type=UTCDateTime)
    #: Our delivery it replies to, quotes or reposts, when there is one.
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True)
    #: The account of ours whose search or notifications found it.
    account_id: int | None = Field(default=None, foreign_key="account.id")
    found_at: dt.datetime = _ts(default=True)


class ListenCursor(SQLModel, table=True):
    """Where listening resumes, per account and stream ("tag:<term>", "keyword:<term>",
    "answers"), saved in the same transaction as the posts of the page it follows; and how
    the last poll went, for the account page."""

    __tablename__ = "listen_cursor"
    __table_args__ = (sa.UniqueConstraint("account_id", "stream"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    stream: str = Field(max_length=160)
    cursor: str | None = None
    last_ok_at: dt.datetime | None = _ts(nullable=True)
    last_error_at: dt.datetime | None = _ts(nullable=True)
    #: {"code": "...", "fr": "...", "en": "..."} of the last refusal, cleared by a good poll.
    last_error: dict[str, Any] = _json({})
    #: Platform calls and posts read this UTC month (X bills reads per post).
    month: str = Field(default="", max_length=7)
    calls_this_month: int = 0
    posts_read_this_month: int = 0


# ---------------------------------------------------------------------------------------------
# Notifications, the API and outgoing webhooks (migration 0023)


class NotificationOutbox(SQLModel, table=True):
    """One notification for one address (an e-mail, a chat webhook, an integration's webhook),
    written in the same transaction as the event it tells of, and sent by the worker (or the
    link service) with retries. Rows for one address and kind that fall due together are sent
    as one message (``group``). ``dedupe_key`` (unique when set) makes an event that several
    processes may notice (a digest, no worker alive, a milestone) written once."""

    __tablename__ = "notification_outbox"
    __table_args__ = (sa.Index("ix_notification_due", "state", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    event: str = Field(max_length=32)
    #: who it is for: a staff member's username, or "webhook:<id>" for an integration
    recipient: str = Field(max_length=64)
    channel: str = Field(max_length=16)  # email, chat, hook
    address: str = Field(max_length=500)
    language: str = Field(default="fr", max_length=2)
    data: dict[str, Any] = _json({})
    state: str = Field(default="pending", max_length=16)  # pending, sending, sent, failed
    due_at: dt.datetime = _ts()
    dedupe_key: str | None = Field(default=None, max_length=160, unique=True)
    attempts: int = 0
    worker_id: str | None = Field(default=None, max_length=64)
    lease_until: dt.datetime | None = _ts(nullable=True)
    #: the id of the message it went out in (the smallest id of its group): receivers drop a
    #: message whose id they saw (the Message-ID of a mail, the X-Porte-Voix-Id of a webhook)
    message_id: int | None = None
    last_error: str = ""
    created_at: dt.datetime = _ts(default=True)
    sent_at: dt.datetime | None = _ts(nullable=True)


class NotificationPreference(SQLModel, table=True):
    """What one staff member wants to hear of, and where: events (names of ``EVENTS``), an
    e-mail address, a chat webhook (its address and format), the chat webhook's signing secret
    (encrypted like credentials)."""

    __tablename__ = "notification_preference"
    username: str = Field(primary_key=True, max_length=64)
    events: list[str] = _json([])
    email: str = Field(default="", max_length=254)
    webhook_url: str = Field(default="", max_length=500)
    webhook_format: str = Field(default="slack", max_length=16)  # slack, mattermost, teams
    webhook_secret: str = ""
    updated_at: dt.datetime = _ts(default=True)


class ApiToken(SQLModel, table=True):
    """A token an integration (petition tool, CRM, website) calls the API with. Only the SHA-256
    of the token is kept (it has 256 bits of randomness: no slow hash needed); it is shown once."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(unique=True, max_length=64)
    scopes: list[str] = _json([])
    rate_per_minute: int = 600
    created_by: str = Field(default="system", max_length=64)
    created_at: dt.datetime = _ts(default=True)
    expires_at: dt.datetime | None = _ts(nullable=True)
    revoked_at: dt.datetime | None = _ts(nullable=True)
    last_used_at: dt.datetime | None = _ts(nullable=True)


class IntegrationWebhook(SQLModel, table=True):
    """An address told of events (published, failed, milestone), signed with its own secret."""

    __tablename__ = "integration_webhook"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    url: str = Field(max_length=500)
    events: list[str] = _json([])
    secret: str = ""  # Fernet token, like credentials
    active: bool = True
    created_by: str = Field(default="system", max_length=64)
    created_at: dt.datetime = _ts(default=True)


# The inbox: the public's replies to our posts and mentions of our accounts (migration 0022)

INBOX_KINDS = ("reply", "mention")
#: Stored as ASCII codes; shown as nouveau, à traiter, traité, ignoré (dashboard/i18n).
INBOX_STATES = ("new", "todo", "done", "ignored")
INBOX_OPEN_SQL = "state IN ('new', 'todo')"


class InboxItem(SQLModel, table=True):
    """One reply to our posts or mention of our account, kept to be answered. Its text, author's
    handle and address are personal data: :func:`orchestrator.services.inbox.purge` empties them
    after the retention period (``PORTEVOIX_INBOX_RETENTION_DAYS``), leaving the row for counts.
    ``item_key`` (a keyed hash of the platform id) keeps the item unique after the purge."""

    __tablename__ = "inbox_item"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "item_key"),
        sa.Index("ix_inbox_item_newest", "received_at", "id"),
        sa.Index("ix_inbox_item_case_state", "case_id", "state"),
        sa.Index("ix_inbox_item_state_newest", "state", "received_at"),
        # The inbox's first screen, in the order it is read: to review first, then newest.
        sa.Index("ix_inbox_item_screen", "campaign_id", "to_review", "received_at", "id"),
        # Counts per state and the languages present, read from the index alone.
        sa.Index("ix_inbox_item_campaign_state", "campaign_id", "state", "language"),
    )
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16, index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    #: HMAC-SHA256 (hex) of the platform's id under the installation's listening key.
    item_key: str = Field(max_length=64)
    #: The platform's id (None once purged): what hide and reply are given.
    platform_item_id: str | None = Field(default=None, max_length=512)
    kind: str = Field(max_length=16)  # reply, mention
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    #: Our delivery it answers (its post, its case), when it answers one.
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", index=True)
    #: The platform id of our post it answers (for hide: the thread's root).
    answers_id: str | None = Field(default=None, max_length=512)
    text: str | None = None
    author: str | None = Field(default=None, max_length=256)
    language: str = Field(default="", max_length=8, index=True)
    url: str | None = None
    received_at: dt.datetime = _ts()
    found_at: dt.datetime = _ts(default=True)
    state: str = Field(default="new", max_length=16)
    assigned_to: str | None = Field(default=None, max_length=64)
    handled_by: str | None = Field(default=None, max_length=64)
    handled_at: dt.datetime | None = _ts(nullable=True)
    #: The campaign's inbox words it carries ("à revoir en premier" when not empty).
    flagged: list[str] = _json([])
    #: Open (new, to do) and ``flagged``: "à revoir en premier" (a column, so that the inbox's
    #: first screen is read in the order of an index, not sorted).
    to_review: bool = False
    hidden: bool = False
    hide_error: str = ""
    #: The reply written from the inbox (a post with one delivery, ``Post.reply_to`` set).
    reply_post_id: int | None = Field(default=None, foreign_key="post.id")
    purged_at: dt.datetime | None = _ts(nullable=True, index=True)


class SavedAnswer(SQLModel, table=True):
    """A saved answer for the questions that come back, per campaign and language, editable."""

    __tablename__ = "saved_answer"
    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    language: str = Field(default="fr", max_length=2)
    title: str = Field(max_length=140)
    text: str
    updated_by: str = Field(default="system", max_length=64)
    updated_at: dt.datetime = _ts(default=True)
