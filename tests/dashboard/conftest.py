"""Shared fixtures: a database built through the migrations, the 2025 campaign, four people (one
per role), an X account (or one account of each of the four kinds), and AppTest runs signed in
as any of them."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from cryptography.fernet import Fernet
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from orchestrator import db
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from tests.factories import make_account

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORD = "motdepasse-solide"
PEOPLE = {"victor": "viewer", "edith": "editor", "alain": "approver", "ada": "admin"}


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_empty: Path) -> Iterator[str]:
    """A SQLite database this test owns, migrated to the head: a copy of the session's empty one."""
    url = f"sqlite:///{tmp_path / 'porte-voix.db'}"
    shutil.copyfile(sqlite_empty, tmp_path / "porte-voix.db")
    monkeypatch.setenv("PORTEVOIX_DATABASE_URL", url)
    monkeypatch.setenv("PORTEVOIX_HOME", str(tmp_path))
    monkeypatch.setenv("PORTEVOIX_SECRET_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_data.clear()
    yield url
    db._cached_engine(url).dispose()
    get_settings.cache_clear()
    db._cached_engine.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def bare_engine(db_url: str) -> sa.Engine:
    """An engine on a migrated SQLite database this test owns, with nothing in it: the edition,
    the people and the accounts come from the fixtures below (``campaign``, ``people``,
    ``account``…), as each page test needs them. The root ``engine`` has the bundled campaigns
    loaded and runs on both databases; a page test that wants that one takes ``engine``."""
    return db.get_engine(db_url)


@pytest.fixture
def campaign(bare_engine: sa.Engine) -> int:
    from content.loader import bundled_campaign, load_campaign
    from orchestrator.services.campaigns import load_content

    with db.session_scope(bare_engine) as s:
        return load_content(s, actor=SYSTEM, content=load_campaign(bundled_campaign("2025"))).id  # type: ignore[return-value]


@pytest.fixture
def people(bare_engine: sa.Engine) -> dict[str, str]:
    from orchestrator.services.users import add_user

    with db.session_scope(bare_engine) as s:
        for name, role in PEOPLE.items():
            add_user(s, actor=SYSTEM, username=name, password=PASSWORD, role=role)
    return PEOPLE


@pytest.fixture
def account(bare_engine: sa.Engine, campaign: int) -> str:
    with db.session_scope(bare_engine) as s:
        return make_account(s, "x")


#: One account of every kind, as staff set them up: Mastodon with its instance's address (its
#: limits not read yet), Bluesky with its PDS.
FOUR_KINDS = {
    "x-fr": ("x", None),
    "facebook-fr": ("facebook", None),
    "mastodon-fr": ("mastodon", "https://mastodon.example"),
    "bluesky-fr": ("bluesky", "https://pds.example"),
}


@pytest.fixture
def four_accounts(bare_engine: sa.Engine, campaign: int) -> list[str]:
    """x-fr, facebook-fr, mastodon-fr and bluesky-fr, all in French."""
    with db.session_scope(bare_engine) as s:
        return [make_account(s, kind, name=name, base_url=base_url) for name, (kind, base_url) in FOUR_KINDS.items()]


@pytest.fixture
def session(bare_engine: sa.Engine) -> Iterator[Session]:
    with Session(bare_engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def app(people: dict[str, str], campaign: int) -> Callable[..., AppTest]:
    """``app("edith", "queue")``: the dashboard signed in as that person, on that page."""

    def open_as(username: str, page: str | None = None, *, lang: str = "fr") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["lang"] = lang
        at.session_state["actor"] = {"username": username, "role": people[username]}
        at.run()
        if page is not None:
            at.switch_page(f"views/{page}.py")
            at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_as


@pytest.fixture
def scheduled(bare_engine: sa.Engine, account: str) -> Callable[..., int]:
    """``scheduled(state="failed")``: an approved post on x-fr in a given delivery state."""
    from orchestrator.services import deliveries, posts

    def make(state: str = "scheduled", case: str = "juan-lopez", text: str = "Écrivez pour Juan !",
             in_hours: float = 2.0, **changes: object) -> int:
        with db.session_scope(bare_engine) as s:
            post = posts.create_post(s, actor=SYSTEM, case_slug=case, text=text, submit=True)
            post.author = "someone"
            posts.approve_post(s, actor=SYSTEM, post_id=post.id)  # type: ignore[arg-type]
            delivery = deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name=account,  # type: ignore[arg-type]
                                           at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=in_hours))
            delivery.state = state
            for name, value in changes.items():
                setattr(delivery, name, value)
            s.add(delivery)
            s.flush()
            return delivery.id  # type: ignore[return-value]

    return make


@pytest.fixture
def four_kinds(bare_engine: sa.Engine, account: str) -> list[str]:
    """Accounts of all four kinds: X, Facebook, Mastodon with its instance, Bluesky with its PDS."""
    from tests.dashboard.busy import four_kinds as make

    return make(bare_engine)


@pytest.fixture
def busy(bare_engine: sa.Engine, account: str) -> dict[str, object]:
    """The busy edition of tests/dashboard/busy.py (every state, every kind, hostile text)."""
    from tests.dashboard.busy import busy as make

    return make(bare_engine)


@pytest.fixture
def running_campaign(bare_engine: sa.Engine, campaign: int) -> int:
    """The 2025 edition moved around today: in progress whatever the machine's date."""
    from tests.dashboard.busy import running_campaign as make

    make(bare_engine)
    return campaign
