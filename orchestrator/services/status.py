"""What is happening: deliveries by state (as staff see it), workers, what is next, what needs a person."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import states
from orchestrator.models import Account, Delivery, Post, WorkerHeartbeat
from orchestrator.services.delivery_views import shown_key
from orchestrator.settings import get_settings
from orchestrator.timeutil import isoformat, utcnow


def summary(session: Session, *, now: dt.datetime | None = None, problems_limit: int = 20) -> dict[str, Any]:
    now = now or utcnow()
    settings = get_settings()
    # By the state staff see (delivery_views.shown_key): a pending post's deliveries wait for
    # approval, they are not "scheduled"; and only an approved post's deliveries are ever due.
    counts: dict[str, int] = {}
    for state, status, n in session.exec(
        select(Delivery.state, Post.status, sa.func.count())  # type: ignore[call-overload]
        .join(Post, col(Post.id) == Delivery.post_id).group_by(Delivery.state, Post.status)
    ):
        key = shown_key(state, status)
        counts[key] = counts.get(key, 0) + int(n)
    next_due = session.exec(
        select(sa.func.min(Delivery.due_at)).join(Post, col(Post.id) == Delivery.post_id)
        .where(col(Delivery.state).in_(states.CLAIMABLE), Post.status == "approved")
    ).one()
    workers = [
        {
            "id": w.id,
            "host": w.host,
            "pid": w.pid,
            "version": w.version,
            "last_seen": isoformat(w.last_seen),
            "ended_at": isoformat(w.ended_at),
            "fresh": w.ended_at is None and (now - w.last_seen).total_seconds() <= settings.heartbeat_stale_seconds,
        }
        for w in session.exec(select(WorkerHeartbeat).order_by(col(WorkerHeartbeat.last_seen).desc()))
    ]
    stuck = list(session.exec(
        select(Delivery).where(Delivery.state == states.PUBLISHING, col(Delivery.lease_until) < now).limit(problems_limit)
    ))
    attention = list(session.exec(
        select(Delivery).where(col(Delivery.state).in_((states.FAILED, states.UNCONFIRMED)))
        .order_by(col(Delivery.updated_at).desc()).limit(problems_limit)
    ))
    unhealthy = list(session.exec(select(Account).where(Account.healthy == sa.false())))
    return {
        "deliveries": counts,
        "workers": workers,
        "next_due": isoformat(next_due),
        "stuck": [{"id": d.id, "worker_id": d.worker_id, "lease_until": isoformat(d.lease_until)} for d in stuck],
        "attention": [
            {"id": d.id, "state": d.state, "reason": d.last_error, "kind": d.last_error_kind} for d in attention
        ],
        "unhealthy_accounts": [{"name": a.name, "kind": a.kind, "reason": a.last_error} for a in unhealthy],
        "short_links": short_links_note(session),
        "public_media": public_media_note(session),
        "retractions": retractions_note(session, limit=problems_limit),
    }


def retractions_note(session: Session, *, limit: int = 20) -> dict[str, Any]:
    """Deletions still to do, requests waiting for a second person, and the latest deletions that
    failed (each with the address to remove the post by hand)."""
    from orchestrator.models import Retraction, RetractionJob
    from orchestrator.services import retractions

    pending = session.exec(select(sa.func.count()).select_from(RetractionJob).where(
        col(RetractionJob.state).in_((retractions.QUEUED, retractions.DELETING)))).one()
    awaiting = session.exec(select(sa.func.count()).select_from(Retraction).where(
        Retraction.status == retractions.AWAITING)).one()
    failed = session.exec(select(RetractionJob).where(RetractionJob.state == retractions.FAILED)
                          .order_by(col(RetractionJob.done_at).desc()).limit(limit))
    return {"pending": int(pending), "awaiting_confirmation": int(awaiting),
            "failed": [{"retraction": j.retraction_id, "delivery_id": j.delivery_id, "reason": j.error,
                        "url": j.manual_url} for j in failed]}


def short_links_note(session: Session) -> str | None:
    """Why real accounts' posts go out with long links (so no click is counted), when short links
    are on but their address is not one the public can follow; ``None`` when all is as it should."""
    from orchestrator.links import reachable_by_public

    settings = get_settings()
    base = settings.links_base_url.strip()
    if not settings.links_shorten or reachable_by_public(base):
        return None
    if session.exec(select(Account.id).where(Account.is_sandbox == sa.false())).first() is None:
        return None  # the sandbox's accounts use the local address
    return (f"Liens courts inactifs pour les comptes réels : PORTEVOIX_LINKS_BASE_URL ({base or 'vide'}) n'est pas "
            "une adresse https publique ; leurs publications portent le lien long et aucun clic n'est compté "
            "(docs/deploy.md). (Short links are off for real accounts until PORTEVOIX_LINKS_BASE_URL is a public "
            "https address: no click is counted.)")


def public_media_note(session: Session) -> str | None:
    """Why real accounts of a platform that fetches images itself (Instagram, Threads) cannot
    publish images: no public address for them (PORTEVOIX_MEDIA_BASE_URL); ``None`` when all is well."""
    from orchestrator.media_urls import missing_for

    kinds = set(session.exec(select(Account.kind).where(Account.is_sandbox == sa.false()).distinct()))
    return missing_for(kinds)


def health_problems(data: dict[str, Any]) -> list[str]:
    """What ``status --check`` alerts on."""
    problems = []
    if not any(w["fresh"] for w in data["workers"]):
        problems.append("Aucun travailleur actif : rien ne sera publié. (No worker has a fresh heartbeat.)")
    if data["stuck"]:
        problems.append(f"{len(data['stuck'])} publication(s) bloquée(s) en cours d'envoi. (Deliveries stuck in publishing.)")
    undecidable = [a for a in data["attention"] if a.get("kind") == "undecidable"]
    if undecidable:
        problems.append(f"{len(undecidable)} publication(s) non confirmée(s) attendent une vérification à la main. "
                        "(Unconfirmed deliveries the platform cannot settle: a person must check.)")
    for account in data["unhealthy_accounts"]:
        problems.append(f"Compte en panne : {account['name']} ({account['reason']}). (Unhealthy account.)")
    return problems
