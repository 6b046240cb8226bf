"""Listening: the terms the worker listens for, and the public's posts it found, counted
without their authors.

Terms
    Per language, for the edition (``Campaign.listening``) and for each case (``Case.listening``):
    ``{"fr": {"hashtags": ["EcrireCaLibere"], "keywords": []}, "en": {...}}``, hashtags without
    "#". Every change is checked against each platform that has an account (a hashtag one
    platform cannot search is refused, with that platform's reason) and audited; a refused change
    saves nothing.

Posts
    :func:`record_page` stores one :class:`channels.base.ListenPage` and the stream's cursor in the
    caller's transaction: a crash before the commit loses both (the page is read again), after
    it keeps both (the page is never read again). A post is identified only by
    ``HMAC-SHA256(listening key, platform + ":" + platform id)`` — the key is derived from the
    installation's secret key and never stored — unique per platform, so a post found by two
    terms, two accounts or two overlapping pages counts once.

Counts
    A public post of a case is an action of kind ``social_action``: each new one adds 1 to an
    aggregated :class:`~orchestrator.models.Response` row (case, campaign-local day,
    ``source_type="listening"``, ``source=<platform>``) written in the same transaction. Every
    reader of response totals (pace, counter, results, exports) therefore includes them with no
    change, and keeps including them after old ``public_post`` rows are purged. Posts matched by
    an edition-wide term belong to no case: they are counted in ``public_post`` only
    (:func:`counts`), never in a case's total.

Counted, not read
    Where a platform counts a term's posts without reading them (X's recent counts, billed per
    request rather than per post), the worker counts each term once a day on a "count:<term
    stream>" cursor (:func:`note_count`): one total over the last seven days, no post, no kind.
    It is never a case's action; the account page turns it into "what reading this term would
    cost a month" (:func:`account_states`), and the request is priced in the month's estimate.

Readers (the overview, case page, reports) use :func:`counts` and :func:`counts_by_hour`;
the account page uses :func:`account_states`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.base import Channel, ListenPage, Problem
from channels.registry import channel_class
from orchestrator import secrets
from orchestrator.models import (
    PUBLIC_POST_KINDS,
    Account,
    Campaign,
    Case,
    Delivery,
    ListenCursor,
    Post,
    PublicPost,
    Response,
)
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.settings import Settings
from orchestrator.timeutil import utcnow

LANGUAGES = ("fr", "en")
MAX_TERMS = 20  # per language and list: listening costs calls per term and account
MAX_TERM_LENGTH = 100
ANSWERS = "answers"
#: The one stream of a channel that reads shared edges for all the terms (``listen_reads_all``).
PAGE = "page"
QUOTES = "quotes"  # quotes of our latest posts the answers stream misses (channel.listen_quotes_of)
#: Months a ``public_post`` row is kept after its edition ends (its count stays in ``response``).
RETENTION_MONTHS = 3

# ---------------------------------------------------------------------------------------------
# Terms


@dataclasses.dataclass(frozen=True)
class Term:
    """One thing to listen for, and what it counts for."""

    text: str  # without "#"
    hashtag: bool
    case_id: int | None  # None: the edition as a whole

    @property
    def stream(self) -> str:
        return f"{'tag' if self.hashtag else 'keyword'}:{self.text.lower()}"

    @property
    def label(self) -> str:
        return f"#{self.text}" if self.hashtag else self.text


def term_key(label: str) -> str:
    """How a term's label ("#Tag" or "words") is looked up, whatever its case."""
    return label.casefold()


