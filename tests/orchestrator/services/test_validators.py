"""Offline validators are built in one place, from the account (Mastodon's instance, Bluesky's
PDS, the options that change a limit), and used by the previews, Compose, the templates' fit
report and ``porte-voix check``: no credentials decrypted, nothing sent."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from orchestrator import db
from orchestrator.cli import app
from orchestrator.models import Account, Campaign, Post
from orchestrator.services import (
    accounts,
    compose,
    deliveries,
    posts,
    reports,
    templates_admin,
    validators,
)
from orchestrator.services.auth import SYSTEM
from orchestrator.timeutil import utcnow
from tests.factories import add_account

runner = CliRunner()


def _add(engine, kind: str, name: str, base_url: str | None = None, options: dict | None = None) -> str:
    return add_account(engine, kind, name=name, base_url=base_url, options=options)


def test_each_kind_gets_a_validator_from_its_account_alone(engine) -> None:
    _add(engine, "mastodon", "masto", "https://mastodon.example")
    _add(engine, "mastodon", "masto-big", "https://big.example", {"max_characters": 1000})
    _add(engine, "bluesky", "bsky", "https://pds.example")
    _add(engine, "facebook", "fb")
    _add(engine, "x", "x")
    with db.session_scope(engine) as s:
        by_name = {a.name: a for a in s.exec(select(Account))}
    found = {name: validators.for_account(account) for name, account in by_name.items()}
    assert found["masto"].channel.base_url == "https://mastodon.example"  # type: ignore[attr-defined]
    assert found["masto"].validate("a" * 501).limit == 500
    assert found["masto"].note is not None and "500" in found["masto"].note.fr
    assert found["masto-big"].validate("a" * 900).valid and found["masto-big"].note is None
    assert found["bsky"].validate("é" * 301).limit == 300
    assert found["fb"].validate("Bonjour").valid and found["x"].validate("a" * 281).problems


def test_previews_and_scheduling_never_decrypt_credentials(engine, monkeypatch) -> None:
    _add(engine, "mastodon", "masto", "https://mastodon.example")
    _add(engine, "facebook", "fb")

    def refuse(_token: str) -> dict:
        raise AssertionError("credentials were decrypted to check a text")

    monkeypatch.setattr(accounts.secrets, "decrypt", refuse)
    with db.session_scope(engine) as s:
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López.", submit=True)
        for name in ("masto", "fb"):
            deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name=name, at=utcnow() + dt.timedelta(hours=1))
        rows = reports.post_previews(s, post=post)
        assert [(r["account"], r["error"], r["limit"]) for r in rows] == [("masto", None, 500), ("fb", None, 63206)]
        (shown,) = compose.preview(s, text="Bonjour", link=None, case_slug=None, account_names=["masto"])
        assert shown["error"] is None and shown["note"]


def test_a_mastodon_account_without_an_instance_address_is_still_checked(engine) -> None:
    """Stored before its address was known: checked with Mastodon's defaults, and said so."""
    _add(engine, "mastodon", "masto")
    with db.session_scope(engine) as s:
        campaign_id = s.exec(select(Campaign.id).where(Campaign.slug == "ecrire-2025")).one()
        report = templates_admin.fit_report(s, campaign_id=campaign_id, body="Écrivez pour {person}.", language="fr")
        assert [(r["kind"], r["limit"], r["valid"]) for r in report] == [("mastodon", 500, True)]
        post = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="Écrivez pour Juan López.", submit=True)
        deliveries.schedule(s, actor=SYSTEM, post_id=post.id, account_name="masto", at=utcnow() + dt.timedelta(hours=1))
        (row,) = reports.post_previews(s, post=s.get(Post, post.id))
        assert row["error"] is None and row["limit"] == 500 and row["note"]


@pytest.mark.parametrize("kind, limit", [("mastodon", "500"), ("facebook", "63206"), ("bluesky", "300"), ("x", "280")])
def test_check_validates_every_kind_offline(env, kind, limit) -> None:
    result = runner.invoke(app, ["check", kind, "Écrivez pour Juan López."])
    assert result.exit_code == 0, result.output
    assert f"/{limit} — valide" in result.stdout


def test_check_takes_an_instance_limit_and_says_when_it_uses_the_default(env) -> None:
    default = runner.invoke(app, ["check", "mastodon", "Bonjour", "--json"])
    assert json.loads(default.stdout)["note"].startswith("Limite de l'instance Mastodon pas encore lue")
    bigger = runner.invoke(app, ["check", "mastodon", "a" * 700, "--limit", "1000",
                                 "--base-url", "https://big.example"])
    assert bigger.exit_code == 0 and "700/1000 — valide" in bigger.stdout and "pas encore lue" not in bigger.stdout
    smaller = runner.invoke(app, ["check", "mastodon", "a" * 700, "--language", "en"])
    assert smaller.exit_code == 1 and "over the limit of 500" in smaller.stdout


def test_post_reject_and_withdraw_from_the_command_line(env, engine) -> None:
    with db.session_scope(engine) as s:
        post_id = posts.create_post(s, actor=SYSTEM, case_slug="juan-lopez", text="À revoir", submit=True).id
    refused = runner.invoke(app, ["post", "reject", str(post_id)])
    assert refused.exit_code != 0  # the comment is required
    rejected = runner.invoke(app, ["post", "reject", str(post_id), "--comment", "Ajoutez le lien"])
    assert rejected.exit_code == 0, rejected.output
    with db.session_scope(engine) as s:
        assert (s.get(Post, post_id).status, s.get(Post, post_id).review_comment) == ("rejected", "Ajoutez le lien")
        posts.submit_post(s, actor=SYSTEM, post_id=post_id)
    withdrawn = runner.invoke(app, ["post", "withdraw", str(post_id)])
    assert withdrawn.exit_code == 0 and "brouillon" in withdrawn.stdout
    again = runner.invoke(app, ["post", "withdraw", str(post_id)])
    assert again.exit_code == 1 and "en attente" in again.output
    with db.session_scope(engine) as s:
        assert s.get(Post, post_id).status == "draft"
