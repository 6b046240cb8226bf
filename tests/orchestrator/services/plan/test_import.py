"""Bulk scheduling: each promise of issue 7 through ``import_plan``, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import AuditEntry, Delivery, Post
from orchestrator.services import campaigns
from orchestrator.services.auth import Actor, PermissionDenied, ServiceError
from tests.orchestrator.services.plan.helpers import (
    HEADER,
    add_accounts,
    all_deliveries,
    counts,
    csv_text,
    later,
    run,
)

TEXT = "Écrivez pour Juan López : défendre la forêt n'est pas un crime. #ÉcrireÇaLibère"
LINK = "https://amnistie.ca/ecrire"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture
def accounts(engine: sa.Engine) -> list[str]:
    return add_accounts(engine, "x", "mastodon", "facebook", "bluesky")


def test_rows_with_the_same_text_become_one_post_with_several_deliveries(engine, accounts):
    at = later()
    result = run(engine, csv_text(
        f'juan-lopez,fr,"{TEXT}",{LINK},x-fr,{at}',
        f'juan-lopez,fr,"{TEXT}",{LINK},mastodon-fr,{at}',
        f"sonia-dahmani,fr,Écrivez pour Sonia Dahmani.,,x-fr,{later(3)}",
    ))
    assert result.ok, [p.text() for p in result.problems]
    assert (result.posts_created, result.count("create")) == (2, 3)
    assert counts(engine) == (2, 3)
    with db.session_scope(engine) as s:
        made = list(s.exec(select(Post).order_by(Post.id)))
        assert [p.status for p in made] == ["pending", "pending"]  # they wait for approval
        assert made[0].link == LINK and made[1].link is None
    found = all_deliveries(engine)
    assert {d.post_id for d in found[:2]} == {made[0].id}
    assert found[0].scheduled_at == dt.datetime.fromisoformat(at)
    assert all(d.state == states.SCHEDULED and d.rendered_text is None for d in found)
    assert len({d.source_code for d in found}) == 3


def test_french_headers_semicolons_and_a_bom_are_read(engine, accounts):
    data = "\ufeffcas;langue;texte;lien;compte;quand\n" + f"juan-lopez;fr;{TEXT};;x-fr;{later()}\n"
    result = run(engine, data.encode("utf-8"))
    assert result.ok, [p.text() for p in result.problems]
    assert counts(engine) == (1, 1)


def test_a_text_over_several_lines_keeps_its_line_breaks(engine, accounts):
    result = run(engine, csv_text(f'juan-lopez,fr,"Première ligne.\r\nDeuxième ligne.",,x-fr,{later()}'))
    assert result.ok
    with db.session_scope(engine) as s:
        assert s.exec(select(Post.text)).one() == "Première ligne.\nDeuxième ligne."


def test_every_problem_is_reported_with_its_line_and_nothing_is_saved(engine, accounts):
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    result = run(engine, csv_text(
        f'juan-lopez,fr,"{TEXT}",{LINK},x-fr,{later()}',  # line 2: fine
        f"personne,fr,Texte.,,x-fr,{later()}",  # 3: unknown case
        f"juan-lopez,fr,Texte.,,inconnu,{later()}",  # 4: unknown account
        "juan-lopez,fr,Texte.,,x-fr,2025-12-06T12:00",  # 5: no offset
        f"juan-lopez,fr,Texte.,,x-fr,{past}",  # 6: past
        f"juan-lopez,de,Texte.,,x-fr,{later()}",  # 7: language
        f"juan-lopez,fr,{'a' * 300},,x-fr,{later()}",  # 8: too long for X
        f"juan-lopez,fr,Texte.,ftp://x,x-fr,{later()}",  # 9: link
        "juan-lopez,fr,Texte.,,x-fr,demain",  # 10: unreadable time
    ))
    assert not result.ok
    assert [p.line for p in result.problems] == [3, 4, 5, 6, 7, 8, 9, 10]
    by_line = {p.line: p for p in result.problems}
    assert "personne" in by_line[3].text() and by_line[3].text().startswith("Ligne 3 : ")
    assert "inconnu" in by_line[4].fr
    assert "fuseau" in by_line[5].fr and "time zone" in by_line[5].text("en")
    assert "passé" in by_line[6].fr
    assert "X" in by_line[8].fr and "280" in by_line[8].fr
    assert by_line[10].text("en").startswith("Line 10: unreadable time")
    assert counts(engine) == (0, 0)


def test_each_row_is_checked_against_its_own_platform(engine, accounts):
    long = "Écrivez pour Juan López. " * 14  # about 350 characters: over Bluesky's 300 and X's 280
    result = run(engine, csv_text(*(f"juan-lopez,fr,{long},,{kind}-fr,{later()}"
                                    for kind in ("x", "mastodon", "facebook", "bluesky"))))
    assert [(p.line, p.fr.split(" ")[0]) for p in result.problems] == [(2, "x-fr"), (5, "bluesky-fr")]
    assert counts(engine) == (0, 0)


def test_a_dry_run_only_checks(engine, accounts):
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()}"), dry_run=True)
    assert result.ok and not result.applied
    assert (result.posts_created, result.count("create")) == (1, 1)
    assert "rien n'est enregistré" in result.summary("fr")
    assert counts(engine) == (0, 0)


def test_importing_the_same_file_again_creates_nothing(engine, accounts):
    plan = csv_text(
        f"juan-lopez,fr,{TEXT},{LINK},x-fr,{later()}",
        f"juan-lopez,fr,{TEXT},{LINK},mastodon-fr,{later()}",
        f"juan-lopez,fr,{TEXT},{LINK},x-fr,{later(5)}",  # the same post twice on one account
    )
    run(engine, plan)
    again = run(engine, plan)
    assert again.ok and again.applied
    assert (again.posts_created, again.posts_reused) == (0, 1)
    assert (again.count("create"), again.count("move"), again.count("unchanged")) == (0, 0, 3)
    assert counts(engine) == (1, 3)
    assert "0 créé(s), 0 déplacé(s), 3 inchangé(s)" in again.summary("fr")


def test_editing_a_time_moves_that_delivery(engine, accounts):
    first, moved_to = later(2), later(4, hour=9)
    run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{first}", f"juan-lopez,fr,{TEXT},,mastodon-fr,{first}"))
    x_before, mastodon_before = all_deliveries(engine)  # in id order: x-fr first
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{moved_to}", f"juan-lopez,fr,{TEXT},,mastodon-fr,{first}"))
    assert (result.count("create"), result.count("move"), result.count("unchanged")) == (0, 1, 1)
    x_after, mastodon_after = all_deliveries(engine)
    assert (x_after.id, x_after.source_code) == (x_before.id, x_before.source_code)
    assert x_after.scheduled_at == x_after.due_at == dt.datetime.fromisoformat(moved_to)
    assert mastodon_after.scheduled_at == mastodon_before.scheduled_at == dt.datetime.fromisoformat(first)


def test_a_published_delivery_is_not_moved_and_the_row_says_why(engine, accounts):
    run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()}"))
    with db.session_scope(engine) as s:
        delivery = s.exec(select(Delivery)).one()
        states.transition(s, delivery, states.PUBLISHING, actor="test")
        states.transition(s, delivery, states.PUBLISHED, actor="test", platform_id="1")
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later(6)}"))
    assert [p.line for p in result.problems] == [2]
    assert "publiée" in result.problems[0].fr and "published" in result.problems[0].en
    assert counts(engine) == (1, 1)


def test_now_schedules_at_once_and_does_not_duplicate_on_a_second_import(engine, accounts):
    plan = csv_text(f"juan-lopez,fr,{TEXT},,x-fr,now")
    result = run(engine, plan)
    assert result.ok
    (delivery,) = all_deliveries(engine)
    assert abs((delivery.due_at - dt.datetime.now(dt.UTC)).total_seconds()) < 30
    assert run(engine, plan).count("unchanged") == 1
    assert counts(engine) == (1, 1)


def test_a_repeated_row_is_an_error(engine, accounts):
    at = later()
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{at}", f"juan-lopez,fr,{TEXT},,x-fr,{at}"))
    assert [(p.line, "ligne 2" in p.fr) for p in result.problems] == [(3, True)]
    assert counts(engine) == (0, 0)


def test_approve_approves_what_it_creates_and_freezes_the_text(engine, accounts):
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},{LINK},x-fr,{later()}"), approve=True)
    assert result.ok
    with db.session_scope(engine) as s:
        assert s.exec(select(Post.status)).one() == "approved"
        delivery = s.exec(select(Delivery)).one()
        assert delivery.rendered_text and delivery.source_code in delivery.rendered_text


@pytest.mark.parametrize(("role", "error"), [("editor", PermissionDenied), ("approver", ServiceError)])
def test_approve_needs_the_approver_role_and_four_eyes(engine, accounts, role, error):
    with pytest.raises(error) as caught:
        run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()}"), actor=Actor("edith", role), approve=True)
    assert caught.value.en
    assert counts(engine) == (0, 0)


def test_a_viewer_may_not_import(engine, accounts):
    with pytest.raises(PermissionDenied):
        run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()}"), actor=Actor("victor", "viewer"))


def test_an_editor_imports_and_the_posts_wait_for_approval(engine, accounts):
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()}"), actor=Actor("edith", "editor"))
    assert result.ok
    with db.session_scope(engine) as s:
        post = s.exec(select(Post)).one()
        assert (post.status, post.author) == ("pending", "edith")
        actions = set(s.exec(select(AuditEntry.action)))
    assert {"create", "schedule", "plan_import"} <= actions


def test_a_local_image_is_kept_inline_and_a_url_is_refused(engine, accounts, tmp_path: Path):
    (tmp_path / "juan.png").write_bytes(PNG)
    header = "case,language,text,link,account,at,image,alt"
    ok = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()},juan.png,Juan López souriant",
                              header=header), base_dir=tmp_path)
    assert ok.ok, [p.text() for p in ok.problems]
    with db.session_scope(engine) as s:
        (image,) = s.exec(select(Post)).one().images
    assert base64.b64decode(image["data"]) == PNG and image["alt"] == "Juan López souriant"
    refused = run(engine, csv_text(
        f"juan-lopez,fr,Autre.,,x-fr,{later()},https://exemple.org/juan.png,Juan",
        f"juan-lopez,fr,Autre encore.,,x-fr,{later()},juan.png,",
        header=header), base_dir=tmp_path)
    assert [p.line for p in refused.problems] == [2, 3]
    assert "fichier local" in refused.problems[0].fr and "alt" in refused.problems[1].fr


def test_the_same_text_with_two_images_is_refused(engine, accounts, tmp_path: Path):
    (tmp_path / "a.png").write_bytes(PNG)
    header = "case,language,text,link,account,at,image,alt"
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()},a.png,Une",
                                  f"juan-lopez,fr,{TEXT},,mastodon-fr,{later()},a.png,Autre",
                                  header=header), base_dir=tmp_path)
    assert [p.line for p in result.problems] == [3]


def test_a_paused_case_schedules_held_deliveries(engine, accounts):
    with db.session_scope(engine) as s:
        case = campaigns.get_case(s, slug="juan-lopez")
        case.status = "paused"
        s.add(case)
    run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{later()}"))
    (delivery,) = all_deliveries(engine)
    assert (delivery.state, delivery.held_reason) == (states.HELD, "case paused")


def test_a_line_with_several_problems_shows_every_one(engine, accounts):
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
    long = "a" * 300
    result = run(engine, csv_text(
        f"personne,de,{long},,x-fr,{past}",  # line 2: case, language, past, too long for X
        f"juan-lopez,fr,{long},,x-fr,{past}",  # 3: past, too long for X
        f"juan-lopez,fr,Texte.,,inconnu,{past}",  # 4: unknown account, past
    ))
    found: dict[int, list[str]] = {}
    for problem in result.problems:
        found.setdefault(problem.line, []).append(problem.fr)
    assert sorted(found) == [2, 3, 4]
    assert len(found[2]) == 4 and any("personne" in p for p in found[2]) and any("langue" in p for p in found[2])
    assert any("passé" in p for p in found[2]) and any("x-fr (X)" in p and "280" in p for p in found[2])
    assert len(found[3]) == 2 and any("passé" in p for p in found[3]) and any("280" in p for p in found[3])
    assert len(found[4]) == 2 and any("inconnu" in p for p in found[4]) and any("passé" in p for p in found[4])
    assert counts(engine) == (0, 0)


def test_a_past_time_already_in_the_queue_is_not_a_problem_of_a_refused_line(engine, accounts):
    """Importing an old plan again: a line that names a delivery already there at its time is not
    "in the past", even when the line has another problem."""
    at = later()
    assert run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{at}")).ok
    with db.session_scope(engine) as s:
        delivery = s.exec(select(Delivery)).one()
        delivery.scheduled_at = delivery.due_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        s.add(delivery)
        gone = delivery.scheduled_at.isoformat()
    result = run(engine, csv_text(f"juan-lopez,fr,{TEXT},,x-fr,{gone},https://example.org/a.png,Photo",
                                  header=HEADER + ",image,alt"))
    assert [p.line for p in result.problems] == [2]  # the image, and only the image
    assert [p.fr for p in result.problems if p.line == 2 and "passé" in p.fr] == []
