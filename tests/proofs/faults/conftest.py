"""The links service for the proofs whose queues include Instagram (see helpers.MediaService)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.proofs.faults.helpers import MediaService


@pytest.fixture
def media(engine: sa.Engine) -> Iterator[MediaService]:
    """The links service on this test's database: Instagram's emulator downloads each image there."""
    with MediaService(engine) as service:
        yield service
