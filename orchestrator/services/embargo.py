"""Embargoes: a case or a post that nothing is published about before a given time, whatever is
scheduled. The worker's claim enforces it (orchestrator/worker/claimer.py): a delivery of an
embargoed post, or of a post about an embargoed case, waits for the embargo's end.

Setting an embargo, or moving it later, only makes publishing stricter: editors may. Lifting it
or moving it earlier lets things out sooner: that takes an approver. Both are audited."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from orchestrator.models import Case, Post
from orchestrator.services.auth import Actor, audit, require
from orchestrator.timeutil import require_aware, utcnow


def _change(session: Session, *, actor: Actor, target: Case | Post, until: dt.datetime | None, what_fr: str,
            what_en: str) -> None:
    require(actor, "editor", f"poser un embargo sur {what_fr}", f"put an embargo on {what_en}")
    until = require_aware(until) if until is not None else None
    current = target.embargo_until
    if current is not None and (until is None or until < current):
        require(actor, "approver", f"lever ou avancer l'embargo sur {what_fr}", f"lift or bring forward the embargo on {what_en}")
    target.embargo_until = until
    target.updated_at = utcnow()
    session.add(target)


def set_case_embargo(session: Session, *, actor: Actor, case_id: int, until: dt.datetime | None) -> Case:
    """Nothing about the case before ``until`` (None lifts the embargo)."""
    from orchestrator.services.case_edit import get_case_by_id

    case = get_case_by_id(session, case_id=case_id)
    _change(session, actor=actor, target=case, until=until, what_fr="un cas", what_en="a case")
    audit(session, actor=actor, action="embargo", target_type="case", target_id=case.slug,
          until=until.isoformat() if until else "")
    return case


def set_post_embargo(session: Session, *, actor: Actor, post_id: int, until: dt.datetime | None) -> Post:
    """The post is not published before ``until`` (None lifts its own embargo)."""
    from orchestrator.services.posts import get_post

    post = get_post(session, post_id=post_id)
    _change(session, actor=actor, target=post, until=until, what_fr="une publication", what_en="a post")
    audit(session, actor=actor, action="embargo", target_type="post", target_id=post.id,
          until=until.isoformat() if until else "")
    return post


def embargo_of(post: Post, case: Case | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """The end of the embargo that holds the post now (its own or its case's, the later), if any."""
    now = now or utcnow()
    ends = [end for end in (post.embargo_until, case.embargo_until if case else None) if end is not None]
    latest = max(ends) if ends else None
    return latest if latest is not None and latest > now else None


def post_embargo(session: Session, *, post: Post) -> dt.datetime | None:
    """The end of the embargo that holds ``post`` now (its own or its case's), if any."""
    return embargo_of(post, session.get(Case, post.case_id) if post.case_id else None)
