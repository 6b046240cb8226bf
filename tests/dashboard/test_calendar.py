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


def test_the_ics_feed_lists_each_delivery(app, scheduled, bare_engine):
    from orchestrator import db
    from orchestrator.services import exports
    from orchestrator.services.campaigns import current_campaign

    scheduled(text="Écrivez pour Juan, vite ; merci")
    with db.session_scope(bare_engine) as s:
        ics = exports.schedule_ics(s, campaign=current_campaign(s))
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert ics.count("BEGIN:VEVENT") == 1
    assert "SUMMARY:[Programmée] Juan López · x-fr" in ics
    assert "vite \\; merci" in ics.replace("\r\n ", "")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    at = app("victor", "calendar")
    at.button(key="cal_ics_prepare").click().run()
    assert at.get("download_button")


# ---------------------------------------------------------------------------------------------
# Every entry reachable; states shown; the file only on request; the feed


def _fifty_on_one_day(engine) -> dt.date:
    """Fifty deliveries on one day (tomorrow, from 08:00 Montréal, a minute apart)."""
    from zoneinfo import ZoneInfo

    from orchestrator import db
    from orchestrator.services import deliveries, posts
    from orchestrator.services.auth import SYSTEM
    from orchestrator.timeutil import at_local

    day = dt.datetime.now(ZoneInfo("America/Toronto")).date() + dt.timedelta(days=1)
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan !", submit=True)
        post.author = "someone"
        posts.approve_post(s, actor=SYSTEM, post_id=post.id)
        for i in range(50):
            deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name="x-fr",
                                at=at_local(day, dt.time(8), "America/Toronto") + dt.timedelta(minutes=i))
    return day


def test_fifty_entries_on_one_day_are_all_reachable(app, bare_engine, account):
    day = _fifty_on_one_day(bare_engine)
    at = app("victor", "calendar")
    at.date_input(key="cal_date").set_value(day).run()
    assert "50 envoi(s), heure de l’Est." in texts(at)  # the zone in words, not "America/Toronto"
    at.button(key=f"cal_more_{day.isoformat()}").click().run()  # « Voir les 38 autres »
    assert not at.exception
    seen = set(at.dataframe[0].value["Quand"])
    assert len(at.dataframe[0].value) == 25
    at.number_input(key="cal_day_page").set_value(2).run()
    seen |= set(at.dataframe[0].value["Quand"])
    assert len(seen) == 50  # 08:00 to 08:49, every one of them
    at.radio(key="cal_view").set_value("month").run()  # four a day in a month: the rest one click away
    assert at.button(key=f"cal_more_{day.isoformat()}").label == "Voir les 46 autres"


def test_the_calendar_shows_the_states_held(app, busy):
    at = app("victor", "calendar")
    at.radio(key="cal_view").set_value("month").run()
    for day in {k.removeprefix("cal_more_") for k in (b.key for b in at.button) if k and k.startswith("cal_more_")}:
        at.button(key=f"cal_more_{day}").click().run()
    shown = texts(at) + "".join(d.value.to_csv() for d in at.dataframe)
    assert "⏳ En attente d'approbation" in shown and "⛔ Refusée" in shown and "📝 Brouillon" in shown


def test_a_visit_builds_no_calendar_file_until_asked(app, scheduled):
    scheduled(text="Écrivez pour Juan !")
    at = app("victor", "calendar")
    assert not at.get("download_button")  # nothing built on the visit
    at.button(key="cal_ics_prepare").click().run()
    (button,) = at.get("download_button")
    assert "BEGIN:VEVENT" in at.session_state["cal_ics_1_fr"]
    assert "porte-voix" not in texts(at)  # no command line on the page


def test_the_ics_file_shows_the_state_held_and_escapes_a_bare_carriage_return(bare_engine, busy):
    from orchestrator import db
    from orchestrator.services import exports
    from orchestrator.services.campaigns import current_campaign

    with db.session_scope(bare_engine) as s:
        ics = exports.schedule_ics(s, campaign=current_campaign(s))
    assert ics.count("SUMMARY:[En attente d'approbation]") == 4
    assert ics.count("SUMMARY:[Refusée]") == 1
    assert exports._ics_escape("a\rb") == "a\\nb"


def test_an_editor_makes_a_feed_address_that_serves_the_schedule_until_revoked(app, scheduled, bare_engine):
    from starlette.testclient import TestClient

    from orchestrator.links import create_app

    scheduled(text="Écrivez pour Juan !")
    at = app("edith", "calendar")
    at.button(key="cal_feed_create").click().run()
    assert not at.exception
    (code,) = [c.value for c in at.code]
    assert code.startswith("http://127.0.0.1:8780/calendar/") and code.endswith(".ics")
    assert "Google Agenda" in texts(at)
    path = code.removeprefix("http://127.0.0.1:8780")
    with TestClient(create_app(bare_engine)) as client:
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/calendar")
        assert answer.text.count("BEGIN:VEVENT") == 1
        assert client.get(path.replace("/calendar/", "/calendar/x")).status_code == 404
    at.button(key="cal_feed_create").click().run()  # « Nouvelle adresse »
    (new_code,) = [c.value for c in at.code]
    assert new_code != code
    with TestClient(create_app(bare_engine)) as client:
        assert client.get(path).status_code == 404  # the old one stopped at once
        assert client.get(new_code.removeprefix("http://127.0.0.1:8780")).status_code == 200
    at.button(key="cal_feed_revoke").click().run()
    assert not at.code
    with TestClient(create_app(bare_engine)) as client:
        assert client.get(new_code.removeprefix("http://127.0.0.1:8780")).status_code == 404


def test_a_viewer_is_not_shown_the_secret_address(app, bare_engine, campaign):
    from orchestrator import db
    from orchestrator.services import calendar_feed
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(bare_engine) as s:
        token = calendar_feed.create(s, actor=SYSTEM, campaign_id=campaign)
    at = app("victor", "calendar")
    assert token not in texts(at) and not at.code
    assert "demandez-la à une personne de la rédaction" in texts(at)
    assert not [b for b in at.button if b.key in ("cal_feed_create", "cal_feed_revoke")]
