"""``porte-voix listen --once``: one pass, what it found per case and platform, in French or
English, and as JSON."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from orchestrator.cli import app
from tests.orchestrator.listen_helpers import (
    CASE,
    CASE_TAG,
    EDITION_TAG,
    emulator,
    mastodon_account,
    setup_terms,
)


def _setup(engine, sandbox):
    em = emulator(sandbox)
    mastodon_account(engine, sandbox)
    setup_terms(engine, case_terms={"fr": {"hashtags": [CASE_TAG], "keywords": ["Juan López"]}})
    em.public_post(tag=CASE_TAG, kind="photo", author=1)
    em.public_post(tag=CASE_TAG, author=2)
    em.public_post(tag=EDITION_TAG, author=3)
    return em


def test_listen_once_prints_what_it_found_per_case_and_platform(engine, sandbox) -> None:
    _setup(engine, sandbox)
    result = CliRunner().invoke(app, ["listen", "--once"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("Passage d'écoute") and "3 nouvelle(s) publication(s) du public" in line for line in lines)
    assert any(CASE in line and "mastodon" in line and "1 photo" in line and "1 publication" in line for line in lines)
    assert any("(l'édition entière)" in line and "1 publication" in line for line in lines)
    # Mastodon searches no keywords at all: said as such, without sending anyone to re-test the account
    assert any("mot-clé « juan lópez » non écouté (Mastodon ne cherche que les mots-clics" in line for line in lines)
    assert not any("retestez" in line for line in lines), lines
    again = CliRunner().invoke(app, ["listen", "--once", "--lang", "en"])
    assert again.exit_code == 0 and "0 new public post(s)" in again.output
    assert 'keyword "juan lópez" not listened to (Mastodon searches hashtags only' in again.output


def test_listen_once_as_json(engine, sandbox) -> None:
    _setup(engine, sandbox)
    result = CliRunner().invoke(app, ["listen", "--once", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["new"] == 3 and data["cases"] == {CASE: {"mastodon": {"original": 1, "photo": 1}},
                                                  "": {"mastodon": {"original": 1}}}
    assert data["unavailable"] == [{"account": "mastodon-test", "stream": "keyword:juan lópez"}]


def test_listen_without_once_says_the_worker_listens(engine) -> None:
    result = CliRunner().invoke(app, ["listen"])
    assert result.exit_code == 1 and "--once" in result.output
