"""Stopping everything at the command line: ``suspend`` and ``resume`` (admin, audited as the
shell's operator). ``status`` lists the suspensions in force."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import fail, run_service
from orchestrator.services.auth import command_line_operator

#: Commands at the top level (``porte-voix suspend`` …): the package adds them to the root app.
commands = typer.Typer()

CHOICES_HELP = "Que faire de ce qui est en retard : publish (publier maintenant), reschedule (étaler à partir de " \
               "maintenant) ou cancel (annuler)"


@commands.command()
def suspend(
    reason: Annotated[str, typer.Option("--reason", help="Pourquoi (affiché sur chaque page du tableau de bord)")],
    campaign: Annotated[str | None, typer.Option("--campaign", help="Une seule édition (son identifiant)")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Un seul compte (son nom)")] = None,
) -> None:
    """Suspend toute publication (ou celle d'une édition, ou d'un compte) : rien n'est envoyé
    avant la levée."""
    from orchestrator.services import suspensions

    number = run_service(lambda s: suspensions.suspend(s, actor=command_line_operator(), reason=reason,
                                                       campaign=campaign, account=account).id)
    scope = f"l'édition {campaign}" if campaign else f"le compte {account}" if account else "toute l'organisation"
    typer.echo(f"Suspension {number} en vigueur pour {scope} : rien n'est publié avant sa levée.")


@commands.command()
def resume(
    campaign: Annotated[str | None, typer.Option("--campaign", help="La suspension de cette édition")] = None,
    account: Annotated[str | None, typer.Option("--account", help="La suspension de ce compte")] = None,
    overdue: Annotated[str | None, typer.Option("--overdue", help=CHOICES_HELP)] = None,
    spacing: Annotated[int, typer.Option("--spacing", min=0, help="Avec reschedule : minutes entre deux envois d'un compte")] = 10,
) -> None:
    """Lève une suspension. Ce qui est devenu en retard pendant la suspension est listé ; dites
    quoi en faire avec --overdue."""
    from orchestrator.services import deliveries, suspensions

    if overdue is not None and overdue not in deliveries.OVERDUE_CHOICES:
        fail(f"--overdue : {', '.join(deliveries.OVERDUE_CHOICES)}.")

    def lift(session):  # type: ignore[no-untyped-def]
        found = suspensions.find(session, campaign=campaign, account=account)
        late = suspensions.overdue(session, suspension_id=found.id)
        if late and overdue is None:
            return found.id, late_lines(late), None, {}
        _, count = suspensions.lift(session, actor=command_line_operator(), suspension_id=found.id,
                                    choice=overdue or "publish", spacing_minutes=spacing)
        held = suspensions.still_covered(session, [d.id for d in late]) if overdue != "cancel" else {}
        return found.id, [], count, held

    def late_lines(late):  # type: ignore[no-untyped-def]
        return [f"  envoi {d.id} prévu {d.scheduled_at:%Y-%m-%d %H:%M} UTC" for d in late]

    number, lines, count, held = run_service(lift)
    if count is None:
        typer.echo(f"En retard depuis la suspension {number} ({len(lines)}) :")
        for line in lines:
            typer.echo(line)
        fail("dites quoi en faire : --overdue publish, reschedule ou cancel. Rien n'a été levé.", code=2)
    done = {"publish": "remis à publier maintenant", "reschedule": "étalés à partir de maintenant",
            "cancel": "annulés"}[overdue or "publish"]
    typer.echo(f"Suspension {number} levée." + (f" Envois en retard {done} : {count}." if count else
                                                  " Rien n'était en retard."))
    if held:  # lifting this one does not send what another suspension still covers
        others = ", ".join(str(n) for n in sorted(set(held.values())))
        typer.echo(f"Attention : {len(held)} de ces envois restent retenus, la suspension {others} les couvre "
                   "encore. Levez-la aussi pour qu'ils partent.")
