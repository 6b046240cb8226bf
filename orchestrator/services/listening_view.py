"""What the account page says about the streams a platform does not give an account: grouped by
the platform's reason, each term named as staff typed it (« #JusticePourJuan », not the stream's
lower-cased key "tag:justicepourjuan"), and whether the gap is the platform's design (Mastodon
searches no keywords: re-testing the account changes nothing) or the account's access (re-testing
once the access changes makes listening resume)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from content.words import Words
from orchestrator.models import Account, Campaign, ListenCursor
from orchestrator.services.listening import ANSWERS, PAGE, terms_of, unavailable


def searches_keywords(kind: str) -> bool:
    """False for a platform whose search never covers keywords, whatever the account's access: a
    keyword stream refused there is how the platform is made, not something to fix."""
    from channels.registry import channel_class

    return channel_class(kind).can_search_keywords


def stream_term(stream: str, labels: dict[str, tuple[bool, str]]) -> tuple[str, str]:
    """("hashtag" | "keyword" | "answers" | "page", text as typed) for a stream key ("page": the
    one stream of every term where the platform reads shared edges); a term no longer in the
    edition keeps its stored (lower-cased) text."""
    if stream == ANSWERS:
        return "answers", ""
    if stream == PAGE:
        return "page", ""
    kind, _, text = stream.partition(":")
    if kind == "count" and ":" in text:  # a count of a term: named as the term
        return stream_term(text, labels)
    base = f"{'tag' if kind != 'keyword' else 'keyword'}:{text}"
    if base in labels:
        hashtag, typed = labels[base]
        return ("hashtag" if hashtag else "keyword"), typed
    return ("keyword" if kind == "keyword" else "hashtag"), text


def unavailable_groups(session: Session, *, account: Account, campaign: Campaign | None) -> list[dict[str, Any]]:
    """``[{"reason": Words, "terms": [("hashtag" | "keyword" | "answers", text)],
    "by_design": bool}]``: the account's streams marked unavailable, one group per reason, in
    the order first met."""
    rows = session.exec(select(ListenCursor).where(ListenCursor.account_id == account.id)
                        .order_by(col(ListenCursor.stream)))
    labels = {term.stream: (term.hashtag, term.text) for term in terms_of(session, campaign)} if campaign else {}
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        if not unavailable(row):
            continue
        reason = Words.from_dict(row.last_error)
        group = groups.setdefault((reason.fr, reason.en), {"reason": reason, "terms": []})
        term = stream_term(row.stream, labels)
        if term not in group["terms"]:
            group["terms"].append(term)
    for group in groups.values():
        group["by_design"] = not searches_keywords(account.kind) and all(k == "keyword" for k, _ in group["terms"])
    return list(groups.values())
