"""Who may reply to a case's new posts (``Case.reply_limit``): set by an approver, audited, and
carried to each new post's first part by the claimer (``PublishRequest.reply_limit``). The
mapping per platform, and what each platform cannot do, is in ``channels/reply_limits.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session

from channels.registry import ByKind
from channels.reply_limits import LIMITS as LIMITS
from orchestrator.models import Case
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.timeutil import utcnow

#: What each kind of account limits: "replies" (X, Bluesky, Threads), "quotes" (Mastodon), ""
#: (Facebook, Instagram: nothing).
LIMITS_WHAT: Mapping[str, str] = ByKind(lambda cls: cls.limits_replies)
CAVEATS: Mapping[str, Mapping[str, tuple[str, str]]] = ByKind(lambda cls: cls.reply_limit_caveats)


def set_reply_limit(session: Session, *, actor: Actor, case_id: int, limit: str) -> Case:
    """Set who may reply to the case's new posts ("" everyone, or one of ``LIMITS``). Posts
    already published keep what they went out with."""
    require(actor, "approver", "limiter les réponses d'un cas", "limit a case's replies")
    limit = (limit or "").strip()
    if limit and limit not in LIMITS:
        raise ServiceError(f"Limite de réponses inconnue « {limit} » : choisissez parmi {', '.join(LIMITS)}.",
                           f"Unknown reply limit '{limit}': choose one of {', '.join(LIMITS)}.")
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"Cas {case_id} introuvable.", f"Case {case_id} not found.")
    before = case.reply_limit or ""
    if before != limit:
        case.reply_limit = limit
        case.updated_at = utcnow()
        session.add(case)
        audit(session, actor=actor, action="case_reply_limit", target_type="case", target_id=case.slug,
              before=before, after=limit)
    return case


def preview_note(kind: str, platform: str, limit: str, language: str) -> str | None:
    """What the compose and approval previews say of the limit on one platform: what it does
    there, or that the platform cannot do it (None when replies are open to all)."""
    if not limit:
        return None
    fr = language == "fr"
    what = LIMITS_WHAT.get(kind, "")
    if not what:
        return (f"{platform} ne permet pas de limiter les réponses : la publication reste ouverte à tous."
                if fr else f"{platform} does not let us limit replies: the post stays open to everyone.")
    if what == "quotes":
        return (f"{platform} ne permet pas de limiter les réponses : seules les citations sont limitées "
                f"({_words(limit, fr)})." if fr else
                f"{platform} cannot limit replies: only quotes are limited ({_words(limit, fr)}).")
    if caveat := CAVEATS.get(kind, {}).get(limit):
        return caveat[0] if fr else caveat[1]
    return (f"{platform} : réponses limitées ({_words(limit, fr)})." if fr
            else f"{platform}: replies limited ({_words(limit, fr)}).")


def _words(limit: str, fr: bool) -> str:
    words: dict[str, tuple[str, str]] = {
        "followers": ("abonnés", "followers"), "mentioned": ("comptes mentionnés", "mentioned accounts"),
        "nobody": ("personne", "nobody"),
    }
    pair = words.get(limit, (limit, limit))
    return pair[0] if fr else pair[1]


def of_case(case: Any) -> str:
    return str(getattr(case, "reply_limit", "") or "") if case is not None else ""
