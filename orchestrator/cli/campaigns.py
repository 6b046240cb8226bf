"""``porte-voix content validate | load | dump``: campaign editions as folders.

``dump`` writes an edition as it is in the database back in the folder format that ``load``
reads, so edits made in the dashboard can go to version control."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import campaign_folders, content_root, fail, run_service
from orchestrator.services.auth import command_line_operator

content_app = typer.Typer(help="Contenu de campagne (dossiers YAML).", no_args_is_help=True)


@content_app.command("validate")
def content_validate(path: Annotated[Path | None, typer.Argument(help="Dossier d'une édition, ou des éditions")] = None) -> None:
    """Vérifie un dossier de campagne : chaque problème avec son fichier et son champ."""
    from content.loader import validate_campaign

    root = path or content_root()
    folders = campaign_folders(root)
    if not folders:
        fail(f"aucun campaign.yaml dans {root}")
    bad = 0
    for folder in folders:
        problems = validate_campaign(folder)
        if problems:
            bad += len(problems)
            typer.echo(f"{folder} : {len(problems)} problème(s)")
            for p in problems:
                typer.echo(f"  {p}")
        else:
            typer.echo(f"{folder} : valide")
    if bad:
        raise typer.Exit(1)


@content_app.command("load")
def content_load(path: Path) -> None:
    """Charge (ou met à jour) une édition depuis son dossier."""
    from content.loader import ContentInvalid, load_campaign
    from orchestrator.services.campaigns import load_content

    try:
        loaded = load_campaign(path)
    except ContentInvalid as exc:
        fail(f"contenu invalide, rien n'a été chargé :\n{exc}")
    campaign = run_service(lambda s: load_content(s, actor=command_line_operator(), content=loaded))
    typer.echo(f"Campagne {campaign.slug} chargée ({len(loaded.cases)} cas).")



@content_app.command("dump")
def content_dump(
    campaign: Annotated[str, typer.Argument(help="Identifiant de l'édition (ex. : ecrire-2025)")],
    path: Annotated[Path, typer.Argument(help="Dossier à écrire")],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Remplacer une édition déjà écrite dans ce dossier.")] = False,
) -> None:
    """Écrit une édition de la base de données dans un dossier (même format que « content load »)."""
    from sqlmodel import select

    from content.loader import dump_campaign
    from orchestrator.models import Campaign
    from orchestrator.services.auth import NotFound
    from orchestrator.services.campaign_admin import export_content

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
