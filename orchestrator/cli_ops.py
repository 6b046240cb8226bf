"""Operations at the command line: ``secrets rotate``, ``backup``, ``restore``, ``metrics rebuild``.

Secrets are never printed: a new key goes to a file the operator names, created 0600.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orchestrator.services.auth import ServiceError

secrets_app = typer.Typer(help="Clé de chiffrement des identifiants des comptes.", no_args_is_help=True)


def _fail(exc: ServiceError) -> None:
    typer.echo(f"Erreur : {exc.fr}\n(Error: {exc.en})", err=True)
    raise typer.Exit(1)


@secrets_app.command("rotate")
def secrets_rotate(
    new_key_file: Annotated[Path | None, typer.Option(
        "--new-key-file", help="Où écrire la nouvelle clé (0600) quand elle vient de PORTEVOIX_SECRET_KEY.")] = None,
    stage_only: Annotated[bool, typer.Option(
        "--stage-only", help="Seulement ajouter la nouvelle clé devant l'ancienne (plusieurs machines).")] = False,
    grace: Annotated[float, typer.Option(help="Secondes d'attente entre l'ajout de la clé et le rechiffrement.")] = 2.0,
) -> None:
    """Rechiffre tous les identifiants sous une nouvelle clé, sans arrêter le travailleur."""
    from orchestrator import secrets
    from orchestrator.cli import _setup_logging, engine
    from orchestrator.services.auth import command_line_operator
    from orchestrator.services.keys import rotate

    _setup_logging()
    try:
        reports = rotate(engine(), actor=command_line_operator(), new_key_file=new_key_file, stage_only=stage_only,
                         grace_seconds=grace)
    except (ServiceError, secrets.SecretKeyError) as exc:
        _fail(exc if isinstance(exc, ServiceError) else ServiceError(str(exc)))
        return
    for report in reports:
        if report.step == "staged":
            typer.echo(f"Étape 1 : nouvelle clé ajoutée devant l'ancienne dans {report.key_written_to}.")
        else:
            typer.echo(f"Étapes 2 et 3 : {report.rotated} identifiant(s) rechiffré(s) ; "
                       f"l'ancienne clé est retirée de {report.key_written_to}.")
        if report.next_action_fr:
            typer.echo(f"À faire : {report.next_action_fr}")


def backup_command(
    path: Annotated[Path, typer.Argument(help="Fichier de sauvegarde à créer")],
    include_key: Annotated[bool, typer.Option(
        "--include-key", help="Écrire aussi la clé de chiffrement à côté (PATH.key, 0600). Dangereux.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Remplacer une sauvegarde existante.")] = False,
) -> None:
    """Sauvegarde la base SQLite pendant que tout tourne (API de sauvegarde de SQLite)."""
    from orchestrator import secrets
    from orchestrator.services.backup import backup

    try:
        report = backup(path, include_key=include_key, overwrite=force)
    except (ServiceError, secrets.SecretKeyError) as exc:
        _fail(exc if isinstance(exc, ServiceError) else ServiceError(str(exc)))
        return
    typer.echo(f"Sauvegarde : {report.path} ({report.size} octets). La clé de chiffrement n'y est pas.")
    if report.key_path:
        typer.echo(
            f"ATTENTION : la clé de chiffrement est dans {report.key_path}. Avec elle, la sauvegarde donne accès "
            "aux comptes des plateformes : rangez-les séparément, jamais ensemble sur un disque partagé.\n"
            f"WARNING: the encryption key is in {report.key_path}. With it, the backup gives access to the "
            "platform accounts: store them apart, never together on a shared drive.", err=True)
    else:
        typer.echo("Pour restaurer, il faudra la clé actuelle (PORTEVOIX_SECRET_KEY ou le fichier de clé).")


def restore_command(
    path: Annotated[Path, typer.Argument(help="Fichier de sauvegarde")],
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="La clé sauvegardée avec la base (PATH.key), si ce n'est pas la clé actuelle.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Remplacer la base existante (arrêtez d'abord le travailleur).")] = False,
    accept_unreadable: Annotated[bool, typer.Option(
        "--accept-unreadable-credentials", help="Restaurer même si la clé ne déchiffre pas les identifiants.")] = False,
) -> None:
    """Restaure une sauvegarde dans la base SQLite configurée, après avoir vérifié la clé."""
    from orchestrator.services.backup import restore

    try:
        report = restore(path, key_file=key_file, overwrite=force, accept_unreadable=accept_unreadable)
    except ServiceError as exc:
        _fail(exc)
        return
    typer.echo(f"Base restaurée : {report.path}. Identifiants : {report.credentials}, "
               f"illisibles avec la clé : {report.unreadable}.")
    if report.unreadable:
        typer.echo("ATTENTION : ressaisissez les identifiants des comptes (porte-voix account set-credentials NOM). "
                   "(WARNING: enter the accounts' credentials again: `porte-voix account set-credentials NAME`.)",
                   err=True)
    if report.key_installed:
        typer.echo(f"Clé de la sauvegarde installée dans {report.key_installed}.")
    elif key_file:
        typer.echo(f"Si la clé vient de PORTEVOIX_SECRET_KEY, mettez-y le contenu de {key_file}.")
    typer.echo("Ensuite : porte-voix init (met le schéma à jour si la sauvegarde est plus ancienne).")


metrics_app = typer.Typer(help="Chiffres d'engagement.", no_args_is_help=True)


@metrics_app.command("rebuild")
def metrics_rebuild() -> None:
    """Recalcule la courbe d'engagement par heure du tableau de bord à partir des chiffres de chaque
    publication (après une correction faite à la main dans la base ou une restauration)."""
    from sqlmodel import func, select

    from orchestrator import db
    from orchestrator.models import EngagementHour
    from orchestrator.services import metrics_rollup

    engine = db.get_engine()
    with db.session_scope(engine) as session:
        metrics_rollup.rebuild(session)
        hours = session.exec(select(func.count()).select_from(EngagementHour)).one()
    typer.echo(f"Courbe d'engagement recalculée : {hours} ligne(s) par heure, campagne et compte. "
               f"(Engagement rollup rebuilt: {hours} row(s).)")


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets")
    app.add_typer(metrics_app, name="metrics")
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
