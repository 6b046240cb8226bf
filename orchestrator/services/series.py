"""Recurring plans: "every day at 12:00 from 1 to 10 December, rotating through the cases, on
these accounts" expanded into posts and deliveries.

Applying a plan twice creates nothing new: an occurrence is skipped on an account that already
has a delivery for the same case at the same instant (even a cancelled one: someone decided).
A plan is not a table of its own; each application is kept in the audit log with the plan.

Occurrences whose time has passed follow Compose's rule (``compose.check_time``): refused unless
the person confirms they are to be published now; then they are scheduled now, not at the past
time. Such a post keeps the occurrence it stands for in its ``form_token``, so applying the plan
again still finds it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from typing import Any

from sqlmodel import Session, col, select

from orchestrator.models import AuditEntry, CallToAction, Campaign, Case, Delivery, Post, Template
from orchestrator.services import deliveries, posts
from orchestrator.services.accounts import get_account
from orchestrator.services.auth import Actor, ServiceError, audit, require
from orchestrator.services.campaigns import current_campaign, get_case, list_cases
from orchestrator.services.compose import check_time
from orchestrator.timeutil import at_local, utcnow


@dataclasses.dataclass
class SeriesPlan:
    name: str
    start: dt.date
    end: dt.date
    time: dt.time
    accounts: list[str]
    language: str = "fr"
    #: Rotation order; empty means every active case, in the campaign's order.
    cases: list[str] = dataclasses.field(default_factory=list)
    every_days: int = 1
    #: A template slug from the campaign, or a text with the same placeholders.
    template: str | None = None
    text: str | None = None
    action: str | None = None
    link: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeriesPlan:
        try:
            raw_time = data["time"]
            if isinstance(raw_time, int):  # YAML reads 12:00 as 720 minutes (sexagesimal)
                raw_time = f"{raw_time // 60:02d}:{raw_time % 60:02d}"
            return cls(
                name=str(data["name"]),
                start=_date(data["start"]),
                end=_date(data["end"]),
                time=raw_time if isinstance(raw_time, dt.time) else dt.time.fromisoformat(str(raw_time)),
                accounts=[str(a) for a in data["accounts"]],
                language=str(data.get("language", "fr")),
                cases=[str(c) for c in data.get("cases") or []],
                every_days=int(data.get("every_days", 1)),
                template=data.get("template"),
                text=data.get("text"),
                action=data.get("action"),
                link=data.get("link"),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ServiceError(
                f"Plan illisible ({exc}) : il faut name, start, end, time, accounts, et template ou text.",
                f"Unreadable plan ({exc}): name, start, end, time, accounts, and template or text are needed.",
            ) from None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(start=self.start.isoformat(), end=self.end.isoformat(), time=self.time.strftime("%H:%M"))
        return data


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@dataclasses.dataclass(frozen=True)
class Occurrence:
    at: dt.datetime
    case_slug: str
    text: str
    accounts: tuple[str, ...]
    #: Accounts that already have this occurrence (skipped when applying).
    existing: tuple[str, ...] = ()


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(body: str, *, case: Case, campaign: Campaign, action: CallToAction | None, language: str,
         link: str | None) -> str:
    """Placeholders as in the campaign's templates: {person} {country} {authority} {ask} {link}
    {hashtags} {action}. An unknown one is refused, not printed as is."""
    page = (case.links.get("page") or {}) if isinstance(case.links, dict) else {}
    url = link or ((action.url or {}).get(language) if action else None) or page.get(language) or page.get("fr") or ""
    values = {
        "person": case.person.get(language) or case.label(),
        "country": case.country.get(language, ""),
        "authority": case.authority.get(language, ""),
        "ask": case.ask.get(language, ""),
        "link": url,
        "hashtags": " ".join(campaign.hashtags.get(language, [])),
        "action": (action.label.get(language, "") if action else ""),
    }
    unknown = sorted({m for m in _PLACEHOLDER.findall(body) if m not in values})
    if unknown:
        raise ServiceError(
            f"Espace réservé inconnu : {', '.join('{' + u + '}' for u in unknown)} (permis : {', '.join('{' + k + '}' for k in values)}).",
            f"Unknown placeholder: {', '.join('{' + u + '}' for u in unknown)} (allowed: {', '.join('{' + k + '}' for k in values)}).",
        )
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], body)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def expand(session: Session, *, plan: SeriesPlan, campaign: Campaign | None = None) -> list[Occurrence]:
    """Every occurrence of the plan, with the accounts that already have it. Changes nothing."""
    if plan.end < plan.start:
        raise ServiceError("La fin du plan précède son début.", "The plan ends before it starts.")
    if plan.every_days < 1:
        raise ServiceError("L'intervalle doit être d'au moins un jour.", "The interval must be at least one day.")
    if not plan.accounts:
        raise ServiceError("Choisissez au moins un compte.", "Pick at least one account.")
    if not (plan.template or plan.text):
        raise ServiceError("Donnez un modèle ou un texte.", "Give a template or a text.")
    campaign = campaign or current_campaign(session)
    accounts = [get_account(session, name=n) for n in plan.accounts]
    cases = ([get_case(session, slug=s, campaign=campaign) for s in plan.cases] if plan.cases
             else [c for c in list_cases(session, campaign=campaign) if c.status == "active"])
    if not cases:
        raise ServiceError("Aucun cas actif à faire tourner.", "No active case to rotate through.")
    action = None
    if plan.action:
        action = session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id,
                                                         CallToAction.slug == plan.action)).first()
        if action is None:
            raise ServiceError(f"Appel à l'action inconnu « {plan.action} ».", f"Unknown call to action '{plan.action}'.")
    body = plan.text
    if plan.template:
        template = session.exec(select(Template).where(Template.campaign_id == campaign.id, Template.slug == plan.template)).first()
        if template is None:
            raise ServiceError(f"Modèle inconnu « {plan.template} ».", f"Unknown template '{plan.template}'.")
        body = template.body
        if action is None:
            action = session.exec(select(CallToAction).where(CallToAction.campaign_id == campaign.id,
                                                             CallToAction.slug == template.action_slug)).first()
    assert body is not None
    occurrences = []
    day, i = plan.start, 0
    account_ids = [a.id for a in accounts]
    while day <= plan.end:
        case = cases[i % len(cases)]
        at = at_local(day, plan.time, campaign.timezone)
        existing = set(session.exec(
            select(Delivery.account_id).join(Post, col(Post.id) == Delivery.post_id)
            .where(Delivery.scheduled_at == at, Post.case_id == case.id, col(Delivery.account_id).in_(account_ids))
        ))
        # a past occurrence published at once sits at another time: its post names it
        existing |= set(session.exec(
            select(Delivery.account_id).join(Post, col(Post.id) == Delivery.post_id)
            .where(col(Post.form_token).startswith(_token_prefix(case.id, at)),  # type: ignore[arg-type]
                   col(Delivery.account_id).in_(account_ids))
        ))
        occurrences.append(Occurrence(
            at=at, case_slug=case.slug,
            text=fill(body, case=case, campaign=campaign, action=action, language=plan.language, link=plan.link),
            accounts=tuple(a.name for a in accounts),
            existing=tuple(a.name for a in accounts if a.id in existing),
        ))
        day += dt.timedelta(days=plan.every_days)
        i += 1
    return occurrences


def _token_prefix(case_id: int | None, at: dt.datetime) -> str:
    return f"series:{case_id}:{int(at.timestamp())}:"


def _token(case_id: int | None, at: dt.datetime, accounts: list[str]) -> str:
    """The occurrence a post stands for (case and planned instant), and the accounts it was made
    for (the same occurrence may get a post for more accounts later; tokens are unique)."""
    return _token_prefix(case_id, at) + hashlib.sha256("\n".join(sorted(accounts)).encode()).hexdigest()[:16]


def past_occurrences(plan: SeriesPlan, *, tz: str, now: dt.datetime | None = None) -> list[dt.datetime]:
    """The plan's times already passed (what the page asks about before applying)."""
    now = now or utcnow()
    times, day = [], plan.start
    while day <= plan.end and plan.every_days >= 1:
        at = at_local(day, plan.time, tz)
        if at > now:
            break
        times.append(at)
        day += dt.timedelta(days=plan.every_days)
    return times


