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


#: What docs/channels/adding-a-platform.md asks of a platform, each checked below for every kind.
CHECKLIST_FILES = ("channels/<kind>.py", "channels/registry.py", "channels/sandbox/<kind>.py",
                   "channels/sandbox/registry.py", "tests/channels/test_<kind>.py", "docs/channels/<kind>.md",
                   "pyproject.toml", "README.md")
CHECKLIST_ATTRIBUTES = ("kind", "label", "platform_name", "credential_fields", "credential_groups",
                        "sandbox_credentials", "public_hosts", "needs_server", "profile_url_pattern",
                        "post_url_pattern", "limit_option", "account_options", "account_option_help",
                        "offline_credentials", "rate_limits", "metrics_batch_size", "error_table", "error_facts",
                        "client_distribution", "label_fr", "label_en")


def test_the_checklist_names_every_file_and_declaration() -> None:
    guide = (ROOT / "docs" / "channels" / "adding-a-platform.md").read_text(encoding="utf-8")
    missing = [item for item in (*CHECKLIST_FILES, *CHECKLIST_ATTRIBUTES) if f"`{item}" not in guide]
    assert not missing, f"docs/channels/adding-a-platform.md does not name: {missing}"


def _dependencies() -> set[str]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = (re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0] for spec in project["dependencies"])
    return {re.sub(r"[-_.]+", "-", name).lower() for name in names}


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_every_channel_kind_follows_the_checklist(kind: str) -> None:
    """Everything docs/channels/adding-a-platform.md lists, declared or present for this kind."""
    from channels.base import AuthError, ErrorRule, RateLimited
    from channels.sandbox.core import Emulator
    from channels.sandbox.registry import emulator_classes

    cls = channel_class(kind)
    # Its module, and its emulator, registered and speaking for the same kind.
    assert (ROOT / "channels" / f"{kind}.py").is_file() and (ROOT / "channels" / "sandbox" / f"{kind}.py").is_file()
    emulators = {e.platform: e for e in emulator_classes()}
    assert kind in emulators and issubclass(emulators[kind], Emulator)
    # Its form: a label and help per field in both languages, labels told apart.
    for language in ("fr", "en"):
        labels = [field.label(language) for field in cls.credential_fields]
        assert all(label.strip() for label in labels) and len(set(labels)) == len(labels), labels
    for option in cls.account_options:
        fr, en = cls.account_option_help.get(option, ("", ""))
        assert fr.strip() and en.strip(), f"{kind}.{option}: words for the command line's help"
    # Its errors: one table, with its throttling and its refused credentials, and a last word
    # for anything else (whatever fails, on a write or a read, a rule of its own says what it is).
    table = cls.error_table
    assert table and all(isinstance(rule, ErrorRule) for rule in table), "an error_table of ErrorRule"
    outcomes = {rule.error if isinstance(rule.error, type) else rule.error[0] for rule in table}
    assert RateLimited in outcomes and AuthError in outcomes, "throttling and refused credentials are mapped"
    for rule in table:
        assert rule.en.strip() and (rule.fr.strip() or rule.error is RateLimited), f"{kind}: a message in both languages"
    odd = RuntimeError("unforeseen")
    for write in (True, False):
        assert any(rule.matches(odd, cls.error_facts(odd), write=write) for rule in table), \
            f"{kind}: the table ends with a rule for anything else (write={write})"
    # Its library, a dependency of the project.
    assert cls.client_distribution, "the client library, as pyproject.toml names it"
    assert re.sub(r"[-_.]+", "-", cls.client_distribution).lower() in _dependencies(), \
        f"{cls.client_distribution} is not a dependency in pyproject.toml"
    # Its row in the README's table of kinds.
    assert f"| `{kind}` |" in (ROOT / "README.md").read_text(encoding="utf-8"), "README.md: a row in the kinds table"
