"""An edition where the public has spoken, for the public-voice tests (service, command line and
pages): published deliveries on all four platforms for two cases, their figures, clicks on their
short links, the public's own posts of every kind, and actions entered by hand.

Dates are in the 2025 edition (3 November 2025 to 31 January 2026), all before ``TODAY``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from orchestrator import db
from orchestrator.models import Delivery, PublicPost
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM
from orchestrator.services.campaigns import current_campaign, get_case
from orchestrator.services.listening import _add_response
from orchestrator.services.responses import add_clicks, record_tally
from tests.factories import make_account

TODAY = dt.date(2025, 11, 22)
KINDS = {"x": None, "facebook": None, "mastodon": "https://mastodon.example", "bluesky": "https://pds.example"}
#: 17:00 UTC is noon in Montréal (local day = UTC day)
NOON = dt.time(17, tzinfo=dt.UTC)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, NOON)


def seed(engine: sa.Engine, *, text: str = "Écrivez pour eux ! #ÉcrireÇaLibère") -> dict[str, Any]:
    """Fill the edition; returns the delivery ids per (case, platform)."""
    ids: dict[tuple[str, str], int] = {}
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        for kind, base_url in KINDS.items():
            make_account(s, kind, name=f"{kind}-voice", base_url=base_url)
        for case, views in (("juan-lopez", 1000), ("damisoa", 100)):
            for i, kind in enumerate(KINDS):
                post = posts.create_post(s, actor=SYSTEM, case_slug=case, text=text,
                                         link="https://amnistie.ca/ecrire", submit=True)
                posts.approve_post(s, actor=SYSTEM, post_id=post.id)  # type: ignore[arg-type]
                delivery = deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name=f"{kind}-voice",  # type: ignore[arg-type]
                                               at=_at(dt.date(2025, 11, 10)))
                delivery.state = "published"
                delivery.views, delivery.likes, delivery.shares, delivery.replies = views * (i + 1), 10 * (i + 1), i, 1
                s.add(delivery)
                s.flush()
                ids[(case, kind)] = delivery.id  # type: ignore[assignment]
        codes = {key: s.get(Delivery, d).source_code for key, d in ids.items()}  # type: ignore[union-attr]
        # Clicks: juan-lopez on X 7 on the 10th and 3 on the 11th, on Mastodon 5; damisoa on Bluesky 2.
        add_clicks(s.connection(), {
            (codes[("juan-lopez", "x")], _at(dt.date(2025, 11, 10))): 7,
            (codes[("juan-lopez", "x")], _at(dt.date(2025, 11, 11))): 3,
            (codes[("juan-lopez", "mastodon")], _at(dt.date(2025, 11, 11))): 5,
            (codes[("damisoa", "bluesky")], _at(dt.date(2025, 11, 12))): 2,
        })
        juan, damisoa = (get_case(s, slug=slug, campaign=campaign).id for slug in ("juan-lopez", "damisoa"))
        juan_ids = {d for (case, _), d in ids.items() if case == "juan-lopez"}
        n = 0

        def public(platform: str, kind: str, case_id: int | None, day: dt.date, delivery_id: int | None = None,
                   count: int = 1) -> None:
            nonlocal n
            # as listening records them: the post, and for a case (its own, else the answered
            # delivery's) one more social action that day from that platform
            credited = case_id if case_id is not None else (juan if delivery_id in juan_ids else damisoa) \
                if delivery_id else None
            if credited is not None:
                _add_response(s, case_id=credited, day=day, platform=platform, n=count)
            for _ in range(count):
                n += 1
                s.add(PublicPost(platform=platform, post_key=f"{n:064x}", campaign_id=campaign.id, case_id=case_id,  # type: ignore[arg-type]
                                 term="" if delivery_id else "#ÉcrireÇaLibère", kind=kind, hour=_at(day),
                                 delivery_id=delivery_id))

        day = dt.date(2025, 11, 11)
        public("x", "original", juan, day, count=3)
        public("x", "quote", juan, day, delivery_id=ids[("juan-lopez", "x")])
        public("mastodon", "reply", juan, day, delivery_id=ids[("juan-lopez", "mastodon")], count=2)
        public("facebook", "photo", juan, dt.date(2025, 11, 12))
        # An answer whose case the listener did not set: credited through the delivery it answers.
        public("bluesky", "repost", None, dt.date(2025, 11, 12), delivery_id=ids[("damisoa", "bluesky")])
        public("bluesky", "original", damisoa, dt.date(2025, 11, 12), count=2)
        # The edition's own hashtag, for no case: the edition's total only.
        public("mastodon", "original", None, dt.date(2025, 11, 12), count=4)
        s.flush()
        record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="letter", count=80, day=dt.date(2025, 11, 12),
                     campaign=campaign)
        record_tally(s, actor=SYSTEM, case_slug="juan-lopez", kind="social_action", count=6, day=dt.date(2025, 11, 12),
                     campaign=campaign)
        record_tally(s, actor=SYSTEM, case_slug="damisoa", kind="signature", count=20, day=dt.date(2025, 11, 10),
                     campaign=campaign)
    return {"deliveries": ids}
