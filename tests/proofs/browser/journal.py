"""What the database and the sandbox hold, read by the browser tests to check what the pages
claim (the pages are driven only through the browser; these reads never change anything,
except :func:`bring_forward` and :func:`figures_due`, which stand for time passing, and the
helpers that set up what a journey starts from)."""

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


def figures_due(engine: sa.Engine, delivery_ids: list[int]) -> None:
    """The worker's next look at these deliveries' figures comes now (it looks every few minutes)."""
    with db.session_scope(engine) as s:
        for delivery in s.exec(select(Delivery).where(col(Delivery.id).in_(delivery_ids))):
            delivery.next_metrics_at = dt.datetime.now(dt.UTC)
            s.add(delivery)


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


def approved_delivery(engine: sa.Engine, *, case: str, account: str, text: str,
                      in_seconds: float = 7200) -> int:
    """A post approved by someone else and scheduled on ``account``: what a journey starts from
    when it is not about writing or approving."""
    from orchestrator.services import deliveries, posts
    from orchestrator.services.auth import SYSTEM

    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=SYSTEM, case_slug=case, text=text, submit=True)
        post.author = "edith"
        posts.approve_post(s, actor=SYSTEM, post_id=post.id or 0)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=in_seconds)
        return deliveries.schedule(s, actor=SYSTEM, post_id=post.id or 0, account_name=account, at=at).id or 0


def delivery(engine: sa.Engine, delivery_id: int) -> Delivery:
    with Session(engine, expire_on_commit=False) as s:
        found = s.get(Delivery, delivery_id)
        assert found is not None
        return found


def delivery_state(engine: sa.Engine, delivery_id: int) -> str:
    with Session(engine) as s:
        delivery = s.get(Delivery, delivery_id)
        assert delivery is not None
        return delivery.state


def count_rows(engine: sa.Engine, table: str, where: str = "1 = 1", **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}" WHERE {where}'), params).scalar_one())


def pending_post_with_image(engine: sa.Engine, *, case: str, text: str, accounts: list[str], image: Path,
                            alt: str) -> int:
    """A post written by the editor, with an image, scheduled on ``accounts`` and awaiting approval."""
    import base64

    from orchestrator.services import deliveries, posts
    from orchestrator.services.auth import Actor

    editor = Actor("edith", "editor")
    inline = {"data": base64.b64encode(image.read_bytes()).decode(), "mime_type": "image/png",
              "filename": image.name, "alt": alt}
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=editor, case_slug=case, text=text, images=[inline], submit=True)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        for name in accounts:
            deliveries.schedule(s, actor=editor, post_id=post.id or 0, account_name=name, at=at)
        return post.id or 0


def library_image(engine: sa.Engine, *, case: str, image: Path, alt: dict[str, str]) -> None:
    from orchestrator.services import media_library
    from orchestrator.services.auth import Actor
    from orchestrator.services.campaigns import current_campaign

    with db.session_scope(engine) as s:
        campaign = current_campaign(s)
        media_library.add_image(s, actor=Actor("edith", "editor"), campaign_id=campaign.id or 0, case_slug=case,
                                data=image.read_bytes(), filename=image.name, alt=alt)


def current_campaign_in(engine: sa.Engine) -> Any:
    from orchestrator.services.campaigns import current_campaign

    with Session(engine, expire_on_commit=False) as s:
        return current_campaign(s)


def finished_campaign(engine: sa.Engine, *, letters: int) -> tuple[Any, dict[str, Any]]:
    """An edition over today, with ``letters`` letters counted for its first case on its last
    day, and its bilan as the service computes it. The 2025 edition when it is over; on a date
    inside it, a copy of it moved a year back (the journeys' edition is then the 2025 one)."""
    from orchestrator.services import campaign_admin, campaign_results, responses
    from orchestrator.services.auth import SYSTEM, Actor
    from orchestrator.services.campaigns import list_cases
    from orchestrator.timeutil import local, utcnow

    with db.session_scope(engine) as s:
        every = campaign_admin.list_campaigns(s)
        today = local(utcnow(), every[0].timezone).date()
        over = [e for e in every if campaign_results.phase(e, today=today) == campaign_results.FINISHED]
        if over:
            campaign = over[0]
        else:
            source = next(e for e in every if e.is_current)
            campaign = campaign_admin.copy_campaign(
                s, actor=SYSTEM, source_id=source.id or 0, slug="edition-terminee", include_cases=True,
                name={"fr": "Édition terminée", "en": "Finished edition"},
                starts_on=(source.starts_on or today) - dt.timedelta(days=400), ends_on=today - dt.timedelta(days=30))
        case = list_cases(s, campaign=campaign)[0]
        responses.record_tally(s, actor=Actor("edith", "editor"), case_slug=case.slug, kind="letter", count=letters,
                               day=campaign.ends_on or today, campaign=campaign)
        s.flush()
        bilan = campaign_results.results(s, campaign=campaign)
        return campaign, bilan
