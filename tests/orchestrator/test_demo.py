"""The demo that ``porte-voix up`` starts makes sense on any date: an edition in progress, with
posts going out, whether the machine's date falls in campaign season or not."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, demo
from orchestrator.models import Delivery, Post
from orchestrator.services import campaign_results
from orchestrator.services.campaigns import current_campaign


def _schedule(engine: sa.Engine, today: dt.date) -> int:
    with db.session_scope(engine) as s:
        accounts = demo.ensure_sandbox_accounts(s, base_url="http://127.0.0.1:9")
        now = dt.datetime.combine(today, dt.time(15), tzinfo=dt.UTC)
        return demo.schedule_demo(s, accounts=accounts, now=now)


@pytest.mark.parametrize("today", [dt.date(2026, 12, 5), dt.date(2027, 6, 15), dt.date(2030, 2, 28)])
def test_after_the_edition_the_demo_runs_an_edition_in_progress(engine: sa.Engine, today: dt.date) -> None:
    made = _schedule(engine, today)
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        assert campaign.slug == demo.DEMO_SLUG
        assert campaign_results.phase(campaign, today=today) == campaign_results.RUNNING
        ahead = {c["slug"]: c["days"] for c in campaign_results.countdowns(campaign, today=today)}
        assert all(days >= 0 for days in ahead.values()), ahead  # nothing « passé »
        assert ahead["marathon-montreal"] <= 3
        in_demo = s.exec(select(sa.func.count()).select_from(Delivery).join(Post, Post.id == Delivery.post_id)
                         .where(Post.campaign_id == campaign.id, Post.status == "approved")).one()
    assert made > 0 and in_demo == made


def test_in_season_the_demo_keeps_the_real_days(engine: sa.Engine) -> None:
    """By whole years: the marathon stays on 6 December, Human Rights Day on 10 December."""
    _schedule(engine, dt.date(2026, 12, 5))
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        assert (campaign.starts_on, campaign.ends_on) == (dt.date(2026, 11, 3), dt.date(2027, 1, 31))
        dates = {k["slug"]: k["date"] for k in campaign.key_dates}
        assert dates["marathon-montreal"] == "2026-12-06" and dates["journee-droits-humains"] == "2026-12-10"


def test_during_the_edition_the_demo_uses_it_as_it_is(engine: sa.Engine) -> None:
    _schedule(engine, dt.date(2025, 11, 20))
    with db.session_scope(engine) as s:
        assert current_campaign(s).slug == "ecrire-2025"
        assert s.exec(select(sa.func.count()).where(Post.campaign_id == current_campaign(s).id)).one() > 0


def test_a_later_start_moves_the_demo_edition_instead_of_making_another(engine: sa.Engine) -> None:
    _schedule(engine, dt.date(2026, 12, 5))
    with db.session_scope(engine) as s:
        accounts = demo.ensure_sandbox_accounts(s, base_url="http://127.0.0.1:9")
        for delivery in s.exec(select(Delivery)):  # the first demo went out meanwhile
            delivery.state = "published"
            s.add(delivery)
        s.flush()
        demo.schedule_demo(s, accounts=accounts, now=dt.datetime(2028, 7, 1, 15, tzinfo=dt.UTC))
    with db.session_scope(engine) as s:
        from orchestrator.models import Campaign

        slugs = [c.slug for c in s.exec(select(Campaign))]
        assert slugs.count(demo.DEMO_SLUG) == 1
        assert campaign_results.phase(current_campaign(s), today=dt.date(2028, 7, 1)) == campaign_results.RUNNING


def test_the_demo_s_goal_bars_move_some_cases_on_track_some_behind(engine: sa.Engine) -> None:
    from orchestrator.services import reports

    today = dt.date(2026, 12, 5)

    def progress() -> list[dict]:
        with db.session_scope(engine) as s:
            return reports.case_progress(s, campaign_id=current_campaign(s).id, today=today)  # type: ignore[arg-type]

    _schedule(engine, today)
    rows = progress()
    assert all(r["actions"] > 0 for r in rows)
    assert {r["behind"] for r in rows} == {True, False}
    _schedule(engine, today)  # a second start counts nothing twice
    assert progress() == rows


def test_the_demo_posts_reach_every_platform_with_a_card_instagram_accepts(engine: sa.Engine) -> None:
    from channels.registry import KINDS
    from orchestrator.models import Account
    from orchestrator.services.media import load_image
    from orchestrator.services.validators import offline_validator

    _schedule(engine, dt.date(2026, 12, 5))
    with db.session_scope(engine) as s:
        kinds = set(s.exec(select(Account.kind).join(Delivery, Delivery.account_id == Account.id)))
        post = s.exec(select(Post).where(Post.author == demo.DEMO_AUTHOR)).first()
        image = load_image(post.images[0])
        text = post.text
    assert kinds == set(KINDS), "an account the demo schedules nothing for shows nothing"
    assert image.mime_type == "image/jpeg" and image.alt
    check = offline_validator("instagram").validate(text, [image])
    assert check.valid, check.problems
