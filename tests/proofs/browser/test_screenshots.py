"""The pictures of docs/screenshots/ are the browser journeys' own: every file the README points to
exists, every picture there is taken by a test of this folder (so ``make browser`` refreshes it,
none is left to age), and every picture a test takes is kept."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "docs" / "screenshots"


def _taken_by_tests() -> set[str]:
    names: set[str] = set()
    for source in Path(__file__).parent.glob("test_*.py"):
        names |= set(re.findall(r"\"(\d\d-[a-z0-9-]+)\"", source.read_text(encoding="utf-8")))
    return names


def test_every_file_the_readme_points_to_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", readme)
               if not re.match(r"[a-z]+:", t) and not t.startswith("#")}
    assert targets, "no link found in README.md"
    missing = sorted(t for t in targets if not (ROOT / t).exists())
    assert not missing, f"README.md points to files that do not exist: {missing}"


def test_every_screenshot_is_taken_by_a_browser_test() -> None:
    kept = {p.stem for p in SHOTS.glob("*.png")}
    taken = _taken_by_tests()
    assert kept - taken == set(), f"pictures no test takes (they would age): {sorted(kept - taken)}"
    assert taken - kept == set(), f"pictures the tests take that docs/screenshots/ lacks: {sorted(taken - kept)}"
