"""The follow-up pages (overview, queue, calendar, exports) with data of every kind, for a viewer
and an editor, in French and English: nothing raises, hostile text never becomes markup, no
English default of Streamlit's and no command line shows, platforms have their names."""

from __future__ import annotations

import pytest

from tests.dashboard.busy import HOSTILE, finished_campaign, markdown_sinks, unescaped_markup
from tests.dashboard.helpers import texts

PAGES = ("overview", "queue", "calendar", "exports")


def _open_everything(at) -> None:
    """Every section a person can open on these pages, so that it is rendered too."""
    for key in [b.key for b in at.button if b.key and b.key.startswith("cal_more_")]:
        at.button(key=key).click().run()
    if any(s.key == "overview_case_posts" for s in at.selectbox):
        for option in range(len(at.selectbox(key="overview_case_posts").options)):
            at.selectbox(key="overview_case_posts").select_index(option).run()
            assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("who", ["victor", "edith"])
@pytest.mark.parametrize("page", PAGES)
def test_every_follow_page_renders_a_busy_edition(app, busy, running_campaign, page, who, lang):
    at = app(who, page, lang=lang)
    if page == "calendar":
        at.radio(key="cal_view").set_value("month").run()
    _open_everything(at)
    assert not at.exception, [e.value for e in at.exception]
    assert not unescaped_markup(at), unescaped_markup(at)
    if page == "calendar":  # the hostile case alone: its entries are drawn in the grid
        at.multiselect(key="cal_cases").set_value([busy["hostile_case_id"]]).run()
        assert not at.exception and not unescaped_markup(at), unescaped_markup(at)
    if page in ("overview", "calendar"):  # the hostile text did reach Markdown, escaped
        assert any("onerror" in text for text in markdown_sinks(at))
    shown = texts(at)
    assert "porte-voix " not in shown  # no command line on a page
    for english_default in ("Choose an option", "Choose options", "No options to select"):
        assert english_default not in shown
    for widget in [*at.multiselect, *(s for s in at.selectbox if s.value is None)]:
        assert widget.proto.placeholder, widget.key  # Streamlit's own English words otherwise
    tables = "".join(d.value.to_csv() for d in at.dataframe)
    for raw in ("(x)", "(mastodon)", "(bluesky)", "(facebook)", "case paused", "late: waiting", "None", "America/"):
        assert raw not in tables and raw not in shown, raw


def test_the_queue_walks_every_delivery_without_breaking(app, busy, running_campaign):
    """Each delivery picked in turn, as an editor: its card, figures and buttons all draw."""
    at = app("edith", "queue")
    reached = False
    for option in range(len(at.selectbox(key="queue_pick").options)):
        at.selectbox(key="queue_pick").select_index(option).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not unescaped_markup(at), unescaped_markup(at)
        reached |= any("onerror" in text for text in markdown_sinks(at))
    assert reached  # the failed delivery's error and the rejected post's comment, escaped


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_of_a_finished_edition(app, busy, bare_engine, page):
    finished_campaign(bare_engine)
    at = app("victor", page)
    assert not at.exception, [e.value for e in at.exception]
    assert not unescaped_markup(at)


def test_hostile_text_is_shown_as_written(app, busy, running_campaign):
    """Escaped, not dropped: the case's name reads as it was typed."""
    at = app("victor", "queue")
    assert HOSTILE in "".join(d.value.to_csv() for d in at.dataframe)
