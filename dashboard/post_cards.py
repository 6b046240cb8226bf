"""Pieces of a post's card shared by Compose (my posts), Approvals and the posts page: where it
goes, its images, each account's preview, and the withdraw and reject controls.

Each piece draws what it can and says on the card what it cannot: one broken post, image or
account never stops the page."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import TYPE_CHECKING, Any

import streamlit as st

from content.words import Message
from dashboard import common, embargo_ui
from dashboard.i18n import fmt_datetime, fmt_number, fmt_usd_exact, lang, t
from orchestrator.services import content_warnings, delivery_views, embargo, post_review
from orchestrator.services import posts as post_service
from orchestrator.services.auth import Actor

if TYPE_CHECKING:
    from collections.abc import Sequence

    from orchestrator.models import Case, Post

#: A moment as people say it ("samedi 6 décembre 2025, 10 h 00"), not babel's medium format
#: with its seconds.
_WHEN = {"fr": "EEEE d MMMM y, HH 'h' mm", "en": "EEEE, MMMM d, y, h:mm a"}


def when(value: dt.datetime | None, tz: str) -> str:
    return fmt_datetime(value, tz, _WHEN[lang()])


def language_name(code: str) -> str:
    return t(f"compose.lang_{code}") if code in ("fr", "en") else code


def message(exc: Exception) -> str:
    """An error in the reader's language when it has one, else its own words."""
    if isinstance(exc, Message):  # a refusal of a service, an error of a channel or of content
        return exc.text(lang())
    return str(exc) or type(exc).__name__


def state_words(post: Post, state: str | None) -> str:
    """A delivery's state as the reader should understand it: a post not approved yet does not
    go out, whatever its deliveries say."""
    if state is None:
        return t("compose.not_yet")
    return delivery_views.shown_state(state, post.status).text(lang())


def embargo_notice(post: Post, tz: str) -> None:
    """The embargo holding the post (its own or its case's), if any."""
    with common.session() as s:
        embargoed = embargo.post_embargo(s, post=post)
    embargo_ui.notice(embargoed, tz)


def where_it_goes(post: Post, tz: str) -> None:
    """One line per account: its platform, its time (or none yet) and its state."""
    with common.session() as s:
        targets = post_review.chosen_accounts(s, post)
    embargo_notice(post, tz)
    if not targets:
        st.caption(t("posts.no_account"))
        return
    lines = []
    for account, delivery in targets:
        platform = post_review.platform(account.kind)
        if delivery is None:
            lines.append(t("posts.kept", account=account.name, platform=platform))
            continue
        lines.append(t("posts.delivery", account=account.name, platform=platform,
                       when=fmt_datetime(delivery.scheduled_at, tz, "short"), state=state_words(post, delivery.state)))
    st.caption("  \n".join(common.plain(line) for line in lines))


def images(post: Post, *, width: int = 240, restricted: Sequence[Case] | None = None) -> list[str]:
    """Show each image with its alt text; an image that cannot be read says why on the card, one
    showing a face whose consent is withdrawn is not drawn. ``restricted``: the edition's cases
    with a consent withdrawn, when the page has read them. Returns the problems found."""
    from orchestrator.services.consent import hidden_images
    from orchestrator.services.media import load_image
    from orchestrator.services.media_library import inspect

    problems = []
    with common.session() as s:
        hidden = hidden_images(s, post, cases=restricted)
    for number, item in enumerate(post.images or [], start=1):
        if number in hidden:  # a face whose consent was withdrawn is not shown, here either
            st.warning(t("approvals.image_hidden", n=number), icon=":material/visibility_off:")
            continue
        try:
            with common.session() as s:
                image = load_image(item, s)
            inspect(image.data)
            st.image(image.data, caption=common.plain(image.alt), alt=image.alt or None, width=width)
        except Exception as exc:  # noqa: BLE001 - this image's place on the card says what is wrong
            problems.append(message(exc))
            name = str(item.get("filename") or number) if isinstance(item, dict) else str(number)
            st.error(t("approvals.image_error", n=number, name=common.plain(name), why=common.plain(message(exc))),
                     icon=":material/broken_image:")
    return problems


def visibility_name(value: str) -> str:
    return t(f"compose.visibility.{value}") if value in content_warnings.VISIBILITIES else value


def label_name(value: str) -> str:
    return t(f"compose.label.{value}") if value in content_warnings.SELF_LABELS else value


