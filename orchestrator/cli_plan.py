"""``porte-voix schedule --file PLAN.csv`` (bulk scheduling) and ``porte-voix export deliveries``.

The ``export`` sub-app lives in :mod:`orchestrator.cli_plans`; importing this module adds the
``deliveries`` command to it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli_plans import export_app

#: Rows shown before "… and N more" when a plan fails; every problem is still counted.
SHOWN_PROBLEMS = 200


def schedule_file(file: Path, *, approve: bool, dry_run: bool, language: str = "fr") -> None:
    """Check a plan file and, unless ``dry_run`` or a row fails, apply it in one transaction."""
    from orchestrator.cli import fail, run_service
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
    from orchestrator.cli import fail, run_service
    from orchestrator.services.campaigns import current_campaign
    from orchestrator.services.plan_io import export_deliveries as export

    if fmt not in ("csv", "json"):
        fail(f"format inconnu « {fmt} » : csv ou json.")
    text = run_service(lambda s: export(s, campaign=current_campaign(s), fmt=fmt))
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        typer.echo(f"Export écrit : {output}")
