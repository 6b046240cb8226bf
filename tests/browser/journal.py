"""What the database and the sandbox hold, read by the browser tests to check what the pages
claim (the pages are driven only through the browser; these reads never change anything,
except :func:`bring_forward`, which stands for time passing)."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from orchestrator import db
from orchestrator.models import Account, Delivery, Post

T = TypeVar("T")


def wait_for(fetch: Callable[[], T], ok: Callable[[T], bool], *, timeout: float, what: str,
             every: float = 0.5) -> T:
    """Read again until ``ok`` holds; fail with what was last seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout:.0f} s")
        time.sleep(every)


def posts_with(engine: sa.Engine, text: str) -> list[Post]:
    """Posts whose text contains ``text`` (the journeys write words no other test writes)."""
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(select(Post).where(col(Post.text).contains(text)).order_by(col(Post.id))))


def deliveries_of(engine: sa.Engine, post_ids: list[int]) -> list[tuple[Delivery, str]]:
    """(delivery, account name) of these posts, by account name."""
    with Session(engine, expire_on_commit=False) as s:
        rows = s.exec(select(Delivery, Account.name).join(Account, col(Account.id) == Delivery.account_id)
                      .where(col(Delivery.post_id).in_(post_ids)).order_by(col(Account.name)))
        return [(d, str(name)) for d, name in rows]


def states_of(engine: sa.Engine, post_ids: list[int]) -> dict[str, str]:
    return {name: d.state for d, name in deliveries_of(engine, post_ids)}


def bring_forward(engine: sa.Engine, delivery_ids: list[int], seconds: float = 1.0) -> None:
    """The time a delivery was planned for arrives: moved to a moment from now, through the
    same service a person uses to move it."""
    from orchestrator.services import deliveries
    from orchestrator.services.auth import SYSTEM

    at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    with db.session_scope(engine) as s:
        for delivery_id in delivery_ids:
            deliveries.reschedule(s, actor=SYSTEM, delivery_id=delivery_id, at=at)


def png(path: Path, size: tuple[int, int] = (640, 360), colour: tuple[int, int, int] = (196, 30, 58)) -> Path:
    """A real PNG file (a candle-red banner with a white band)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, colour)
    ImageDraw.Draw(image).rectangle((0, size[1] // 3, size[0], 2 * size[1] // 3), fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


def sandbox_posts(sandbox: Any, kind: str, text: str) -> list[dict[str, Any]]:
    """What the platform's emulator holds whose text contains ``text``."""
    return [p for p in sandbox.sandbox.posts(kind) if text in str(p.get("text", ""))]
