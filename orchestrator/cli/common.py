"""What every command module of ``porte-voix`` shares: the error exit, the database engine, one
service call in one transaction, and where the campaign content is.

The command modules import this one; it imports none of them, nor the package root."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer

from orchestrator import db, logs
from orchestrator.secrets import SecretKeyError
from orchestrator.services.auth import ServiceError
from orchestrator.settings import get_settings


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"Erreur : {message}", err=True)
    raise typer.Exit(code)


def setup_logging() -> None:
    s = get_settings()
    logs.setup(s.log_level, s.log_format)


def engine() -> sa.Engine:
    eng = db.get_engine()
    if not sa.inspect(eng).has_table("alembic_version"):
        fail("la base de données n'est pas initialisée : lancez « porte-voix init ». "
             "(The database is not initialised: run `porte-voix init`.)")
    return eng


def bundled_campaigns() -> Path:
    return Path(str(resources.files("content") / "campaigns"))


def content_root() -> Path:
    return get_settings().content_dir or bundled_campaigns()


def campaign_folders(root: Path) -> list[Path]:
    """An edition folder itself, or every edition folder below ``root``."""
    if (root / "campaign.yaml").exists():
        return [root]
    if (root / "campaigns").is_dir():
        root = root / "campaigns"
    return sorted(p for p in root.iterdir() if (p / "campaign.yaml").exists()) if root.is_dir() else []


def load_campaigns(root: Path) -> list[Any]:
    """Every edition below ``root``; one invalid edition stops all (nothing half-loaded)."""
    from content.loader import ContentInvalid, load_campaign

    campaigns, problems = [], []
    folders = campaign_folders(root)
    if not folders:
        fail(f"aucune édition (campaign.yaml) dans {root}")
    for folder in folders:
        try:
            campaigns.append(load_campaign(folder))
        except ContentInvalid as exc:
            problems.append(f"{folder.name} :\n{exc}")
    if problems:
        fail("contenu invalide, rien n'a été chargé :\n" + "\n".join(problems))
    return campaigns


def run_service(fn: Any) -> Any:
    """Call a service function in one transaction; refusals become a clear message, not a trace."""
    try:
        with db.session_scope(engine()) as session:
            return fn(session)
    except ServiceError as exc:
        fail(str(exc))
    except SecretKeyError as exc:  # wrong or missing key: a clear message, not a trace
        fail(key_message(exc))


def print_or_write(text: str, output: Path | None, *, written: str) -> None:
    """A file's text on standard output, or written to ``output`` (line ends kept as they are)
    with ``written`` and the path said."""
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8", newline="")
    typer.echo(f"{written} : {output}")


def key_message(exc: SecretKeyError) -> str:
    """A missing key is explained according to what the database holds (restore it, or ``init``)."""
    if exc.missing:
        from orchestrator.services.keys import missing_key_message

        return missing_key_message(db.get_engine())
    return str(exc)