def normalize(raw: Any) -> dict[str, dict[str, list[str]]]:
    """The terms in their stored shape, or a :class:`ServiceError` saying what is wrong with
    them. "#" in front of a hashtag is dropped; blanks and repeats are removed."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ServiceError("Les termes d'écoute doivent être donnés par langue (fr, en).",
                           "Listening terms must be given per language (fr, en).")
    out: dict[str, dict[str, list[str]]] = {}
    for language, value in raw.items():
        if language not in LANGUAGES:
            raise ServiceError(f"Langue inconnue pour l'écoute : « {language} » (fr ou en).",
                               f"Unknown listening language: \"{language}\" (fr or en).")
        value = value or {}
        if not isinstance(value, dict) or set(value) - {"hashtags", "keywords"}:
            raise ServiceError(f"Écoute en {language} : seules les listes « hashtags » et « keywords » sont possibles.",
                               f"Listening in {language}: only the lists \"hashtags\" and \"keywords\" are allowed.")
        lists: dict[str, list[str]] = {}
        for field in ("hashtags", "keywords"):
            items = value.get(field) or []
            if isinstance(items, str):
                items = re.split(r"[,\n]", items)
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ServiceError(f"Écoute en {language} : « {field} » doit être une liste de textes.",
                                   f"Listening in {language}: \"{field}\" must be a list of texts.")
            seen: dict[str, str] = {}
            for item in items:
                term = " ".join(item.split())
                if field == "hashtags":
                    term = term.lstrip("#").strip()
                if term and term.lower() not in seen:
                    seen[term.lower()] = term
            cleaned = list(seen.values())
            if len(cleaned) > MAX_TERMS:
                raise ServiceError(f"Écoute en {language} : pas plus de {MAX_TERMS} {field} par langue.",
                                   f"Listening in {language}: at most {MAX_TERMS} {field} per language.")
            for term in cleaned:
                if len(term) > MAX_TERM_LENGTH:
                    raise ServiceError(f"Terme d'écoute trop long (plus de {MAX_TERM_LENGTH} caractères) : « {term[:40]}… ».",
                                       f"Listening term too long (over {MAX_TERM_LENGTH} characters): \"{term[:40]}…\".")
            lists[field] = cleaned
        if lists["hashtags"] or lists["keywords"]:
            out[language] = lists
    return out


def _bare(cls: type[Channel]) -> Channel:
    """A channel object for the offline checks (``validate_term``) that need no account."""
    return cls.__new__(cls)


def listening_kinds(session: Session) -> list[str]:
    """The platforms that have an account: terms must suit each of them."""
    return sorted(set(session.exec(select(Account.kind)).all()))


def problems(session: Session, terms: dict[str, dict[str, list[str]]]) -> list[tuple[str, str, Problem]]:
    """(platform, term, reason) for every term a platform with an account cannot search."""
    found: list[tuple[str, str, Problem]] = []
    for kind in listening_kinds(session):
        channel = _bare(channel_class(kind))
        for lists in terms.values():
            for field, hashtag in (("hashtags", True), ("keywords", False)):
                for term in lists.get(field, []):
                    problem = channel.validate_term(term, hashtag=hashtag)
                    if problem is not None:
                        found.append((kind, ("#" if hashtag else "") + term, problem))
    return found


def check(session: Session, raw: Any) -> dict[str, dict[str, list[str]]]:
    """The normalized terms, or a :class:`ServiceError` listing every refusal in FR and EN."""
    terms = normalize(raw)
    refused = problems(session, terms)
    if refused:
        # One line per term and platform, the terms in the order typed: a list reads where a
        # sentence of several refusals joined by semicolons did not.
        typed = [("#" if field == "hashtags" else "") + term for lists in terms.values()
                 for field in ("hashtags", "keywords") for term in lists.get(field, [])]
        order = {term: n for n, term in reversed(list(enumerate(typed)))}
        refused.sort(key=lambda r: order.get(r[1], len(typed)))
        label = {k: channel_class(k).label for k, _, _ in refused}
        raise ServiceError(
            "Terme d'écoute refusé, rien n'est enregistré :\n\n"
            + "\n".join(f"- {t} — {label[k]} : {p.fr}" for k, t, p in refused),
            "Listening term refused, nothing is saved:\n\n"
            + "\n".join(f"- {t} — {label[k]}: {p.en}" for k, t, p in refused),
        )
    return terms


def set_campaign_terms(session: Session, *, actor: Actor, campaign: Campaign, terms: Any) -> dict[str, Any]:
    return _set_owner_terms(session, actor=actor, owner=campaign, target_type="campaign", terms=terms)


def set_case_terms(session: Session, *, actor: Actor, case: Case, terms: Any) -> dict[str, Any]:
    return _set_owner_terms(session, actor=actor, owner=case, target_type="case", terms=terms)


def _set_owner_terms(session: Session, *, actor: Actor, owner: Campaign | Case, target_type: str,
                     terms: Any) -> dict[str, Any]:
    """Checked terms stored on the edition or the case, audited when they change."""
    require(actor, "editor", "modifier les termes d'écoute", "change the listening terms")
    clean = check(session, terms)
    before = dict(owner.listening or {})
    if clean != before:
        owner.listening = clean
        owner.updated_at = utcnow()
        session.add(owner)
        audit(session, actor=actor, action="listening.set", target_type=target_type, target_id=owner.slug,
              before=before, after=clean)
    return clean


def set_terms(session: Session, *, actor: Actor, terms: Any, case_id: int | None = None,
              campaign_id: int | None = None) -> dict[str, Any]:
    """:func:`set_case_terms` or :func:`set_campaign_terms` by id (the dashboard's forms)."""
    from orchestrator.services.auth import NotFound

    if case_id is not None:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound(f"Cas {case_id} introuvable.", f"Case {case_id} not found.")
        return set_case_terms(session, actor=actor, case=case, terms=terms)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"Édition {campaign_id} introuvable.", f"Edition {campaign_id} not found.")
    return set_campaign_terms(session, actor=actor, campaign=campaign, terms=terms)


