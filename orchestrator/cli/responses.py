"""``porte-voix responses …`` (imports, tallies, pace) and ``porte-voix links serve``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import engine, fail, run_service
from orchestrator.services.auth import command_line_operator

responses_app = typer.Typer(help="Réponses (lettres, signatures, messages…) : importer, saisir, suivre.",
                            no_args_is_help=True)
links_app = typer.Typer(help="Liens courts qui comptent les clics (sans IP ni navigateur).", no_args_is_help=True)
api_app = typer.Typer(help="API JSON pour d'autres outils (lecture, comptes de réponses).", no_args_is_help=True)


@responses_app.command("import")
def responses_import(
    file: Annotated[Path, typer.Argument(help="Fichier CSV (UTF-8 ou Windows-1252, « ; » ou « , »)", exists=True,
                                         dir_okay=False, readable=True)],
    mapping: Annotated[Path | None, typer.Option("--mapping", help="Correspondance des colonnes (YAML ou JSON)",
                                                 exists=True, dir_okay=False)] = None,
    skip_bad_lines: Annotated[bool, typer.Option("--skip-bad-lines", help="Importer les bonnes lignes malgré des erreurs.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Tout vérifier, ne rien enregistrer.")] = False,
) -> None:
    """Importe des réponses (comptes par cas, type, jour et source) ; les colonnes de données
    personnelles sont supprimées sans être lues. Un même fichier n'est jamais compté deux fois."""
    from orchestrator.services.responses_csv import load_mapping
    from orchestrator.services.responses_import import import_responses

    column_mapping = load_mapping(mapping.read_text(encoding="utf-8"), name=mapping.name) if mapping else None
    with file.open("rb") as data:
        report = run_service(lambda s: import_responses(
            s, actor=command_line_operator(), data=data, filename=file.name, mapping=column_mapping, skip_bad_lines=skip_bad_lines, dry_run=dry_run))
    for line in report.summary("fr"):
        typer.echo(line)
    if report.blocked:
        raise typer.Exit(1)


@responses_app.command("tally")
def responses_tally(
    case: Annotated[str, typer.Argument(help="Cas (slug), ex. : juan-lopez")],
    kind: Annotated[str, typer.Argument(help="letter, solidarity, signature, email, postcard, social_action, other")],
    count: Annotated[int, typer.Argument(help="Combien")],
    day: Annotated[str | None, typer.Option(help="Jour (AAAA-MM-JJ) ; par défaut, aujourd'hui")] = None,
    event: Annotated[str | None, typer.Option(help="Événement (date clé), ex. : marathon-montreal")] = None,
    by: Annotated[str, typer.Option(help="Qui saisit ce décompte")] = "system",
) -> None:
    """Saisit un décompte hors ligne (ex. : cartes écrites au marathon)."""
    from orchestrator.services.auth import Actor
    from orchestrator.services.responses import record_tally

    try:
        when = dt.date.fromisoformat(day) if day else dt.date.today()
    except ValueError:
        fail(f"date invalide « {day} » (AAAA-MM-JJ)")
    row = run_service(lambda s: record_tally(s, actor=Actor(by, "admin"), case_slug=case, kind=kind,
                                             count=count, day=when, event=event))
    typer.echo(f"Décompte n° {row.id} enregistré : {count} × {kind} pour {case}.")


@responses_app.command("pace")
def responses_pace(
    as_json: Annotated[bool, typer.Option("--json", help="Pour les scripts : total, objectif, actions par type et "
                                                           "clics de chaque cas, en JSON.")] = False,
) -> None:
    """Total, objectif, projection au 10 décembre et à la fin de la campagne, et cas en retard."""
    from orchestrator.services.campaigns import current_campaign
    from orchestrator.services.public_voice import pace_figures
    from orchestrator.services.responses import pace

    if as_json:
        import json

        figures = run_service(lambda s: pace_figures(s, campaign=current_campaign(s)))
        typer.echo(json.dumps(figures, ensure_ascii=False))
        return
    overall, cases = run_service(lambda s: pace(s))
    for item in [overall, *cases]:
        percent = f"{item.progress:.0%}" if item.progress is not None else "—"
        flag = "  EN RETARD" if item.behind else ""
        rights = (f"  au {item.rights_day:%d/%m} {item.projected_rights_day}"
                  if item.rights_day is not None and item.projected_rights_day is not None else "")
        typer.echo(f"{item.slug:<32} {item.total:>9} / {item.goal:<9} {percent:>5}  projection{rights}"
                   f"  à la fin {item.projected}{flag}")


@links_app.command("serve")
def links_serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8780,
    flush_seconds: Annotated[float, typer.Option(help="Écriture des clics toutes les N secondes")] = 1.0,
) -> None:
    """Sert /<code> : compte le clic et redirige vers le lien de la publication."""
    import uvicorn

    from orchestrator.links import create_app

    app = create_app(engine(), flush_seconds=flush_seconds)
    typer.echo(f"Liens courts sur http://{host}:{port}/<code> (aucune IP ni navigateur n'est enregistré).")
    # access_log=False: uvicorn's access log would write every visitor's IP address.
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", server_header=False,
                proxy_headers=False)


@links_app.command("media-url")
def links_media_url(
    media_id: Annotated[int, typer.Argument(help="Numéro de l'image dans la médiathèque")],
    base_url: Annotated[str | None, typer.Option("--base-url", help="Adresse publique (défaut : PORTEVOIX_MEDIA_BASE_URL)")] = None,
    minutes: Annotated[int, typer.Option(min=1, max=1440, help="Durée de validité en minutes")] = 10,
) -> None:
    """Affiche une adresse signée et temporaire d'une image de la médiathèque, celle qu'Instagram et
    Threads iraient chercher : pour vérifier de l'extérieur que le service la sert (curl -sI …)."""
    from orchestrator import media_urls
    from orchestrator.services import media_library
    from orchestrator.settings import get_settings

    base = (base_url or get_settings().media_base_url).strip()
    if not base:
        fail("donnez --base-url ou définissez PORTEVOIX_MEDIA_BASE_URL. "
             "(Give --base-url or set PORTEVOIX_MEDIA_BASE_URL.)")

    def signed(session):  # type: ignore[no-untyped-def]
        item = media_library.get_item(session, media_id=media_id)
        data = media_library.read_bytes(session, item)
        return media_urls.sign(media_urls.library_ref(media_id), data, item.mime_type, base_url=base,
                               lifetime=minutes * 60)

    typer.echo(run_service(signed))


@api_app.command("serve")
def api_serve(
    host: Annotated[str, typer.Option(help="Adresse d'écoute")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8790,
) -> None:
    """Sert l'API sous /api/v1 (aussi servie par « links serve ») ; description : /api/v1/openapi.json."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from orchestrator.api import create_api

    app = Starlette(routes=[Mount("/api/v1", app=create_api(engine()))])
    typer.echo(f"API sur http://{host}:{port}/api/v1 (description : /api/v1/openapi.json).")
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning", server_header=False,
                proxy_headers=False)
