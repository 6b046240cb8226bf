from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from content import bundled_campaign


@pytest.fixture
def campaign_folder(tmp_path: Path) -> Path:
    """A writable copy of the bundled 2025 edition, to break on purpose."""
    target = tmp_path / "2025"
    shutil.copytree(bundled_campaign("2025"), target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace exactly one occurrence of ``old`` (fails loudly if the fixture data moved)."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} found {text.count(old)} times in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
