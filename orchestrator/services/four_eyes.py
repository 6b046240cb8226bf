"""Four eyes: who may change a post's text, who may approve it, and what approval covers.

The rules, in one place so the dashboard, the command line and the worker apply the same ones:

- Only a post's author edits it while it is a draft or was rejected (the others comment or
  reject); an admin may not either, so a rejected text is never rewritten behind its author.
  A post awaiting approval, or approved and not sent yet, may be edited by any editor: the
  change is recorded (``PostEdit``) and an approved post goes back for approval.
- Nobody approves a post whose text (or a per-account variant, its link or its images) they
  wrote or edited. The operator at the command line acting without ``--by`` is the one exception,
  and the audit log says so (see docs/security.md: shell access to the server means full trust).
- Approval records a fingerprint of what was approved: the text, the link, the per-account
  variants and the bytes of each image with its alt text. The worker sends nothing of a post whose
  content no longer matches it: whatever path changed it, it needs a new approval.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlmodel import Session, col, select

from channels.base import Image
from orchestrator.models import Post, PostEdit
from orchestrator.services.auth import Actor, PermissionDenied

#: Statuses in which only the author may change the text: a draft, a rejected post.
AUTHOR_ONLY = ("draft", "rejected")


def fingerprint(*, text: str, link: str | None, variants: Mapping[str, str] | None,
                images: Sequence[Image], warning: Mapping[str, Any] | None = None,
                parts: Sequence[tuple[str, Sequence[Image]]] = ()) -> str:
    """A SHA-256 of what goes out: text, link, variants (by account) and each image's bytes,
    type and alt text, in order; the content warning, visibility and labels when the post has
    any (``content_warnings.fingerprint_part``: None for none, so older approvals hold); and a
    thread's other parts, each text with its images, in order, when it has any."""
    content: dict[str, Any] = {
        "text": text,
        "link": link or None,
        "variants": {str(k): v for k, v in sorted((variants or {}).items())},
        "images": [[hashlib.sha256(i.data).hexdigest(), i.mime_type, i.alt] for i in images],
    }
    if warning:
        content["warning"] = dict(warning)
    if parts:
        content["parts"] = [[part_text, [[hashlib.sha256(i.data).hexdigest(), i.mime_type, i.alt] for i in part_images]]
                            for part_text, part_images in parts]
    return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def post_fingerprint(post: Post, images: Sequence[Image]) -> str:
    from orchestrator.services.content_warnings import fingerprint_part, of_post
    from orchestrator.services.deliveries import post_parts

    return fingerprint(text=post.text, link=post.link, variants=post.variants, images=images,
                       warning=fingerprint_part(of_post(post)),
                       parts=[(part.text, part.images) for part in post_parts(post)])


def still_as_approved(approved: str | None, current: str) -> bool:
    """Whether content fingerprinted ``current`` is what was approved. A post approved before
    fingerprints were recorded (``approved`` is None) keeps its approval: its text was frozen
    per delivery then, as now."""
    return approved is None or approved == current


def editors(session: Session, *, post_id: int) -> list[str]:
    """Everyone who changed the post's text after it was written, first edit first, once each."""
    names = session.exec(select(PostEdit.actor).where(PostEdit.post_id == post_id).order_by(col(PostEdit.id)))
    return list(dict.fromkeys(names))


def hands(author: str, edited_by: Iterable[str]) -> set[str]:
    """Whoever wrote or edited the text."""
    return {author, *edited_by}


def approval_refusal(actor: Actor, *, author: str, edited_by: Iterable[str]) -> PermissionDenied | None:
    """Why ``actor`` may not approve a text written by ``author`` and edited by ``edited_by``,
    or None when they may."""
    if actor.operator:
        return None
    if actor.username == author:
        return PermissionDenied(
            "Vous ne pouvez pas approuver une publication que vous avez écrite : demandez à une autre personne.",
            "You cannot approve a post you wrote: ask someone else.",
        )
    if actor.username in hands(author, edited_by):
        return PermissionDenied(
            "Vous ne pouvez pas approuver une publication dont vous avez modifié le texte : "
            "demandez à une autre personne.",
            "You cannot approve a post whose text you edited: ask someone else.",
        )
    return None


def edit_refusal(actor: Actor, *, author: str, status: str) -> PermissionDenied | None:
    """Why ``actor`` may not edit a post by ``author`` in ``status``, or None when they may."""
    if status in AUTHOR_ONLY and actor.username != author:
        return PermissionDenied(
            f"Seule l'autrice ou l'auteur ({author}) modifie un brouillon ou une publication refusée ; "
            "vous pouvez la commenter en la refusant, ou en écrire une autre.",
            f"Only its author ({author}) edits a draft or a rejected post; you can comment by rejecting it, "
            "or write another one.",
        )
    return None
