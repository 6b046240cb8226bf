"""Reading and writing campaign YAML safely for people who are not programmers.

PyYAML follows YAML 1.1, which silently turns some plain text into other types. Two of these bite
campaign content, so our loader switches them off:

- ``NO`` (Norway's country code), ``yes``, ``on``/``off`` become booleans: only true/false do here;
- ``2025-13-01`` crashes the timestamp constructor, and ``2025-12-06 10:00`` becomes a naive
  datetime: dates stay text and the model parses them strictly as AAAA-MM-JJ.

Duplicate keys (the second silently wins in PyYAML) are recorded so the loader can report them,
and the node tree is kept so a validation error can point to a line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_BOOL = "tag:yaml.org,2002:bool"


class ContentLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like booleans, dates kept as text, duplicate keys recorded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                continue
            if key in seen:
                self.duplicates.append((str(key), key_node.start_mark.line + 1))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


ContentLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_TIMESTAMP, _BOOL)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ContentLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclasses.dataclass
class ParsedYaml:
    data: Any
    root: yaml.Node | None
    duplicates: list[tuple[str, int]]


def parse_yaml(text: str) -> ParsedYaml:
    """Parse one YAML document; raises ``yaml.YAMLError`` (with ``problem_mark``) on bad syntax."""
    loader = ContentLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
        return ParsedYaml(data=data, root=root, duplicates=list(loader.duplicates))
    finally:
        loader.dispose()


def line_of(root: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest node we can reach along ``loc`` (a pydantic error path)."""
    if root is None:
        return None
    node: yaml.Node = root
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [
                (k, v)
                for k, v in node.value
                if isinstance(k, yaml.ScalarNode) and k.value == str(part)
            ]
            if not match:
                break
            key_node, node = match[-1]
            line = key_node.start_mark.line + 1
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


class ContentDumper(yaml.SafeDumper):
    """Writes text a person can edit: block style, UTF-8 accents kept, multi-line text as ``|``."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key (PyYAML's default puts "- " flush with the key).
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


ContentDumper.add_representer(str, _represent_str)


def dump_yaml(data: Any, path: Path, *, header: str | None = None) -> None:
    text = yaml.dump(
        data,
        Dumper=ContentDumper,
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        width=100,
    )
    if header:
        text = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + text
    path.write_text(text, encoding="utf-8")
