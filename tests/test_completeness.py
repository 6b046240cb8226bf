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


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_every_channel_kind_declares_its_platform_facts(kind: str) -> None:
    """What the rest of the system needs about a platform is declared by its channel class."""
    cls = channel_class(kind)
    assert cls.platform_name.strip(), "the platform's name, for people"
    fields = cls.credential_names()
    assert fields and len(set(fields)) == len(fields), "credential fields, each once"
    for field in cls.credential_fields:
        assert field.name.isidentifier() and field.name == field.name.lower(), field.name
        for text in (field.fr, field.en, field.prompt, field.help_fr, field.help_en):
            assert text.strip(), f"{kind}.{field.name}: words, prompt and help in French and English"
        assert field.fr != field.help_fr and field.en != field.help_en
    assert cls.credential_groups, "the complete sets of credentials it accepts"
    for group in cls.credential_groups:
        assert group and set(group) <= set(fields), f"{group} names fields {kind} does not declare"
    sandbox = cls.sandbox_credentials
    assert set(sandbox) <= set(fields) and any(set(g) <= set(sandbox) for g in cls.credential_groups), \
        "sandbox credentials form a complete group"
    assert set(cls.offline_credentials) <= set(fields)
    assert cls.public_hosts or cls.needs_server, "where its posts are shown: its hosts, or the account's server"
    assert all(h == h.lower() and "/" not in h for h in cls.public_hosts)
    for pattern in (cls.profile_url_pattern, cls.post_url_pattern):
        assert pattern.startswith(("https://", "{base}/")), f"{kind}: a public https address ({pattern!r})"
    assert "{id}" in cls.post_url_pattern
    profile = cls.profile_url("someone", "https://server.example")
    post = cls.post_url("123", "someone", "https://server.example")
    assert profile and post and "123" in post
    from urllib.parse import urlsplit

    for url in (profile, post):
        host = urlsplit(url).hostname
        assert host in cls.public_hosts or (cls.needs_server and host == "server.example"), url
    assert cls.limit_option, "the option its text length limit is read from (check --limit)"
    for capability in ("publish_is_idempotent", "retry_is_safe", "can_thread", "can_first_comment", "can_delete",
                       "can_hide_reply", "can_search", "can_alt_text", "needs_server", "uses_requests_session"):
        assert isinstance(getattr(cls, capability), bool), f"{kind}.{capability} is a yes or a no"
    assert not cls.retry_is_safe or cls.idempotency_window is not None, "a safe retry says for how long"


#: Where a platform's kind may still be written outside channels/, and why.
KIND_NAMES_ALLOWED: dict[str, str] = {
    # logger names of the client libraries (their packages happen to be named like the kinds)
    "orchestrator/logs.py": "names of the client libraries' loggers, not account kinds",
    # Vega-Lite's "x" axis encoding
    "dashboard/deliveries_ui.py": "the chart's x axis, not the X platform",
}


def test_no_module_outside_channels_names_a_kind() -> None:
    """Adding a platform is one module: the rest of the code reads kinds from the registry. A
    string equal to a kind is a kind named (``"x" * 7``, a placeholder code, is not)."""
    import ast

    kinds = set(CHANNELS)
    found: list[str] = []
    for root in ("orchestrator", "dashboard", "content"):
        for path in sorted((ROOT / root).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in KIND_NAMES_ALLOWED or "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            repeated = {id(n.left) for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mult)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and node.value in kinds and isinstance(node.value, str)
                        and id(node) not in repeated):
                    found.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert not found, "read these from channels.registry (or allow-list them with a reason):\n" + "\n".join(found)