def get_terms(owner: Campaign | Case) -> dict[str, dict[str, list[str]]]:
    """Stored terms in the full shape (both languages, both lists), for forms."""
    stored = owner.listening or {}
    return {lang: {f: list((stored.get(lang) or {}).get(f) or []) for f in ("hashtags", "keywords")}
            for lang in LANGUAGES}


def terms_of(session: Session, campaign: Campaign) -> list[Term]:
    """Every term of the edition and its cases, each once. A term that is both a case's and the
    edition's counts for the case (the more precise)."""
    found: dict[tuple[str, bool], Term] = {}

    def add(listening: dict[str, Any], case_id: int | None) -> None:
        for lists in (listening or {}).values():
            for field, hashtag in (("hashtags", True), ("keywords", False)):
                for text in (lists or {}).get(field) or []:
                    found.setdefault((text.lower(), hashtag), Term(text=text, hashtag=hashtag, case_id=case_id))

    for case in session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position))):
        add(case.listening, case.id)
    add(campaign.listening, None)  # after the cases: a term a case has stays the case's
    return sorted(found.values(), key=lambda t: (t.case_id is None, t.case_id or 0, t.stream))


# ---------------------------------------------------------------------------------------------
# The listening key and post keys


def listening_key(settings: Settings | None = None) -> bytes:
    """A key used only for hashing public posts' ids, derived from the installation's current
    secret key (HMAC with a fixed label, so it reveals nothing of the secret key and is never
    written anywhere)."""
    return hmac.new(secrets.load_keys(settings)[0], b"porte-voix/listening/post-key/v1", hashlib.sha256).digest()


def post_key(key: bytes, platform: str, platform_id: str) -> str:
    return hmac.new(key, f"{platform}:{platform_id}".encode(), hashlib.sha256).hexdigest()


