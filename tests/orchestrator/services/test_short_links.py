"""Short links in published posts: the worker sends ``<base>/<code>`` through the real X and
Bluesky clients, following it reaches the long tagged link, the click is counted in the funnel,
and the long link comes back when short links are turned off."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from orchestrator import db, states
from orchestrator.links import create_app, reachable_by_public
from orchestrator.models import Delivery, LinkClickHour
from orchestrator.services.campaigns import current_campaign
from orchestrator.services.responses import funnel_by_case, funnel_by_channel
from orchestrator.settings import Settings, get_settings
from orchestrator.worker import Worker
from tests import factories
from tests.orchestrator.helpers import approved_post, delivery, schedule

BASE = "https://go.amnistie.ca"
LINK = "https://amnistie.ca/ecrire"


@pytest.fixture
def short_base(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[str]:
    monkeypatch.setenv("PORTEVOIX_LINKS_BASE_URL", BASE)
    get_settings.cache_clear()
    yield BASE
    get_settings.cache_clear()


def publish(engine: sa.Engine, sandbox, kind: str, *, text: str = "Écrivez pour Juan López #W4R",
            link: str | None = LINK, sandbox_account: bool = False) -> Delivery:
    name = factories.add_account(engine, kind, name=f"{kind}-court", base_url=sandbox.url,
                                 is_sandbox=sandbox_account)
    delivery_id = schedule(engine, approved_post(engine, text=text, link=link), name)
    settings = get_settings().model_copy(update={"request_timeout": 3.0})
    Worker(engine, settings=settings, worker_id="test-worker").run_once()
    found = delivery(engine, delivery_id)
    assert found.state == states.PUBLISHED, found.last_error
    return found


def follow(engine: sa.Engine, path: str, *, times: int = 1) -> list[str]:
    """GET ``path`` on the short-link service ``times`` times; the Location of each answer."""
    with TestClient(create_app(engine, flush_seconds=3600), follow_redirects=False) as client:
        answers = [client.get(path) for _ in range(times)]
    assert all(a.status_code == 302 for a in answers), [a.status_code for a in answers]
    return [a.headers["location"] for a in answers]  # leaving the client flushed the clicks


def test_x_shows_the_short_address_and_following_it_counts_a_click_in_the_funnel(engine, sandbox, short_base) -> None:
    sent = publish(engine, sandbox, "x")
    short = f"{BASE}/{sent.source_code}"
    (post,) = sandbox.sandbox.posts("x")
    assert short in post["text"] and "utm_" not in post["text"] and LINK not in post["text"]

    (location,) = follow(engine, urlsplit(short).path, times=1)
    assert location.startswith(LINK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["source"] == [sent.source_code]
    assert query["utm_source"] == ["x"] and query["utm_content"] == ["juan-lopez"]
    assert query["utm_campaign"] == ["ecrire-2025"] and query["utm_medium"] == ["social"]

    follow(engine, urlsplit(short).path, times=2)
    with db.session_scope(engine) as session:
        counted = session.exec(select(LinkClickHour.count).where(LinkClickHour.source_code == sent.source_code)).all()
        assert sum(counted) == 3
        campaign = current_campaign(session)
        by_case = {row["case"]: row["clicks"] for row in funnel_by_case(session, campaign=campaign)}
        by_channel = {row["channel"]: row["clicks"] for row in funnel_by_channel(session, campaign=campaign)}
    assert by_case["juan-lopez"] == 3
    assert by_channel["x"] == 3


def test_bluesky_shows_the_short_address_with_its_link_facet(engine, sandbox, short_base) -> None:
    sent = publish(engine, sandbox, "bluesky")
    short = f"{BASE}/{sent.source_code}"
    (post,) = sandbox.sandbox.posts("bluesky")
    assert short.removeprefix("https://") in post["text"] and "utm_" not in post["text"]
    uris = [f["uri"] for facet in post["facets"] for f in facet["features"] if "uri" in f]
    assert uris == [short]
    (location,) = follow(engine, urlsplit(short).path)
    assert parse_qs(urlsplit(location).query)["utm_source"] == ["bluesky"]


def test_every_link_of_the_text_is_short_and_numbered(engine, sandbox, short_base) -> None:
    other = "https://amnistie.ca/marathon"
    outside = "https://www.example.org/article"
    sent = publish(engine, sandbox, "x", text=f"Lisez {outside} puis venez {other} #W4R")
    (post,) = sandbox.sandbox.posts("x")
    code = sent.source_code
    # the post's own link is /<code>; the others are numbered in the order the text has them
    assert f"Lisez {BASE}/{code}/2 puis venez {BASE}/{code}/3" in post["text"]
    assert post["text"].rstrip().endswith(f"{BASE}/{code}")
    main, first, second = (follow(engine, f"/{code}{suffix}")[0] for suffix in ("", "/2", "/3"))
    assert main.startswith(LINK + "?source=" + code)
    assert first == outside  # not a campaign site: not tagged, but still counted
    assert second.startswith(other + "?source=" + code)
    with TestClient(create_app(engine, flush_seconds=3600), follow_redirects=False) as client:
        assert client.get(f"/{code}/4").status_code == 404
        assert client.get(f"/{code}/0").status_code == 404


def test_the_short_link_keeps_the_delivery_published_once_after_a_doubt(engine, sandbox, short_base) -> None:
    """The platform wrote the post then answered 503: the reconciler finds the short-linked post
    (the key and the frozen text are the delivery's) and it is never sent twice."""
    name = factories.add_account(engine, "x", name="x-doute", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), name)
    sandbox.add_fault("error_after_write", platform="x", method="POST", path=r"^/2/tweets$", status=503)
    worker = Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 3.0}), worker_id="w")
    worker.dispatch(wait=True)
    assert delivery(engine, delivery_id).state == states.UNCONFIRMED
    with db.session_scope(engine) as session:
        row = session.get(Delivery, delivery_id)
        row.due_at = row.created_at
    worker.reconcile()
    row = delivery(engine, delivery_id)
    posts = sandbox.sandbox.posts("x")
    assert row.state == states.PUBLISHED and len(posts) == 1 and row.platform_id == posts[0]["id"]
    assert f"{BASE}/{row.source_code}" in posts[0]["text"]


