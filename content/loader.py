"""Load, validate and write back one campaign edition folder.

Layout (see ``content/campaigns/README.md``)::

    <edition>/campaign.yaml      the campaign: names, dates, hashtags, goal, link rules
    <edition>/cases/<slug>.yaml  one file per case
    <edition>/actions.yaml       ``actions:`` the calls to action
    <edition>/templates.yaml     ``templates:`` post texts, per action and language

Every file is read and every problem collected before anything is returned, so staff fix a
folder in one pass, and invalid content is never half-loaded: ``load_campaign`` either returns
the whole edition or raises ``ContentInvalid`` with the full list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from content.errors import ContentInvalid, ContentProblem
from content.messages import problems_from
from content.model import LANGUAGES, CallToAction, Campaign, CampaignContent, Case, Template
from content.yamlio import ParsedYaml, dump_yaml, line_of, parse_yaml

CAMPAIGN_FILE = "campaign.yaml"
CASES_DIR = "cases"
ACTIONS_FILE = "actions.yaml"
TEMPLATES_FILE = "templates.yaml"
_LANGUAGE_FR = {"fr": "en français", "en": "en anglais"}
_LANGUAGE_EN = {"fr": "in French", "en": "in English"}

M = TypeVar("M", bound=BaseModel)


def bundled_campaigns_root() -> Path:
    """The ``campaigns`` folder shipped inside the ``content`` package (one subfolder per edition)."""
    return Path(str(resources.files("content") / "campaigns"))


def bundled_campaign(campaign: str = "2025") -> Path:
    return bundled_campaigns_root() / campaign


def validate_campaign(path: str | os.PathLike[str]) -> list[ContentProblem]:
    """Every problem in the edition folder at ``path`` (an empty list means it loads)."""
    problems, _ = _read_folder(Path(path))
    return problems


def load_campaign(path: str | os.PathLike[str]) -> CampaignContent:
    """The edition at ``path``; raises ``ContentInvalid`` listing every problem if there is any."""
    problems, content = _read_folder(Path(path))
    if problems or content is None:
        raise ContentInvalid(problems)
    return content


def load_all(root: str | os.PathLike[str] | None = None) -> list[CampaignContent]:
    """Every edition under ``root/campaigns/`` (default: the bundled ones), oldest folder first.

    Problems from all editions are gathered into one ``ContentInvalid``; their ``file`` is then
    relative to ``root/campaigns`` (e.g. ``2025/cases/damisoa.yaml``).
    """
    campaigns_dir = bundled_campaigns_root() if root is None else Path(root) / "campaigns"
    if not campaigns_dir.is_dir():
        raise ContentInvalid(
            [
                ContentProblem(
                    "campaigns",
                    "",
                    "dossier des campagnes introuvable",
                    "campaigns folder not found",
                )
            ]
        )
    campaigns, problems = [], []
    for folder in sorted(
        p for p in campaigns_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    ):
        found, content = _read_folder(folder)
        problems += [_prefixed(problem, folder.name) for problem in found]
        if content is not None:
            campaigns.append(content)
    if problems:
        raise ContentInvalid(problems)
    return campaigns


def dump_campaign(
    content: CampaignContent, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write ``content`` to ``path`` in the folder layout ``load_campaign`` reads.

    Refuses to replace an existing edition unless ``overwrite``; with it, case files that are no
    longer in ``content`` are removed so that loading the folder gives back exactly ``content``.
    """
    folder = Path(path)
    if (folder / CAMPAIGN_FILE).exists() and not overwrite:
        raise FileExistsError(
            f"{folder / CAMPAIGN_FILE} existe déjà (overwrite=True pour le remplacer)"
        )
    (folder / CASES_DIR).mkdir(parents=True, exist_ok=True)
    header = "Écrit par Porte-voix (dump_campaign). Format : content/campaigns/README.md"
    dump_yaml(_plain(content.campaign), folder / CAMPAIGN_FILE, header=header)
    keep = set()
    for case in content.cases:
        keep.add(f"{case.slug}.yaml")
        dump_yaml(_plain(case), folder / CASES_DIR / f"{case.slug}.yaml", header=header)
    for stale in (folder / CASES_DIR).glob("*.y*ml"):
        if stale.name not in keep:
            stale.unlink()
    dump_yaml(
        {"actions": [_plain(a) for a in content.actions]}, folder / ACTIONS_FILE, header=header
    )
    dump_yaml(
        {"templates": [_plain(t) for t in content.templates]},
        folder / TEMPLATES_FILE,
        header=header,
    )
    return folder


def _plain(model: BaseModel) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


def _prefixed(problem: ContentProblem, folder: str) -> ContentProblem:
    return ContentProblem(
        f"{folder}/{problem.file}", problem.field, problem.message, problem.message_en, problem.line
    )


# ---------------------------------------------------------------------------------------------


