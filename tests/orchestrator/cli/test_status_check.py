"""``porte-voix status --check``: exit non-zero, for cron or any monitor, when nothing will be
published (no live worker), when deliveries are stuck past their lease, or an account is down."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from channels.sandbox import SandboxServer
from orchestrator import db
from orchestrator.models import Account
from orchestrator.services.status import health_problems, summary
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker import Worker
from tests.factories import add_account
from tests.orchestrator.cli.helpers import cli
from tests.orchestrator.helpers import approved_post, schedule


def _problems(engine: sa.Engine, now: dt.datetime | None = None) -> tuple[dict, list[str]]:
    with db.session_scope(engine) as session:
        data = summary(session, now=now)
    return data, health_problems(data)


def test_no_worker_and_a_silent_worker_are_both_alerts(engine: sa.Engine) -> None:
    data, problems = _problems(engine)
    assert data["workers"] == [] and len(problems) == 1 and "Aucun travailleur actif" in problems[0]

    Worker(engine, worker_id="w-1").heartbeat()
    data, problems = _problems(engine)
    assert problems == [] and data["workers"][0]["fresh"] is True

    stale = utcnow() + dt.timedelta(seconds=get_settings().heartbeat_stale_seconds + 5)
    data, problems = _problems(engine, now=stale)
    assert data["workers"][0]["fresh"] is False
    assert len(problems) == 1 and "No worker has a fresh heartbeat" in problems[0]


def test_a_delivery_held_in_publishing_past_its_lease_is_an_alert(engine: sa.Engine, sandbox: SandboxServer) -> None:
    account = add_account(engine, "mastodon", name="mastodon-test", base_url=sandbox.url)
    delivery_id = schedule(engine, approved_post(engine), account)
    worker = Worker(engine, worker_id="w-crashed")
    worker.heartbeat()
    claimed = worker.claim()
    worker.pool.shutdown(wait=False)
    assert [c.delivery_id for c in claimed] == [delivery_id]

    _, problems = _problems(engine)  # publishing, lease still running: normal
    assert problems == []
    # The worker died holding it: past the lease the delivery is stuck (a live worker would sweep it).
    later = utcnow() + dt.timedelta(seconds=get_settings().lease_seconds + 1)
    with db.session_scope(engine) as session:
        from orchestrator.models import WorkerHeartbeat

        session.add(WorkerHeartbeat(id="w-alive", last_seen=later))
    data, problems = _problems(engine, now=later)
    assert [s["id"] for s in data["stuck"]] == [delivery_id] and data["stuck"][0]["worker_id"] == "w-crashed"
    assert len(problems) == 1 and "bloquée" in problems[0]


def test_an_unhealthy_account_is_an_alert(engine: sa.Engine, sandbox: SandboxServer) -> None:
    Worker(engine, worker_id="w-1").heartbeat()
    name = add_account(engine, "bluesky", name="bluesky-test", base_url=sandbox.url)
    assert _problems(engine)[1] == []
    with db.session_scope(engine) as session:
        account = session.exec(sa.select(Account).where(Account.name == name)).scalars().one()
        account.healthy, account.last_error = False, "Jeton révoqué"
    data, problems = _problems(engine)
    assert data["unhealthy_accounts"] == [{"name": name, "kind": "bluesky", "reason": "Jeton révoqué"}]
    assert problems == [f"Compte en panne : {name} (Jeton révoqué). (Unhealthy account.)"]


def test_the_command_exits_non_zero_with_details_in_json(sqlite_env: dict[str, str]) -> None:
    cli(sqlite_env, "init")
    no_worker = cli(sqlite_env, "status", "--check", "--json", check=False)
    assert no_worker.returncode == 2
    assert json.loads(no_worker.stdout)["problems"][0].startswith("Aucun travailleur actif")

    engine = sa.create_engine(sqlite_env["PORTEVOIX_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO worker_heartbeat (id, host, pid, version, started_at, last_seen) "
                             "VALUES ('w-1', 'h', 1, 'v', :now, :now)"), {"now": utcnow().replace(tzinfo=None)})
        conn.execute(sa.text("INSERT INTO account (name, kind, credentials, options, is_sandbox, healthy, last_error, "
                             "created_at) VALUES ('x-fr', 'x', '', '{}', 0, 0, 'Jeton expiré', :now)"),
                     {"now": utcnow().replace(tzinfo=None)})
    engine.dispose()
    down = cli(sqlite_env, "status", "--check", "--json", check=False)
    assert down.returncode == 2
    details = json.loads(down.stdout)
    assert details["workers"][0]["fresh"] is True
    assert details["unhealthy_accounts"][0]["reason"] == "Jeton expiré"
    assert details["problems"] == ["Compte en panne : x-fr (Jeton expiré). (Unhealthy account.)"]

    without_check = cli(sqlite_env, "status", check=False)  # alerts shown, but only --check fails
    assert without_check.returncode == 0 and "ALERTE : Compte en panne" in without_check.stdout
