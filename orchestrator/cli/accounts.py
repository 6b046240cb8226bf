"""``porte-voix account list | test | add | set-credentials | remove``: platform accounts at the command line.

Secrets never come from the command line itself: anyone on the machine can read a process's
arguments (``ps``, ``/proc/PID/cmdline``) and the shell keeps them in its history. They come from
the environment (``PORTEVOIX_<KIND>_<FIELD>``), from standard input (``--credentials-stdin``, one
``field=value`` per line), or from a prompt that does not echo them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer

from channels.registry import KINDS, KINDS_FR, channel_class
from orchestrator.cli.common import fail, run_service, setup_logging
from orchestrator.services.auth import command_line_operator

account_app = typer.Typer(help=f"Comptes des plateformes ({', '.join(k.capitalize() for k in KINDS)}).",
                          no_args_is_help=True)


def public_fields(kind: str) -> tuple[str, ...]:
    """Credential fields of ``kind`` that are not secret (public identifiers): they may be given
    as options. Each channel declares its fields (``channels/<kind>.py``)."""
    return channel_class(kind).public_fields()


def prompt_label(kind: str, field: str) -> str:
    """The prompt for one credential, as the channel declares it."""
    return next((f.prompt for f in channel_class(kind).credential_fields if f.name == field), field)


_SECRETS_HELP = (
    "Les secrets ne se donnent jamais en option (visibles dans la liste des processus) : ils viennent de "
    "l'environnement (PORTEVOIX_<KIND>_<CHAMP>, ex. PORTEVOIX_X_BEARER_TOKEN), de l'entrée standard avec "
    "--credentials-stdin (une ligne champ=valeur par secret), ou sont demandés sans écho au clavier. "
    "Champs : x bearer_token (ou, avec --oauth1, consumer_key consumer_secret access_token "
    "access_token_secret) ; facebook page_token ; mastodon access_token ; bluesky app_password."
)
_STDIN_HELP = "Lire les secrets sur l'entrée standard : une ligne « champ=valeur » chacun (ou la valeur seule s'il n'y en a qu'un)."
_OAUTH1_HELP = "X : OAuth 1.0a (quatre secrets) au lieu d'un jeton OAuth 2."
_REFUSED = "Refusé : un secret sur la ligne de commande est visible de tous (ps). Voir --help."


def wanted_fields(kind: str, *, oauth1: bool) -> tuple[str, ...]:
    """The credential fields to collect for ``kind``: the first complete group the service
    accepts (``accounts.REQUIRED``), or X's OAuth 1.0a group when asked."""
    from orchestrator.services.accounts import REQUIRED

    groups = REQUIRED[kind]
    if oauth1 and len(groups) > 1:  # X: the four OAuth 1.0a secrets rather than the OAuth 2 token
        return next(g for g in groups if len(g) > 1)
    return groups[0]


def read_stdin_credentials(fields: tuple[str, ...], text: str, public: tuple[str, ...] = ()) -> dict[str, str]:
    """``field=value`` lines (blank lines and ``#`` comments skipped); a single bare line is the
    value of the only secret asked for."""
    found: dict[str, str] = {}
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    secret_fields = [f for f in fields if f not in public]
    if len(lines) == 1 and "=" not in lines[0] and len(secret_fields) == 1:
        return {secret_fields[0]: lines[0]}
    for number, line in enumerate(lines, start=1):
        name, sep, value = line.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not sep or not name:
            fail(f"entrée standard, ligne {number} : « champ=valeur » attendu (la valeur n'est pas affichée).")
        found[name] = value.strip()
    return found