class _Reader:
    """Reads one edition folder, collecting problems instead of stopping at the first."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[ContentProblem] = []
        # entries written in each list file, valid or not: a template pointing at an action that
        # is merely invalid should not also be reported as "unknown" (one mistake, one problem)
        self.written: dict[str, list[dict[str, Any]]] = {}
        self.roots: dict[str, Any] = {}  # parsed YAML trees, so cross-file problems get a line too

    def add(self, file: str, field: str, fr: str, en: str, line: int | None = None) -> None:
        if line is None and file in self.roots and field:
            line = line_of(self.roots[file], _loc(field))
        self.problems.append(ContentProblem(file, field, fr, en, line))

    def parse(self, relative: str) -> ParsedYaml | None:
        """The parsed file, or None (with a problem recorded) if it is missing, unreadable or not a mapping."""
        path = self.folder / relative
        if not path.is_file():
            self.add(relative, "", "fichier manquant", "file missing")
            return None
        try:
            parsed = parse_yaml(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            self.add(
                relative,
                "",
                "le fichier n'est pas encodé en UTF-8",
                "the file is not UTF-8 encoded",
            )
            return None
        except yaml.YAMLError as error:
            self._syntax_error(relative, error)
            return None
        for key, line in parsed.duplicates:
            self.add(
                relative, key, f"clé « {key} » écrite deux fois (une seule compte)",
                f"key '{key}' written twice (only one counts)", line,
            )  # fmt: skip
        self.roots[relative] = parsed.root
        if not isinstance(parsed.data, dict):
            what = (
                "le fichier est vide"
                if parsed.data is None
                else "le fichier doit contenir des lignes « clé: valeur »"
            )
            self.add(
                relative,
                "",
                what,
                "the file is empty" if parsed.data is None else "expected 'key: value' lines",
            )
            return None
        return parsed

    def _syntax_error(self, relative: str, error: yaml.YAMLError) -> None:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        detail = getattr(error, "problem", None) or str(error)
        where_fr = f" à la ligne {line}, colonne {mark.column + 1}" if mark is not None else ""
        where_en = f" at line {line}, column {mark.column + 1}" if mark is not None else ""
        self.add(
            relative,
            "",
            f"erreur de syntaxe YAML{where_fr} ({detail}) : vérifiez l'indentation, et mettez entre "
            "guillemets un texte qui contient « : » ou commence par « # », « { » ou « [ »",
            f"YAML syntax error{where_en} ({detail}): check the indentation, and quote any text that "
            "contains ': ' or starts with '#', '{' or '['",
            line,
        )

    def model(
        self,
        cls: type[M],
        data: Any,
        relative: str,
        parsed: ParsedYaml,
        prefix: tuple[Any, ...] = (),
    ) -> M | None:
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            self.problems += problems_from(error, file=relative, root=parsed.root, prefix=prefix)
            return None

    def items(self, cls: type[M], relative: str, key: str) -> list[tuple[int, M]]:
        """Validate each entry of the ``key:`` list separately, so one bad entry hides no other."""
        parsed = self.parse(relative)
        if parsed is None:
            return []
        entries = parsed.data.get(key)
        for extra in sorted(set(parsed.data) - {key}):
            self.add(
                relative, str(extra), f"champ inconnu (seul « {key}: » est attendu)",
                f"unknown field (only '{key}:' is expected)", line_of(parsed.root, (extra,)),
            )  # fmt: skip
        if not isinstance(entries, list) or not entries:
            self.add(
                relative, key, f"liste « {key}: » manquante ou vide", f"'{key}:' list missing or empty",
                line_of(parsed.root, (key,)),
            )  # fmt: skip
            return []
        self.written[key] = [e for e in entries if isinstance(e, dict)]
        out = []
        for index, entry in enumerate(entries):
            item = self.model(cls, entry, relative, parsed, prefix=(key, index))
            if item is not None:
                out.append((index, item))
        return out


def _loc(field: str) -> tuple[str | int, ...]:
    """'templates[4].action' -> ('templates', 4, 'action'), to find the line of a dotted field."""
    return tuple(int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", field))


def _read_folder(folder: Path) -> tuple[list[ContentProblem], CampaignContent | None]:
    reader = _Reader(folder)
    if not folder.is_dir():
        reader.add(".", "", f"dossier introuvable : {folder}", f"folder not found: {folder}")
        return reader.problems, None

    campaign = None
    parsed = reader.parse(CAMPAIGN_FILE)
    if parsed is not None:
        campaign = reader.model(Campaign, parsed.data, CAMPAIGN_FILE, parsed)

    cases = _read_cases(reader)
    actions = reader.items(CallToAction, ACTIONS_FILE, "actions")
    templates = reader.items(Template, TEMPLATES_FILE, "templates")
    _check_actions(reader, campaign, actions)
    _check_templates(reader, actions, templates)

    if reader.problems or campaign is None:
        return reader.problems, None
    content = CampaignContent(
        campaign=campaign,
        cases=sorted((case for _, case in cases), key=lambda c: c.position),
        actions=[a for _, a in actions],
        templates=[t for _, t in templates],
        source=folder.resolve(),
    )
    return [], content


def _read_cases(reader: _Reader) -> list[tuple[str, Case]]:
    cases_dir = reader.folder / CASES_DIR
    files = sorted(cases_dir.glob("*.y*ml")) if cases_dir.is_dir() else []
    if not files:
        reader.add(
            CASES_DIR,
            "",
            "aucun cas : ajoutez un fichier par cas dans cases/",
            "no cases: add one file per case in cases/",
        )
        return []
    cases: list[tuple[str, Case]] = []
    for path in files:
        relative = f"{CASES_DIR}/{path.name}"
        parsed = reader.parse(relative)
        if parsed is None:
            continue
        case = reader.model(Case, parsed.data, relative, parsed)
        if case is None:
            continue
        if case.slug != path.stem:
            reader.add(
                relative, "slug", f"l'identifiant « {case.slug} » doit être le nom du fichier (« {path.stem} »)",
                f"the slug '{case.slug}' must match the file name ('{path.stem}')", line_of(parsed.root, ("slug",)),
            )  # fmt: skip
        cases.append((relative, case))
    _duplicates(reader, cases, "slug", lambda c: c.slug, "identifiant", "slug")
    _duplicates(reader, cases, "position", lambda c: c.position, "position", "position")
    return cases


def _duplicates(
    reader: _Reader,
    located: list[tuple[Any, Any]],
    field: str,
    key: Callable[[Any], Any],
    what_fr: str,
    what_en: str,
    *,
    file: str | None = None,
    list_name: str | None = None,
) -> None:
    """Report every item whose ``key`` was already used by an earlier one."""
    first: dict[Any, str] = {}
    for where, item in located:
        value = key(item)
        name = f"{list_name}[{where}]" if list_name else str(where)
        if value in first:
            reader.add(
                file or str(where), f"{name}.{field}" if list_name else field,
                f"{what_fr} « {value} » déjà utilisé(e) par {first[value]}",
                f"{what_en} '{value}' already used by {first[value]}",
            )  # fmt: skip
        else:
            first[value] = name


def _check_actions(
    reader: _Reader, campaign: Campaign | None, actions: list[tuple[int, CallToAction]]
) -> None:
    _duplicates(
        reader,
        actions,
        "slug",
        lambda a: a.slug,
        "identifiant",
        "slug",
        file=ACTIONS_FILE,
        list_name="actions",
    )
    if campaign is None:
        return
    for index, action in actions:
        if action.key_date and campaign.key_date(action.key_date) is None:
            known = ", ".join(k.slug for k in campaign.key_dates) or "aucune"
            reader.add(
                ACTIONS_FILE, f"actions[{index}].key_date",
                f"date clé inconnue « {action.key_date} » (dates de campaign.yaml : {known})",
                f"unknown key date '{action.key_date}' (dates in campaign.yaml: {known})",
            )  # fmt: skip


def _check_templates(
    reader: _Reader, actions: list[tuple[int, CallToAction]], templates: list[tuple[int, Template]]
) -> None:
    _duplicates(
        reader,
        templates,
        "slug",
        lambda t: t.slug,
        "identifiant",
        "slug",
        file=TEMPLATES_FILE,
        list_name="templates",
    )
    by_slug = {action.slug: action for _, action in actions}
    written_actions = {str(e.get("slug")) for e in reader.written.get("actions", [])}
    for index, template in templates:
        action = by_slug.get(template.action)
        if (
            action is None
            and "actions" in reader.written
            and template.action not in written_actions
        ):
            known = ", ".join(by_slug) or "aucun"
            reader.add(
                TEMPLATES_FILE, f"templates[{index}].action",
                f"appel à l'action inconnu « {template.action} » (connus : {known})",
                f"unknown call to action '{template.action}' (known: {known})",
            )  # fmt: skip
        elif action is not None and "date" in template.placeholders and not action.key_date:
            reader.add(
                TEMPLATES_FILE, f"templates[{index}].body",
                f"{{date}} est utilisé, mais l'appel à l'action « {action.slug} » n'a pas de key_date",
                f"{{date}} is used, but call to action '{action.slug}' has no key_date",
            )  # fmt: skip
    if "templates" not in reader.written:
        return  # templates.yaml itself is missing or broken: already reported
    covered = {(str(e.get("action")), str(e.get("language"))) for e in reader.written["templates"]}
    for _, action in actions:
        for language in LANGUAGES:
            if (action.slug, language) not in covered:
                reader.add(
                    TEMPLATES_FILE, "templates",
                    f"aucun modèle pour l'appel à l'action « {action.slug} » {_LANGUAGE_FR[language]}",
                    f"no template for call to action '{action.slug}' {_LANGUAGE_EN[language]}",
                )  # fmt: skip
