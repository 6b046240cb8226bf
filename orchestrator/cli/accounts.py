"""``porte-voix account list | test | add | set-credentials | remove``: platform accounts at the command line.

Secrets never come from the command line itself: anyone on the machine can read a process's
arguments (``ps``, ``/proc/PID/cmdline``) and the shell keeps them in its history. They come from
the environment (``PORTEVOIX_<KIND>_<FIELD>``), from standard input (``--credentials-stdin``, one
``field=value`` per line), or from a prompt that does not echo them.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from typing import Annotated, Any

import typer
import typer.main
from typer.core import TyperCommand

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
    "l'environnement (PORTEVOIX_<KIND>_<CHAMP>), de l'entrée standard avec --credentials-stdin (une ligne "
    "champ=valeur par secret), ou sont demandés sans écho au clavier."
)
_STDIN_HELP = "Lire les secrets sur l'entrée standard : une ligne « champ=valeur » chacun (ou la valeur seule s'il n'y en a qu'un)."
_SECOND_SET_HELP = ("Le second jeu d'identifiants de la plateforme au lieu du premier, là où elle en accepte deux "
                    "(voir « Champs » ci-dessus).")
_BASE_URL_HELP = ("Adresse du serveur du compte : obligatoire pour une plateforme où chaque compte a le sien ; "
                  "sinon un autre hôte (serveur personnel, bac à sable).")
_REFUSED = "Refusé : un secret sur la ligne de commande est visible de tous (ps). Voir --help."


def fields_help() -> str:
    """The credential fields of every registered kind, as the channels declare them, for the help
    of the commands that take credentials (secrets by their variable, public ones by their option)."""
    parts = []
    for kind in KINDS:
        cls = channel_class(kind)
        sets = []
        for group in cls.credential_groups:
            sets.append(" ".join(f if f in cls.secret_fields() else "--" + f.replace("_", "-") for f in group))
        alternatives = "".join(f" (ou, avec --oauth1 : {s})" for s in sets[1:2]) + "".join(
            f" (ou {s})" for s in sets[2:])
        server = " avec --base-url" if cls.needs_server else ""
        parts.append(f"{kind} : {sets[0] if sets else '—'}{alternatives}{server}")
    first = channel_class(KINDS[0])
    example = next((f"PORTEVOIX_{KINDS[0].upper()}_{f.upper()}" for group in first.credential_groups[:1]
                    for f in group if f in first.secret_fields()), "")
    return f"Champs : {' ; '.join(parts)}." + (f" Exemple de variable : {example}." if example else "")


def _option_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def generated_options(*, with_account_options: bool) -> list[Any]:
    """The command line options read from the channels' declarations: one per public credential
    field (a Page's id, a handle), one per account option (with ``with_account_options``), and a
    hidden one per secret field, there only to refuse a secret typed on the command line."""
    from channels.registry import account_options, credential_fields, public_credential_names

    specs: list[tuple[str, str, bool]] = []  # (name, help, hidden)
    public = public_credential_names()
    for name, declared in credential_fields().items():
        if name in public:
            specs.append((name, " ; ".join(f"{channel_class(kind).platform_name} : {field.fr} (public)"
                                           for kind, field in declared) + ".", False))
        else:
            specs.append((name, _REFUSED, True))
    if with_account_options:
        for option, kinds in account_options().items():
            words = channel_class(kinds[0]).account_option_help.get(option, (option, option))[0]
            specs.append((option, ", ".join(channel_class(k).platform_name for k in kinds) + f" : {words}.", False))
    return _typer_options(specs)


def _typer_options(specs: list[tuple[str, str, bool]]) -> list[Any]:
    """Options built by typer itself (so they look and parse like the others), from a function
    whose signature is written here rather than in the source."""

    def holder(**_: Any) -> None:  # pragma: no cover - never called
        pass

    holder.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=Annotated[str | None, typer.Option(_option_name(name), help=text, hidden=hidden)])
        for name, text, hidden in specs])
    holder.__annotations__ = {}
    scratch = typer.Typer(add_completion=False)
    scratch.command()(holder)
    return list(typer.main.get_command(scratch).params)


class CredentialOptionsCommand(TyperCommand):
    """A command whose credential options, and the list of fields in its help, are generated from
    the channels' declarations when it runs or shows its help: adding a platform adds its options,
    and no other command imports every platform's client library to start."""

    with_account_options = False

    def _generate(self) -> list[Any]:
        generated: list[Any] | None = getattr(self, "_generated", None)
        if generated is None:
            generated = generated_options(with_account_options=self.with_account_options)
            taken = [opt for param in [*self.params, *generated] for opt in param.opts]
            clash = sorted({opt for opt in taken if taken.count(opt) > 1})
            if clash:  # a field or option named like another option: the channel must rename it
                raise RuntimeError(f"declared fields and options clash in {self.name}: {clash}")
            self.params.extend(generated)
            self.help = f"{self.help or ''} {fields_help()}"
            self._generated = generated
        return generated

    def get_params(self, ctx: Any) -> list[Any]:
        self._generate()
        return super().get_params(ctx)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._generate()
        super().format_help(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        names = {option.name for option in self._generate()}
        ctx.meta["generated_options"] = {n: ctx.params.pop(n) for n in list(ctx.params) if n in names}
        return super().invoke(ctx)


class AccountOptionsCommand(CredentialOptionsCommand):
    with_account_options = True


def given_options_of(ctx: typer.Context) -> tuple[dict[str, str | None], dict[str, str | None], dict[str, str | None]]:
    """What the generated options received: (public credentials, account options, refused secrets)."""
    from channels.registry import account_options, public_credential_names

    given: dict[str, str | None] = ctx.meta.get("generated_options", {})
    public = public_credential_names()
    options = account_options()
    return ({k: v for k, v in given.items() if k in public},
            {k: v for k, v in given.items() if k in options},
            {k: v for k, v in given.items() if k not in public and k not in options})


def wanted_fields(kind: str, *, oauth1: bool) -> tuple[str, ...]:
    """The credential fields to collect for ``kind``: the first complete group the channel
    accepts, or its second when asked (``--oauth1``: X's four OAuth 1.0a secrets)."""
    from orchestrator.services.accounts import REQUIRED

    groups = REQUIRED[kind]
    if oauth1 and len(groups) > 1:
        return groups[1]
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


def _refuse_secret_options(kind: str | None, given: dict[str, str | None]) -> None:
    passed = [name for name, value in given.items() if value]
    if passed:
        names = ", ".join(_option_name(n) for n in passed)
        variable = f"PORTEVOIX_{kind.upper()}_{passed[0].upper()}" if kind in KINDS else "PORTEVOIX_<KIND>_<CHAMP>"
        fail(f"{names} : les secrets ne se donnent plus en option, car tout utilisateur de la machine voit la ligne "
             f"de commande d'un processus. Utilisez la variable d'environnement ({variable}), "
             "--credentials-stdin, ou laissez la commande les demander. "
             f"({names}: secrets are no longer taken as options, since any user of the machine can read a "
             f"process's command line. Use the environment variable ({variable}), --credentials-stdin, or the "
             "prompt.)")


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



@account_app.command("add", cls=AccountOptionsCommand,
                     help="Ajoute un compte ; les identifiants sont chiffrés et jamais réaffichés. " + _SECRETS_HELP)
def account_add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=KINDS_FR)],
    name: Annotated[str, typer.Argument(help="Nom du compte dans Porte-voix")],
    base_url: Annotated[str | None, typer.Option(help=_BASE_URL_HELP)] = None,
    language: Annotated[str | None, typer.Option(help="fr ou en")] = None,
    credentials_stdin: Annotated[bool, typer.Option("--credentials-stdin", help=_STDIN_HELP)] = False,
    oauth1: Annotated[bool, typer.Option("--oauth1", "--second-set", help=_SECOND_SET_HELP)] = False,
) -> None:
    from orchestrator.services.accounts import add_account
    from orchestrator.services.auth import command_line_operator

    public, given_options, refused = given_options_of(ctx)
    _refuse_secret_options(kind, refused)
    creds = collect(kind, oauth1=oauth1, stdin=credentials_stdin, public=public)
    cls = channel_class(kind)
    options: dict[str, Any] = {}
    for option in cls.account_options:
        value = given_options.get(option) or os.environ.get(f"PORTEVOIX_{kind.upper()}_{option.upper()}")
        if value:
            options[option] = cls.account_option(option, value)
    stray = [o for o, v in given_options.items() if v and o not in cls.account_options]
    if stray:
        fail(f"options sans objet pour {kind} : {', '.join(_option_name(o) for o in stray)}")
    account = run_service(lambda s: add_account(s, actor=command_line_operator(), kind=kind, name=name, credentials=creds,
                                                base_url=base_url, language=language, options=options))
    typer.echo(f"Compte {account.name} ({account.kind}) ajouté. Vérifiez-le : porte-voix account test {account.name}")


@account_app.command("set-credentials", cls=CredentialOptionsCommand,
                     help="Remplace tous les identifiants d'un compte sans lire les anciens (clé perdue, jeton révoqué). "
                          + _SECRETS_HELP)
def account_set_credentials(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Nom du compte dans Porte-voix")],
    base_url: Annotated[str | None, typer.Option(help="Changer aussi l'adresse du serveur du compte.")] = None,
    credentials_stdin: Annotated[bool, typer.Option("--credentials-stdin", help=_STDIN_HELP)] = False,
    oauth1: Annotated[bool, typer.Option("--oauth1", "--second-set", help=_SECOND_SET_HELP)] = False,
) -> None:
    from orchestrator.services.accounts import get_account, set_credentials
    from orchestrator.services.auth import command_line_operator

    public, _, refused = given_options_of(ctx)
    _refuse_secret_options(None, refused)
    kind = run_service(lambda s: get_account(s, name=name).kind)
    creds = collect(kind, oauth1=oauth1, stdin=credentials_stdin, public=public)
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
