"""Content warnings, visibility and Bluesky labels through the services and the worker (SQLite and
PostgreSQL): a post takes its case's defaults, staff may change them, every change is recorded,
bad input saves nothing, and what was approved is what the platforms receive."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Case, Post, PostEdit
from orchestrator.services import case_edit, compose, posts
from orchestrator.services.auth import SYSTEM, Actor, ServiceError
from orchestrator.services.campaign_admin import export_content
from orchestrator.settings import get_settings
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.helpers import delivery, schedule

EDITH = Actor("edith", "editor")
ELSA = Actor("elsa", "editor")
ALAIN = Actor("alain", "approver")
WARNING = {"fr": "Torture, mort en détention", "en": "Torture, death in custody"}


def _case_id(s, slug: str = "juan-lopez") -> int:
    return s.exec(select(Case.id).where(Case.slug == slug)).first()


def _with_default(engine, *, visibility: str = "unlisted", labels: list[str] | None = None) -> None:
    with db.session_scope(engine) as s:
        case_edit.update_case(s, actor=EDITH, case_id=_case_id(s), changes={
            "content_warning": WARNING, "visibility": visibility, "self_labels": labels or ["graphic-media"]})


def _post_count(engine) -> int:
    with db.session_scope(engine) as s:
        return s.exec(select(sa.func.count()).select_from(Post)).one()


def _compose(s, **kw):
    values = {"actor": EDITH, "case_slug": "juan-lopez", "language": "fr", "text": "Écrivez pour Juan López."}
    values.update(kw)
    return compose.compose(s, **values)


def test_a_post_takes_its_cases_default_in_its_own_language(engine) -> None:
    _with_default(engine)
    with db.session_scope(engine) as s:
        fr = _compose(s).post
        en = _compose(s, language="en", text="Write for Juan López.").post
        assert (fr.content_warning, fr.visibility, fr.self_labels) == (WARNING["fr"], "unlisted", ["graphic-media"])
        assert en.content_warning == WARNING["en"]
        created = s.exec(select(AuditEntry).where(AuditEntry.action == "create", AuditEntry.target_id == str(fr.id))).one()
        assert created.detail["warning_from_case"] is True
        assert created.detail["warning"] == {"text": WARNING["fr"], "visibility": "unlisted",
                                             "labels": ["graphic-media"]}


def test_a_case_without_default_gives_a_plain_public_post(engine) -> None:
    with db.session_scope(engine) as s:
        post = _compose(s).post
        assert (post.content_warning, post.visibility, post.self_labels) == ("", "public", [])
        created = s.exec(select(AuditEntry).where(AuditEntry.action == "create", AuditEntry.target_id == str(post.id))).one()
        assert "warning" not in created.detail  # nothing to say: as before warnings existed


def test_staff_may_change_the_default_and_the_audit_says_so(engine) -> None:
    _with_default(engine)
    with db.session_scope(engine) as s:
        post = _compose(s, content_warning="", visibility="public", self_labels=[]).post
        assert (post.content_warning, post.visibility, post.self_labels) == ("", "public", [])
        created = s.exec(select(AuditEntry).where(AuditEntry.action == "create", AuditEntry.target_id == str(post.id))).one()
        assert created.detail["warning_from_case"] is False and created.detail["warning"] is None
        other = _compose(s, content_warning="  Récit de violences  ").post
        assert other.content_warning == "Récit de violences" and other.visibility == "unlisted"


def test_editing_the_warning_is_recorded_and_sends_an_approved_post_back(engine) -> None:
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    with db.session_scope(engine) as s:
        posts.edit_post(s, actor=ELSA, post_id=post_id, text="Écrivez pour Juan López.",
                        content_warning=WARNING["fr"], visibility="private", self_labels=["graphic-media"])
    with db.session_scope(engine) as s:
        post = s.get(Post, post_id)
        assert post.status == posts.PENDING and post.approved_fingerprint is None
        assert (post.content_warning, post.visibility, post.self_labels) == (WARNING["fr"], "private", ["graphic-media"])
        [edit] = s.exec(select(PostEdit).where(PostEdit.post_id == post_id)).all()
        assert edit.actor == "elsa" and edit.changed == ["content_warning", "visibility", "self_labels"]
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "edit", AuditEntry.target_id == str(post_id))).one()
        assert audited.detail["changed"] == ["content_warning", "visibility", "self_labels"]


@pytest.mark.parametrize(("field", "value", "fr", "en"), [
    ("visibility", "direct", "Visibilité inconnue « direct »", "Unknown visibility 'direct'"),
    ("self_labels", ["porn"], "Étiquette Bluesky inconnue « porn »", "Unknown Bluesky label 'porn'"),
    ("content_warning", "a" * 501, "L'avertissement compte 501 caractères", "The content warning has 501 characters"),
])
def test_bad_input_is_refused_in_both_languages_and_nothing_is_saved(engine, field, value, fr, en) -> None:
    before = _post_count(engine)
    with pytest.raises(ServiceError) as refused, db.session_scope(engine) as s:
        _compose(s, **{field: value})
    assert refused.value.fr.startswith(fr) and refused.value.en.startswith(en)
    assert _post_count(engine) == before
    with pytest.raises(ServiceError), db.session_scope(engine) as s:  # not by an edit either
        post = _compose(s).post
        posts.edit_post(s, actor=EDITH, post_id=post.id, text=post.text, **{field: value})
    assert _post_count(engine) == before


def test_the_warning_counts_toward_the_mastodon_limit_before_submitting(engine) -> None:
    account = add_account(engine, "mastodon", name="mastodon-cw", base_url="https://mastodon.example")
    text = "Écrivez pour Juan López. " + "x" * 440  # fits alone
    with db.session_scope(engine) as s:
        assert _compose(s, text=text, account_names=[account]).problems == []
    before = _post_count(engine)
    with pytest.raises(ServiceError) as refused, db.session_scope(engine) as s:
        _compose(s, text=text, account_names=[account], submit=True, content_warning="w" * 60)
    assert "l'avertissement en compte 60" in refused.value.fr and "the content warning counts 60" in refused.value.en
    assert _post_count(engine) == before
    with db.session_scope(engine) as s:  # and the preview says it, per account
        [row] = compose.preview(s, text=text, link=None, case_slug="juan-lopez", account_names=[account],
                                content_warning="w" * 60)
        assert not row["valid"] and row["warning"] == "w" * 60


def test_the_preview_shows_what_each_platform_carries(engine) -> None:
    _with_default(engine)
    names = {kind: add_account(engine, kind, name=f"{kind}-pv", base_url="https://pds.example" if kind == "bluesky"
                               else "https://mastodon.example" if kind == "mastodon" else "http://127.0.0.1:9")
             for kind in ("mastodon", "bluesky", "x", "facebook")}
    with db.session_scope(engine) as s:
        rows = {r["kind"]: r for r in compose.preview(s, text="Écrivez pour Juan López.", link=None,
                                                      case_slug="juan-lopez", account_names=list(names.values()),
                                                      language="en", post_language="fr")}
    assert rows["mastodon"]["warning"] == WARNING["fr"] and rows["mastodon"]["visibility"] == "unlisted"
    assert rows["bluesky"]["labels"] == ["graphic-media"] and rows["bluesky"]["warning"] == ""
    for kind in ("mastodon", "bluesky"):
        assert rows[kind]["language_note"] is None and rows[kind]["warning_note"] is None
    assert rows["x"]["language_note"] == "X has no language field: the platform guesses the text's language."
    assert rows["facebook"]["warning_note"].startswith("Facebook offers no content warning")


def test_what_was_approved_is_what_mastodon_and_bluesky_receive(engine, sandbox) -> None:
    _with_default(engine)
    mastodon = add_account(engine, "mastodon", name="mastodon-cw", base_url=sandbox.url)
    bluesky = add_account(engine, "bluesky", name="bluesky-cw", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    ids = [schedule(engine, post_id, mastodon), schedule(engine, post_id, bluesky)]
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    Worker(engine, settings=settings, worker_id="cw-worker").run_once()
    assert [delivery(engine, i).state for i in ids] == [states.PUBLISHED, states.PUBLISHED]
    [toot] = sandbox.sandbox.posts("mastodon")
    assert (toot["spoiler_text"], toot["visibility"], toot["language"]) == (WARNING["fr"], "unlisted", "fr")
    [skeet] = sandbox.sandbox.posts("bluesky")
    assert skeet["labels"] == ["graphic-media"] and skeet["langs"] == ["fr"]


def test_a_warning_changed_behind_the_approval_sends_nothing(engine, sandbox) -> None:
    mastodon = add_account(engine, "mastodon", name="mastodon-cw", base_url=sandbox.url)
    with db.session_scope(engine) as s:
        post = _compose(s, submit=True, content_warning=WARNING["fr"]).post
        posts.approve_post(s, actor=ALAIN, post_id=post.id)
        post_id = post.id
    delivery_id = schedule(engine, post_id, mastodon)
    with db.session_scope(engine) as s:  # a path that skips the services drops the warning
        s.execute(sa.text("UPDATE post SET content_warning = '' WHERE id = :i"), {"i": post_id})
    settings = get_settings().model_copy(update={"request_timeout": 2.0, "backoff_base": 0.01})
    Worker(engine, settings=settings, worker_id="cw-worker").run_once()
    assert sandbox.sandbox.posts("mastodon") == []
    assert delivery(engine, delivery_id).state != states.PUBLISHED
    with db.session_scope(engine) as s:
        assert s.get(Post, post_id).status == posts.PENDING


def test_the_case_default_goes_to_the_content_files_and_back(engine, tmp_path) -> None:
    """``content dump`` then ``content load``: the defaults come back as they were."""
    from content.loader import dump_campaign, load_campaign
    from orchestrator.services.campaigns import load_content

    _with_default(engine, visibility="private")
    with db.session_scope(engine) as s:
        content = export_content(s, campaign_id=s.get(Case, _case_id(s)).campaign_id)
    case = next(c for c in content.cases if c.slug == "juan-lopez")
    assert case.content_warning.model_dump() == WARNING
    assert case.visibility == "private" and case.self_labels == ["graphic-media"]
    others = [c for c in content.cases if c.slug != "juan-lopez"]
    assert all(c.content_warning is None and c.visibility is None and c.self_labels is None for c in others)

    dump_campaign(content, tmp_path / "edition")
    with db.session_scope(engine) as s:  # changed in the meantime
        case_edit.update_case(s, actor=EDITH, case_id=_case_id(s), changes={
            "content_warning": {"fr": "autre", "en": "other"}, "visibility": "public", "self_labels": []})
    with db.session_scope(engine) as s:
        load_content(s, actor=SYSTEM, content=load_campaign(tmp_path / "edition"))
    with db.session_scope(engine) as s:
        row = s.get(Case, _case_id(s))
        assert (row.content_warning, row.visibility, row.self_labels) == (WARNING, "private", ["graphic-media"])
        assert s.exec(select(Case).where(Case.slug == "damisoa")).one().visibility == "public"


def test_a_case_default_in_one_language_only_is_refused(engine) -> None:
    with pytest.raises(ServiceError) as refused, db.session_scope(engine) as s:
        case_edit.update_case(s, actor=EDITH, case_id=_case_id(s), changes={"content_warning": {"fr": "Torture"}})
    assert "content_warning" in refused.value.fr
    with db.session_scope(engine) as s:
        assert s.get(Case, _case_id(s)).content_warning == {}


def test_a_post_without_warning_keeps_the_fingerprint_it_had_before_warnings(engine) -> None:
    """Posts approved before this change were fingerprinted without a warning: theirs still holds."""
    from orchestrator.services import four_eyes

    with db.session_scope(engine) as s:
        post = _compose(s).post
        before = four_eyes.fingerprint(text=post.text, link=post.link, variants=post.variants, images=[])
        assert four_eyes.post_fingerprint(post, []) == before
        post.content_warning = "Violences"
        assert four_eyes.post_fingerprint(post, []) != before
        post.content_warning, post.visibility = "", "private"
        assert four_eyes.post_fingerprint(post, []) != before
