"""Builders shared by the listening tests: a Mastodon account on the sandbox, a published
delivery of ours, terms for a case and the edition, and a listener."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db
from orchestrator.models import Campaign, Case, Delivery
from orchestrator.services import listening
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests.orchestrator.helpers import approved_post, schedule

CASE = "juan-lopez"
CASE_TAG = "LiberezJuan"
EDITION_TAG = "ÉcrireÇaLibère"


def emulator(sandbox: Any) -> Any:
    em = sandbox.sandbox.emulator("mastodon")
    em.auto_public = False  # only the posts a test adds
    return em


def setup_terms(engine: sa.Engine, *, case_terms: dict | None = None, edition_terms: dict | None = None) -> None:
    with db.session_scope(engine) as session:
        campaign = session.exec(select(Campaign).where(Campaign.is_current)).first() or session.exec(select(Campaign)).first()
        case = session.exec(select(Case).where(Case.slug == CASE, Case.campaign_id == campaign.id)).one()
        for other in session.exec(select(Case).where(Case.campaign_id == campaign.id, Case.slug != CASE)):
            other.listening = {}  # only the terms a test sets (the shipped content has some for every case)
            session.add(other)
        listening.set_case_terms(session, actor=SYSTEM, case=case,
                                 terms=case_terms if case_terms is not None else {"fr": {"hashtags": [CASE_TAG]}})
        listening.set_campaign_terms(session, actor=SYSTEM, campaign=campaign,
                                     terms=edition_terms if edition_terms is not None else {"fr": {"hashtags": [EDITION_TAG]}})


def make_worker(engine: sa.Engine, name: str = "listen-test", factory: Any = None, **overrides: Any) -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01, **overrides})
    return Worker(engine, settings=settings, worker_id=name, channel_factory=factory)


def publish_one(engine: sa.Engine, account: str, worker: Worker) -> str:
    """One post of ours about the case, published now on ``account``; its platform id."""
    delivery_id = schedule(engine, approved_post(engine, case=CASE), account)
    worker.run_once()
    with db.session_scope(engine) as session:
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None and delivery.platform_id, delivery
        return delivery.platform_id


def mastodon_account(engine: sa.Engine, sandbox: Any, name: str = "mastodon-test", token: str = "tok-mastodon",
                     options: dict | None = None) -> str:
    from tests import factories

    return factories.add_account(engine, "mastodon", name=name, base_url=sandbox.url,
                                 credentials={"access_token": token}, options=options)