def shown_text(row: dict[str, Any], *, key: str) -> None:
    """The text as the platform shows it: on Mastodon, behind its content warning (folded until
    "Show more", as Mastodon does); with the visibility, the Bluesky labels, and the notes where a
    platform has no warning or no language field."""
    warning = row.get("warning") or ""
    if warning:
        st.markdown(f"⚠️ **{common.plain(warning)}**")
        if st.toggle(t("compose.cw_show_more"), key=key):
            st.text(row["text"])
        else:
            st.caption(t("compose.cw_folded"))
    else:
        st.text(row["text"])
    if row.get("visibility"):
        st.caption(t("compose.cw_visibility_line", visibility=visibility_name(row["visibility"])))
    if content_warnings.LABELS.get(row.get("kind") or "", False):
        names = ", ".join(label_name(v) for v in row.get("labels") or []) or t("compose.cw_none")
        st.caption(common.plain(t("compose.cw_labels_line", labels=names)))
    for note in (row.get("warning_note"), row.get("language_note"), row.get("reply_limit_note")):
        if note:
            st.caption(common.plain(note))


def thread_parts(parts: list[dict[str, Any]], *, first: int = 2) -> None:
    """A thread's parts after the first, numbered, each with its count when it has one."""
    for number, part in enumerate(parts, start=first):
        line = t("compose.part_heading", n=fmt_number(number))
        if part.get("limit"):
            line += " · " + t("compose.counter", length=fmt_number(part["length"]), limit=fmt_number(part["limit"]))
        if part.get("images"):
            line += " · " + t("compose.part_images", n=fmt_number(part["images"]))
        st.markdown(f"**{line}**")
        st.text(part.get("text") or "")


def previews(rows: list[dict[str, Any]], tz: str, *, key: str = "preview") -> None:
    """Each account's text as it will go out, with the platform's verdict, in an expander.
    ``key`` makes the page's widgets unique (one per post on a page of posts)."""
    for row in rows:
        if row.get("error"):
            st.error(t("compose.preview_error", account=common.plain(row["account"]), why=common.plain(row["error"])))
            continue
        verdict = f"✅ {t('compose.valid')}" if row["valid"] else f"❌ {t('compose.invalid')}"
        when = fmt_datetime(row["scheduled_at"], tz, "short") if row.get("scheduled_at") else t("compose.not_yet")
        label = (f"{verdict} · {common.plain(row['account'])} · {row['platform']} · "
                 + t("compose.counter", length=fmt_number(row["length"]), limit=fmt_number(row["limit"]))
                 + f" · {when}")
        with st.expander(label, expanded=not row["valid"]):
            if row.get("variant"):
                st.caption(t("compose.variant_badge"))
            shown_text(row, key=f"{key}_cw_{row['account']}_{row.get('delivery_id')}")
            thread_parts(row.get("parts") or [])
            for problem in row["problems"]:
                st.warning(common.plain(problem))
            for warning in row.get("warnings") or ():  # worth knowing; the post stays valid
                st.info(common.plain(warning), icon=":material/info:")
            if row.get("note"):
                st.caption(common.plain(row["note"]))
            cost_line(row)
    cost_total(rows)


def cost_line(row: dict[str, Any]) -> None:
    """What publishing this account's text costs, where the platform bills it (X)."""
    if row.get("cost_usd") is not None:
        st.caption(t("compose.x_cost", platform=row.get("platform") or "X", cost=fmt_usd_exact(row["cost_usd"])))


def cost_total(rows: list[dict[str, Any]]) -> None:
    """The total for the post's billed deliveries (X), when there are several."""
    billed = [r["cost_usd"] for r in rows if r.get("cost_usd") is not None and not r.get("error")]
    if len(billed) > 1:
        st.caption(t("compose.x_cost_total", cost=fmt_usd_exact(sum(billed)), n=fmt_number(len(billed))))


def withdraw_button(post: Post, me: Actor, *, key: str) -> None:
    if post.status != post_service.PENDING or not (me.username == post.author or me.can("admin")):
        return
    if st.button(t("compose.withdraw"), key=key, icon=":material/undo:"):
        if common.run(partial(post_service.withdraw_post, actor=me, post_id=post.id or 0),
                      success=t("compose.withdrawn", id=post.id)):
            st.rerun()


def reject_controls(post: Post, me: Actor, *, prefix: str = "reject") -> None:
    """A comment and the reject button, for approvers, on a post awaiting approval."""
    if post.status != post_service.PENDING or not me.can("approver"):
        return
    post_id = post.id or 0
    comment = st.text_input(t("approvals.comment"), key=f"{prefix}_comment_{post_id}")
    if st.button(t("approvals.reject"), key=f"{prefix}_{post_id}", icon=":material/block:"):
        if common.run(partial(post_service.reject_post, actor=me, post_id=post_id, comment=comment),
                      success=t("approvals.rejected", id=post_id)):
            st.rerun()
