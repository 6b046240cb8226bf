"""The whole path through the real command line: init, account, post, schedule, worker --once."""

from __future__ import annotations

import json

import sqlalchemy as sa

from channels.sandbox import SandboxServer
from tests.orchestrator.cli.helpers import cli


def test_it_publishes_a_post_end_to_end_and_reads_its_metrics(env: dict[str, str], sandbox: SandboxServer) -> None:
    cli(env, "init")
    cli(env, "init")  # idempotent
    cli({**env, "PORTEVOIX_X_BEARER_TOKEN": "token-e2e-secret"}, "account", "add", "x", "x-fr",
        "--base-url", sandbox.url, "--language", "fr")
    text = "Écrivez pour Juan López : défendre la forêt n'est pas un crime. #ÉcrireÇaLibère"
    post_id = cli(env, "post", "add", "--case", "juan-lopez", "--language", "fr", "--text", text,
                  "--link", "https://amnistie.ca/ecrire").stdout.strip()
    assert post_id.isdigit()
    cli(env, "post", "approve", post_id)
    delivery_id = cli(env, "schedule", post_id, "--account", "x-fr", "--at", "now").stdout.strip()
    assert delivery_id.isdigit()

    status = json.loads(cli(env, "status", "--json").stdout)
    assert status["deliveries"] == {"scheduled": 1}
    assert status["next_due"] is not None

    cli(env, "worker", "--once")

    posts = sandbox.sandbox.posts("x")
    assert len(posts) == 1
    assert posts[0]["text"].startswith(text)
    assert "source=" in posts[0]["text"]  # the link carries the delivery's source code

    engine = sa.create_engine(env["PORTEVOIX_DATABASE_URL"])
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT state, platform_id, platform_url, views, source_code FROM delivery WHERE id = :id"
        ), {"id": int(delivery_id)}).one()
        snapshots = conn.execute(sa.text("SELECT count(*) FROM metric_snapshot WHERE delivery_id = :id"),
                                 {"id": int(delivery_id)}).scalar()
        credentials = conn.execute(sa.text("SELECT credentials FROM account")).scalar()
    engine.dispose()
    assert row.state == "published"
    assert row.platform_id == posts[0]["id"]
    assert row.platform_url and row.platform_id in row.platform_url
    assert row.views is not None
    assert f"source={row.source_code}" in posts[0]["text"]
    assert snapshots == 1
    assert "token-e2e-secret" not in credentials  # encrypted at rest

    status = json.loads(cli(env, "status", "--json").stdout)
    assert status["deliveries"] == {"published": 1}
    assert status["workers"] and status["workers"][0]["last_seen"]

    listing = cli(env, "account", "list").stdout
    assert "token-e2e-secret" not in listing


def test_status_check_fails_without_a_live_worker(env: dict[str, str]) -> None:
    cli(env, "init")
    result = cli(env, "status", "--check", check=False)
    assert result.returncode != 0
    assert "travailleur" in result.stdout.lower()


def test_commands_refuse_bad_input_with_a_clear_message(env: dict[str, str], sandbox: SandboxServer) -> None:
    cli(env, "init")
    bad_case = cli(env, "post", "add", "--case", "nobody", "--text", "x", check=False)
    assert bad_case.returncode == 1
    assert "Cas inconnu « nobody »" in bad_case.stderr
    assert "Traceback" not in bad_case.stderr

    cli({**env, "PORTEVOIX_X_BEARER_TOKEN": "t"}, "account", "add", "x", "x-fr", "--base-url", sandbox.url)
    post_id = cli(env, "post", "add", "--case", "juan-lopez", "--text", "Bonjour").stdout.strip()
    naive = cli(env, "schedule", post_id, "--account", "x-fr", "--at", "2025-12-06T12:00", check=False)
    assert naive.returncode == 1
    assert "fuseau horaire" in naive.stderr

    missing = cli(env, "account", "add", "x", "x-2", check=False)
    assert missing.returncode == 1 and "incomplets" in missing.stderr


def test_credentials_can_come_from_the_environment(env: dict[str, str], sandbox: SandboxServer) -> None:
    cli(env, "init")
    cli({**env, "PORTEVOIX_X_BEARER_TOKEN": "from-env"}, "account", "add", "x", "x-env", "--base-url", sandbox.url)
    result = cli(env, "account", "test", "x-env")
    assert "OK" in result.stdout


def test_a_post_written_at_the_command_line_takes_or_overrides_the_case_warning(env: dict[str, str]) -> None:
    cli(env, "init")
    first = cli(env, "post", "add", "--case", "juan-lopez", "--text", "Bonjour",
                "--content-warning", "Violences", "--visibility", "unlisted", "--label", "graphic-media")
    refused = cli(env, "post", "add", "--case", "juan-lopez", "--text", "Bonjour", "--visibility", "direct",
                  check=False)
    assert refused.returncode != 0 and "Visibilité inconnue « direct »" in refused.stdout + refused.stderr
    engine = sa.create_engine(env["PORTEVOIX_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, content_warning, visibility, self_labels FROM post")).all()
    engine.dispose()
    assert [(str(r[0]), r[1], r[2], json.loads(r[3]) if isinstance(r[3], str) else r[3]) for r in rows] == [
        (first.stdout.strip(), "Violences", "unlisted", ["graphic-media"])]


def test_a_thread_written_at_the_command_line_goes_out_whole(env: dict[str, str], sandbox: SandboxServer) -> None:
    cli(env, "init")
    cli({**env, "PORTEVOIX_MASTODON_ACCESS_TOKEN": "sandbox-mastodon-token"}, "account", "add", "mastodon",
        "mastodon-fr", "--base-url", sandbox.url, "--language", "fr")
    post_id = cli(env, "post", "add", "--case", "juan-lopez", "--text", "Juan López défendait sa rivière. 1/3",
                  "--part", "Il a été assassiné en 2024. 2/3", "--part", "Écrivez pour lui. 3/3").stdout.strip()
    cli(env, "post", "approve", post_id)
    cli(env, "schedule", post_id, "--account", "mastodon-fr", "--at", "now")
    cli(env, "worker", "--once")
    posts = sandbox.sandbox.posts("mastodon")
    assert [p["text"] for p in posts] == ["Juan López défendait sa rivière. 1/3", "Il a été assassiné en 2024. 2/3",
                                          "Écrivez pour lui. 3/3"]
    assert [p["in_reply_to"] for p in posts] == [None, posts[0]["id"], posts[1]["id"]]
