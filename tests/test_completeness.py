"""Completeness is tested, not hoped for: every channel, emulator and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from channels.base import Channel
from channels.registry import CHANNELS, channel_class
from channels.sandbox.registry import EMULATORS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_every_channel_kind_is_complete(kind: str) -> None:
    cls = channel_class(kind)
    assert issubclass(cls, Channel) and cls.kind == kind
    assert cls.metrics_batch_size >= 1
    assert "publish" in cls.rate_limits, "a publishing budget must be declared"
    assert (ROOT / "tests" / "channels" / f"test_{kind}.py").is_file(), "each channel has its own tests"
    doc = ROOT / "docs" / "channels" / f"{kind}.md"
    assert doc.is_file(), f"docs/channels/{kind}.md tells staff how to get credentials"
    text = doc.read_text(encoding="utf-8").lower()
    for topic in ("porte-voix account add", f"portevoix_{kind}_"):
        assert topic in text, f"docs/channels/{kind}.md should mention {topic!r}"
    assert kind in EMULATORS, "each channel has an emulator in the sandbox"


def _commands(group: typer.Typer, prefix: str = "") -> list[str]:
    click_group = typer.main.get_command(group)
    names: list[str] = []

    def walk(command, path: str) -> None:  # type: ignore[no-untyped-def]
        sub = getattr(command, "commands", None)
        if sub:
            for name, child in sub.items():
                walk(child, f"{path} {name}".strip())
        else:
            names.append(path)

    walk(click_group, prefix)
    return names


def test_every_cli_command_is_in_the_readme() -> None:
    from orchestrator.cli import app

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [c for c in _commands(app) if not re.search(rf"porte-voix {re.escape(c)}\b", readme)]
    assert not missing, f"README.md lacks a reference entry for: {missing}"
