"""The public's voice on the pages (issue 18): per case clicks, public posts by platform and kind,
and actions, day by day; one case's funnel channel by channel; pace to 10 December and to the last
day; the cases behind named once at the top of a page. French and English, hostile names, and an
empty edition."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Case, PublicPost
from tests.dashboard.helpers import texts
from tests.dashboard.markdown_sinks import markup_problems
from tests.hostile import HOSTILE
from tests.orchestrator.services.voice_seed import seed


def frame_with(at, column: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


def rows_by(frame: pd.DataFrame, column: str) -> dict[str, dict]:
    return {row[column]: row for row in frame.to_dict("records")}


def only_two_goals(bare_engine) -> None:  # type: ignore[no-untyped-def]
    """Every case but Juan López and Damisoa without a goal: exactly two cases can be behind."""
    with db.session_scope(bare_engine) as s:
        for case in s.exec(select(Case)):
            if case.slug not in ("juan-lopez", "damisoa"):
                case.goal = 0
                s.add(case)


def test_the_overview_shows_each_case_s_voice_and_one_case_by_channel(app, bare_engine, running_campaign):
    seed(bare_engine)
    at = app("victor", "overview")
    summary = rows_by(frame_with(at, "Publications du public"), "Cas")
    juan = summary["Juan López"]
    assert (juan["Clics"], juan["Publications du public"], juan["X"], juan["Mastodon"], juan["Actions"]) == (15, 7, 4, 2, 93)
    assert (summary["Damisoa"]["Clics"], summary["Damisoa"]["Bluesky"], summary["Damisoa"]["Actions"]) == (2, 3, 23)
    assert (summary["Toute l'édition"]["Clics"], summary["Toute l'édition"]["Publications du public"],
            summary["Toute l'édition"]["Actions"]) == (17, 14, 116)
    assert any(c.proto.spec and "Par jour" in c.proto.spec for c in at.get("vega_lite_chart"))
    at.selectbox(key="overview_voice_case").set_value("juan-lopez").run()
    assert not at.exception
    kinds = rows_by(frame_with(at, "Citations"), "Réseau")
    assert (kinds["X"]["Messages"], kinds["X"]["Citations"], kinds["X"]["Total"]) == (3, 1, 4)
    assert kinds["Facebook"]["Photos"] == 1 and "Bluesky" not in kinds
    funnel = rows_by(frame_with(at, "Étape"), "Étape")
    assert list(funnel) == ["Nos publications parues", "Vues", "Interactions", "Clics",
                            "Actions venues de nos publications", "Publications du public"]
    public = funnel["Publications du public"]
    assert (public["X"], public["Mastodon"], public["Facebook"], public["Bluesky"], public["Total"]) == (4, 2, 1, 0, 7)
    assert (funnel["Clics"]["X"], funnel["Clics"]["Mastodon"], funnel["Vues"]["Total"]) == (10, 5, 10_000)
    assert "Lettres à l'autorité 80" in texts(at)


def test_the_overview_in_english_writes_numbers_the_english_way(app, bare_engine, running_campaign):
    seed(bare_engine)
    at = app("victor", "overview", lang="en")
    summary = rows_by(frame_with(at, "Public posts"), "Case")
    assert summary["Whole edition"]["Actions"] == 116
    shown = texts(at)
    line = next(line for line in shown.splitlines() if line.startswith("Juan López — 93 / 12,000 actions (1%) · projected: "))
    assert " on Dec 10, " in line and " on the last day (" in line
    at.selectbox(key="overview_voice_case").set_value("damisoa").run()
    assert not at.exception
    funnel = rows_by(frame_with(at, "Step"), "Step")
    assert funnel["Public posts"]["Bluesky"] == 3


def test_cases_behind_are_named_once_at_the_top_not_under_each_case(app, bare_engine, running_campaign):
    seed(bare_engine)
    only_two_goals(bare_engine)
    for page in ("overview", "cases", "responses"):
        at = app("victor", page)
        behind = [w.value for w in at.warning if "au rythme actuel" in w.value]
        assert len(behind) == 1, (page, [w.value for w in at.warning])
        assert "Juan López" in behind[0] and "Damisoa" in behind[0], page
        assert "Ellinor" not in behind[0]
        progress = [p.proto.text for p in at.get("progress")]
        assert progress and not [line for line in progress if "retard" in line], (page, progress)
        assert texts(at).count("au rythme actuel") == 1, page


def test_no_case_behind_no_warning(app, bare_engine, running_campaign):
    with db.session_scope(bare_engine) as s:
        for case in s.exec(select(Case)):
            case.goal = 0
            s.add(case)
    at = app("victor", "overview")
    assert not [w for w in at.warning if "rythme" in w.value]


def test_the_case_page_shows_the_case_s_voice_on_demand(app, bare_engine, running_campaign):
    seed(bare_engine)
    at = app("victor", "cases")
    shown = texts(at)
    assert "Clics : 15 · Publications du public : 7 · Actions : 93" in shown
    assert "projection : " in shown and " le dernier jour " in shown
    assert not at.dataframe  # the detail waits for the switch
    at.toggle(key="case_voice_juan-lopez").set_value(True).run()
    assert not at.exception
    kinds = rows_by(frame_with(at, "Citations"), "Réseau")
    assert kinds["Mastodon"]["Réponses"] == 2
    assert rows_by(frame_with(at, "Étape"), "Étape")["Publications du public"]["Total"] == 7
    at = app("victor", "cases", lang="en")
    assert "Clicks: 2 · Public posts: 3 · Actions: 23" in texts(at)


def test_the_responses_page_shows_one_case_by_channel(app, bare_engine, running_campaign):
    seed(bare_engine)
    at = app("victor", "responses")
    at.selectbox(key="responses_case_channel").set_value("juan-lopez").run()
    assert not at.exception
    funnel = rows_by(frame_with(at, "Étape"), "Étape")
    assert funnel["Publications du public"]["X"] == 4 and funnel["Clics"]["Total"] == 15
    assert "le 10 déc." in texts(at)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_hostile_case_names_stay_text(app, bare_engine, running_campaign, lang):
    seed(bare_engine)
    only_two_goals(bare_engine)
    with db.session_scope(bare_engine) as s:
        juan = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        juan.person = {"fr": HOSTILE, "en": HOSTILE}
        s.add(juan)
    for page in ("overview", "cases", "responses"):
        at = app("victor", page, lang=lang)
        assert not markup_problems(at), (page, markup_problems(at))
    at = app("victor", "overview", lang=lang)
    at.selectbox(key="overview_voice_case").set_value("juan-lopez").run()
    assert not at.exception and not markup_problems(at)
    column = {"fr": "Cas", "en": "Case"}[lang]
    assert HOSTILE in set(frame_with(at, column)[column])  # shown as typed in the table


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("running", [True, False])
def test_an_empty_edition_says_so_once_instead_of_zeros(app, bare_engine, campaign, lang, running):
    """No click, public post or action yet: the overview says so in one message (« pas encore »
    while the edition runs, « pendant cette édition » once it is over) instead of a table, a
    chart and a funnel of zeros; the case page's switch says the same, once."""
    if running:
        from tests.dashboard.busy import running_campaign

        running_campaign(bare_engine)
    for page in ("overview", "cases", "responses"):
        app("victor", page, lang=lang)  # no exception (asserted by the fixture)
    message = {(True, "fr"): "Pas encore de clic, de publication du public ni d'action.",
               (True, "en"): "No click, public post or action yet.",
               (False, "fr"): "Aucun clic, aucune publication du public ni aucune action pendant cette édition.",
               (False, "en"): "No click, public post or action during this edition."}[(running, lang)]
    at = app("victor", "overview", lang=lang)
    assert [i.value for i in at.info].count(message) == 1, [i.value for i in at.info]
    column = {"fr": "Cas", "en": "Case"}[lang]
    with pytest.raises(AssertionError):
        frame_with(at, column)  # no table of zeros
    assert "overview_voice_case" not in {w.key for w in at.selectbox}
    cases = app("victor", "cases", lang=lang)
    cases.toggle(key="case_voice_juan-lopez").set_value(True).run()
    assert not cases.exception
    shown = [i.value for i in cases.info] + [c.value for c in cases.caption]
    assert sum("publication du public" in v or "public post" in v for v in shown if "Clics" not in v
               and "Clicks" not in v) == 1, shown
    assert not [f for f in cases.dataframe], "a funnel or a table of zeros is drawn"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_no_click_yet_does_not_say_nothing_happened(app, bare_engine, running_campaign, lang):
    """Public posts and actions but no click yet (short links not followed so far): the day-by-day
    chart opens on the first figure with something in it, and choosing clicks says there is no
    click, not that there is no public post or action either."""
    from orchestrator.services.campaigns import current_campaign, get_case
    from orchestrator.services.listening import _add_response

    with db.session_scope(bare_engine) as s:
        campaign = current_campaign(s)
        case = get_case(s, slug="juan-lopez", campaign=campaign)
        day = dt.date.today()
        s.add(PublicPost(platform="mastodon", post_key="a" * 64, campaign_id=campaign.id, case_id=case.id,
                         term="#JuanLopez", kind="original", hour=dt.datetime.now(dt.UTC).replace(minute=0, second=0,
                                                                                                 microsecond=0)))
        _add_response(s, case_id=case.id, day=day, platform="mastodon", n=1)
    at = app("victor", "overview", lang=lang)
    radio = at.radio(key="overview_voice_figure")
    assert radio.value == "public_posts", radio.value
    everything = {"fr": "Pas encore de clic, de publication du public ni d'action.",
                  "en": "No click, public post or action yet."}[lang]
    radio.set_value("clicks").run()
    assert not at.exception
    infos = [i.value for i in at.info]
    assert everything not in infos, infos
    assert {"fr": "Aucun clic sur nos liens pour l'instant.", "en": "No click on our links so far."}[lang] in infos


def test_the_responses_page_counts_the_public_s_posts_channel_by_channel(app, bare_engine, running_campaign):
    """Under the by-channel table, the public's posts found on each platform, every case and the
    edition's own hashtag together (a line, not a ninth column the page's width would cut)."""
    seed(bare_engine)
    at = app("victor", "responses")
    line = [c.value for c in at.caption if c.value.startswith("Publications du public trouvées")]
    assert line and line[0].endswith(": X 4 · Facebook 1 · Mastodon 6 · Bluesky 3"), line
    english = [c.value for c in app("victor", "responses", lang="en").caption if "found by listening" in c.value]
    assert english and english[0].endswith(": X 4 · Facebook 1 · Mastodon 6 · Bluesky 3"), english
    assert len(frame_with(at, "Actions (réseau, sans publication)").columns) == 8, "the table grew past the page"