def apply(
    session: Session, *, actor: Actor, plan: SeriesPlan, approve: bool = False, publish_now: bool = False,
    campaign: Campaign | None = None,
) -> dict[str, int]:
    """Create what the plan needs and is not there yet. Posts wait for approval unless
    ``approve`` (only the operator at the command line, who is trusted, may skip the four eyes).
    An occurrence whose time has passed is refused, nothing created, unless ``publish_now``: then
    it is scheduled now (Compose's rule, ``compose.check_time``)."""
    require(actor, "editor", "appliquer un plan récurrent", "apply a recurring plan")
    if approve and not actor.operator:
        raise ServiceError("Seule la ligne de commande peut approuver un plan d'un coup ; les publications "
                           "attendent une autre personne.",
                           "Only the command line may approve a plan at once; the posts wait for someone else.")
    campaign = campaign or current_campaign(session)
    made_posts = made_deliveries = skipped = 0
    action_slug = plan.action
    if plan.template and not action_slug:
        template = session.exec(select(Template).where(Template.campaign_id == campaign.id, Template.slug == plan.template)).first()
        action_slug = template.action_slug if template else None
    occurrences = expand(session, plan=plan, campaign=campaign)
    now = utcnow()
    # Every time is checked before anything is made: a refused plan leaves nothing half applied.
    times = {o.at: check_time(o.at, publish_now=publish_now, tz=campaign.timezone, now=now)
             for o in occurrences if len(o.existing) < len(o.accounts)}
    case_ids = {c.slug: c.id for c in list_cases(session, campaign=campaign)}
    for occurrence in occurrences:
        missing = [a for a in occurrence.accounts if a not in occurrence.existing]
        skipped += len(occurrence.existing)
        if not missing:
            continue
        at = times[occurrence.at]
        token = _token(case_ids.get(occurrence.case_slug), occurrence.at, missing) if at != occurrence.at else None
        post = posts.create_post(session, actor=actor, case_slug=occurrence.case_slug, language=plan.language,
                                 text=occurrence.text, action_slug=action_slug, submit=True, campaign=campaign,
                                 form_token=token)
        made_posts += 1
        for name in missing:
            deliveries.schedule(session, actor=actor, post_id=post.id, account_name=name, at=at)  # type: ignore[arg-type]
            made_deliveries += 1
        if approve:
            posts.approve_post(session, actor=actor, post_id=post.id)  # type: ignore[arg-type]
    result = {"posts": made_posts, "deliveries": made_deliveries, "skipped": skipped}
    audit(session, actor=actor, action="series_apply", target_type="series", target_id=plan.name[:64],
          plan=plan.as_dict(), **result)
    return result


def applied_plans(session: Session, *, limit: int = 50) -> list[AuditEntry]:
    """Plans applied so far, newest first (from the audit log)."""
    return list(session.exec(
        select(AuditEntry).where(AuditEntry.action == "series_apply")
        .order_by(col(AuditEntry.at).desc()).limit(limit)
    ))
