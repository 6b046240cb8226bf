from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Settings for CLI subprocesses on an SQLite file, for tests where the database engine does not
    matter (the database logic itself is tested on both engines in-process)."""
    yield {
        "PORTEVOIX_DATABASE_URL": f"sqlite:///{tmp_path / 'porte-voix.db'}",
        "PORTEVOIX_HOME": str(tmp_path / "home"),
        "PORTEVOIX_SECRET_KEY": TEST_KEY,
        "PORTEVOIX_LOG_LEVEL": "WARNING",
    }
