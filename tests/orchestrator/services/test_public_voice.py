"""The public's voice per case (services/public_voice.py): clicks, public posts by platform and
kind, actions by kind, day by day; the funnel of a case channel by channel; pace to 10 December
and to the last day, public posts counted once as social actions."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from channels.registry import KINDS
from orchestrator import db
from orchestrator.services import campaign_results, public_voice, responses
from orchestrator.services.campaigns import current_campaign
from tests.orchestrator.services.voice_seed import TODAY, seed


def test_per_case_clicks_public_posts_and_actions(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        figures = public_voice.voice(s, campaign=current_campaign(s))
    cases = {c["slug"]: c for c in figures["cases"]}
    juan, damisoa = cases["juan-lopez"], cases["damisoa"]
    assert juan["clicks"] == 15 and damisoa["clicks"] == 2
    assert juan["public_posts"] == {"x": {"original": 3, "quote": 1}, "mastodon": {"reply": 2}, "facebook": {"photo": 1}}
    # the repost answers a damisoa delivery: credited to damisoa through it
    assert damisoa["public_posts"] == {"bluesky": {"repost": 1, "original": 2}}
    assert (juan["public_total"], damisoa["public_total"]) == (7, 3)
    assert juan["actions"] == {"letter": 80, "social_action": 6 + 7}
    assert damisoa["actions"] == {"signature": 20, "social_action": 3}
    assert cases["ellinor-guttorm-utsi"]["clicks"] == 0 and cases["ellinor-guttorm-utsi"]["actions_total"] == 0
    edition = figures["edition"]
    assert (edition["clicks"], edition["public_total"], edition["actions_total"]) == (17, 14, 93 + 23)
    assert edition["public_posts"]["mastodon"] == {"reply": 2, "original": 4}


def test_day_by_day_in_the_edition_s_time_zone(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        days = public_voice.voice(s, campaign=current_campaign(s))["days"]
    got = {(r["day"].isoformat(), r["case"]): (r["clicks"], r["public_posts"], r["actions"]) for r in days}
    assert got == {
        ("2025-11-10", "juan-lopez"): (7, 0, 0),
        ("2025-11-10", "damisoa"): (0, 0, 20),
        ("2025-11-11", "juan-lopez"): (8, 6, 6),
        ("2025-11-12", "juan-lopez"): (0, 1, 1 + 80 + 6),
        ("2025-11-12", "damisoa"): (2, 3, 3),
        ("2025-11-12", None): (0, 4, 0),  # public posts, nobody's actions
    }


def test_a_late_evening_click_counts_on_the_local_day(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        code = s.execute(sa.text("SELECT source_code FROM delivery ORDER BY id LIMIT 1")).scalar_one()
        # 02:00 UTC on the 15th is 21:00 on the 14th in Montréal
        responses.add_clicks(s.connection(), {(code, dt.datetime(2025, 11, 15, 2, tzinfo=dt.UTC)): 9})
    with db.session_scope(engine) as s:
        days = public_voice.voice(s, campaign=current_campaign(s))["days"]
    assert [(r["day"], r["clicks"]) for r in days if r["day"] >= dt.date(2025, 11, 13)] == [(dt.date(2025, 11, 14), 9)]


def test_the_funnel_of_one_case_channel_by_channel(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        rows = public_voice.funnel_by_case_channel(s, campaign=current_campaign(s))
    juan = public_voice.case_funnel(rows, "juan-lopez")
    assert list(juan) == [*KINDS, "total"]
    assert juan["x"] == {"posts": 1, "views": 1000, "engagement": 11, "clicks": 10, "actions": 0, "public_posts": 4}
    assert juan["mastodon"]["clicks"] == 5 and juan["mastodon"]["public_posts"] == 2
    assert juan["total"]["views"] == 1000 + 2000 + 3000 + 4000 and juan["total"]["public_posts"] == 7
    damisoa = public_voice.case_funnel(rows, "damisoa")
    assert damisoa["bluesky"]["public_posts"] == 3 and damisoa["bluesky"]["clicks"] == 2
    assert damisoa["x"]["public_posts"] == 0
    edition_only = public_voice.case_funnel(rows, None)
    assert edition_only["mastodon"]["public_posts"] == 4 and edition_only["mastodon"]["posts"] == 0


def test_public_posts_count_once_as_social_actions_in_every_total(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        overall, per_case = responses.pace(s, campaign=campaign, today=TODAY)
        by_kind = responses.totals_by_kind(s, campaign=campaign)
        bilan = campaign_results.results(s, campaign=campaign)
    totals = {p.slug: p.total for p in per_case}
    assert (totals["juan-lopez"], totals["damisoa"], overall.total) == (93, 23, 116)
    assert by_kind == {"letter": 80, "signature": 20, "social_action": 6 + 7 + 3}
    assert bilan["actions"] == 116 and bilan["by_kind"]["social_action"] == 16


def test_public_posts_count_once_among_actions_and_edition_wide_ones_only_as_posts(engine: sa.Engine) -> None:
    """Listening's own social_action rows are the only way public posts reach the actions: read
    back, a case's social actions are the hand-entered ones plus its public posts, once; the
    posts found by the edition's own terms show as public posts, not as anyone's actions."""
    seed(engine)
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        figures = public_voice.voice(s, campaign=campaign)
    cases = {c["slug"]: c for c in figures["cases"]}
    assert cases["juan-lopez"]["actions"]["social_action"] == 6 + 7
    assert cases["juan-lopez"]["public_total"] == 7
    assert cases["damisoa"]["actions"]["social_action"] == 3
    assert figures["edition"]["public_total"] == 14
    assert figures["edition"]["actions_total"] == 116


def test_pace_projects_to_human_rights_day_and_to_the_last_day(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        overall, per_case = responses.pace(s, campaign=campaign, today=TODAY)
        after, _ = responses.pace(s, campaign=campaign, today=dt.date(2025, 12, 20))
    juan = {p.slug: p for p in per_case}["juan-lopez"]
    # 22 November is day 20 of the edition; 10 December is day 38, 31 January day 90
    assert juan.rights_day == dt.date(2025, 12, 10) and juan.ends_on == dt.date(2026, 1, 31)
    assert juan.projected_rights_day == round(93 * 38 / 20) == 177
    assert juan.projected == round(93 * 90 / 20)
    assert juan.behind  # 418 projected for a goal of 12 000
    assert overall.projected_rights_day == round(116 * 38 / 20)
    assert after.projected_rights_day is None  # 10 December has passed: the total says more
    assert after.projected == round(116 * 90 / 48)


def test_a_case_on_pace_is_not_behind(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        s.execute(sa.text("UPDATE \"case\" SET goal = 400 WHERE slug = 'juan-lopez'"))
    with db.session_scope(engine) as s:
        _, per_case = responses.pace(s, campaign=current_campaign(s), today=TODAY)
    paces = {p.slug: p for p in per_case}
    assert not paces["juan-lopez"].behind and paces["damisoa"].behind


def test_pace_figures_for_scripts(engine: sa.Engine) -> None:
    seed(engine)
    with db.session_scope(engine) as s:
        out = public_voice.pace_figures(s, campaign=current_campaign(s), today=TODAY)
    assert set(out) == {"cases"}
    juan = out["cases"]["juan-lopez"]
    assert juan == {"total": 93, "goal": 12000, "clicks": 15,
                    "by_kind": {"letter": 80, "solidarity": 0, "signature": 0, "email": 0, "postcard": 0,
                                "social_action": 13, "other": 0}}
    assert out["cases"]["damisoa"]["clicks"] == 2 and out["cases"]["damisoa"]["by_kind"]["social_action"] == 3


def test_an_empty_edition_has_zeros_everywhere(engine: sa.Engine) -> None:
    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        figures = public_voice.voice(s, campaign=campaign)
        rows = public_voice.funnel_by_case_channel(s, campaign=campaign)
    assert figures["days"] == [] and rows == []
    assert figures["edition"] == {"clicks": 0, "public_posts": {}, "public_total": 0, "actions": {}, "actions_total": 0}
    assert len(figures["cases"]) == len(campaign_cases(engine)) > 1
    assert all(c["clicks"] == c["public_total"] == c["actions_total"] == 0 for c in figures["cases"])


def campaign_cases(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text('SELECT "case".slug FROM "case" JOIN campaign ON campaign.id = "case".campaign_id '
                                         "WHERE campaign.is_current")).scalars())
