"""``porte-voix suspend``, ``resume`` and ``status``: stopping everything at the command line."""

from __future__ import annotations

import datetime as dt
import json

from orchestrator import db, states
from orchestrator.settings import get_settings
from orchestrator.timeutil import utcnow
from orchestrator.worker.claimer import Claimer
from tests.factories import add_account
from tests.orchestrator.cli.helpers import cli
from tests.orchestrator.helpers import approved_post, delivery, schedule


def test_suspend_status_and_resume_with_a_choice_for_the_overdue(env: dict[str, str]) -> None:
    cli(env, "init")
    no_reason = cli(env, "suspend", "--reason", "  ", check=False)
    assert no_reason.returncode == 1 and "raison" in no_reason.stderr
    unknown = cli(env, "suspend", "--reason", "x", "--account", "nulle-part", check=False)
    assert unknown.returncode == 1 and "introuvable" in unknown.stderr

    out = cli(env, "suspend", "--reason", "Transfert de Juan : on se tait").stdout
    assert "toute l'organisation" in out
    status = cli(env, "status").stdout
    assert "SUSPENDU (toute l'organisation)" in status and "Transfert de Juan : on se tait" in status
    stopped = json.loads(cli(env, "status", "--json").stdout)["suspensions"]
    assert [(s["scope"], s["reason"]) for s in stopped] == [("all", "Transfert de Juan : on se tait")]
    assert stopped[0]["set_by"].startswith("cli:")

    engine = db.get_engine()
    account = add_account(engine, "x", name="x-test")
    due = schedule(engine, approved_post(engine), account, at=utcnow() - dt.timedelta(minutes=3))
    assert Claimer(engine, get_settings(), "w").claim() == []
    assert delivery(engine, due).state == states.HELD

    asked = cli(env, "resume", check=False)  # something is overdue: it says what and asks
    assert asked.returncode == 2 and f"envoi {due}" in asked.stdout and "--overdue" in asked.stderr
    assert json.loads(cli(env, "status", "--json").stdout)["suspensions"] != []  # nothing lifted

    done = cli(env, "resume", "--overdue", "reschedule", "--spacing", "5").stdout
    assert "levée" in done and ": 1" in done
    assert delivery(engine, due).state == states.SCHEDULED
    assert json.loads(cli(env, "status", "--json").stdout)["suspensions"] == []
    assert cli(env, "resume", check=False).returncode == 1  # nothing left to lift


def test_an_account_suspension_from_the_command_line(env: dict[str, str]) -> None:
    cli(env, "init")
    add_account(db.get_engine(), "x", name="x-fr")
    cli(env, "suspend", "--reason", "Compte compromis", "--account", "x-fr")
    assert "SUSPENDU (compte x-fr)" in cli(env, "status").stdout
    again = cli(env, "suspend", "--reason", "encore", "--account", "x-fr", check=False)
    assert again.returncode == 1 and "déjà en vigueur" in again.stderr
    assert "Rien n'était en retard" in cli(env, "resume", "--account", "x-fr").stdout


def test_lifting_one_of_two_says_what_the_other_still_holds(env: dict[str, str]) -> None:
    cli(env, "init")
    engine = db.get_engine()
    account = add_account(engine, "x", name="x-fr")
    cli(env, "suspend", "--reason", "Transfert de Juan")
    cli(env, "suspend", "--reason", "Compte compromis", "--account", "x-fr")
    due = schedule(engine, approved_post(engine), account, at=utcnow() - dt.timedelta(minutes=3))
    assert Claimer(engine, get_settings(), "w").claim() == []
    out = cli(env, "resume", "--overdue", "publish").stdout
    assert "levée" in out and "1 de ces envois restent retenus" in out, out
    assert Claimer(engine, get_settings(), "w").claim() == []  # what the message says: still held
    assert delivery(engine, due).state == states.HELD
    quiet = cli(env, "resume", "--account", "x-fr", "--overdue", "publish").stdout
    assert "restent retenus" not in quiet
