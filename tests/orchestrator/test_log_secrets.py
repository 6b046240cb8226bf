"""A full run at DEBUG in JSON: every log line is JSON, and no secret used appears anywhere."""

from __future__ import annotations

import json
import secrets as pysecrets

import pytest

from channels.sandbox import SandboxServer
from tests.orchestrator.cli.helpers import cli


@pytest.mark.slow
def test_a_full_run_logs_json_lines_and_never_a_secret(sqlite_env: dict[str, str], sandbox: SandboxServer) -> None:
    def token(label: str) -> str:
        return f"S3cr3t{label}{pysecrets.token_hex(12)}"

    creds = {
        "x": {"--consumer-key": token("ck"), "--consumer-secret": token("cs"), "--access-token": token("at"),
              "--access-token-secret": token("ats"), "--bearer-token": token("bt")},
        "facebook": {"--page-id": "1000001", "--page-token": token("fb")},
        "mastodon": {"--access-token": token("md")},
        "bluesky": {"--handle": "ecrire.sandbox.bsky", "--app-password": token("bs")},
    }
    used = [v for kind in creds.values() for k, v in kind.items() if k not in ("--page-id", "--handle")]
    used.append(sqlite_env["PORTEVOIX_SECRET_KEY"])
    env = {**sqlite_env, "PORTEVOIX_LOG_FORMAT": "json", "PORTEVOIX_LOG_LEVEL": "DEBUG",
           "PORTEVOIX_SANDBOX_X_LIMITS": "off"}

    outputs = [cli(env, "init")]
    for kind, options in creds.items():
        # Public identifiers as options; secrets from the environment (never on the command line).
        args = [a for k, v in options.items() if k in ("--page-id", "--handle") for a in (k, v)]
        secret_env = {f"PORTEVOIX_{kind.upper()}_{k[2:].upper().replace('-', '_')}": v
                      for k, v in options.items() if k not in ("--page-id", "--handle")}
        outputs.append(cli({**env, **secret_env}, "account", "add", kind, f"{kind}-fr", "--base-url", sandbox.url,
                           "--language", "fr", *args))
        outputs.append(cli(env, "account", "test", f"{kind}-fr"))
    post = cli(env, "post", "add", "--case", "juan-lopez", "--text", "Écrivez pour Juan López. #ÉcrireÇaLibère",
               "--link", "https://amnistie.ca/ecrire")
    outputs += [post, cli(env, "post", "approve", post.stdout.strip())]
    for kind in creds:
        outputs.append(cli(env, "schedule", post.stdout.strip(), "--account", f"{kind}-fr", "--at", "now"))
    worker = cli(env, "worker", "--once")
    outputs += [worker, cli(env, "status", "--json")]
    assert all(len(sandbox.sandbox.posts(kind)) == 1 for kind in creds), "the run did not publish everywhere"

    log_lines = [line for result in outputs for line in result.stderr.splitlines() if line.strip()]
    log_lines += [line for line in worker.stdout.splitlines() if line.strip()]
    assert len(log_lines) > 10, "DEBUG logging produced almost nothing: is the level applied?"
    for line in log_lines:
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON log line: {line[:300]}")
        assert {"at", "level", "logger", "message"} <= set(record)
    everything = "\n".join(r.stdout + r.stderr for r in outputs)
    leaked = [secret[:10] + "…" for secret in used if secret in everything]
    assert leaked == [], f"secrets in the output: {leaked}"
