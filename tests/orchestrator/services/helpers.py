"""Builders shared by the editions tests: people, a real image, a case's fields, a scheduled post."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import sqlalchemy as sa

from orchestrator import db
from orchestrator.services import deliveries, posts
from orchestrator.services.auth import SYSTEM, Actor
from orchestrator.timeutil import utcnow
from tests.factories import add_account

VIEWER = Actor("victor", "viewer")
EDITOR = Actor("edith", "editor")
APPROVER = Actor("alain", "approver")
ADMIN = Actor("ada", "admin")


def png(width: int = 40, height: int = 30, colour: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format=fmt)
    return out.getvalue()


def case_fields(slug: str = "nouvelle-personne", **changes: Any) -> dict[str, Any]:
    """Everything a case file needs, in both languages."""
    data: dict[str, Any] = {
        "slug": slug,
        "person": {"fr": "Nadia Exemple", "en": "Nadia Example"},
        "country": {"fr": "Pérou", "en": "Peru"},
        "country_code": "PE",
        "goal": 5000,
        "story": {"fr": "Défenseure des terres, emprisonnée pour avoir manifesté.",
                  "en": "A land defender, jailed for protesting."},
        "authority": {"fr": "Procureur général du Pérou", "en": "Attorney General of Peru"},
        "ask": {"fr": "sa libération immédiate", "en": "her immediate release"},
        "solidarity_kind": "card",
        "solidarity_to": {"fr": "Nadia", "en": "Nadia"},
        "solidarity_address": {"fr": "Remis par Amnistie internationale", "en": "Delivered by Amnesty International"},
        "image_alt": {"fr": "Nadia sourit devant sa maison.", "en": "Nadia smiles in front of her house."},
        "links": {"page": {"fr": "https://amnistie.ca/nadia"}},
        "tags": ["terres"],
    }
    data.update(changes)
    return data


def x_account(engine: sa.Engine, name: str = "x-editions") -> str:
    from orchestrator.models import Account

    with db.session_scope(engine) as s:
        if s.exec(sa.select(Account.id).where(Account.name == name)).first():  # type: ignore[call-overload]
            return name
    return add_account(engine, "x", name=name, base_url="http://127.0.0.1:9")


def scheduled_post(engine: sa.Engine, *, case: str = "juan-lopez", text: str = "Écrivez pour Juan López.",
                   images: list[dict[str, Any]] | None = None, approve: bool = True, account: str | None = None,
                   in_hours: float = 2.0) -> tuple[int, int]:
    """An (approved) post on an X account, scheduled in a few hours: (post id, delivery id)."""
    account = account or x_account(engine)
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=EDITOR, case_slug=case, text=text, link="https://amnistie.ca/marathon",
                                 images=images, submit=True)
        if approve:
            posts.approve_post(s, actor=SYSTEM, post_id=post.id)  # type: ignore[arg-type]
        d = deliveries.schedule(s, actor=EDITOR, post_id=post.id, account_name=account,  # type: ignore[arg-type]
                                at=utcnow() + dt.timedelta(hours=in_hours))
        return post.id, d.id  # type: ignore[return-value]
