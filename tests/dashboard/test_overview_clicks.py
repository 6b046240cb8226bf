"""The overview shows, per case, the clicks its posts' short links received (issue 18)."""

from __future__ import annotations

import datetime as dt

from orchestrator import db
from orchestrator.services.responses import add_clicks
from tests.dashboard.helpers import texts


def test_each_case_shows_the_clicks_on_its_posts_links(app, bare_engine, running_campaign, scheduled):
    published = scheduled(state="published", case="juan-lopez", in_hours=-1)
    other = scheduled(state="published", case="juan-lopez", in_hours=-2)
    from orchestrator.models import Delivery

    with db.session_scope(bare_engine) as s:
        codes = [s.get(Delivery, published).source_code, s.get(Delivery, other).source_code]
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    with bare_engine.begin() as conn:
        add_clicks(conn, {(codes[0], hour): 1200, (codes[0], hour - dt.timedelta(hours=1)): 30,
                          (codes[1], hour): 4, ("inconnu", hour): 99})
    at = app("victor", "overview")
    lines = [line for line in texts(at).splitlines() if line.startswith("Juan López")]
    assert lines and " · 1\xa0234 clic(s) sur ses liens" in lines[0], lines
    others = [line for line in texts(at).splitlines() if "—" in line and not line.startswith("Juan López")]
    assert others and not any("clic" in line for line in others)  # no click, nothing added

    english = app("victor", "overview", lang="en")
    assert " · 1,234 click(s) on its links" in texts(english)
