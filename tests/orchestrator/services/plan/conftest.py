"""One migrated database per backend for the whole module, emptied of plan data between tests:
building the schema and loading the 2025 campaign takes longer than most of these tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from orchestrator.services.auth import SYSTEM
from tests.conftest import TEST_KEY, fresh_postgres_database

#: Tables a test may fill, children first; the campaign's own tables stay loaded.
_FILLED = ("attempt", "metric_snapshot", "delivery", "post", "audit_entry", "rate_bucket", "account")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def plan_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from content.loader import load_all
    from orchestrator import db
    from orchestrator.services.campaigns import load_content
    from orchestrator.settings import get_settings

    if request.param == "postgresql" and getattr(request.module, "SQLITE_ONLY", False):
        pytest.skip(request.module.SQLITE_ONLY)
    home = tmp_path_factory.mktemp("plan")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'porte-voix.db'}"
    else:
        url, drop = fresh_postgres_database()
    values = {"PORTEVOIX_DATABASE_URL": url, "PORTEVOIX_HOME": str(home / "home"),
              "PORTEVOIX_SECRET_KEY": TEST_KEY, "PORTEVOIX_LOG_LEVEL": "WARNING"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in values.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        db._cached_engine.cache_clear()
        eng = db.get_engine()
        db.upgrade(eng)
        with db.session_scope(eng) as session:
            for campaign in load_all():
                load_content(session, actor=SYSTEM, content=campaign)
        yield values
        eng.dispose()
        get_settings.cache_clear()
        db._cached_engine.cache_clear()
    if drop is not None:
        drop()  # type: ignore[operator]


@pytest.fixture
def engine(plan_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[sa.Engine]:
    """The root ``engine``'s meaning (migrated, campaigns loaded, nothing else), on one database per
    module emptied of accounts, posts and deliveries before each test, which is quicker here."""
    from orchestrator import db
    from orchestrator.settings import get_settings

    for key, value in plan_env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    eng = db.get_engine()
    with eng.begin() as conn:
        for table in _FILLED:
            conn.execute(sa.text(f"DELETE FROM {table}"))
        conn.execute(sa.text("UPDATE \"case\" SET status = 'active'"))
    yield eng


@pytest.fixture
def env(plan_env: dict[str, str], engine: sa.Engine) -> dict[str, str]:
    return plan_env
