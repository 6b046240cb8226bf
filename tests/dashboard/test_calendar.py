from __future__ import annotations

import datetime as dt

from tests.dashboard.helpers import texts


def test_week_view_shows_state_by_label_and_colour(app, scheduled):
    scheduled(state="failed", in_hours=1)
    at = app("victor", "calendar")
    assert "🔴 Échec" in texts(at)  # a coloured dot AND the word
    assert "x-fr" in texts(at)


def test_month_view_and_filters(app, scheduled):
    scheduled(in_hours=1)
    at = app("victor", "calendar")
    at.radio(key="cal_view").set_value("month").run()
    assert not at.exception
    assert "🔵 Programmée" in texts(at)
    at.multiselect(key="cal_kinds").set_value(["x"]).run()
    assert "🔵 Programmée" in texts(at)


def test_an_empty_week_far_away(app, scheduled):
    scheduled(in_hours=1)
    at = app("victor", "calendar")
    at.date_input(key="cal_date").set_value(dt.date(2030, 1, 1)).run()
    assert "0 envoi(s)" in texts(at)


def test_the_ics_feed_lists_each_delivery(app, scheduled, engine):
    from orchestrator import db
    from orchestrator.services import exports
    from orchestrator.services.campaigns import current_campaign

    scheduled(text="Écrivez pour Juan, vite ; merci")
    with db.session_scope(engine) as s:
        ics = exports.schedule_ics(s, campaign=current_campaign(s))
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert ics.count("BEGIN:VEVENT") == 1
    assert "SUMMARY:[Programmée] Juan López · x-fr" in ics
    assert "vite \\; merci" in ics.replace("\r\n ", "")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    at = app("victor", "calendar")
    assert at.get("download_button")