def collect(kind: str, *, oauth1: bool, stdin: bool, public: dict[str, str | None]) -> dict[str, str]:
    """Every credential for ``kind`` from, in order: the options for public fields, standard
    input, the environment, then a prompt without echo (only at a terminal)."""
    from orchestrator.services.accounts import CREDENTIALS

    fields = CREDENTIALS.get(kind)
    if fields is None:
        fail(f"type de compte inconnu « {kind} » ({', '.join(KINDS)}).")
    assert fields is not None
    creds: dict[str, str] = {k: v for k, v in public.items() if v and k in fields}
    stray = [k for k, v in public.items() if v and k not in fields]
    if stray:
        fail(f"options sans objet pour {kind} : {', '.join('--' + s.replace('_', '-') for s in stray)}")
    wanted = wanted_fields(kind, oauth1=oauth1)
    if stdin:
        given = read_stdin_credentials(wanted, sys.stdin.read(), public_fields(kind))
        unknown = sorted(set(given) - set(fields))
        if unknown:
            fail(f"champs inconnus pour {kind} sur l'entrée standard : {', '.join(unknown)} "
                 f"(champs : {', '.join(fields)}).")
        creds.update({k: v for k, v in given.items() if v})
    for field in fields:
        value = os.environ.get(f"PORTEVOIX_{kind.upper()}_{field.upper()}")
        if value and field not in creds:
            creds[field] = value
    have_group = any(all(f in creds for f in group) for group in _groups(kind))
    if not have_group and not stdin and sys.stdin.isatty():
        for field in wanted:
            if field not in creds:
                creds[field] = str(typer.prompt(prompt_label(kind, field), hide_input=field not in public_fields(kind)))
    return creds


def _groups(kind: str) -> tuple[tuple[str, ...], ...]:
    from orchestrator.services.accounts import REQUIRED

    return REQUIRED[kind]


def _refuse_secret_options(**given: Any) -> None:
    passed = [name for name, value in given.items() if value]
    if passed:
        names = ", ".join("--" + n.replace("_", "-") for n in passed)
        fail(f"{names} : les secrets ne se donnent plus en option, car tout utilisateur de la machine voit la ligne "
             "de commande d'un processus. Utilisez la variable d'environnement (ex. PORTEVOIX_X_BEARER_TOKEN), "
             "--credentials-stdin, ou laissez la commande les demander. "
             f"({names}: secrets are no longer taken as options, since any user of the machine can read a "
             "process's command line. Use the environment variable, --credentials-stdin, or the prompt.)")


_Secret = Annotated[str | None, typer.Option(hidden=True, help=_REFUSED)]


