"""``porte-voix responses pace --json``: the exact shape scripts read, and the text version's
projections to 10 December and to the last day."""

from __future__ import annotations

import json

import sqlalchemy as sa
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.models import RESPONSE_KINDS
from tests.orchestrator.services.voice_seed import seed

runner = CliRunner()


def test_pace_json_has_the_exact_shape_for_scripts(engine: sa.Engine) -> None:
    seed(engine)
    result = runner.invoke(app, ["responses", "pace", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)  # nothing but the JSON on standard output
    assert list(out) == ["cases"]
    with engine.connect() as conn:
        slugs = set(conn.execute(sa.text('SELECT "case".slug FROM "case" JOIN campaign ON campaign.id = '
                                         '"case".campaign_id WHERE campaign.is_current')).scalars())
    assert set(out["cases"]) == slugs
    for slug, figures in out["cases"].items():
        assert list(figures) == ["total", "goal", "by_kind", "clicks"], slug
        assert list(figures["by_kind"]) == list(RESPONSE_KINDS)
        assert all(type(v) is int for v in (figures["total"], figures["goal"], figures["clicks"],
                                            *figures["by_kind"].values()))
        assert figures["total"] == sum(figures["by_kind"].values())
    juan = out["cases"]["juan-lopez"]
    assert (juan["total"], juan["goal"], juan["clicks"]) == (93, 12000, 15)
    assert juan["by_kind"]["letter"] == 80 and juan["by_kind"]["social_action"] == 6 + 7  # public posts included
    assert out["cases"]["damisoa"]["clicks"] == 2


def test_pace_json_on_an_empty_edition(engine: sa.Engine) -> None:
    result = runner.invoke(app, ["responses", "pace", "--json"])
    assert result.exit_code == 0, result.output
    cases = json.loads(result.stdout)["cases"]
    assert cases and all(c["total"] == c["clicks"] == 0 and set(c["by_kind"].values()) == {0} for c in cases.values())


def test_pace_text_names_both_projections(engine: sa.Engine) -> None:
    seed(engine)
    result = runner.invoke(app, ["responses", "pace"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("juan-lopez"))
    assert "93 / 12000" in line and "à la fin" in line
