"""``porte-voix content dump CAMPAIGN PATH``: an edition as it is in the database, written back in
the folder format that ``porte-voix content load PATH`` reads, so edits made in the dashboard
can go to version control. Importing this module adds the command to ``content_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli import content_app


@content_app.command("dump")
def content_dump(
    campaign: Annotated[str, typer.Argument(help="Identifiant de l'édition (ex. : ecrire-2025)")],
    path: Annotated[Path, typer.Argument(help="Dossier à écrire")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Remplacer une édition déjà écrite dans ce dossier.")] = False,
) -> None:
    """Écrit une édition de la base de données dans un dossier (même format que « content load »)."""
    from sqlmodel import select

    from content.loader import dump_campaign
    from orchestrator.cli import fail, run_service
    from orchestrator.models import Campaign
    from orchestrator.services.auth import NotFound
    from orchestrator.services.editions import export_content

    def read(session):  # type: ignore[no-untyped-def]
        found = session.exec(select(Campaign).where(Campaign.slug == campaign)).first()
        if found is None:
            known = ", ".join(session.exec(select(Campaign.slug).order_by(Campaign.slug))) or "aucune"
            raise NotFound(f"Édition inconnue « {campaign} » (connues : {known}).")
        return export_content(session, campaign_id=found.id)

    content = run_service(read)
    try:
        folder = dump_campaign(content, path, overwrite=overwrite)
    except FileExistsError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"écriture impossible dans {path} : {exc}")
    typer.echo(f"Édition {campaign} écrite dans {folder} ({len(content.cases)} cas).")