@account_app.command("list")
def account_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Liste les comptes, leur état de santé et leur dernière erreur."""
    from orchestrator.services.accounts import list_accounts

    rows = run_service(lambda s: [
        {"name": a.name, "kind": a.kind, "language": a.language, "handle": a.handle, "base_url": a.base_url,
         "healthy": a.healthy, "last_error": a.last_error, "sandbox": a.is_sandbox} for a in list_accounts(s)
    ])
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo("Aucun compte. Ajoutez-en un : porte-voix account add KIND NAME …")
    for r in rows:
        health = "ok" if r["healthy"] else f"EN PANNE : {r['last_error']}"
        typer.echo(f"{r['name']:<24} {r['kind']:<9} {r['language'] or '--':<3} {r['handle'] or '':<28} {health}")


@account_app.command("test")
def account_test(name: str) -> None:
    """Vérifie les identifiants auprès de la plateforme."""
    from orchestrator.services.accounts import test_account

    setup_logging()
    ok, message = run_service(lambda s: test_account(s, actor=command_line_operator(), name=name))
    if ok:
        typer.echo(f"OK : {name} publie en tant que {message}")
    else:
        fail(f"{name} : {message}")



@account_app.command("add", help="Ajoute un compte ; les identifiants sont chiffrés et jamais réaffichés. " + _SECRETS_HELP)
def account_add(
    kind: Annotated[str, typer.Argument(help=KINDS_FR)],
    name: Annotated[str, typer.Argument(help="Nom du compte dans Porte-voix")],
    base_url: Annotated[str | None, typer.Option(help="Autre hôte (instance Mastodon, PDS Bluesky, bac à sable).")] = None,
    language: Annotated[str | None, typer.Option(help="fr ou en")] = None,
    page_id: Annotated[str | None, typer.Option(help="Facebook : identifiant de la Page (public).")] = None,
    handle: Annotated[str | None, typer.Option(help="Bluesky : identifiant du compte (public).")] = None,
    graph_version: Annotated[str | None, typer.Option(help="Version de l'API Graph, ex. 24.0")] = None,
    credentials_stdin: Annotated[bool, typer.Option("--credentials-stdin", help=_STDIN_HELP)] = False,
    oauth1: Annotated[bool, typer.Option("--oauth1", help=_OAUTH1_HELP)] = False,
    consumer_key: _Secret = None,
    consumer_secret: _Secret = None,
    access_token: _Secret = None,
    access_token_secret: _Secret = None,
    bearer_token: _Secret = None,
    page_token: _Secret = None,
    app_password: _Secret = None,
) -> None:
    from orchestrator.services.accounts import add_account
    from orchestrator.services.auth import command_line_operator

    _refuse_secret_options(consumer_key=consumer_key, consumer_secret=consumer_secret, access_token=access_token,
                           access_token_secret=access_token_secret, bearer_token=bearer_token, page_token=page_token,
                           app_password=app_password)
    creds = collect(kind, oauth1=oauth1, stdin=credentials_stdin, public={"page_id": page_id, "handle": handle})
    options: dict[str, Any] = {}
    from channels.registry import channel_class

    version = graph_version or os.environ.get(f"PORTEVOIX_{kind.upper()}_GRAPH_VERSION")
    if version and "graph_version" in channel_class(kind).account_options:
        options["graph_version"] = version.removeprefix("v")
    account = run_service(lambda s: add_account(s, actor=command_line_operator(), kind=kind, name=name, credentials=creds,
                                                base_url=base_url, language=language, options=options))
    typer.echo(f"Compte {account.name} ({account.kind}) ajouté. Vérifiez-le : porte-voix account test {account.name}")


@account_app.command("set-credentials",
                     help="Remplace tous les identifiants d'un compte sans lire les anciens (clé perdue, jeton révoqué). "
                          + _SECRETS_HELP)
def account_set_credentials(
    name: Annotated[str, typer.Argument(help="Nom du compte dans Porte-voix")],
    base_url: Annotated[str | None, typer.Option(help="Changer aussi l'hôte (instance Mastodon, PDS Bluesky).")] = None,
    page_id: Annotated[str | None, typer.Option(help="Facebook : identifiant de la Page (public).")] = None,
    handle: Annotated[str | None, typer.Option(help="Bluesky : identifiant du compte (public).")] = None,
    credentials_stdin: Annotated[bool, typer.Option("--credentials-stdin", help=_STDIN_HELP)] = False,
    oauth1: Annotated[bool, typer.Option("--oauth1", help=_OAUTH1_HELP)] = False,
) -> None:
    from orchestrator.services.accounts import get_account, set_credentials
    from orchestrator.services.auth import command_line_operator

    kind = run_service(lambda s: get_account(s, name=name).kind)
    creds = collect(kind, oauth1=oauth1, stdin=credentials_stdin, public={"page_id": page_id, "handle": handle})
    run_service(lambda s: set_credentials(s, actor=command_line_operator(), name=name, credentials=creds, base_url=base_url))
    typer.echo(f"Identifiants de {name} remplacés. Vérifiez-les : porte-voix account test {name} "
               "(un test réussi relâche les publications retenues).")


@account_app.command("remove")
def account_remove(
    name: Annotated[str, typer.Argument(help="Nom du compte dans Porte-voix")],
    yes: Annotated[bool, typer.Option("--yes", help="Sans demander de confirmation.")] = False,
) -> None:
    """Retire un compte sans avoir besoin de ses identifiants : supprimé s'il n'a jamais rien publié ;
    sinon ses identifiants sont effacés, ses envois en attente annulés, et son historique gardé."""
    from orchestrator.services.accounts import remove_account
    from orchestrator.services.auth import command_line_operator

    if not yes:
        if not sys.stdin.isatty():
            fail("confirmez avec --yes (aucun terminal pour le demander).")
        typer.confirm(f"Retirer le compte « {name} » et annuler ses envois en attente ?", abort=True)
    outcome = run_service(lambda s: remove_account(s, actor=command_line_operator(), name=name))
    if outcome == "deleted":
        typer.echo(f"Compte {name} supprimé.")
    else:
        typer.echo(f"Compte {name} retiré : identifiants effacés, envois en attente annulés, historique gardé.")
