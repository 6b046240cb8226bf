"""A case's reply limit through the services and the worker (SQLite and PostgreSQL): set by an
approver only and audited, kept by an editor's edit, written to the content files and read back,
said in the previews per platform, and carried by the claimer to the first part of each new post
(never to a reply), as the platforms receive it."""

from __future__ import annotations

import pytest
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Case, Delivery, Post
from orchestrator.services import case_edit, compose, posts, reply_limits
from orchestrator.services.auth import SYSTEM, Actor, PermissionDenied, ServiceError
from orchestrator.services.campaign_admin import export_content
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from orchestrator.worker.claimer import publish_request
from tests.factories import add_account
from tests.orchestrator.helpers import delivery, schedule

EDITH = Actor("edith", "editor")
ALAIN = Actor("alain", "approver")
ADA = Actor("ada", "admin")


def _case_id(s, slug: str = "juan-lopez") -> int:
    return s.exec(select(Case.id).where(Case.slug == slug)).first()


def _limit(engine, limit: str, actor: Actor = ALAIN) -> None:
    with db.session_scope(engine) as s:
        reply_limits.set_reply_limit(s, actor=actor, case_id=_case_id(s), limit=limit)


def _held(engine) -> str:
    with db.session_scope(engine) as s:
        return s.get(Case, _case_id(s)).reply_limit


@pytest.mark.parametrize("actor", [ALAIN, ADA])
def test_an_approver_or_admin_sets_it_and_the_audit_says_so(engine, actor) -> None:
    _limit(engine, "followers", actor)
    _limit(engine, "followers", actor)  # unchanged: nothing more recorded
    _limit(engine, "", actor)
    assert _held(engine) == ""
    with db.session_scope(engine) as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "case_reply_limit")
                         .order_by(AuditEntry.id)).all()
        assert [(e.actor, e.target_id, e.detail["before"], e.detail["after"]) for e in entries] == [
            (actor.username, "juan-lopez", "", "followers"), (actor.username, "juan-lopez", "followers", "")]


def test_an_editor_may_not_set_it_nor_undo_it_through_an_edit(engine) -> None:
    with pytest.raises(PermissionDenied) as refused:
        _limit(engine, "nobody", EDITH)
    assert "approbation" in refused.value.fr.lower() and "approver" in refused.value.en
    assert _held(engine) == ""
    _limit(engine, "nobody")
    with db.session_scope(engine) as s:  # the case's texts edited: the limit stays
        case_edit.update_case(s, actor=EDITH, case_id=_case_id(s), changes={"goal": 1234})
    with pytest.raises(ServiceError), db.session_scope(engine) as s:  # and is not a field of the edit form
        case_edit.update_case(s, actor=EDITH, case_id=_case_id(s), changes={"reply_limit": ""})
    assert _held(engine) == "nobody"


def test_an_unknown_value_is_refused_in_both_languages(engine) -> None:
    with pytest.raises(ServiceError) as refused:
        _limit(engine, "friends")
    assert "inconnue" in refused.value.fr and "Unknown" in refused.value.en
    assert _held(engine) == ""


def test_it_goes_to_the_content_files_and_back(engine, tmp_path) -> None:
    from content.loader import dump_campaign, load_campaign
    from orchestrator.services.campaigns import load_content

    _limit(engine, "mentioned")
    with db.session_scope(engine) as s:
        content = export_content(s, campaign_id=s.get(Case, _case_id(s)).campaign_id)
    assert next(c for c in content.cases if c.slug == "juan-lopez").reply_limit == "mentioned"
    assert all(c.reply_limit is None for c in content.cases if c.slug != "juan-lopez")
    dump_campaign(content, tmp_path / "campaign")
    assert "reply_limit: mentioned" in (tmp_path / "campaign" / "cases" / "juan-lopez.yaml").read_text("utf-8")
    _limit(engine, "")
    with db.session_scope(engine) as s:
        load_content(s, actor=SYSTEM, content=load_campaign(tmp_path / "campaign"))
    assert _held(engine) == "mentioned"


def test_the_preview_says_what_each_platform_does_with_it(engine) -> None:
    _limit(engine, "followers")
    names = {kind: add_account(engine, kind, name=f"{kind}-rl", base_url="https://pds.example" if kind == "bluesky"
                               else "https://mastodon.example" if kind == "mastodon" else "http://127.0.0.1:9")
             for kind in ("mastodon", "bluesky", "x", "facebook")}
    for language, facebook in (("fr", "Facebook ne permet pas de limiter les réponses"),
                               ("en", "Facebook does not let us limit replies")):
        with db.session_scope(engine) as s:
            rows = {r["kind"]: r for r in compose.preview(s, text="Écrivez pour Juan López.", link=None,
                                                          case_slug="juan-lopez", account_names=list(names.values()),
                                                          language=language, post_language="fr")}
        assert rows["facebook"]["reply_limit_note"].startswith(facebook)
        assert ("citations" if language == "fr" else "quotes") in rows["mastodon"]["reply_limit_note"]
        assert ("suivons" if language == "fr" else "we follow") in rows["x"]["reply_limit_note"]
        assert ("abonnés" if language == "fr" else "followers") in rows["bluesky"]["reply_limit_note"]
    with db.session_scope(engine) as s:  # replies open to all: nothing to say
        rows = compose.preview(s, text="Écrivez.", link=None, case_slug=None, account_names=list(names.values()),
                               language="fr", post_language="fr")
        assert all(r["reply_limit_note"] is None for r in rows)


def test_the_worker_sends_the_cases_limit_and_the_platforms_hold_it(engine, sandbox) -> None:
    _limit(engine, "nobody")
    accounts = {kind: add_account(engine, kind, name=f"{kind}-rl", base_url=sandbox.url)
                for kind in ("x", "mastodon", "bluesky", "facebook")}
    with db.session_scope(engine) as s:
        post = compose.compose(s, actor=EDITH, case_slug="juan-lopez", language="fr", text="Écrivez pour Juan López.",
                               submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    ids = [schedule(engine, post_id, account) for account in accounts.values()]
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    Worker(engine, settings=settings, worker_id="rl-worker").run_once()
    assert [delivery(engine, i).state for i in ids] == [states.PUBLISHED] * 4
    [tweet] = sandbox.sandbox.posts("x")
    assert tweet["reply_settings"] == "mentionedUsers"
    [toot] = sandbox.sandbox.posts("mastodon")
    assert toot["quote_approval_policy"] == "nobody"
    [skeet] = sandbox.sandbox.posts("bluesky")
    gate = sandbox.sandbox.emulator("bluesky").gate_of(skeet["id"])
    assert gate is not None and gate["allow"] == []
    assert len(sandbox.sandbox.posts("facebook")) == 1  # no such setting: it goes out as before


def test_a_reply_and_a_post_about_no_case_carry_no_limit(engine) -> None:
    _limit(engine, "nobody")
    with db.session_scope(engine) as s:
        case = s.get(Case, _case_id(s))
        post = Post(campaign_id=case.campaign_id, case_id=case.id, text="t", language="fr")
        d = Delivery(post_id=0, account_id=0, rendered_text="t", source_code="abcdefg")
        assert publish_request(d, post, case).reply_limit == "nobody"
        post.reply_to = "1234"
        assert publish_request(d, post, case).reply_limit == ""
        post.reply_to = None
        assert publish_request(d, post, None).reply_limit == ""
