"""Listening terms and the recording of the public's posts (orchestrator/services/listening.py)."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
import sqlalchemy as sa
from sqlmodel import select

from channels.base import ListenPage, PublicPost
from orchestrator import db
from orchestrator.errors import ServiceError
from orchestrator.models import Account, AuditEntry, Campaign, Case, ListenCursor, Response
from orchestrator.models import PublicPost as PublicPostRow
from orchestrator.services import listening
from orchestrator.services.auth import SYSTEM
from tests.orchestrator.listen_helpers import (
    CASE,
    CASE_TAG,
    EDITION_TAG,
    emulator,
    make_worker,
    mastodon_account,
    publish_one,
    setup_terms,
)

NOW = dt.datetime(2025, 12, 10, 15, 42, tzinfo=dt.UTC)


def _campaign_case(session):
    campaign = session.exec(select(Campaign).where(Campaign.is_current)).first() or session.exec(select(Campaign)).first()
    case = session.exec(select(Case).where(Case.slug == CASE, Case.campaign_id == campaign.id)).one()
    return campaign, case


def _posts(engine) -> list[PublicPostRow]:
    with db.session_scope(engine) as session:
        return list(session.exec(select(PublicPostRow)))


def _listening_total(engine) -> int:
    with db.session_scope(engine) as session:
        return int(session.exec(select(sa.func.coalesce(sa.func.sum(Response.count), 0))
                                .where(Response.source_type == "listening")).one())


# ---------------------------------------------------------------------------------------------
# terms


def test_a_hashtag_mastodon_cannot_search_is_refused_in_both_languages_and_nothing_is_saved(engine, sandbox) -> None:
    mastodon_account(engine, sandbox)
    with db.session_scope(engine) as session:
        _, case = _campaign_case(session)
        shipped = dict(case.listening)
        assert shipped, "the shipped content gives the case terms"
        with pytest.raises(ServiceError) as refused:
            listening.set_case_terms(session, actor=SYSTEM, case=case,
                                     terms={"fr": {"hashtags": ["LiberezJuan", "Libérez Juan!"]}})
    assert "Libérez Juan!" in refused.value.fr and "lettres, des chiffres" in refused.value.fr
    assert "only letters, digits" in refused.value.en and "Mastodon" in refused.value.en
    with db.session_scope(engine) as session:
        _, case = _campaign_case(session)
        assert case.listening == shipped, "a refused change saved part of itself"
        assert not session.exec(select(AuditEntry).where(AuditEntry.action == "listening.set")).all()


def test_terms_are_normalized_saved_and_audited(engine, sandbox) -> None:
    mastodon_account(engine, sandbox)
    with db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        saved = listening.set_case_terms(session, actor=SYSTEM, case=case, terms={
            "fr": {"hashtags": ["#LiberezJuan", " liberezjuan ", ""], "keywords": ["Juan  López"]},
            "en": {"hashtags": [], "keywords": []}})
    assert saved == {"fr": {"hashtags": ["LiberezJuan"], "keywords": ["Juan López"]}}
    with db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        assert case.listening == saved
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "listening.set")).one()
        assert entry.target_id == CASE
        assert listening.get_terms(case)["en"] == {"hashtags": [], "keywords": []}
    with db.session_scope(engine) as session, pytest.raises(ServiceError, match="fr ou en"):
        listening.set_case_terms(session, actor=SYSTEM, case=_campaign_case(session)[1], terms={"de": {"hashtags": ["x"]}})


def test_a_term_of_a_case_and_of_the_edition_counts_for_the_case(engine, sandbox) -> None:
    setup_terms(engine, case_terms={"fr": {"hashtags": ["W4R"]}},
                edition_terms={"fr": {"hashtags": ["w4r", EDITION_TAG]}})
    with db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        terms = {t.text.lower(): t.case_id for t in listening.terms_of(session, campaign)}
    assert terms == {"w4r": case.id, EDITION_TAG.lower(): None}


# ---------------------------------------------------------------------------------------------
# recording


def _page(*posts: PublicPost, cursor: str = "c1") -> ListenPage:
    return ListenPage(posts=tuple(posts), cursor=cursor)


def test_a_post_found_by_two_terms_two_accounts_and_two_pages_counts_once(engine, sandbox) -> None:
    first = mastodon_account(engine, sandbox, name="m1", token="tok-m1")
    second = mastodon_account(engine, sandbox, name="m2", token="tok-m2")
    key = b"k" * 32
    post = PublicPost("1001", "photo", NOW)
    other = PublicPost("1002", "original", NOW)
    with db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        accounts = {a.name: a for a in session.exec(select(Account))}
        case_term = listening.Term("LiberezJuan", True, case.id)
        edition_term = listening.Term("W4R", True, None)
        results = [
            listening.record_page(session, account=accounts[first], campaign=campaign, stream=case_term.stream,
                                  page=_page(post, post), term=case_term, key=key, now=NOW),
            listening.record_page(session, account=accounts[first], campaign=campaign, stream=edition_term.stream,
                                  page=_page(post), term=edition_term, key=key, now=NOW),
            listening.record_page(session, account=accounts[second], campaign=campaign, stream=case_term.stream,
                                  page=_page(post, other, cursor="c2"), term=case_term, key=key, now=NOW),
        ]
    assert [r.new for r in results] == [1, 0, 1]
    assert sum(r.duplicates for r in results) == 3
    rows = _posts(engine)
    assert len(rows) == 2 and {r.kind for r in rows} == {"photo", "original"}
    assert all(r.case_id == case.id and r.hour == NOW.replace(minute=0) for r in rows)
    assert "1001" not in {r.post_key for r in rows} and all(len(r.post_key) == 64 for r in rows)
    assert rows[0].post_key == listening.post_key(key, "mastodon", "1001")
    # the case's actions: one social_action per post, credited to the platform, the campaign's local day
    with db.session_scope(engine) as session:
        responses = list(session.exec(select(Response).where(Response.source_type == "listening")))
    assert [(r.kind, r.source, r.count, r.day) for r in responses] == [("social_action", "mastodon", 2, dt.date(2025, 12, 10))]


def test_the_cursor_is_saved_with_the_posts_or_not_at_all(engine, sandbox) -> None:
    name = mastodon_account(engine, sandbox)
    term_stream = "tag:liberezjuan"
    with pytest.raises(RuntimeError), db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        account = session.exec(select(Account).where(Account.name == name)).one()
        listening.record_page(session, account=account, campaign=campaign, stream=term_stream,
                              page=_page(PublicPost("77", "original", NOW), cursor="77"),
                              term=listening.Term("LiberezJuan", True, case.id), key=b"k" * 32, now=NOW)
        raise RuntimeError("the process dies before the commit")
    assert _posts(engine) == [] and _listening_total(engine) == 0
    with db.session_scope(engine) as session:
        assert session.exec(select(ListenCursor)).first() is None
        campaign, case = _campaign_case(session)
        account = session.exec(select(Account).where(Account.name == name)).one()
        listening.record_page(session, account=account, campaign=campaign, stream=term_stream,
                              page=_page(PublicPost("77", "original", NOW), cursor="77"),
                              term=listening.Term("LiberezJuan", True, case.id), key=b"k" * 32, now=NOW)
    with db.session_scope(engine) as session:
        cursor = session.exec(select(ListenCursor)).one()
    assert (cursor.stream, cursor.cursor, cursor.calls_this_month, cursor.posts_read_this_month) == (term_stream, "77", 1, 1)
    assert len(_posts(engine)) == 1 and _listening_total(engine) == 1


def test_a_pass_credits_replies_quotes_and_boosts_to_our_delivery_and_its_case(engine, sandbox) -> None:
    em = emulator(sandbox)
    name = mastodon_account(engine, sandbox)
    setup_terms(engine)
    worker = make_worker(engine)
    ours = publish_one(engine, name, worker)  # its text carries #ÉcrireÇaLibère: never counted as the public's
    em.public_post(kind="reply", answers=ours, author=1)
    em.public_post(kind="quote", answers=ours, author=2)
    em.public_post(kind="repost", answers=ours, author=3)
    em.public_post(tag=CASE_TAG, kind="photo", author=4)
    em.public_post(tag=EDITION_TAG, kind="original", author=5)
    report = worker.listen()
    assert report.errors == [] and report.new == 5
    assert report.found == {(CASE, "mastodon"): {"reply": 1, "quote": 1, "repost": 1, "photo": 1},
                            ("", "mastodon"): {"original": 1}}
    with db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        delivery_id = session.exec(sa.text("select id from delivery where platform_id = :p").bindparams(p=ours)).scalar()
        by_kind = {r["kind"]: r for r in listening.counts(session, campaign=campaign, case_id=case.id)}
        edition = listening.counts(session, campaign=campaign, campaign_wide=True)
        everything = listening.counts(session, campaign=campaign)
        hours = listening.counts_by_hour(session, campaign=campaign, case_id=case.id)
    answers = [r for r in _posts(engine) if r.delivery_id is not None]
    assert {r.kind for r in answers} == {"reply", "quote", "repost"} and {r.delivery_id for r in answers} == {delivery_id}
    assert all(r.case_id == case.id and r.term == "" for r in answers)
    assert {k: (v["posts"], v["answers"]) for k, v in by_kind.items()} == {
        "reply": (1, 1), "quote": (1, 1), "repost": (1, 1), "photo": (1, 0)}
    assert [(r["kind"], r["posts"]) for r in edition] == [("original", 1)]
    assert sum(r["posts"] for r in everything) == 5 and sum(h["posts"] for h in hours) == 4
    assert _listening_total(engine) == 4, "the case's actions: its four posts; the edition-wide one is no case's"
    # a second pass finds nothing new: the cursors moved on
    again = worker.listen()
    assert again.new == 0 and len(_posts(engine)) == 5


def test_public_posts_reach_the_pace_and_the_counter(engine, sandbox) -> None:
    from orchestrator.services.responses import pace

    em = emulator(sandbox)
    mastodon_account(engine, sandbox)
    setup_terms(engine)
    for n in range(3):
        em.public_post(tag=CASE_TAG, author=n)
    with db.session_scope(engine) as session:
        _, before = pace(session)
    make_worker(engine).listen()
    with db.session_scope(engine) as session:
        _, after = pace(session)
    delta = {p.slug: a.total - p.total for p, a in zip(before, after, strict=True)}
    assert delta[CASE] == 3 and sum(delta.values()) == 3


# ---------------------------------------------------------------------------------------------
# privacy


def test_public_post_has_no_column_that_could_hold_an_author_a_handle_or_a_text(engine) -> None:
    columns = {c["name"]: str(c["type"]) for c in sa.inspect(engine).get_columns("public_post")}
    assert set(columns) == {"id", "platform", "post_key", "campaign_id", "case_id", "term", "kind", "hour",
                            "delivery_id", "account_id", "found_at"}
    # the only free texts are short and filled by us: the term we listened for, and our kind names
    assert "VARCHAR(140)" in columns["term"] and "VARCHAR(16)" in columns["kind"]


def test_nothing_of_the_public_s_authors_or_words_reaches_the_database(engine, sandbox, tmp_path) -> None:
    from channels.sandbox.mastodon import PUBLIC_NAMES

    em = emulator(sandbox)
    name = mastodon_account(engine, sandbox)
    setup_terms(engine)
    worker = make_worker(engine)
    ours = publish_one(engine, name, worker)
    for n in range(len(PUBLIC_NAMES)):
        em.public_post(tag=CASE_TAG, kind="photo", author=n, text=f"Mot secret-{n} #{CASE_TAG}")
        em.public_post(kind="reply", answers=ours, author=n, text=f"Réponse secrète-{n}")
    em.public_post(kind="repost", answers=ours, author=1)
    report = worker.listen()
    assert report.new == 2 * len(PUBLIC_NAMES) + 1
    engine.dispose()
    url = sa.engine.make_url(str(engine.url))
    if url.get_backend_name() == "sqlite":
        dump = subprocess.run(["sqlite3", url.database, ".dump"], capture_output=True, text=True).stdout \
            if _has_sqlite3() else _python_dump(url.database)
    else:
        pytest.skip("the dump check reads the SQLite file")
    assert "public_post" in dump and "liberezjuan" in dump.lower()
    for secret in [*PUBLIC_NAMES, "Mot secret", "Réponse secrète", "900001", "carte.jpg"]:
        assert secret not in dump, f"{secret!r} of the public reached the database"


def _has_sqlite3() -> bool:
    import shutil

    return shutil.which("sqlite3") is not None


def _python_dump(path: str) -> str:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_old_editions_public_posts_are_purged_and_their_counts_stay(engine, sandbox) -> None:
    name = mastodon_account(engine, sandbox)
    with db.session_scope(engine) as session:
        campaign, case = _campaign_case(session)
        account = session.exec(select(Account).where(Account.name == name)).one()
        listening.record_page(session, account=account, campaign=campaign, stream="tag:x",
                              page=_page(PublicPost("5", "original", NOW)), term=listening.Term("x", True, case.id),
                              key=b"k" * 32, now=NOW)
        campaign.is_current = False
        session.add(campaign)
    with db.session_scope(engine) as session:
        assert listening.purge(session, today=campaign.ends_on + dt.timedelta(days=30)) == 0
        assert listening.purge(session, today=campaign.ends_on + dt.timedelta(days=100)) == 1
    assert _posts(engine) == [] and _listening_total(engine) == 1
