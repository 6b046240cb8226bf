"""Bulk scheduling from a spreadsheet: read a plan (CSV, or the JSON export), check every row,
then create, move or keep each delivery in one transaction.

A row's identity is its post (case, language, text, link) on its account; no column is added to
the schema for it. Importing a file again therefore finds each row's delivery: at the same time it
is left alone, at another time it is moved (while it has not gone out), and only rows with no
delivery to match create one. Nothing is written unless every row passes.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import datetime as dt
import hashlib
import io
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.base import Channel
from orchestrator import states
from orchestrator.models import Account, AuditEntry, Campaign, Case, Delivery, Post
from orchestrator.services import content_warnings, deliveries, posts
from orchestrator.services.accounts import PLATFORM_NAMES, build_channel
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.services.campaigns import current_campaign
from orchestrator.services.plan_io import Problem, RawRow, load_image, parse_at, read_plan
from orchestrator.timeutil import utcnow

CREATE, MOVE, UNCHANGED, INVALID = "create", "move", "unchanged", "invalid"
OUTCOME_LABELS = {
    CREATE: {"fr": "à créer", "en": "to create"},
    MOVE: {"fr": "à déplacer", "en": "to move"},
    UNCHANGED: {"fr": "inchangé", "en": "unchanged"},
    INVALID: {"fr": "erreur", "en": "error"},
}
#: Deliveries a new time can still move (the same states ``deliveries.reschedule`` moves and a
#: worker will then pick up; a failed one needs a person to retry it first).
MOVABLE = (states.SCHEDULED, states.HELD, states.RETRYING)
#: Deliveries that went out, may have gone out, or wait for a person: never moved by a file.
GONE = (states.PUBLISHING, states.PUBLISHED, states.UNCONFIRMED, states.FAILED)

PostKey = tuple[str, str, str, str | None]  # case slug ("" for none), language, text, link


@dataclasses.dataclass
class PlanRow:
    raw: RawRow
    key: PostKey
    at: dt.datetime | None  # None for `now` until the import decides the instant
    is_now: bool
    images: list[dict[str, Any]]
    outcome: str = INVALID
    delivery: Delivery | None = None
    #: The time a moved delivery had, to show "from → to".
    previous_at: dt.datetime | None = None

    @property
    def line(self) -> int:
        return self.raw.line


@dataclasses.dataclass
class PlanResult:
    rows: list[PlanRow]
    problems: list[Problem]
    posts_created: int = 0
    posts_reused: int = 0
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    def summary(self, language: str = "fr") -> str:
        c, m, u = self.count(CREATE), self.count(MOVE), self.count(UNCHANGED)
        if language == "fr":
            verb = "" if self.applied else "(vérification seulement, rien n'est enregistré) "
            return (f"{verb}Publications : {self.posts_created} créée(s), {self.posts_reused} déjà là. "
                    f"Envois : {c} créé(s), {m} déplacé(s), {u} inchangé(s).")
        verb = "" if self.applied else "(check only, nothing saved) "
        return (f"{verb}Posts: {self.posts_created} created, {self.posts_reused} already there. "
                f"Deliveries: {c} created, {m} moved, {u} unchanged.")


@dataclasses.dataclass(frozen=True)
class _Draft:
    text: str
    link: str | None


class _Checker:
    """Everything the check needs, loaded once: cases, accounts, matching posts and deliveries,
    and one channel per account whose verdict is kept per distinct text and rules."""

    def __init__(self, session: Session, campaign: Campaign) -> None:
        self.session, self.campaign = session, campaign
        self.cases = {c.slug: c for c in session.exec(select(Case).where(Case.campaign_id == campaign.id))}
        self.accounts = {a.name: a for a in session.exec(select(Account))}
        # One channel per account, built on first use (constructors make no network call; some
        # refuse empty credentials, so they get the real ones, in memory only).
        self.channels: dict[int, Channel] = {}
        self.verdicts: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
        self.loaded_images: dict[int, list[Any]] = {}

    def existing_posts(self, keys: set[PostKey]) -> dict[PostKey, list[Post]]:
        case_ids = {c.id: slug for slug, c in self.cases.items()}
        found: dict[PostKey, list[Post]] = collections.defaultdict(list)
        for post in self.session.exec(select(Post).where(Post.campaign_id == self.campaign.id).order_by(col(Post.id))):
            key = (case_ids.get(post.case_id, "") if post.case_id else "", post.language, post.text, post.link)
            if key in keys:
                found[key].append(post)
        return found

    def deliveries_of(self, post_ids: list[int]) -> dict[tuple[int, int], list[Delivery]]:
        out: dict[tuple[int, int], list[Delivery]] = collections.defaultdict(list)
        for start in range(0, len(post_ids), 500):  # bounded IN lists
            chunk = post_ids[start:start + 500]
            for d in self.session.exec(select(Delivery).where(col(Delivery.post_id).in_(chunk))):
                out[(d.post_id, d.account_id)].append(d)
        return out

    def verdict(self, key: PostKey, post: Post | None, images: list[dict[str, Any]], account: Account) -> list[tuple[str, str]]:
        """The channel's problems with the text as it will go out ([] when it passes), computed
        once per distinct post and channel rules (kind and options)."""
        from orchestrator.services.media import load_image as read_image

        cache_key = (key, post.id if post else None, account.kind, repr(sorted((account.options or {}).items())))
        if cache_key not in self.verdicts:
            # rendered() reads only text and link; a table object would cost a millisecond to build
            draft = post or cast(Post, _Draft(text=key[2], link=key[3]))
            case = self.cases.get(key[0])
            text, _ = deliveries.rendered(draft, campaign=self.campaign, case=case, account=account, source_code="x" * 7)
            try:
                if post is not None:
                    if post.id not in self.loaded_images:
                        self.loaded_images[post.id or 0] = [read_image(i, self.session) for i in post.images]
                    loaded = self.loaded_images[post.id or 0]
                else:
                    loaded = [read_image(i, self.session) for i in images]
            except ServiceError as exc:  # an existing post's image file has gone: a row problem
                self.verdicts[cache_key] = [(exc.fr, exc.en)]
                return self.verdicts[cache_key]
            if account.id not in self.channels:
                self.channels[account.id or 0] = build_channel(account)
            channel = self.channels[account.id or 0]
            # a new post takes its case's content warning, which Mastodon counts with the text
            warning = post.content_warning if post is not None else \
                content_warnings.case_default(case, key[1]).text
            result = (channel.validate(text, loaded, spoiler_text=warning)  # type: ignore[call-arg]
                      if warning and channel.can_content_warning else channel.validate(text, loaded))
            self.verdicts[cache_key] = [(p.text("fr"), p.text("en")) for p in result.problems]
        return self.verdicts[cache_key]


def _match(rows: list[PlanRow], existing: list[Delivery], account: Account, problems: list[Problem]) -> None:
    """Pair the file's rows for one post on one account with the deliveries already there.

    Same instant: unchanged. Otherwise rows move deliveries that can still move, in time order;
    a `now` row keeps whatever is left. A row left over while a delivery already went out is an
    error: moving it is impossible, and adding one would publish the same text twice."""
    left = sorted(existing, key=lambda d: (d.scheduled_at, d.id or 0))
    fixed = sorted((r for r in rows if not r.is_now), key=lambda r: (r.at, r.line))
    pending = []
    for row in fixed:
        hit = next((d for d in left if d.scheduled_at == row.at), None)
        if hit is not None:
            row.outcome, row.delivery = UNCHANGED, hit
            left.remove(hit)
        else:
            pending.append(row)
    movable = [d for d in left if d.state in MOVABLE]
    for row in list(pending):
        if movable:
            d = movable.pop(0)
            row.outcome, row.delivery, row.previous_at = MOVE, d, d.scheduled_at
            left.remove(d)
            pending.remove(row)
    for row in sorted((r for r in rows if r.is_now), key=lambda r: r.line):
        hit = next((d for d in left if d.state != states.CANCELLED), None)
        if hit is not None:
            row.outcome, row.delivery = UNCHANGED, hit
            left.remove(hit)
        else:
            row.outcome = CREATE
    gone = [d for d in left if d.state in GONE]
    for row in pending:
        if gone:
            d = gone.pop(0)
            label = states.LABELS[d.state]
            row.outcome = INVALID
            problems.append(Problem(
                row.line,
                f"cette publication est déjà « {label['fr'].lower()} » sur {account.name} (prévue le "
                f"{d.scheduled_at.isoformat()}) et ne peut plus être déplacée : remettez l'heure d'origine, "
                "ou changez le texte pour publier de nouveau.",
                f"this post is already '{label['en'].lower()}' on {account.name} (due {d.scheduled_at.isoformat()}) "
                "and can no longer be moved: put back the original time, or change the text to post again.",
            ))
        else:
            row.outcome = CREATE


def check_plan(session: Session, *, raw_rows: list[RawRow], base_dir: Path | None = None,
               now: dt.datetime | None = None) -> tuple[PlanResult, dict[PostKey, list[Post]]]:
    """Check every row and decide what it would do. Reads only; writes nothing."""
    now = now or utcnow()
    campaign = current_campaign(session)
    checker = _Checker(session, campaign)
    problems: list[Problem] = []
    rows: list[PlanRow] = []
    image_cache: dict[Path, dict[str, Any]] = {}
    for raw in raw_rows:
        found: list[Problem] = []
        if raw.language not in ("fr", "en"):
            found.append(Problem(raw.line, f"langue « {raw.language} » : fr ou en.", f"language '{raw.language}': fr or en."))
        if not raw.text:
            found.append(Problem(raw.line, "le texte est vide.", "the text is empty."))
        if raw.link and not raw.link.startswith(("https://", "http://")):
            found.append(Problem(raw.line, f"le lien doit commencer par https:// : « {raw.link} ».",
                                 f"the link must start with https://: '{raw.link}'."))
        if raw.case and raw.case not in checker.cases:
            found.append(Problem(raw.line, f"cas inconnu « {raw.case} » dans la campagne {campaign.slug}.",
                                 f"unknown case '{raw.case}' in campaign {campaign.slug}."))
        if raw.account not in checker.accounts:
            found.append(Problem(raw.line, f"compte inconnu « {raw.account} ».", f"unknown account '{raw.account}'."))
        at, is_now, bad_time = parse_at(raw)
        images, bad_image = load_image(raw, base_dir, image_cache, session)
        found += [p for p in (bad_time, bad_image) if p is not None]
        row = PlanRow(raw=raw, key=(raw.case, raw.language, raw.text, raw.link), at=at, is_now=is_now, images=images)
        row.outcome = INVALID if found else CREATE
        problems += found
        rows.append(row)
    refused_at_once = [r for r in rows if r.outcome == INVALID]

    valid = [r for r in rows if r.outcome != INVALID]
    first_of: dict[Any, PlanRow] = {}
    image_of: dict[PostKey, PlanRow] = {}
    for row in valid:
        slot = (row.key, row.raw.account, "now" if row.is_now else row.at)
        if slot in first_of:
            row.outcome = INVALID
            problems.append(Problem(row.line, f"cette ligne répète la ligne {first_of[slot].line}.",
                                    f"this row repeats row {first_of[slot].line}."))
            continue
        first_of[slot] = row
        other = image_of.setdefault(row.key, row)
        if [i["alt"] for i in other.images] != [i["alt"] for i in row.images] or \
                [i.get("data", i.get("media_id")) for i in other.images] != \
                [i.get("data", i.get("media_id")) for i in row.images]:
            row.outcome = INVALID
            problems.append(Problem(row.line, f"même texte que la ligne {other.line}, mais une autre image : "
                                              "une publication n'a qu'un jeu d'images.",
                                    f"same text as row {other.line} but another image: a post has one set of images."))

    # Every post of the file, including rows already refused: their other problems are looked
    # for too, so a line with several shows them all at once.
    existing = checker.existing_posts({r.key for r in rows})
    by_pair = checker.deliveries_of([p.id for ps in existing.values() for p in ps if p.id is not None])
    valid = [r for r in rows if r.outcome != INVALID]
    groups: dict[tuple[PostKey, str], list[PlanRow]] = collections.defaultdict(list)
    for row in valid:
        groups[(row.key, row.raw.account)].append(row)
    for (key, account_name), group in groups.items():
        account = checker.accounts[account_name]
        found_posts = existing.get(key, [])
        there = [d for p in found_posts for d in by_pair.get((p.id or 0, account.id or 0), [])]
        _match(group, there, account, problems)
        target = _target_post(found_posts)
        for row in group:
            if row.outcome not in (CREATE, MOVE):
                continue
            creating = row.outcome == CREATE
            if row.at is not None and row.at <= now:
                row.outcome = INVALID
                problems.append(_past(row))
            if creating and found_posts and target is None:
                row.outcome = INVALID
                problems.append(Problem(row.line, f"cette publication a été refusée (n° {found_posts[0].id}) : "
                                                  "modifiez-la d'abord, ou changez le texte.",
                                        f"this post was rejected (no. {found_posts[0].id}): edit it first, or change the text."))
            for fr, en in checker.verdict(key, target, row.images, account):
                row.outcome = INVALID
                problems.append(_platform_problem(row, account, fr, en))
    for row in refused_at_once:
        # What the first checks could not see: a time gone by (unless the row names a delivery
        # already there at that time) and the platform's own rules for the text.
        known = checker.accounts.get(row.raw.account)
        there = [d for p in existing.get(row.key, []) for d in by_pair.get((p.id or 0, known.id or 0), [])] \
            if known is not None else []
        if row.at is not None and row.at <= now and not any(d.scheduled_at == row.at for d in there):
            problems.append(_past(row))
        if known is not None and row.raw.text:
            problems += [_platform_problem(row, known, fr, en) for fr, en in
                         checker.verdict(row.key, _target_post(existing.get(row.key, [])), row.images, known)]
    problems.sort(key=lambda p: p.line)
    return PlanResult(rows=rows, problems=problems), existing


def _past(row: PlanRow) -> Problem:
    return Problem(row.line, f"{row.raw.at} est déjà passé : choisissez une heure à venir, ou now.",
                   f"{row.raw.at} is in the past: pick a time to come, or now.")


def _platform_problem(row: PlanRow, account: Account, fr: str, en: str) -> Problem:
    platform = PLATFORM_NAMES.get(account.kind, account.kind)
    return Problem(row.line, f"{account.name} ({platform}) : {fr}", f"{account.name} ({platform}): {en}")


def _target_post(found: list[Post]) -> Post | None:
    """Where new deliveries of an existing text go: the approved post first, never a rejected one."""
    order = {posts.APPROVED: 0, posts.PENDING: 1, posts.DRAFT: 2}
    usable = sorted((p for p in found if p.status in order), key=lambda p: (order[p.status], p.id or 0))
    return usable[0] if usable else None


def import_plan(
    session: Session,
    *,
    actor: Actor,
    data: bytes,
    base_dir: Path | None = None,
    approve: bool = False,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> PlanResult:
    """Check a plan, then (unless ``dry_run`` or any row fails) apply it in the caller's
    transaction. A failed check returns the result with its problems and writes nothing."""
    require(actor, "editor", "importer un plan de publications", "import a publishing plan")
    if approve:
        require(actor, "approver", "approuver les publications d'un plan", "approve a plan's posts")
        # Four eyes: a named person would approve the posts they are creating. Only the operator at
        # the command line is trusted to do both at once (as for recurring plans).
        if not actor.operator:
            raise ServiceError(
                "Vous ne pouvez pas approuver les publications que vous importez : une autre personne les "
                "approuvera dans « Approbations ».",
                "You cannot approve the posts you import: someone else will approve them in Approvals.",
            )
    now = now or utcnow()
    raw_rows, file_problems = read_plan(data)
    if file_problems:
        return PlanResult(rows=[], problems=file_problems)
    result, existing = check_plan(session, raw_rows=raw_rows, base_dir=base_dir, now=now)
    keys_needing_post = {r.key for r in result.rows if r.outcome == CREATE and not existing.get(r.key)}
    result.posts_created = len(keys_needing_post)
    result.posts_reused = len({r.key for r in result.rows if r.outcome != INVALID} - keys_needing_post)
    if not result.ok or dry_run:
        return result
    _apply(session, actor=actor, result=result, existing=existing, approve=approve, now=now)
    result.applied = True
    audit(session, actor=actor, action="plan_import", target_type="plan",
          target_id=hashlib.sha256(data).hexdigest()[:16], rows=len(result.rows),
          posts_created=result.posts_created, created=result.count(CREATE), moved=result.count(MOVE),
          unchanged=result.count(UNCHANGED), approved=approve)
    return result


def _apply(session: Session, *, actor: Actor, result: PlanResult, existing: dict[PostKey, list[Post]],
           approve: bool, now: dt.datetime) -> None:
    """Write what the check decided. Rows were checked with the same rules ``create_post``,
    ``schedule`` and ``reschedule`` apply; they are written here in bulk (one INSERT per table,
    audit rows included) because one ORM object at a time cannot reach 10,000 rows a minute."""
    campaign = current_campaign(session)
    accounts = {a.name: a for a in session.exec(select(Account))}
    cases = {c.slug: c for c in session.exec(select(Case).where(Case.campaign_id == campaign.id))}
    log: list[dict[str, Any]] = []

    def note(action: str, target_type: str, target_id: object, **detail: Any) -> None:
        log.append({"at": now, "actor": actor.username, "action": action, "target_type": target_type,
                    "target_id": str(target_id), "detail": detail})

    for row in result.rows:
        if row.outcome == MOVE:  # the matcher only moves MOVABLE deliveries, as reschedule would
            assert row.delivery is not None and row.at is not None
            row.delivery.scheduled_at = row.delivery.due_at = row.at
            row.delivery.updated_at = now
            session.add(row.delivery)
            note("reschedule", "delivery", row.delivery.id, at=row.at.isoformat(), source="plan")

    post_for: dict[PostKey, Post] = {}
    new_keys: list[PostKey] = []
    images: dict[PostKey, list[dict[str, Any]]] = {}
    for row in result.rows:
        if row.outcome == CREATE and row.key not in post_for and row.key not in images:
            target = _target_post(existing.get(row.key, []))
            if target is not None:
                post_for[row.key] = target
            else:
                new_keys.append(row.key)
                images[row.key] = row.images
    created_posts: list[Post] = []
    if new_keys:
        # each new post takes its case's content warning, visibility and labels, as create_post does
        warnings = {k: content_warnings.case_default(cases.get(k[0]), k[1]) for k in new_keys}
        created_posts = list(session.scalars(sa.insert(Post).returning(Post, sort_by_parameter_order=True), [
            {"campaign_id": campaign.id, "case_id": cases[k[0]].id if k[0] else None, "language": k[1],
             "text": k[2], "link": k[3], "images": images[k], "author": actor.username, "status": posts.PENDING,
             "content_warning": warnings[k].text, "visibility": warnings[k].visibility,
             "self_labels": list(warnings[k].labels), "created_at": now, "updated_at": now}
            for k in new_keys
        ]))
        for key, post in zip(new_keys, created_posts, strict=True):
            post_for[key] = post
            note("create", "post", post.id, case=key[0] or None, language=key[1], submitted=True, source="plan")

    to_create = [r for r in result.rows if r.outcome == CREATE]
    values = []
    # a post that breaks a consent withdrawn on a case is held, as deliveries.schedule does
    # (read only when a case of the edition has one withdrawn)
    from orchestrator.services import consent

    restricted = consent.restricted_cases(session, campaign_id=campaign.id or 0)
    breach_of: dict[PostKey, consent.Breach | None] = {}

    def breach(key: PostKey) -> consent.Breach | None:
        if key not in breach_of:
            breach_of[key] = next(iter(consent.breaches(session, post_for[key], cases=restricted)), None)
        return breach_of[key]

    for row, code in zip(to_create, _source_codes(session, len(to_create)), strict=True):
        account, at = accounts[row.raw.account], row.at or now
        state, held = states.SCHEDULED, ""
        # The same holds as deliveries.schedule: a paused or closed case, an unhealthy account.
        case = cases.get(row.key[0])
        if case is not None and case.status in ("paused", "good_news", "closed"):
            state, held = states.HELD, str(states.HeldReason.case(case.status))
        elif not account.healthy:
            state, held = states.HELD, str(states.HeldReason.account(account.last_error))
        elif restricted and (found := breach(row.key)) is not None:
            state, held = states.HELD, str(consent.reason_for(found))
        values.append({"post_id": post_for[row.key].id, "account_id": account.id, "scheduled_at": at, "due_at": at,
                       "source_code": code, "state": state, "held_reason": held, "created_at": now, "updated_at": now})
    made = list(session.scalars(sa.insert(Delivery).returning(Delivery, sort_by_parameter_order=True), values)) \
        if values else []
    for row, delivery in zip(to_create, made, strict=True):
        row.delivery = delivery
        post = post_for[row.key]
        if post.status == posts.APPROVED:  # an existing approved text: freeze it now, as schedule does
            deliveries.render_delivery(session, delivery=delivery, post=post)
        note("schedule", "delivery", delivery.id, post=post.id, account=row.raw.account,
             at=delivery.scheduled_at.isoformat(), source="plan")
    if log:
        session.execute(sa.insert(AuditEntry), log)
    if approve:
        for post in created_posts:
            posts.approve_post(session, actor=actor, post_id=post.id or 0)


def _source_codes(session: Session, count: int) -> list[str]:
    """``count`` distinct unused source codes, checked against the table in a few queries rather
    than one per delivery."""
    import secrets as pysecrets

    from orchestrator.services.deliveries import _ALPHABET

    codes: set[str] = set()
    while len(codes) < count:
        batch = {"".join(pysecrets.choice(_ALPHABET) for _ in range(7)) for _ in range(count - len(codes))} - codes
        taken: set[str] = set()
        listed = sorted(batch)
        for start in range(0, len(listed), 500):
            taken |= set(session.exec(select(Delivery.source_code).where(col(Delivery.source_code).in_(listed[start:start + 500]))))
        codes |= batch - taken
    return sorted(codes)


#: The account the example plan names when it finds none to suggest: the demo's (orchestrator/demo.py).
EXAMPLE_ACCOUNT = "sandbox-x-fr"
_EXAMPLE_TEXT = {
    "fr": "Écrivez pour {name} : défendre les droits humains n'est pas un crime. #ÉcrireÇaLibère",
    "en": "Write for {name}: defending human rights is not a crime. #WriteForRights",
}


def example_plan(session: Session, *, language: str = "fr", now: dt.datetime | None = None) -> str:
    """A one-line plan that passes the check as given, to start a spreadsheet from: the current
    edition's first active case, an account that exists (the demo's X account when there is one),
    tomorrow at noon in the edition's time zone, with the headers in ``language``."""
    now = now or utcnow()
    campaign = current_campaign(session)
    cases = [c for c in session.exec(select(Case).where(Case.campaign_id == campaign.id).order_by(col(Case.position)))
             if c.status == "active"]
    known = list(session.exec(select(Account).order_by(col(Account.name))))
    account = next((a for a in known if a.name == EXAMPLE_ACCOUNT), None) or \
        next((a for a in known if a.healthy and a.language in (language, None)), None) or \
        next((a for a in known if a.healthy), None)
    text_language = (account.language if account is not None and account.language else language)
    case = cases[0] if cases else None
    name = (case.person.get(text_language) or case.person.get("fr") or case.slug) if case else "Amnistie"
    zone = ZoneInfo(campaign.timezone)
    tomorrow = now.astimezone(zone).date() + dt.timedelta(days=1)
    at = dt.datetime.combine(tomorrow, dt.time(12, 0), tzinfo=zone)
    link = (campaign.url or {}).get(text_language) or (campaign.url or {}).get("fr") or ""
    out = io.StringIO()
    french = language == "fr"
    writer = csv.writer(out, delimiter=";" if french else ",", lineterminator="\n")
    writer.writerow(["cas", "langue", "texte", "lien", "compte", "quand"] if french
                    else ["case", "language", "text", "link", "account", "at"])
    writer.writerow([case.slug if case else "", text_language,
                     _EXAMPLE_TEXT.get(text_language, _EXAMPLE_TEXT["fr"]).format(name=name), link,
                     account.name if account is not None else EXAMPLE_ACCOUNT, at.isoformat(timespec="minutes")])
    return out.getvalue()
