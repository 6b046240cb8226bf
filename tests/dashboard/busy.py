"""A busy edition for the follow-up pages (overview, queue, calendar, exports): accounts of all
four kinds, a delivery in every state with figures and clicks, a post awaiting approval on every
kind, a rejected post, a draft, a paused case, an unhealthy account, and hostile text in a case's
name and in posts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from orchestrator import db, states
from orchestrator.models import Account, Campaign, Case, Delivery, LinkClickHour, MetricSnapshot
from orchestrator.services.auth import SYSTEM
from tests.factories import make_account

#: Text people or platforms control that must never become markup, a link or a remote image.
HOSTILE = ("<img src=x onerror=alert(1)> [x](javascript:alert(1)) ![](https://example.org/pixel.png) "
           "Anticonstitutionnellementanticonstitutionnellementanticonstitutionnellement 🕊️✊🏽 "
           "حرية التعبير للجميع · O'Brien & fils")
HOSTILE_MARKERS = ("<img", "onerror", "javascript:", "](", "pixel.png")

#: Kind, name and server of the accounts besides the X one.
ACCOUNTS: list[tuple[str, str, str | None]] = [
    ("facebook", "facebook-fr", None),
    ("mastodon", "mastodon-fr", "https://mastodon.example"),
    ("bluesky", "bluesky-fr", "https://pds.example"),
]


def four_kinds(engine: sa.Engine) -> list[str]:
    """Facebook, Mastodon (with its instance) and Bluesky (with its PDS) besides the X account."""
    with db.session_scope(engine) as s:
        for kind, name, base_url in ACCOUNTS:
            make_account(s, kind, name=name, base_url=base_url)
    return ["x-fr", *(name for _, name, _ in ACCOUNTS)]


def running_campaign(engine: sa.Engine, today: dt.date | None = None) -> None:
    """The 2025 edition (3 November to 31 January) moved around today, so that it is in progress
    whatever the date, with the marathon still ahead: by whole years in season, else by days."""
    today = today or dt.datetime.now(ZoneInfo("America/Toronto")).date()
    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.is_current)).one()
        marathon = dt.date(2025, 12, 6)
        years = today.year - 2025 - (1 if today.month < 11 else 0)
        if today.month in (11, 12) and today <= marathon.replace(year=2025 + years):
            shift = marathon.replace(year=2025 + years) - marathon
        else:
            shift = today + dt.timedelta(days=3) - marathon
        campaign.starts_on = dt.date(2025, 11, 3) + shift
        campaign.ends_on = dt.date(2026, 1, 31) + shift
        campaign.key_dates = [k | {"date": (dt.date.fromisoformat(k["date"]) + shift).isoformat()}
                              for k in campaign.key_dates]
        s.add(campaign)


def finished_campaign(engine: sa.Engine, *, ended_days_ago: int = 10) -> None:
    """The current edition ended some days ago."""
    today = dt.datetime.now(dt.UTC).date()
    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.is_current)).one()
        campaign.ends_on = today - dt.timedelta(days=ended_days_ago)
        campaign.starts_on = campaign.ends_on - dt.timedelta(days=60)
        campaign.key_dates = [k for k in campaign.key_dates
                              if campaign.starts_on.isoformat() <= str(k["date"]) <= campaign.ends_on.isoformat()]
        s.add(campaign)


def _post(s: Any, *, text: str, case: str = "juan-lopez", submit: bool = True) -> Any:
    from orchestrator.services import posts

    post = posts.create_post(s, actor=SYSTEM, case_slug=case, text=text, submit=submit)
    post.author = "someone"
    s.add(post)
    s.flush()
    return post


def busy(engine: sa.Engine) -> dict[str, Any]:
    """Fill the edition; returns ids by what they are ("published", "pending", "rejected", …)."""
    from orchestrator.services import case_edit, deliveries, posts

    names = four_kinds(engine)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made: dict[str, Any] = {}
    with db.session_scope(engine) as s:
        hostile_case = s.exec(select(Case).where(Case.slug == "sonia-dahmani")).one()
        hostile_case.person = {"fr": HOSTILE, "en": HOSTILE}
        s.add(hostile_case)
        made["hostile_case_id"] = hostile_case.id

        # An approved post on every account, each delivery then put in one state.
        approved = _post(s, text=f"Écrivez pour Juan ! {HOSTILE}")
        posts.approve_post(s, actor=SYSTEM, post_id=approved.id)
        by_state: dict[str, int] = {}
        for i, state in enumerate(states.STATES):
            account = names[i % len(names)]
            d = deliveries.schedule(s, actor=SYSTEM, post_id=approved.id, account_name=account,
                                    at=now + dt.timedelta(hours=1 + i))
            d.state = state
            if state == states.PUBLISHED:
                d.published_at = now - dt.timedelta(hours=5)
                d.platform_url = "https://x.com/amnistie/status/1"
                d.views, d.likes, d.shares, d.replies, d.quotes = 12027, 1235, 40, 7, 0
                d.metrics_at = now - dt.timedelta(minutes=5)
            if state == states.FAILED:
                d.last_error, d.last_error_kind = HOSTILE, "permanent"
            if state == states.HELD:
                d.held_reason = "late: waiting for a person"
            s.add(d)
            s.flush()
            by_state[state] = d.id  # type: ignore[assignment]
        published = s.get(Delivery, by_state[states.PUBLISHED])
        assert published is not None
        for k, likes in enumerate((300, 900, 1235)):
            s.add(MetricSnapshot(delivery_id=published.id, taken_at=now - dt.timedelta(hours=4 - k),  # type: ignore[arg-type]
                                 views=likes * 10, likes=likes, shares=10 * k, replies=k))
        for k, clicks in enumerate((5, 12)):
            s.add(LinkClickHour(source_code=published.source_code,
                                hour=(now - dt.timedelta(hours=3 - k)).replace(minute=0, second=0), count=clicks))
        made["by_state"] = by_state

        # A post awaiting approval on every kind; one rejected with a comment; one draft.
        pending = _post(s, text=f"En attente : {HOSTILE}")
        made["pending"] = [deliveries.schedule(s, actor=SYSTEM, post_id=pending.id, account_name=name,
                                               at=now + dt.timedelta(hours=2)).id for name in names]
        rejected = _post(s, text="Refusée : écrivez pour Damisoa", case="damisoa")
        made["rejected"] = deliveries.schedule(s, actor=SYSTEM, post_id=rejected.id, account_name="x-fr",
                                               at=now + dt.timedelta(hours=3)).id
        posts.reject_post(s, actor=SYSTEM, post_id=rejected.id, comment=f"Ton trop dur {HOSTILE}")
        draft = _post(s, text="Brouillon pour Damisoa", case="damisoa", submit=False)
        made["draft"] = deliveries.schedule(s, actor=SYSTEM, post_id=draft.id, account_name="x-fr",
                                            at=now + dt.timedelta(hours=4)).id

        # A paused case with its queue held, a post on the hostile case, an unhealthy account.
        paused = _post(s, text="Pour Sai Zaw Thaike", case="sai-zaw-thaike")
        posts.approve_post(s, actor=SYSTEM, post_id=paused.id)
        made["paused"] = deliveries.schedule(s, actor=SYSTEM, post_id=paused.id, account_name="mastodon-fr",
                                             at=now + dt.timedelta(hours=6)).id
        s.flush()
        case = s.exec(select(Case).where(Case.slug == "sai-zaw-thaike")).one()
        case_edit.set_status(s, actor=SYSTEM, case_id=case.id, status="paused", note=f"Nouvelles {HOSTILE}")
        on_hostile = _post(s, text="Pour Sonia", case="sonia-dahmani")
        posts.approve_post(s, actor=SYSTEM, post_id=on_hostile.id)
        made["hostile_case"] = deliveries.schedule(s, actor=SYSTEM, post_id=on_hostile.id, account_name="bluesky-fr",
                                                   at=now + dt.timedelta(hours=7)).id
        account = s.exec(select(Account).where(Account.name == "facebook-fr")).one()
        account.healthy, account.last_error = False, HOSTILE
        s.add(account)
    from orchestrator.services import metrics_rollup

    with db.session_scope(engine) as s:
        metrics_rollup.refresh(s, [by_state[states.PUBLISHED]])
    return made


# ---------------------------------------------------------------------------------------------
# What a page shows through Markdown

_UNESCAPED = re.compile(r"(?<!\\)(<img|\]\(|!\[|javascript:)")


def markdown_sinks(at: AppTest) -> list[str]:
    """Every text the page renders as Markdown (not tables, which show text as it is)."""
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "header"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [str(m.label) for m in at.metric]
    parts += [e.proto.text for e in at.get("progress")]
    parts += [str(e.label) for e in at.expander]
    parts += [str(b.label) for b in at.button]
    return parts


def unescaped_markup(at: AppTest) -> list[str]:
    """Markdown texts in which hostile markup would still work (an image, a link, a tag)."""
    return [text for text in markdown_sinks(at) if _UNESCAPED.search(text)]