def hour_of(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------------------------------------
# Cursors


def cursor_row(session: Session, *, account_id: int, stream: str) -> ListenCursor:
    """The stream's row, created if need be. Two workers may create it at the same moment: the
    insert does nothing when the other's row is there (no duplicate-key error), then both read
    the one row."""
    query = select(ListenCursor).where(ListenCursor.account_id == account_id, ListenCursor.stream == stream)
    row = session.exec(query).first()
    if row is None:
        table = ListenCursor.__table__  # type: ignore[attr-defined]
        from sqlalchemy.dialects import postgresql, sqlite

        insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.connection().execute(insert(table).values(account_id=account_id, stream=stream, last_error={},
                                                          month="", calls_this_month=0, posts_read_this_month=0)
                                     .on_conflict_do_nothing(index_elements=["account_id", "stream"]))
        row = session.exec(query).one()
    return row


def recent_posts(session: Session, *, account_id: int, since: dt.datetime, limit: int) -> list[str]:
    """Platform ids of the account's posts published since ``since``, newest first (at most
    ``limit``): the posts whose quotes are searched."""
    rows = session.exec(select(Delivery.platform_id).where(
        Delivery.account_id == account_id, col(Delivery.platform_id).is_not(None),
        col(Delivery.published_at).is_not(None), col(Delivery.published_at) >= since,
    ).order_by(col(Delivery.published_at).desc(), col(Delivery.id).desc()).limit(limit)).all()
    return [str(r) for r in rows if r]


def _count_month(row: ListenCursor, now: dt.datetime, *, calls: int, posts: int) -> None:
    month = now.strftime("%Y-%m")
    if row.month != month:
        row.month, row.calls_this_month, row.posts_read_this_month = month, 0, 0
    row.calls_this_month += calls
    row.posts_read_this_month += posts


def note_error(session: Session, *, account_id: int, stream: str, code: str, fr: str, en: str,
               calls: int = 0, now: dt.datetime | None = None) -> None:
    """How the last poll of a stream failed, in words for the account page."""
    now = now or utcnow()
    row = cursor_row(session, account_id=account_id, stream=stream)
    row.last_error = {"code": code, "fr": fr, "en": en}
    row.last_error_at = now
    _count_month(row, now, calls=calls, posts=0)
    session.add(row)


def note_count(session: Session, *, account_id: int, stream: str, posts: int | None, since: dt.datetime,
               now: dt.datetime | None = None, calls: int = 1) -> None:
    """A term's volume counted without reading (stream "count:<term stream>"): the row's cursor
    holds ``{"posts": n, "since": ISO time, "at": ISO time}`` (``posts`` null when the platform
    does not count for this account), and the request is counted in the month's calls (priced as
    a count on the account page)."""
    now = now or utcnow()
    row = cursor_row(session, account_id=account_id, stream=stream)
    row.cursor = json.dumps({"posts": posts, "since": since.isoformat(), "at": now.isoformat()})
    row.last_ok_at = now
    row.last_error = {}
    _count_month(row, now, calls=calls, posts=0)
    session.add(row)


def counted(row: ListenCursor) -> tuple[int, dt.timedelta] | None:
    """(posts, over how long) of a count stream's last count, or None."""
    try:
        data = json.loads(row.cursor or "")
        posts = data["posts"]
        span = dt.datetime.fromisoformat(data["at"]) - dt.datetime.fromisoformat(data["since"])
    except (ValueError, KeyError, TypeError):
        return None
    if posts is None or span.total_seconds() <= 0:
        return None
    return int(posts), span


def clear_unavailable(session: Session, *, account_id: int) -> int:
    """A re-tested account listens again: its streams marked unavailable are polled again."""
    rows = list(session.exec(select(ListenCursor).where(ListenCursor.account_id == account_id)))
    cleared = 0
    for row in rows:
        if (row.last_error or {}).get("code") == "unavailable":
            row.last_error = {}
            session.add(row)
            cleared += 1
    return cleared


def unavailable(row: ListenCursor | None) -> bool:
    return row is not None and (row.last_error or {}).get("code") == "unavailable"


# ---------------------------------------------------------------------------------------------
# Recording a page


@dataclasses.dataclass
class Recorded:
    new: int = 0
    duplicates: int = 0
    answers: int = 0  # new posts credited to one of our deliveries
    by_case: dict[int | None, dict[str, int]] = dataclasses.field(default_factory=dict)  # case -> kind -> n


def _insert_ignore(session: Session, values: dict[str, Any]) -> bool:
    table = PublicPost.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(table).values(**values).on_conflict_do_nothing(index_elements=["platform", "post_key"])
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing(index_elements=["platform", "post_key"])
    # RETURNING says whether a row went in (rowcount is -1 on PostgreSQL with an implicit RETURNING)
    return session.connection().execute(stmt.returning(table.c.id)).first() is not None


def _add_response(session: Session, *, case_id: int, day: dt.date, platform: str, n: int) -> None:
    row = session.exec(select(Response).where(
        Response.case_id == case_id, Response.kind == "social_action", Response.day == day,
        Response.source_type == "listening", Response.source == platform, col(Response.import_id).is_(None),
    )).first()
    if row is None:
        row = Response(case_id=case_id, kind="social_action", count=0, day=day, source_type="listening",
                       source=platform)
    row.count += n
    session.add(row)


def record_page(session: Session, *, account: Account, campaign: Campaign, stream: str, page: ListenPage,
                term: Term | None, key: bytes, now: dt.datetime | None = None,
                terms: dict[str, Term] | None = None) -> Recorded:
    """Store one page's new posts and the stream's cursor, in the caller's transaction.

    ``term`` is None for the answers stream: such posts belong to the case of the delivery they
    answer (and are skipped when they answer nothing of ours). A page read for all the terms at
    once (``channel.listen_all``, stream :data:`PAGE`) passes ``terms`` instead: its posts
    carry their own term (``PublicPost.term``, looked up by :func:`term_key`), and a post with
    none counts only if it answers one of ours. A post that is one of our own deliveries is
    never counted as the public's."""
    assert account.id is not None and campaign.id is not None
    now = now or utcnow()
    platform = account.kind
    ids = {p.platform_id for p in page.posts} | {p.answers for p in page.posts if p.answers}
    ours: dict[str, tuple[int, int | None]] = {}
    if ids:
        rows = session.exec(
            select(Delivery.platform_id, Delivery.id, Post.case_id)  # type: ignore[call-overload]
            .join(Account, col(Account.id) == Delivery.account_id)
            .join(Post, col(Post.id) == Delivery.post_id)
            .where(Account.kind == platform, col(Delivery.platform_id).in_(list(ids)))
        ).all()
        ours = {str(pid): (int(did or 0), cid) for pid, did, cid in rows}
    zone = ZoneInfo(campaign.timezone)
    result = Recorded()
    pending: dict[tuple[int, dt.date], int] = {}
    seen: set[str] = set()
    for post in page.posts:
        if post.platform_id in ours or post.kind not in PUBLIC_POST_KINDS:
            continue  # our own post, or something no one agreed to count
        if terms is not None:
            term = terms.get(term_key(post.term)) if post.term else None
        delivery_id, case_id = None, (term.case_id if term else None)
        if post.answers and post.answers in ours:
            delivery_id, answered_case = ours[post.answers]
            case_id = answered_case if answered_case is not None else case_id
        elif term is None:
            continue  # an answer to a post that is not ours
        pkey = post_key(key, platform, post.platform_id)
        if pkey in seen:
            result.duplicates += 1
            continue
        seen.add(pkey)
        hour = hour_of(post.created_at)
        inserted = _insert_ignore(session, {
            "platform": platform, "post_key": pkey, "campaign_id": campaign.id, "case_id": case_id,
            "term": term.label[:140] if term else "", "kind": post.kind, "hour": hour,
            "delivery_id": delivery_id, "account_id": account.id, "found_at": now,
        })
        if not inserted:
            result.duplicates += 1
            continue
        result.new += 1
        result.answers += delivery_id is not None
        kinds = result.by_case.setdefault(case_id, {})
        kinds[post.kind] = kinds.get(post.kind, 0) + 1
        if case_id is not None:
            day = hour.astimezone(zone).date()
            pending[(case_id, day)] = pending.get((case_id, day), 0) + 1
    for (case_id, day), n in sorted(pending.items()):
        _add_response(session, case_id=case_id, day=day, platform=platform, n=n)
    row = cursor_row(session, account_id=account.id, stream=stream)
    if page.cursor is not None:
        row.cursor = page.cursor
    row.last_ok_at = now
    row.last_error = {}
    _count_month(row, now, calls=page.calls, posts=len(page.posts))
    session.add(row)
    return result


# ---------------------------------------------------------------------------------------------
# Reading the counts (the overview, the case page, reports)


def _only(query: Any, column: Any, case_id: int | None, campaign_wide: bool) -> Any:
    if case_id is not None:
        return query.where(column == case_id)
    if campaign_wide:
        return query.where(column.is_(None))
    return query


def counts(session: Session, *, campaign: Campaign, case_id: int | None = None,
           campaign_wide: bool = False) -> list[dict[str, Any]]:
    """Public posts of the edition grouped by case, platform and kind:
    ``[{"case": slug or None, "case_id": id or None, "platform": "mastodon", "kind": "reply",
    "posts": n, "answers": n}]`` (``answers``: how many answer one of our deliveries). Pass
    ``case_id`` to keep one case, or ``campaign_wide=True`` to keep the posts of the edition's own
    terms (no case)."""
    p = PublicPost.__table__.c  # type: ignore[attr-defined]
    c = Case.__table__.c  # type: ignore[attr-defined]
    query = (sa.select(p.case_id, c.slug, p.platform, p.kind, sa.func.count(),
                       sa.func.count(p.delivery_id))
             .select_from(PublicPost.__table__).outerjoin(Case.__table__, c.id == p.case_id)  # type: ignore[attr-defined]
             .where(p.campaign_id == campaign.id)
             .group_by(p.case_id, c.slug, p.platform, p.kind).order_by(c.slug, p.platform, p.kind))
    query = _only(query, p.case_id, case_id, campaign_wide)
    return [{"case_id": cid, "case": slug, "platform": platform, "kind": kind, "posts": int(n), "answers": int(a)}
            for cid, slug, platform, kind, n, a in session.execute(query)]


def counts_by_hour(session: Session, *, campaign: Campaign, case_id: int | None = None, campaign_wide: bool = False,
                   since: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Public posts per UTC hour and platform (same filters as :func:`counts`), for curves."""
    p = PublicPost.__table__.c  # type: ignore[attr-defined]
    query = (sa.select(p.hour, p.platform, sa.func.count()).where(p.campaign_id == campaign.id)
             .group_by(p.hour, p.platform).order_by(p.hour, p.platform))
    query = _only(query, p.case_id, case_id, campaign_wide)
    if since is not None:
        query = query.where(p.hour >= since)
    return [{"hour": hour, "platform": platform, "posts": int(n)} for hour, platform, n in session.execute(query)]


def account_states(session: Session, *, account: Account, now: dt.datetime | None = None) -> dict[str, Any]:
    """How listening goes for one account, for the account page: the last good poll, the last
    error in words, whether the platform refuses this account search, and this month's calls,
    posts read and (where the platform bills reads) estimated cost in US dollars."""
    now = now or utcnow()
    month = now.strftime("%Y-%m")
    rows = list(session.exec(select(ListenCursor).where(ListenCursor.account_id == account.id)
                             .order_by(col(ListenCursor.stream))))
    cls = channel_class(account.kind)
    calls = sum(r.calls_this_month for r in rows if r.month == month)
    posts = sum(r.posts_read_this_month for r in rows if r.month == month)
    # count requests are recorded on streams named "count:<term>"
    count_calls = sum(r.calls_this_month for r in rows if r.month == month and r.stream.startswith("count:"))
    errors = [r for r in rows if r.last_error and not unavailable(r)]
    last_error = max(errors, key=lambda r: r.last_error_at or dt.datetime.min.replace(tzinfo=dt.UTC), default=None)
    oks = [r.last_ok_at for r in rows if r.last_ok_at]
    # what reading each counted term would cost over a month, at the pace of its last count
    reading: list[dict[str, Any]] = []
    for r in rows:
        found = counted(r) if r.stream.startswith("count:") else None
        if found is not None:
            posts_n, span = found
            per_month = posts_n * 30 * 86400 / span.total_seconds()
            reading.append({"stream": r.stream.removeprefix("count:"), "posts": posts_n, "days": round(span.total_seconds() / 86400, 1),
                            "posts_per_month": round(per_month),
                            "cost_per_month_usd": round(per_month * cls.listen_cost_per_post, 2)})
    return {
        "streams": len(rows),
        "last_ok_at": max(oks) if oks else None,
        "last_error": dict(last_error.last_error) if last_error else {},
        "last_error_at": last_error.last_error_at if last_error else None,
        "unavailable": [r.stream for r in rows if unavailable(r)],
        "unavailable_reason": next((dict(r.last_error) for r in rows if unavailable(r)), {}),
        "calls_this_month": calls,
        "posts_read_this_month": posts,
        "has_cost": cls.listen_cost_per_post > 0 or cls.listen_cost_per_count > 0,
        "estimated_cost_usd": round(posts * cls.listen_cost_per_post + count_calls * cls.listen_cost_per_count, 2),
        "count_calls_this_month": count_calls,
        #: per counted term: posts over the last days and what reading them all would cost a month
        "reading_estimates": reading,
    }


# ---------------------------------------------------------------------------------------------
# Retention


def purge(session: Session, *, today: dt.date | None = None, months: int = RETENTION_MONTHS) -> int:
    """Delete the ``public_post`` rows of editions that ended more than ``months`` months ago.
    Their counts stay in the aggregated responses; only the hashes used to avoid counting a post
    twice go, once no more listening is done for that edition."""
    today = today or utcnow().date()
    cutoff = today - dt.timedelta(days=31 * months)
    ended = [c.id for c in session.exec(select(Campaign).where(col(Campaign.ends_on).is_not(None),
                                                               col(Campaign.ends_on) < cutoff,
                                                               col(Campaign.is_current).is_(False)))]
    if not ended:
        return 0
    table = PublicPost.__table__  # type: ignore[attr-defined]
    return int(session.connection().execute(table.delete().where(table.c.campaign_id.in_(ended))).rowcount or 0)


def summarize(results: Iterable[tuple[str, int | None, Recorded]]) -> dict[tuple[int | None, str], dict[str, int]]:
    """(case id, platform) -> kind -> new posts, from (platform, _, Recorded) triples."""
    out: dict[tuple[int | None, str], dict[str, int]] = {}
    for platform, _, recorded in results:
        for case_id, kinds in recorded.by_case.items():
            slot = out.setdefault((case_id, platform), {})
            for kind, n in kinds.items():
                slot[kind] = slot.get(kind, 0) + n
    return out
