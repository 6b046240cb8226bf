"""Retracting what is published, at the command line: ``retract`` asks (one delivery, a post's or
a case's published deliveries, with a reason and an optional cut-off) and, with ``--wait``, runs
the deletions here through the worker's own retractor (the same jobs, leases and budgets as a
running worker, which may share them) and prints what was removed and what could not be, with
the address to remove it by hand. ``confirm-retraction`` is the second person, where the edition
asks for four eyes. French by default, English with ``--lang en``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from orchestrator.cli.common import engine, fail, run_service, setup_logging
from orchestrator.cli.posts import staff_member
from orchestrator.services.auth import command_line_operator

#: Commands at the top level (``porte-voix retract`` …): the package adds them to the root app.
commands = typer.Typer()

#: Longest ``--wait`` by default: deletions beyond an account's budget are left to the worker.
WAIT_SECONDS = 300


def _lang(lang: str) -> bool:
    if lang not in ("fr", "en"):
        fail("--lang : fr ou en")
    return lang == "en"


@commands.command()
def retract(
    reason: Annotated[str, typer.Option("--reason", help="Pourquoi (gardé dans l'historique du cas et le journal)")],
    delivery: Annotated[int | None, typer.Option("--delivery", help="Un envoi publié (son numéro)")] = None,
    post: Annotated[int | None, typer.Option("--post", help="Tous les envois publiés d'une publication")] = None,
    case: Annotated[str | None, typer.Option("--case", help="Tous les envois publiés d'un cas (son identifiant)")] = None,
    before: Annotated[str | None, typer.Option("--before", help="Seulement ce qui a été publié avant (ISO 8601 avec décalage)")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Supprimer maintenant et attendre le résultat")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Avec --wait : attente maximale, en secondes")] = WAIT_SECONDS,
    by: Annotated[str | None, typer.Option("--by", help=(
        "La personne qui demande le retrait (rôle approbation ou administration ; les quatre yeux de l'édition "
        "s'appliquent). Sans --by, c'est vous (cli:NOM), en confiance : docs/security.md"))] = None,
    lang: Annotated[str, typer.Option("--lang", help="Langue des messages : fr ou en")] = "fr",
) -> None:
    """Retire des plateformes ce qui a été publié : un envoi, une publication ou un cas."""
    from orchestrator.services import retractions
    from orchestrator.timeutil import parse_when

    en = _lang(lang)
    if sum(x is not None for x in (delivery, post, case)) != 1:
        fail("give exactly one of --delivery, --post, --case." if en else
             "donnez un seul de --delivery, --post, --case.", code=2)
    try:
        cut = parse_when(before) if before else None
    except ValueError as exc:
        fail(str(exc), code=2)

    def ask(session: Any) -> int:
        actor = staff_member(session, by, "approver") if by else command_line_operator()
        found = retractions.request(session, actor=actor, reason=reason, delivery_id=delivery, post_id=post,
                                    case=case, before=cut)
        assert found.id is not None
        return found.id

    number = run_service(ask)
    _finish(number, wait=wait, timeout=timeout, en=en)


@commands.command("confirm-retraction")
def confirm_retraction(
    number: Annotated[int, typer.Argument(help="Numéro du retrait")],
    by: Annotated[str, typer.Option("--by", help="La deuxième personne (approbation ou administration)")],
    wait: Annotated[bool, typer.Option("--wait", help="Supprimer maintenant et attendre le résultat")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Avec --wait : attente maximale, en secondes")] = WAIT_SECONDS,
    lang: Annotated[str, typer.Option("--lang", help="Langue des messages : fr ou en")] = "fr",
) -> None:
    """Confirme un retrait demandé par quelqu'un d'autre (quatre yeux) : les suppressions commencent."""
    from orchestrator.services import retractions

    en = _lang(lang)
    run_service(lambda s: retractions.confirm(s, actor=staff_member(s, by, "approver"), retraction_id=number))
    _finish(number, wait=wait, timeout=timeout, en=en)


def _finish(number: int, *, wait: bool, timeout: float, en: bool) -> None:
    from orchestrator.services import retractions

    def read(session: Any) -> retractions.Progress:
        return retractions.progress(session, retraction_id=number)

    report = run_service(read)
    if wait and report.retraction.status == retractions.CONFIRMED and report.pending:
        report = _run_here(number, timeout, read)
    _print(report, en=en)
    if report.failed:
        raise typer.Exit(1)


def _run_here(number: int, timeout: float, read: Any) -> Any:
    """The deletions run in this process by the worker's retractor, until none is pending or
    ``timeout`` (what waits for a budget's next token is left to the worker)."""
    import os
    import socket
    import uuid

    from orchestrator.settings import get_settings
    from orchestrator.worker.channels import Channels
    from orchestrator.worker.retractor import Retractor

    setup_logging()
    eng, settings = engine(), get_settings()
    retractor = Retractor(eng, settings, f"cli-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
                          channels=Channels(eng, settings))
    deadline = time.monotonic() + timeout
    report = run_service(read)
    while report.pending and time.monotonic() < deadline:
        retractor.run_due(max_rounds=100)
        report = run_service(read)
        if report.pending:
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    return report


def _print(report: Any, *, en: bool) -> None:
    from orchestrator.services import retractions

    r = report.retraction
    scope = {"delivery": ("envoi", "delivery"), "post": ("publication", "post"), "case": ("cas", "case")}[r.scope]
    typer.echo(f"Retraction {r.id} ({scope[1]} {r.target}): {report.total} published post(s) covered." if en else
               f"Retrait {r.id} ({scope[0]} {r.target}) : {report.total} publication(s) visée(s).")
    if r.status == retractions.AWAITING:
        typer.echo(("Waiting for a second person to confirm (four eyes): "
                    f"porte-voix confirm-retraction {r.id} --by NAME") if en else
                   ("En attente de la confirmation d'une deuxième personne (quatre yeux) : "
                    f"porte-voix confirm-retraction {r.id} --by NOM"))
    if r.status == retractions.DECLINED:
        typer.echo("Declined: nothing was removed." if en else "Refusé : rien n'a été retiré.")
    if report.removed:
        typer.echo(f"Removed ({len(report.removed)}):" if en else f"Retirées ({len(report.removed)}) :")
        for item in report.removed:
            hand = (" (by hand)" if en else " (à la main)") if item.by_hand else ""
            typer.echo(f"  {'delivery' if en else 'envoi'} {item.delivery_id}  {item.account} ({item.platform}){hand}")
    if report.failed:
        typer.echo(f"Could not be removed ({len(report.failed)}), remove by hand:" if en else
                   f"Non retirées ({len(report.failed)}), à retirer à la main :")
        for bad in report.failed:
            typer.echo(f"  {'delivery' if en else 'envoi'} {bad.delivery_id}  {bad.account} ({bad.platform}): "
                       f"{bad.error}" + (f"  {bad.url}" if bad.url else ""))
    if report.pending and r.status == retractions.CONFIRMED:
        typer.echo(f"Still pending ({report.pending}): the worker goes on within each platform's deletion limits."
                   if en else f"En cours ({report.pending}) : le travailleur continue, dans les limites de "
                              "suppression de chaque plateforme.")
    if report.others_seen:
        typer.echo(f"Reposts and quotes by others seen: {report.others_seen} (cannot be removed)." if en else
                   f"Partages et citations par d'autres vus : {report.others_seen} (impossibles à retirer).")
    if report.total == 0:
        typer.echo("Nothing published is left to retract there." if en else
                   "Il ne reste là rien de publié à retirer.")
