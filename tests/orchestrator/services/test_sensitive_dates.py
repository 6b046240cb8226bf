"""Sensitive dates: a post scheduled on one, in the edition's time zone (not UTC), warns its
approver in both languages; the dates go through a folder and back, are typed as lines, move by
years when an edition is copied, and the demonstration edition carries 6 December."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign
from orchestrator.services import campaign_admin, post_review, posts, sensitive_dates
from orchestrator.services.auth import SYSTEM, ServiceError
from tests.orchestrator.services.helpers import ADMIN, EDITOR, x_account

DAY = {"date": "2026-12-06", "label": {"fr": "Journée de commémoration", "en": "Day of Remembrance"}}


def _campaign(**changes) -> Campaign:  # type: ignore[no-untyped-def]
    return Campaign(slug="c", timezone="America/Toronto", sensitive_dates=[DAY], **changes)


def test_the_day_is_the_editions_not_utcs() -> None:
    campaign = _campaign()
    toronto = ZoneInfo("America/Toronto")
    evening = dt.datetime(2026, 12, 6, 21, 30, tzinfo=toronto)  # already 7 December in UTC
    assert evening.astimezone(dt.UTC).date() == dt.date(2026, 12, 7)
    fr, en = sensitive_dates.warning(campaign, evening)  # type: ignore[misc]
    assert "6 décembre 2026" in fr and "Journée de commémoration" in fr
    assert "December 6, 2026" in en and "Day of Remembrance" in en
    assert sensitive_dates.warning(campaign, dt.datetime(2026, 12, 5, 23, 59, tzinfo=toronto)) is None
    assert sensitive_dates.warning(campaign, dt.datetime(2026, 12, 7, 0, 1, tzinfo=toronto)) is None
    assert sensitive_dates.warning(campaign, None) is None
    assert sensitive_dates.warning(_campaign().model_copy(update={"sensitive_dates": []}), evening) is None


def test_lines_are_parsed_and_written_back() -> None:
    campaign = _campaign()
    assert sensitive_dates.parse(sensitive_dates.as_text(campaign)) == [DAY]
    with pytest.raises(ServiceError, match="ligne 2"):
        sensitive_dates.parse("2026-12-06 | a | b\n2026-12-07 | sans anglais")
    assert sensitive_dates.moved_years([{"date": "2024-02-29", "label": {}}], 1) == [{"date": "2025-02-28", "label": {}}]


def test_a_scheduled_post_on_the_day_carries_the_warning_on_its_preview(engine) -> None:
    from orchestrator.services import deliveries

    account = x_account(engine)
    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
        campaign_admin.update_campaign(s, actor=ADMIN, campaign_id=campaign.id, changes={"sensitive_dates": [DAY]})
        post = posts.create_post(s, actor=EDITOR, case_slug="juan-lopez", text="Écrivez !", submit=True)
        zone = ZoneInfo(campaign.timezone)
        deliveries.schedule(s, actor=EDITOR, post_id=post.id, account_name=account,
                            at=dt.datetime(2026, 12, 6, 20, tzinfo=zone))
        rows = post_review.previews(s, post=post, language="en")
        assert any("sensitive date" in w for w in rows[0]["warnings"]) and rows[0]["valid"]  # a warning only
        assert len(sensitive_dates.warnings_of_post(s, post)) == 1
        posts.approve_post(s, actor=SYSTEM, post_id=post.id)  # never a refusal


def test_dates_go_through_a_folder_and_back_and_move_by_years_in_a_copy(engine, tmp_path: Path) -> None:
    from content import dump_campaign, load_campaign

    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.slug == "ecrire-2025")).one()
        assert campaign.sensitive_dates[0]["date"] == "2025-12-06"  # the bundled edition's
        content = campaign_admin.export_content(s, campaign_id=campaign.id)
        copy = campaign_admin.copy_campaign(s, actor=ADMIN, source_id=campaign.id, slug="ecrire-2026",
                                            name={"fr": "2026", "en": "2026"}, starts_on=dt.date(2026, 10, 27),
                                            ends_on=dt.date(2027, 1, 31))
        assert [d["date"] for d in copy.sensitive_dates] == ["2026-12-06"]
    dump_campaign(content, tmp_path / "out")
    assert "sensitive_dates:" in (tmp_path / "out" / "campaign.yaml").read_text(encoding="utf-8")
    again = load_campaign(tmp_path / "out").campaign.sensitive_dates
    assert again is not None and [(d.date, d.label.en) for d in again] == [
        (dt.date(2025, 12, 6), "National Day of Remembrance and Action on Violence against Women")]


def test_the_demonstration_edition_carries_6_december(engine) -> None:
    from orchestrator import demo

    with db.session_scope(engine) as s:
        made = demo.ensure_demo_campaign(s, today=dt.date(2027, 11, 20))
        assert any(d["date"].endswith("-12-06") and "Remembrance" in d["label"]["en"] for d in made.sensitive_dates)
    assert demo.demo_sensitive_dates(dt.date(2026, 11, 1), dt.date(2027, 1, 31))[0]["date"] == "2026-12-06"