def test_turned_off_by_setting_the_long_tagged_link_goes_out(engine, sandbox, short_base, monkeypatch) -> None:
    monkeypatch.setenv("PORTEVOIX_LINKS_SHORTEN", "false")
    get_settings.cache_clear()
    sent = publish(engine, sandbox, "x")
    (post,) = sandbox.sandbox.posts("x")
    assert BASE not in post["text"]
    assert f"{LINK}?source={sent.source_code}&utm_source=x" in post["text"]


def test_turned_off_for_one_edition_the_long_tagged_link_goes_out(engine, sandbox, short_base) -> None:
    with db.session_scope(engine) as session:
        campaign = current_campaign(session)
        campaign.link_rules = {**campaign.link_rules, "shorten": False}
        session.add(campaign)
    sent = publish(engine, sandbox, "bluesky")
    (post,) = sandbox.sandbox.posts("bluesky")
    assert "go.amnistie.ca" not in post["text"]
    uris = [f["uri"] for facet in post["facets"] for f in facet["features"] if "uri" in f]
    assert uris == [sent.rendered_link] and "utm_source=bluesky" in uris[0]


def test_a_real_account_never_carries_a_link_to_this_machine(engine, sandbox, monkeypatch, env) -> None:
    monkeypatch.setenv("PORTEVOIX_LINKS_BASE_URL", "http://127.0.0.1:8780")
    get_settings.cache_clear()
    real = publish(engine, sandbox, "x")
    assert "127.0.0.1:8780" not in (real.rendered_text or "") and LINK in (real.rendered_text or "")
    sandbox.sandbox.clear()
    demo = publish(engine, sandbox, "mastodon", sandbox_account=True)
    assert f"http://127.0.0.1:8780/{demo.source_code}" in (demo.rendered_text or "")
    get_settings.cache_clear()


@pytest.mark.parametrize(("address", "public"), [
    ("https://go.amnistie.ca", True), ("https://8.8.8.8", True), ("http://go.amnistie.ca", False),
    ("https://127.0.0.1:8780", False), ("https://localhost", False), ("https://10.0.0.4", False),
    ("https://intranet", False), ("https://go.amnistie.ca:bad", False), ("https://[::1]", False),
])
def test_which_addresses_the_public_can_follow(address: str, public: bool) -> None:
    assert reachable_by_public(address) is public


def test_the_former_setting_name_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTEVOIX_LINKS_BASE_URL", raising=False)
    monkeypatch.setenv("PORTEVOIX_LINKS_PUBLIC_URL", "https://ancien.example.org")
    assert Settings().links_base_url == "https://ancien.example.org"
    monkeypatch.setenv("PORTEVOIX_LINKS_BASE_URL", "https://go.example.org")
    assert Settings().links_base_url == "https://go.example.org"
    assert Settings().links_shorten is True


def test_an_edition_can_say_shorten_false_in_its_content_file() -> None:
    from content.model import LinkRules

    assert LinkRules(utm_campaign="x").shorten is None  # unset: the setting decides (on)
    assert LinkRules(utm_campaign="x", shorten=False).model_dump(mode="json", exclude_none=True)["shorten"] is False
    assert "shorten" not in LinkRules(utm_campaign="x").model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize("agent", [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (compatible; Bluesky Cardyb/1.1; +mailto:support@bsky.app)",
    "http.rb/5.2.0 (Mastodon/4.3.2; +https://mastodon.social/)",
])
def test_a_preview_card_fetcher_is_answered_but_not_counted(engine, sandbox, short_base, agent: str) -> None:
    sent = publish(engine, sandbox, "mastodon")
    reader = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    with TestClient(create_app(engine, flush_seconds=3600), follow_redirects=False) as client:
        previews = [client.get(f"/{sent.source_code}", headers={"user-agent": agent}) for _ in range(3)]
        person = client.get(f"/{sent.source_code}", headers={"user-agent": reader})
    assert all(a.status_code == 302 and a.headers["location"].startswith(LINK) for a in previews)
    assert person.status_code == 302
    with db.session_scope(engine) as session:
        counted = session.exec(select(LinkClickHour.count).where(LinkClickHour.source_code == sent.source_code)).all()
    assert sum(counted) == 1  # the person, not the three previews


def test_status_says_when_real_accounts_cannot_have_short_links(engine, monkeypatch, env) -> None:
    from orchestrator.services.status import summary

    with db.session_scope(engine) as session:
        assert summary(session)["short_links"] is None  # no account yet: nothing to say
    factories.add_account(engine, "mastodon", name="demo", is_sandbox=True, base_url="http://127.0.0.1:9")
    with db.session_scope(engine) as session:
        assert summary(session)["short_links"] is None  # the sandbox uses the local address
    factories.add_account(engine, "x", name="vrai", base_url="http://127.0.0.1:9")
    with db.session_scope(engine) as session:
        note = summary(session)["short_links"]
    assert note and "PORTEVOIX_LINKS_BASE_URL (http://127.0.0.1:8780)" in note
    monkeypatch.setenv("PORTEVOIX_LINKS_BASE_URL", BASE)
    get_settings.cache_clear()
    with db.session_scope(engine) as session:
        assert summary(session)["short_links"] is None
    get_settings.cache_clear()
