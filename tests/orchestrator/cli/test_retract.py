"""``porte-voix retract``: a case's published posts removed from the emulators, what could not be
removed said with its address, in French and in English; the reason is required, an editor is
refused, and four eyes wait for ``confirm-retraction`` by a second person."""

from __future__ import annotations

import json

from sqlmodel import select

from orchestrator import db, states
from orchestrator.models import Account, Campaign, Delivery
from orchestrator.services import users
from orchestrator.services.auth import SYSTEM
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.cli.helpers import cli
from tests.orchestrator.helpers import approved_post, delivery, schedule


def published(engine, sandbox, kinds: tuple[str, ...]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = {}
    for kind in kinds:
        add_account(engine, kind, name=f"{kind}-cli", base_url=sandbox.url)
        ids[kind] = schedule(engine, approved_post(engine, text=f"Écrivez pour Juan ({kind} cli)", link=None),
                             f"{kind}-cli")
    Worker(engine, settings=get_settings().model_copy(update={"request_timeout": 2.0}), worker_id="w").run_once()
    assert all(delivery(engine, i).state == states.PUBLISHED for i in ids.values())
    return ids


def texts(sandbox, kind: str) -> str:  # type: ignore[no-untyped-def]
    return " ".join(str(p.get("text") or "") for p in sandbox.sandbox.posts(kind))


def test_retract_a_case_and_wait_prints_what_was_removed_and_what_was_not(env, sandbox) -> None:
    cli(env, "init")
    engine = db.get_engine()
    ids = published(engine, sandbox, ("x", "mastodon"))
    # one more, on an Instagram account: its API cannot delete, it must go by hand
    add_account(engine, "instagram", name="ig-cli", base_url=sandbox.url)
    with db.session_scope(engine) as session:
        extra = session.get(Delivery, ids["x"])
        assert extra is not None
        ig = session.exec(select(Account).where(Account.name == "ig-cli")).one()
        copy = Delivery(post_id=extra.post_id, account_id=ig.id, state=states.PUBLISHED, scheduled_at=utcnow(),  # type: ignore[arg-type]
                        due_at=utcnow(), source_code="igcli1", rendered_text="x", platform_id="1790001",
                        platform_url="https://www.instagram.com/p/IGCLI/", published_at=utcnow())
        session.add(copy)
    no_reason = cli(env, "retract", "--case", "juan-lopez", "--reason", " ", check=False)
    assert no_reason.returncode == 1 and "raison" in no_reason.stderr
    both = cli(env, "retract", "--case", "juan-lopez", "--post", "1", "--reason", "x", check=False)
    assert both.returncode == 2

    out = cli(env, "retract", "--case", "juan-lopez", "--reason", "La famille le demande", "--wait", check=False)
    assert out.returncode == 1, out.stdout + out.stderr  # one could not be removed
    assert "Retirées (2)" in out.stdout and f"envoi {ids['x']}" in out.stdout
    assert "à retirer à la main" in out.stdout and "https://www.instagram.com/p/IGCLI/" in out.stdout
    assert "(x cli)" not in texts(sandbox, "x") and "(mastodon cli)" not in texts(sandbox, "mastodon")
    assert all(delivery(engine, i).retracted_at is not None for i in ids.values())

    status = cli(env, "status").stdout  # what must still be removed by hand stays in view
    assert "À retirer à la main : envoi" in status and "https://www.instagram.com/p/IGCLI/" in status
    failed = json.loads(cli(env, "status", "--json").stdout)["retractions"]["failed"]
    assert [f["url"] for f in failed] == ["https://www.instagram.com/p/IGCLI/"]

    again = cli(env, "retract", "--delivery", str(ids["x"]), "--reason", "encore", "--wait", "--lang", "en")
    assert "Nothing published is left to retract there." in again.stdout  # harmless


def test_an_editor_is_refused_and_four_eyes_wait_for_a_second_person(env, sandbox) -> None:
    cli(env, "init")
    engine = db.get_engine()
    ids = published(engine, sandbox, ("bluesky",))
    with db.session_scope(engine) as session:
        for name, role in (("edith", "editor"), ("anne", "approver"), ("bruno", "approver")):
            users.add_user(session, actor=SYSTEM, username=name, password="un mot de passe très long 42", role=role)
        campaign = session.exec(select(Campaign).where(Campaign.is_current == True)).first()  # noqa: E712
        assert campaign is not None
        campaign.retract_four_eyes = True
        session.add(campaign)
    refused = cli(env, "retract", "--delivery", str(ids["bluesky"]), "--reason", "r", "--by", "edith", check=False)
    assert refused.returncode == 1
    asked = cli(env, "retract", "--delivery", str(ids["bluesky"]), "--reason", "Transfert", "--by", "anne",
                "--wait", "--lang", "en").stdout
    assert "Waiting for a second person to confirm" in asked
    assert "(bluesky cli)" in texts(sandbox, "bluesky")
    same = cli(env, "confirm-retraction", "1", "--by", "anne", check=False)
    assert same.returncode == 1 and "Quatre yeux" in same.stderr
    done = cli(env, "confirm-retraction", "1", "--by", "bruno", "--wait").stdout
    assert "Retirées (1)" in done
    assert "(bluesky cli)" not in texts(sandbox, "bluesky")
