"""A case's default content warning, visibility and Bluesky labels in its file: read, refused
when wrong (in French and English), and written back by dump_campaign as load_campaign reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from content import dump_campaign, load_campaign
from content.errors import ContentInvalid

DEFAULTS = """
content_warning:
  fr: "Torture, mort en détention"
  en: "Torture, death in custody"
visibility: unlisted
self_labels:
  - graphic-media
"""


def _add(folder: Path, text: str, slug: str = "juan-lopez") -> None:
    path = folder / "cases" / f"{slug}.yaml"
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_case_file_gives_its_defaults_and_they_survive_a_dump(campaign_folder: Path, tmp_path: Path) -> None:
    _add(campaign_folder, DEFAULTS)
    content = load_campaign(campaign_folder)
    case = content.case("juan-lopez")
    assert case.content_warning is not None
    assert (case.content_warning.fr, case.content_warning.en) == ("Torture, mort en détention", "Torture, death in custody")
    assert case.visibility == "unlisted" and case.self_labels == ["graphic-media"]
    other = content.case("damisoa")
    assert (other.content_warning, other.visibility, other.self_labels) == (None, None, None)

    dump_campaign(content, tmp_path / "copy")
    assert load_campaign(tmp_path / "copy") == content
    written = (tmp_path / "copy" / "cases" / "juan-lopez.yaml").read_text(encoding="utf-8")
    assert "content_warning:" in written and "visibility: unlisted" in written and "graphic-media" in written
    untouched = (tmp_path / "copy" / "cases" / "damisoa.yaml").read_text(encoding="utf-8")
    assert "content_warning" not in untouched and "visibility" not in untouched and "self_labels" not in untouched


@pytest.mark.parametrize(("text", "field"), [
    ("visibility: direct\n", "visibility"),
    ("self_labels: [porn]\n", "self_labels"),
    ('content_warning:\n  fr: "Torture"\n', "content_warning"),
    (f'content_warning:\n  fr: "{"a" * 501}"\n  en: "b"\n', "content_warning"),
])
def test_a_wrong_default_is_a_problem_in_both_languages(campaign_folder: Path, text: str, field: str) -> None:
    _add(campaign_folder, "\n" + text)
    with pytest.raises(ContentInvalid) as invalid:
        load_campaign(campaign_folder)
    [problem] = invalid.value.problems
    assert problem.file.endswith("juan-lopez.yaml") and problem.field.startswith(field)
    assert problem.message and problem.message_en and problem.message != problem.message_en
