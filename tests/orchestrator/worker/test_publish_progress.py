"""Meta's two-step publish across processes: the container a worker made for a delivery is noted
in the database, so a try in another worker (after a crash between "create" and "publish")
publishes that same container, never a second one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import select

from channels.base import PublishRequest, TransientError, use_progress_record
from channels.containers import LEDGER
from orchestrator import db
from orchestrator.models import PublishProgress
from orchestrator.worker.progress import DatabaseProgress
from tests.channels.conftest import ImageServer
from tests.channels.test_instagram import channel, emulator, image, posts


@pytest.fixture
def image_server() -> Iterator[ImageServer]:
    """Where the Instagram emulator fetches the images, as in the channel tests."""
    server = ImageServer()
    yield server
    server.stop()


def _keys(engine) -> list[str]:
    with db.session_scope(engine) as session:
        return [r.request_key for r in session.exec(select(PublishProgress))]


@pytest.mark.parametrize("durable", [True, False], ids=["noted in the database", "in the process only"])
def test_a_container_made_before_a_crash_is_published_by_the_next_process(engine, sandbox, image_server,
                                                                          durable) -> None:
    use_progress_record(DatabaseProgress(engine) if durable else None)
    request = PublishRequest("delivery-41", "Écrivez pour Juan", images=(image(image_server),))
    emulator(sandbox).pending_polls = 3  # Meta is still fetching the image
    with pytest.raises(TransientError):
        channel(sandbox, container_polls=2).publish(request)  # made, not published: the worker dies
    assert posts(sandbox) == [] and sandbox.sandbox.calls("instagram", r"/media$") == 1
    assert _keys(engine) == (["delivery-41"] if durable else [])

    LEDGER.clear()  # that process is gone; another worker takes the delivery
    published = channel(sandbox).publish(request)

    assert [p["id"] for p in posts(sandbox)] == [published.platform_id]
    # noted in the database: the same container is published; in the process only, a second one
    # is made (an orphan that expires, never a second post)
    assert sandbox.sandbox.calls("instagram", r"/media$") == (1 if durable else 2)
    assert _keys(engine) == []


def test_a_database_that_cannot_be_written_leaves_the_note_in_the_process(engine, sandbox, image_server,
                                                                        monkeypatch) -> None:
    record = DatabaseProgress(engine)
    monkeypatch.setattr(record, "save", lambda *a: (_ for _ in ()).throw(RuntimeError("disk full")))
    use_progress_record(record)
    request = PublishRequest("delivery-42", "Écrivez pour Juan", images=(image(image_server),))
    emulator(sandbox).pending_polls = 3
    with pytest.raises(TransientError):
        channel(sandbox, container_polls=2).publish(request)
    published = channel(sandbox).publish(request)  # the same process: resumed from memory
    assert [p["id"] for p in posts(sandbox)] == [published.platform_id]
    assert sandbox.sandbox.calls("instagram", r"/media$") == 1


def test_the_worker_installs_the_database_record(engine) -> None:
    from channels.base import progress_record
    from tests.orchestrator.worker.test_worker import make_worker

    make_worker(engine)
    assert isinstance(progress_record(), DatabaseProgress) and progress_record().engine is engine


def test_a_threads_note_outlives_the_containers_purge(engine) -> None:
    """Old container notes are dropped; a thread's note is kept, however old: a person may retry a
    failed thread days later, and its first parts must not go out again."""
    import datetime as dt

    import sqlalchemy as sa

    from channels.thread import KIND
    from orchestrator.models import PublishProgress
    from orchestrator.timeutil import utcnow

    record = DatabaseProgress(engine)
    record.save(KIND, "x/x-fr", "pv-a-1", {"parts": [{"id": "1"}], "pending": None})
    record.save("instagram", "ig", "pv-b-2", {"container": "c1", "created_at": utcnow().isoformat()})
    with engine.begin() as conn:
        conn.execute(sa.update(PublishProgress).values(updated_at=utcnow() - dt.timedelta(days=9)))
    record.save("instagram", "ig", "pv-c-3", {"container": "c2", "created_at": utcnow().isoformat()})
    assert record.load(KIND, "x/x-fr", "pv-a-1") == {"parts": [{"id": "1"}], "pending": None}
    assert record.load("instagram", "ig", "pv-b-2") is None
