"""How deliveries are shown to staff: the state a person must see, held reasons in words, and
each delivery's own figures over time (views, likes, shares, replies, clicks).

The state shown is not always the delivery's own: a delivery of a post that is not approved
(awaiting approval, rejected, a draft) sits in ``scheduled`` (or held, failed, retrying) but
nothing of it goes out, because the worker claims only approved posts. Showing « Programmée »
there told staff that a refused text was about to be published. :func:`shown_state` is the one
place that decides; every page and count uses it.

Read-only: nothing here changes the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from channels.registry import ByKind
from orchestrator import states
from orchestrator.models import Account, Delivery, LinkClickHour, MetricSnapshot, Post
from orchestrator.services import safe_links
from orchestrator.services.posts import STATUS_LABELS

AWAITING_APPROVAL = "awaiting_approval"
REJECTED = "rejected"
DRAFT = "draft"

#: Delivery states that wait on their post: neither in flight nor final. While the post is not
#: approved none of these can be claimed, so the post's status is what is shown.
WAITING_ON_POST = (states.SCHEDULED, states.RETRYING, states.HELD, states.FAILED)
#: Post status -> the state its waiting deliveries are shown in.
BY_POST_STATUS = {"pending": AWAITING_APPROVAL, "rejected": REJECTED, "draft": DRAFT}


#: The colours of Streamlit's palette a badge can take (``st.badge``'s ``color``).
Colour = Literal["blue", "green", "orange", "red", "violet", "yellow", "gray"]


@dataclasses.dataclass(frozen=True)
class StateStyle:
    """A state as staff see it: words in both languages, a colour AND an icon (never colour
    alone, WCAG 1.4.1), and a symbol for tables, where only text goes."""

    key: str
    label: dict[str, str]
    colour: Colour
    icon: str  # a Material Symbols name, as Streamlit writes it
    symbol: str

    def text(self, language: str) -> str:
        return f"{self.symbol} {self.label.get(language) or self.label['fr']}"


def _style(key: str, label: dict[str, str], colour: Colour, icon: str, symbol: str) -> StateStyle:
    return StateStyle(key=key, label=label, colour=colour, icon=f":material/{icon}:", symbol=symbol)


#: In the order filters and legends list them.
STYLES: dict[str, StateStyle] = {s.key: s for s in (
    _style(states.SCHEDULED, states.LABELS[states.SCHEDULED], "blue", "schedule", "🔵"),
    _style(AWAITING_APPROVAL, STATUS_LABELS["pending"], "violet", "hourglass_top", "⏳"),
    _style(DRAFT, STATUS_LABELS["draft"], "gray", "edit_note", "📝"),
    _style(states.HELD, states.LABELS[states.HELD], "orange", "pause_circle", "🟠"),
    _style(states.PUBLISHING, states.LABELS[states.PUBLISHING], "violet", "send", "🟣"),
    _style(states.PUBLISHED, states.LABELS[states.PUBLISHED], "green", "check_circle", "🟢"),
    _style(states.RETRYING, states.LABELS[states.RETRYING], "yellow", "refresh", "🟡"),
    _style(states.FAILED, states.LABELS[states.FAILED], "red", "error", "🔴"),
    _style(states.UNCONFIRMED, states.LABELS[states.UNCONFIRMED], "orange", "help", "🟤"),
    _style(REJECTED, STATUS_LABELS["rejected"], "red", "block", "⛔"),
    _style(states.CANCELLED, states.LABELS[states.CANCELLED], "gray", "cancel", "⚪"),
)}
SHOWN_STATES = tuple(STYLES)
#: A published delivery whose post a retraction removed (``retracted_at``): still ``published``
#: for counting and filters, shown as retracted (not one of the filters' states).
RETRACTED_STYLE = _style("retracted", states.RETRACTED_LABEL, "gray", "delete_sweep", "🗑️")


#: The states with a figure of their own at the top of the overview; the others are listed when
#: there are any.
HEADLINE = (states.SCHEDULED, AWAITING_APPROVAL, states.PUBLISHED, states.HELD, states.FAILED, states.UNCONFIRMED)
#: What the queue's figures and "needs a person" count look at.
FAILED = states.FAILED
#: Gone out or cancelled: no warning about its day is worth showing any more.
FINAL = states.FINAL

#: What a person can do with one delivery from the queue (each has its service in deliveries.py,
#: which refuses it again if the delivery moved meanwhile).
RETRY, CANCEL, SEND_LATE, RESOLVE = "retry", "cancel", "send_late", "resolve"


def person_actions(state: str, held_reason: str | None) -> frozenset[str]:
    """The buttons offered for a delivery in ``state``: retry a failed one, cancel any not yet
    gone nor going out, send late one held for being late, say whether an unconfirmed one went
    out."""
    offered = set()
    if state == states.FAILED:
        offered.add(RETRY)
    if state not in (*states.FINAL, states.PUBLISHING):
        offered.add(CANCEL)
    if state == states.HELD and states.HeldReason.parse(held_reason or "").kind is states.HeldFor.LATE:
        offered.add(SEND_LATE)
    if state == states.UNCONFIRMED:
        offered.add(RESOLVE)
    return frozenset(offered)


def figures_growing(state: str) -> bool:
    """A delivery out or going out: the platform's figures for it still grow, so a page showing
    them reads them again while it is open."""
    return state in (states.PUBLISHED, states.PUBLISHING)


def shown_key(state: str, post_status: str | None) -> str:
    """The state staff must see for a delivery in ``state`` whose post has ``post_status``."""
    if state in WAITING_ON_POST and post_status in BY_POST_STATUS:
        return BY_POST_STATUS[post_status]  # type: ignore[index]
    return state


def shown_state(state: str, post_status: str | None) -> StateStyle:
    key = shown_key(state, post_status)
    return STYLES.get(key) or StateStyle(key=key, label={"fr": key, "en": key}, colour="gray",
                                         icon=":material/help:", symbol="❔")


def shown_condition(keys: list[str], *, campaign_id: int) -> Any:
    """SQL for "the delivery is shown in one of ``keys``", on the delivery table alone (posts
    through IN subqueries of the campaign's posts by status, a few thousand ids at most)."""

    def posts(*statuses: str, negate: bool = False) -> Any:
        status = col(Post.status).not_in(statuses) if negate else col(Post.status).in_(statuses)
        return select(Post.id).where(Post.campaign_id == campaign_id, status)

    state = col(Delivery.state)
    parts: list[Any] = []
    own = [k for k in keys if k in states.STATES]
    waiting = [k for k in own if k in WAITING_ON_POST]
    others = [k for k in own if k not in WAITING_ON_POST]
    if others:
        parts.append(state.in_(others))
    if waiting:  # only when the post is approved (or has a status of its own that waits on nothing)
        parts.append(sa.and_(state.in_(waiting), col(Delivery.post_id).in_(posts(*BY_POST_STATUS, negate=True))))
    by_status = [status for status, key in BY_POST_STATUS.items() if key in keys]
    if by_status:
        parts.append(sa.and_(state.in_(WAITING_ON_POST), col(Delivery.post_id).in_(posts(*by_status))))
    return sa.or_(*parts) if parts else sa.false()


#: Platform names as their owners write them (account kinds are the database's words).
PLATFORM_NAMES: Mapping[str, str] = ByKind(lambda cls: cls.platform_name)


def platform_name(kind: str) -> str:
    return PLATFORM_NAMES.get(kind, kind.capitalize())


# ---------------------------------------------------------------------------------------------
# Why a delivery waits, in words

_CASE_STATUS = {
    "paused": {"fr": "le cas est en pause", "en": "the case is paused"},
    "good_news": {"fr": "le cas a reçu une bonne nouvelle", "en": "the case has good news"},
    "closed": {"fr": "le cas est fermé", "en": "the case is closed"},
}


def _same(text: str) -> str:
    return text


def held_reason_text(reason: str, language: str, *, escape: Callable[[str], str] = _same,
                     people: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """A held reason as the worker and the services store it (``case paused: note``,
    ``account unhealthy: error``, ``late: waiting for a person``) as a sentence. ``escape`` is
    applied to the part people or platforms wrote (a note, an error), e.g. for Markdown.
    ``people``: case slug -> its person's name by language, to name the person a consent
    protects instead of the case's slug."""
    fr = language != "en"
    held = states.HeldReason.parse(reason)
    if held.kind is states.HeldFor.CASE:
        status, _, note = held.detail.partition(":")
        status, detail = status.strip(), escape(note.strip())
        what = _CASE_STATUS.get(status, {"fr": f"le cas est arrêté ({status})", "en": f"the case is stopped ({status})"})
        sentence = what["fr" if fr else "en"]
        sentence = sentence[0].upper() + sentence[1:]
        if detail:
            sentence += f" : {detail}" if fr else f": {detail}"
        return sentence + (" Rien ne part pour ce cas tant qu'il n'est pas repris." if fr else
                           " Nothing goes out for this case until it is resumed.")
    if held.kind is states.HeldFor.ACCOUNT:
        detail = escape(held.detail)
        base = ("Le compte est en panne" if fr else "The account is unhealthy")
        if detail:
            base += f" : {detail}" if fr else f": {detail}"
        return base + (". Ses envois repartiront quand sa connexion sera rétablie." if fr else
                       ". Its deliveries go again once its connection works.")
    if held.kind is states.HeldFor.LATE:
        return ("Son heure est passée pendant qu'elle était retenue : une personne décide de l'envoyer quand même ou "
                "de l'annuler." if fr else
                "Its time passed while it was held: a person decides whether to send it anyway or cancel it.")
    if held.kind is states.HeldFor.SUSPENDED:
        _, _, why = held.detail.partition(":")
        why = escape(why.strip())
        base = "La publication est suspendue" if fr else "Publishing is suspended"
        if why:
            base += f" : {why}" if fr else f": {why}"
        return base + (". Un admin décidera à la levée : publier, reprogrammer ou annuler." if fr else
                       ". An admin decides when it is lifted: publish, reschedule or cancel.")
    if held.kind is states.HeldFor.CONSENT:
        from orchestrator.services.consent import FLAG_WORDS, of_fr

        flag, _, slug = held.detail.partition(":")
        words = FLAG_WORDS.get(flag.strip(), {"fr": flag.strip(), "en": flag.strip()})
        person = (people or {}).get(slug.strip()) or {}
        name = person.get(language) or person.get("fr") or person.get("en")
        if name:
            case_fr, case_en = f"cas {of_fr(escape(name))}", f"the case of {escape(name)}"
        else:
            case_fr, case_en = f"cas « {escape(slug.strip())} »", f"case '{escape(slug.strip())}'"
        return (f"Sa publication enfreint un consentement retiré (« {words['fr']} », {case_fr}) : elle attend "
                "que le texte ou l'image change, ou que le consentement soit rendu." if fr else
                f"Its post breaks a withdrawn consent ('{words['en']}', {case_en}): it waits until the text or "
                "image changes, or the consent is granted again.")
    return escape(reason)


def rejected_text(comment: str, language: str, *, escape: Callable[[str], str] = _same) -> str:
    """Why a rejected post's deliveries wait, and what brings them back."""
    comment = escape(comment)
    if language == "en":
        head = f"The post was rejected: {comment}" if comment else "The post was rejected."
        return head + " Its deliveries wait: they go out if the post is corrected, submitted again and approved."
    head = f"La publication a été refusée : {comment}" if comment else "La publication a été refusée."
    return head + " Ses envois attendent : ils partiront si elle est corrigée, soumise de nouveau et approuvée."


def waiting_text(shown: str, language: str) -> str:
    """For a delivery of a post awaiting approval or still a draft."""
    if shown == AWAITING_APPROVAL:
        return ("La publication attend son approbation : rien ne part avant." if language != "en" else
                "The post is waiting for approval: nothing goes out before.")
    return ("La publication est encore un brouillon : elle doit être soumise puis approuvée avant de partir."
            if language != "en" else "The post is still a draft: it must be submitted and approved before it goes out.")


# ---------------------------------------------------------------------------------------------
# A delivery's own figures

FIGURES = ("views", "likes", "shares", "replies", "clicks")
#: Figures only some platforms give (Instagram's saves): shown where a delivery has them.
SOME_FIGURES = ("saves",)


def clicks_by_code(session: Session, codes: list[str]) -> dict[str, int]:
    if not codes:
        return {}
    rows = session.exec(
        select(LinkClickHour.source_code, sa.func.sum(LinkClickHour.count))  # type: ignore[call-overload]
        .where(col(LinkClickHour.source_code).in_(codes)).group_by(LinkClickHour.source_code)
    )
    return {code: int(n or 0) for code, n in rows}


def delivery_figures(session: Session, *, delivery_id: int, limit: int = 2000) -> dict[str, Any]:
    """The latest figures of one delivery and their curve: each snapshot's running totals (the
    last ``limit``), and the clicks on its short link, added up hour by hour."""
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:
        return {"latest": {}, "series": [], "metrics_at": None, "parts": [], "note": None}
    clicks_rows = list(session.exec(
        select(LinkClickHour.hour, LinkClickHour.count)
        .where(LinkClickHour.source_code == delivery.source_code).order_by(col(LinkClickHour.hour))
    ))
    latest = {"views": delivery.views, "likes": delivery.likes, "shares": delivery.shares,
              "replies": delivery.replies, "clicks": sum(int(n or 0) for _, n in clicks_rows),
              "saves": delivery.saves}
    snapshots = list(session.exec(
        select(MetricSnapshot).where(MetricSnapshot.delivery_id == delivery_id)
        .order_by(col(MetricSnapshot.taken_at).desc(), col(MetricSnapshot.id).desc()).limit(limit)
    ))
    series: list[dict[str, Any]] = []
    for snap in reversed(snapshots):
        for name in ("views", "likes", "shares", "replies", "saves"):
            value = getattr(snap, name)
            if value is not None:
                series.append({"at": snap.taken_at, "figure": name, "value": int(value)})
    running = 0
    for hour, n in clicks_rows:
        running += int(n or 0)
        # a click hour is complete at its end: that is when the running total is known
        series.append({"at": hour + dt.timedelta(hours=1), "figure": "clicks", "value": running})
    if delivery.published_at is not None:  # every figure starts from nothing when the post goes out
        for name in {r["figure"] for r in series}:
            series.append({"at": delivery.published_at, "figure": name, "value": 0})
    series.sort(key=lambda r: r["at"])
    # a thread: each part's platform id and last figures, in order (the latest above are their sums)
    parts = [{"number": i, "platform_id": pid, **(delivery.part_metrics or {}).get(pid, {})}
             for i, pid in enumerate(delivery.part_ids or [], start=1)]
    return {"latest": latest, "series": series, "metrics_at": delivery.metrics_at, "parts": parts,
            "note": dict(delivery.note) if delivery.note else None}


def case_deliveries(
    session: Session, *, campaign_id: int, case_id: int, limit: int = 50, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """A case's published deliveries, newest first, with their figures and clicks; and how many
    there are in all (for paging)."""
    posts = select(Post.id).where(Post.campaign_id == campaign_id, Post.case_id == case_id)
    where: list[Any] = [col(Delivery.post_id).in_(posts), col(Delivery.state) == states.PUBLISHED]
    total = int(session.exec(select(sa.func.count()).select_from(Delivery).where(*where)).one())  # type: ignore[call-overload]
    found = list(session.exec(
        select(Delivery, Post, Account)
        .join(Post, col(Post.id) == Delivery.post_id)
        .join(Account, col(Account.id) == Delivery.account_id)
        .where(*where)
        .order_by(col(Delivery.published_at).desc(), col(Delivery.id).desc())
        .offset(offset).limit(limit)
    ))
    clicks = clicks_by_code(session, [d.source_code for d, _, _ in found])
    rows = [{
        "id": d.id, "published_at": d.published_at, "account": a.name, "kind": a.kind, "language": p.language,
        "text": d.rendered_text or p.text, "views": d.views, "likes": d.likes, "shares": d.shares,
        "replies": d.replies, "clicks": clicks.get(d.source_code, 0), "saves": d.saves, "metrics_at": d.metrics_at,
        "platform_link": safe_links.for_account(d.platform_url, a),
    } for d, p, a in found]
    return total, rows


# ---------------------------------------------------------------------------------------------
# The calendar: every day of a range, its count and its first entries


def calendar_days(
    session: Session, *, campaign_id: int, tz: str, start: dt.datetime, end: dt.datetime, per_day: int,
    **filters: Any,
) -> dict[dt.date, dict[str, Any]]:
    """Per local day between ``start`` and ``end``: how many deliveries (``count``) and the first
    ``per_day`` of them in full (``rows``). Only ids and times are read for the range; the rows
    drawn are read in full, so a month of thousands costs a few hundred rows."""
    from orchestrator.services.reports import _delivery_filter, _hydrate

    zone = ZoneInfo(tz)
    found = session.exec(
        select(Delivery.id, Delivery.scheduled_at)
        .where(*_delivery_filter(campaign_id=campaign_id, start=start, end=end, **filters))
        .order_by(col(Delivery.scheduled_at), col(Delivery.id))
    )
    days: dict[dt.date, dict[str, Any]] = {}
    wanted: list[int] = []
    for delivery_id, at in found:
        day = days.setdefault(at.astimezone(zone).date(), {"count": 0, "ids": []})
        day["count"] += 1
        if len(day["ids"]) < per_day and delivery_id is not None:
            day["ids"].append(delivery_id)
            wanted.append(delivery_id)
    rows = {r["id"]: r for r in _hydrate(session, wanted)}
    return {day: {"count": v["count"], "rows": [rows[i] for i in v["ids"] if i in rows]} for day, v in days.items()}
