"""The command line's account options are read from the channels' declarations: a platform's
public fields and account options are options, its secrets are refused as options."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from channels.registry import KINDS, channel_class
from orchestrator.cli import app


def _options(command: str) -> dict[str, object]:
    group = typer.main.get_command(app)
    cmd = group.commands["account"].commands[command]  # type: ignore[attr-defined]
    ctx = cmd.make_context(command, ["--help"], resilient_parsing=True)
    return {opt: param for param in cmd.get_params(ctx) for opt in param.opts}


@pytest.mark.parametrize("command", ["add", "set-credentials"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_declared_field_is_an_option_or_refused(command: str, kind: str) -> None:
    options = _options(command)
    cls = channel_class(kind)
    for field in cls.credential_fields:
        param = options["--" + field.name.replace("_", "-")]
        assert getattr(param, "hidden") is field.secret, field.name  # noqa: B009
    if command == "add":
        for option in cls.account_options:
            assert not getattr(options["--" + option.replace("_", "-")], "hidden")  # noqa: B009


def test_the_help_lists_every_kinds_fields_and_no_secret_option() -> None:
    result = CliRunner().invoke(app, ["account", "add", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    for kind in KINDS:
        cls = channel_class(kind)
        assert f"{kind} : " in result.output
        for name in cls.secret_fields():
            assert name in result.output and "--" + name.replace("_", "-") not in result.output
        for name in cls.public_fields():
            assert "--" + name.replace("_", "-") in result.output


def test_a_secret_given_as_an_option_is_refused_before_anything_else() -> None:
    kind = KINDS[0]
    secret = channel_class(kind).secret_fields()[0]
    result = CliRunner().invoke(app, ["account", "add", kind, "n", "--" + secret.replace("_", "-"), "visible"])
    assert result.exit_code == 1
    assert f"PORTEVOIX_{kind.upper()}_{secret.upper()}" in result.output and "visible" not in result.output


def test_a_field_named_like_an_option_of_the_command_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A platform declaring a public field "language" would take --language from the command:
    the options are not built, and the tests say why."""
    from channels import registry
    from channels.base import CredentialField

    cls = channel_class(KINDS[0])
    field = CredentialField("language", "langue", "language", secret=False, prompt="Language",
                            help_fr="La langue.", help_en="The language.")
    monkeypatch.setattr(cls, "credential_fields", (*cls.credential_fields, field))
    registry.credential_fields.cache_clear()
    registry.public_credential_names.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="--language"):
            _options("add")
    finally:
        monkeypatch.undo()
        registry.credential_fields.cache_clear()
        registry.public_credential_names.cache_clear()
