"""Retraction through the worker, on each emulator (SQLite and PostgreSQL): the post leaves the
platform, a second retraction is harmless, a throttle or a server error is retried, a post
deleted by hand first counts as retracted, Instagram says to remove it by hand; roles, the
reason, four eyes and the deletion budget."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from orchestrator import db, states
from orchestrator.models import (
    AuditEntry,
    Campaign,
    CaseStatusNote,
    Delivery,
    PublicPost,
    RetractionJob,
)
from orchestrator.services import retractions
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied, ServiceError
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, delivery, schedule

KINDS = ("x", "facebook", "mastodon", "bluesky", "threads")
FAST = {"container_first_delay": 0.01, "container_wait": 5.0}
ANNE = Actor("anne", "approver")
BRUNO = Actor("bruno", "approver")
EDITH = Actor("edith", "editor")


def make_worker(engine: sa.Engine, name: str = "w-retract") -> Worker:
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    return Worker(engine, settings=settings, worker_id=name)


def deletions(sandbox, kind: str) -> int:  # type: ignore[no-untyped-def]
    """Deletion calls the emulator received."""
    with sandbox.sandbox.lock:
        return sum(1 for p, m, path in sandbox.sandbox.request_log
                   if p == kind and (m == "DELETE" or path.endswith("deleteRecord")))


def on_platform(sandbox, kind: str, marker: str) -> bool:  # type: ignore[no-untyped-def]
    return any(marker in str(p.get("text") or p.get("message") or "") for p in sandbox.sandbox.posts(kind))


def publish(engine: sa.Engine, sandbox, kind: str, marker: str, *, account: str | None = None,  # type: ignore[no-untyped-def]
            case: str = "juan-lopez", **options) -> int:
    """A delivery published through the worker on the emulator; its id."""
    name = account or f"{kind}-ret"
    with db.session_scope(engine) as session:
        exists = session.execute(sa.text("SELECT 1 FROM account WHERE name = :n"), {"n": name}).first()
    if not exists:
        add_account(engine, kind, name=name, base_url=sandbox.url, options={**FAST, **options})
    delivery_id = schedule(engine, approved_post(engine, text=f"Écrivez pour Juan López ({marker})", case=case,
                                                 link=None), name)
    make_worker(engine).run_once()
    assert delivery(engine, delivery_id).state == states.PUBLISHED
    assert on_platform(sandbox, kind, marker)
    return delivery_id


def retract(engine: sa.Engine, actor: Actor = ANNE, reason: str = "La famille demande le retrait", **scope):  # type: ignore[no-untyped-def]
    with db.session_scope(engine) as session:
        return retractions.request(session, actor=actor, reason=reason, **scope).id


def progress(engine: sa.Engine, retraction_id: int) -> retractions.Progress:
    with db.session_scope(engine) as session:
        return retractions.progress(session, retraction_id=retraction_id)


@pytest.mark.parametrize("kind", KINDS)
def test_retraction_removes_the_post_and_a_second_one_is_harmless(engine, sandbox, kind) -> None:
    gone = publish(engine, sandbox, kind, "à retirer")
    stays = publish(engine, sandbox, kind, "reste en ligne")
    with db.session_scope(engine) as session:
        kept = session.get(Delivery, gone)
        assert kept is not None
        kept.likes, kept.shares = 12, 3  # figures earned before the retraction
        session.add(kept)
    number = retract(engine, delivery_id=gone)
    assert make_worker(engine).retract() == 1
    assert not on_platform(sandbox, kind, "à retirer")  # removed on the platform's side
    assert on_platform(sandbox, kind, "reste en ligne")
    done = delivery(engine, gone)
    assert done.retracted_at is not None and done.state == states.PUBLISHED  # it went out: kept as such
    assert (done.likes, done.shares) == (12, 3) and done.next_metrics_at is None
    assert delivery(engine, stays).retracted_at is None
    report = progress(engine, number)
    assert [r.delivery_id for r in report.removed] == [gone] and report.pending == 0 and report.done
    # a second retraction of the same delivery: nothing left to do, nothing sent
    calls = deletions(sandbox, kind)
    again = retract(engine, delivery_id=gone)
    make_worker(engine).retract()
    assert progress(engine, again).total == 0 and deletions(sandbox, kind) == calls
    # a recorded job is never run again
    make_worker(engine, "w-other").retract(utcnow() + dt.timedelta(days=2))
    assert deletions(sandbox, kind) == calls
    with db.session_scope(engine) as session:
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "retracted")).all()
        assert [a.target_id for a in audited] == [str(gone)]
        request = session.exec(select(AuditEntry).where(AuditEntry.action == "retract_request")).first()
        assert request is not None and request.detail["reason"] == "La famille demande le retrait"


@pytest.mark.parametrize("kind", KINDS)
def test_a_throttle_then_a_server_error_on_deletion_are_retried(engine, sandbox, kind) -> None:
    gone = publish(engine, sandbox, kind, "retrait contrarié")
    number = retract(engine, delivery_id=gone)
    call = {"method": "DELETE"} if kind != "bluesky" else {"path": "deleteRecord"}
    sandbox.add_fault("rate_limit", platform=kind, **call)
    sandbox.add_fault("error", platform=kind, status=503, **call)
    worker = make_worker(engine)
    worker.retract()
    with db.session_scope(engine) as session:
        job = session.exec(select(RetractionJob).where(RetractionJob.retraction_id == number)).one()
        assert job.state == retractions.QUEUED and job.error_kind == "rate_limited"
    assert on_platform(sandbox, kind, "retrait contrarié")
    worker.retract(utcnow() + dt.timedelta(hours=2))  # after the reset: a 503, then again after back-off
    with db.session_scope(engine) as session:
        job = session.exec(select(RetractionJob).where(RetractionJob.retraction_id == number)).one()
        # the throttle charged no try; the 503 did, and its retry went through
        assert job.state == retractions.RETRACTED and job.attempts == 2
    assert deletions(sandbox, kind) == 3
    assert not on_platform(sandbox, kind, "retrait contrarié")
    assert delivery(engine, gone).retracted_at is not None
    assert [r.delivery_id for r in progress(engine, number).removed] == [gone]


@pytest.mark.parametrize("kind", KINDS)
def test_a_post_deleted_by_hand_first_counts_as_retracted(engine, sandbox, kind) -> None:
    gone = publish(engine, sandbox, kind, "supprimée à la main")
    worker = make_worker(engine)
    with db.session_scope(engine) as session:
        from orchestrator.models import Account

        account = session.exec(select(Account).where(Account.name == f"{kind}-ret")).one()
    worker.channel(account, "by-hand").delete(delivery(engine, gone).platform_id)  # someone did it on the site
    assert not on_platform(sandbox, kind, "supprimée à la main")
    number = retract(engine, delivery_id=gone)
    worker.retract()
    report = progress(engine, number)
    assert [r.delivery_id for r in report.removed] == [gone] and report.failed == []


def test_instagram_cannot_delete_it_says_to_remove_by_hand(engine, sandbox) -> None:
    add_account(engine, "instagram", name="ig-ret", base_url=sandbox.url)
    add_account(engine, "x", name="x-any", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine, link=None), "x-any")
    with db.session_scope(engine) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        from orchestrator.models import Account

        row.account_id = session.exec(select(Account.id).where(Account.name == "ig-ret")).one()  # as if published there
        row.state, row.platform_id = states.PUBLISHED, "17900000000000042"
        row.platform_url, row.published_at = "https://www.instagram.com/p/ABC123/", utcnow()
        session.add(row)
    number = retract(engine, post_id=row.post_id)
    make_worker(engine).retract()
    report = progress(engine, number)
    assert report.removed == [] and len(report.failed) == 1
    failed = report.failed[0]
    assert failed.url == "https://www.instagram.com/p/ABC123/" and "main" in failed.error
    assert delivery(engine, delivery_id).retracted_at is None


def test_only_approvers_and_admins_retract_and_a_reason_is_required(engine, sandbox) -> None:
    gone = publish(engine, sandbox, "mastodon", "règles")
    for actor in (EDITH, Actor("val", "viewer")):
        with pytest.raises(PermissionDenied):
            retract(engine, actor=actor, delivery_id=gone)
    for reason in ("", "   "):
        with pytest.raises(ServiceError):
            retract(engine, reason=reason, delivery_id=gone)
    with pytest.raises(ServiceError):
        retract(engine, delivery_id=gone, post_id=1)  # one scope only
    make_worker(engine).retract()
    assert on_platform(sandbox, "mastodon", "règles")  # nothing was asked: nothing removed
    retract(engine, actor=Actor("ada", "admin"), delivery_id=gone)
    make_worker(engine).retract()
    assert not on_platform(sandbox, "mastodon", "règles")


def test_four_eyes_a_second_person_confirms_before_anything_is_deleted(engine, sandbox) -> None:
    gone = publish(engine, sandbox, "bluesky", "quatre yeux")
    with db.session_scope(engine) as session:
        campaign = session.exec(select(Campaign)).first()
        assert campaign is not None
        campaign.retract_four_eyes = True
        session.add(campaign)
    number = retract(engine, actor=ANNE, delivery_id=gone)
    make_worker(engine).retract()
    assert on_platform(sandbox, "bluesky", "quatre yeux")  # waiting for a second person
    assert progress(engine, number).pending == 1 and not progress(engine, number).done
    with db.session_scope(engine) as session, pytest.raises(PermissionDenied):
        retractions.confirm(session, actor=ANNE, retraction_id=number)  # not the one who asked
    with db.session_scope(engine) as session, pytest.raises(PermissionDenied):
        retractions.confirm(session, actor=EDITH, retraction_id=number)
    make_worker(engine).retract()
    assert on_platform(sandbox, "bluesky", "quatre yeux")
    with db.session_scope(engine) as session:
        retractions.confirm(session, actor=BRUNO, retraction_id=number)
    make_worker(engine).retract()
    assert not on_platform(sandbox, "bluesky", "quatre yeux")
    report = progress(engine, number)
    assert report.retraction.confirmed_by == "bruno" and report.done


def test_four_eyes_a_declined_request_deletes_nothing(engine, sandbox) -> None:
    gone = publish(engine, sandbox, "x", "refusé")
    with db.session_scope(engine) as session:
        campaign = session.exec(select(Campaign)).first()
        assert campaign is not None
        campaign.retract_four_eyes = True
        session.add(campaign)
    number = retract(engine, actor=ANNE, delivery_id=gone)
    with db.session_scope(engine) as session:
        retractions.decline(session, actor=BRUNO, retraction_id=number)
    make_worker(engine).retract()
    assert on_platform(sandbox, "x", "refusé") and progress(engine, number).cancelled == 1
    # the operator at the command line is trusted with four eyes, as for approvals
    direct = retract(engine, actor=SYSTEM, delivery_id=gone)
    make_worker(engine).retract()
    assert not on_platform(sandbox, "x", "refusé") and progress(engine, direct).done


def test_deletions_stay_within_the_accounts_deletion_budget(engine, sandbox) -> None:
    ids = [publish(engine, sandbox, "mastodon", f"budget {n}", rate_limits={"delete": [2, 1800]}) for n in range(3)]
    number = retract(engine, case="juan-lopez")
    make_worker(engine).retract()
    assert len(progress(engine, number).removed) == 2 and progress(engine, number).pending == 1
    assert deletions(sandbox, "mastodon") == 2  # the third waits for the budget's next token
    with db.session_scope(engine) as session:
        job = session.exec(select(RetractionJob).where(RetractionJob.state == retractions.QUEUED)).one()
        assert job.due_at > utcnow() + dt.timedelta(minutes=10)
    make_worker(engine).retract(utcnow() + dt.timedelta(hours=1))
    assert len(progress(engine, number).removed) == 3
    assert all(delivery(engine, i).retracted_at is not None for i in ids)


def test_a_case_retraction_with_a_cut_off_keeps_the_history_and_counts_copies(engine, sandbox) -> None:
    old = publish(engine, sandbox, "facebook", "ancienne")
    new = publish(engine, sandbox, "facebook", "récente")
    with db.session_scope(engine) as session:
        row = session.get(Delivery, old)
        assert row is not None
        row.published_at = utcnow() - dt.timedelta(days=3)
        session.add(row)
        campaign_id = session.exec(select(Campaign.id)).first()
        for n, kind in enumerate(("repost", "quote", "reply")):
            session.add(PublicPost(platform="facebook", post_key=f"k{n}", campaign_id=campaign_id, kind=kind,
                                   hour=utcnow(), delivery_id=old))
    number = retract(engine, case="juan-lopez", before=utcnow() - dt.timedelta(days=1), reason="Transféré")
    make_worker(engine).retract()
    report = progress(engine, number)
    assert [r.delivery_id for r in report.removed] == [old]
    assert report.others_seen == 2  # reposts and quotes by others: cannot be removed
    assert not on_platform(sandbox, "facebook", "ancienne") and on_platform(sandbox, "facebook", "récente")
    assert delivery(engine, new).retracted_at is None
    with db.session_scope(engine) as session:
        notes = session.exec(select(CaseStatusNote).order_by(col(CaseStatusNote.id))).all()
        assert any("Transféré" in n.note for n in notes)


def test_a_delivery_not_published_cannot_be_retracted(engine) -> None:
    add_account(engine, "x", name="x-ret", base_url="http://127.0.0.1:9")
    waiting = schedule(engine, approved_post(engine), "x-ret", at=utcnow() + dt.timedelta(hours=1))
    with pytest.raises(ServiceError):
        retract(engine, delivery_id=waiting)


def test_a_refused_token_holds_the_retraction_until_the_account_is_fixed(engine, sandbox) -> None:
    from orchestrator.models import Account
    from orchestrator.services import accounts

    gone = publish(engine, sandbox, "mastodon", "jeton refusé")
    number = retract(engine, delivery_id=gone)
    sandbox.add_fault("revoke", platform="mastodon", method="DELETE")
    make_worker(engine).retract()
    with db.session_scope(engine) as session:
        account = session.exec(select(Account).where(Account.name == "mastodon-ret")).one()
        assert not account.healthy  # the account is flagged, the job is not failed nor lost
        job = session.exec(select(RetractionJob)).one()
        assert job.state == retractions.QUEUED and job.error_kind == "auth"
    make_worker(engine).retract()
    assert on_platform(sandbox, "mastodon", "jeton refusé")  # an unhealthy account is not called
    with db.session_scope(engine) as session:
        assert accounts.test_account(session, actor=SYSTEM, name="mastodon-ret")[0]
    make_worker(engine).retract()
    assert not on_platform(sandbox, "mastodon", "jeton refusé")
    assert progress(engine, number).done


@pytest.mark.parametrize("kind", ("x", "facebook", "mastodon", "bluesky"))
def test_a_threads_every_part_is_retracted_last_part_first(engine, sandbox, kind) -> None:
    from orchestrator.services import posts

    name = f"{kind}-ret"
    add_account(engine, kind, name=name, base_url=sandbox.url, options=FAST)
    with db.session_scope(engine) as session:
        post = posts.create_post(session, actor=SYSTEM, case_slug="juan-lopez", text="Fil pour Juan (1/3)",
                                 parts=[{"text": "Il attend (2/3)"}, {"text": "Écrivez (3/3)"}], submit=True)
        posts.approve_post(session, actor=SYSTEM, post_id=post.id)
        post_id = post.id
    delivery_id = schedule(engine, post_id, name)
    make_worker(engine).run_once()
    published = delivery(engine, delivery_id)
    assert published.state == states.PUBLISHED and len(published.part_ids) == 3
    assert all(anywhere(sandbox, kind, marker) for marker in ("(1/3)", "(2/3)", "(3/3)"))
    assert retractions.delivery_platform_ids(published) == list(reversed(published.part_ids))
    retract(engine, delivery_id=delivery_id)
    make_worker(engine).retract()
    assert delivery(engine, delivery_id).retracted_at is not None
    # every part gone on the platform's side (a Facebook post's first comments with it)
    assert not any(anywhere(sandbox, kind, marker) for marker in ("(1/3)", "(2/3)", "(3/3)"))


def anywhere(sandbox, kind: str, marker: str) -> bool:  # type: ignore[no-untyped-def]
    """On the platform as a post, or (Facebook) as a comment of the Page."""
    if on_platform(sandbox, kind, marker):
        return True
    if kind != "facebook":
        return False
    comments = sandbox.sandbox.emulator("facebook").comments()
    return any(marker in str(c.get("message") or "") for c in comments.values())
