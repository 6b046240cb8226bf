"""``porte-voix plan apply FILE`` (recurring plans in YAML), ``porte-voix export …``, and the plan
file behind ``porte-voix schedule --file PLAN.csv``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import fail, print_or_write, run_service

plan_app = typer.Typer(help="Plans récurrents (séries de publications).", no_args_is_help=True)
export_app = typer.Typer(help="Exports : calendrier (ICS), envois et statistiques (CSV).", no_args_is_help=True)


@plan_app.command("apply")
def plan_apply(
    file: Annotated[Path, typer.Argument(help="Fichier YAML : un plan, ou « plans: » et une liste")],
    approve: Annotated[bool, typer.Option("--approve", help="Approuver aussitôt (opératrice ou opérateur de confiance).")] = False,
    publish_now: Annotated[bool, typer.Option("--publish-now", help="Les dates déjà passées partent maintenant "
                                              "(sans cette option, un plan qui en a est refusé).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Montrer ce qui serait créé, sans rien créer.")] = False,
) -> None:
    """Crée les publications et envois d'un plan ; l'appliquer deux fois ne crée rien de plus.

    Exemple de fichier ::

        name: midi-decembre
        start: 2025-12-01
        end: 2025-12-10
        time: "12:00"
        accounts: [x-fr, mastodon-fr]
        template: lettre-fr
        cases: []          # vide : tous les cas actifs, à tour de rôle
    """
    import yaml

    from orchestrator.services import series
    from orchestrator.services.auth import command_line_operator

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        fail(f"plan illisible : {exc}")
    items = data.get("plans", [data]) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        fail("le fichier doit contenir un plan, ou « plans: » suivi d'une liste de plans.")
    for item in items:
        plan = run_service(lambda s, i=item: series.SeriesPlan.from_dict(i))
        if dry_run:
            occurrences = run_service(lambda s, p=plan: series.expand(s, plan=p))
            for o in occurrences:
                state = "déjà là" if len(o.existing) == len(o.accounts) else "à créer"
                typer.echo(f"{o.at.isoformat()}  {o.case_slug:<28} {state}")
            continue
        result = run_service(lambda s, p=plan: series.apply(s, actor=command_line_operator(), plan=p, approve=approve,
                                                            publish_now=publish_now))
        typer.echo(f"{plan.name} : {result['posts']} publication(s), {result['deliveries']} envoi(s), "
                   f"{result['skipped']} déjà là.")


@export_app.command("ics")
def export_ics(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier ; sinon la sortie standard")] = None,
    language: Annotated[str, typer.Option(help="fr ou en")] = "fr",
) -> None:
    """Le calendrier des envois de la campagne courante (iCalendar)."""
    from orchestrator.services.campaigns import current_campaign
    from orchestrator.services.exports import schedule_ics

    text = run_service(lambda s: schedule_ics(s, campaign=current_campaign(s), language=language))
    print_or_write(text, output, written="Calendrier écrit")


#: Rows shown before "… and N more" when a plan fails; every problem is still counted.
SHOWN_PROBLEMS = 200


def schedule_file(file: Path, *, approve: bool, dry_run: bool, language: str = "fr") -> None:
    """Check a plan file and, unless ``dry_run`` or a row fails, apply it in one transaction."""
    from orchestrator.services.auth import command_line_operator
    from orchestrator.services.plan_import import import_plan

    en = language == "en"
    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        fail(f"cannot read the plan: {exc}" if en else f"plan illisible : {exc}")
    result = run_service(lambda s: import_plan(s, actor=command_line_operator(), data=data, base_dir=file.resolve().parent,
                                               approve=approve, dry_run=dry_run))
    if not result.ok:
        head = (f"{len(result.problems)} problem(s); nothing was saved:" if en
                else f"{len(result.problems)} problème(s) ; rien n'a été enregistré :")
        typer.echo(head, err=True)
        for problem in result.problems[:SHOWN_PROBLEMS]:
            typer.echo(f"  {problem.text(language)}", err=True)
        if len(result.problems) > SHOWN_PROBLEMS:
            more = len(result.problems) - SHOWN_PROBLEMS
            typer.echo(f"  … and {more} more" if en else f"  … et {more} de plus", err=True)
        raise typer.Exit(1)
    typer.echo(result.summary(language))


@export_app.command("deliveries")
def export_deliveries(
    fmt: Annotated[str, typer.Option("--format", help="csv ou json")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier ; sinon la sortie standard")] = None,
) -> None:
    """Chaque envoi (état, heures, compte, cas, texte, lien, identifiant et adresse sur la
    plateforme, derniers chiffres) dans la mise en page que « schedule --file » relit.
    Les heures portent le décalage du fuseau de la campagne."""
    from orchestrator.services.campaigns import current_campaign
    from orchestrator.services.plan_io import export_deliveries as export

    if fmt not in ("csv", "json"):
        fail(f"format inconnu « {fmt} » : csv ou json.")
    text = run_service(lambda s: export(s, campaign=current_campaign(s), fmt=fmt))
    print_or_write(text, output, written="Export écrit")
