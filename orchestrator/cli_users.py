"""``porte-voix user …``: staff accounts for the dashboard (Argon2 password hashes, roles)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from orchestrator.services.auth import ROLES, command_line_operator

user_app = typer.Typer(help="Personnes qui utilisent le tableau de bord, et leur rôle.", no_args_is_help=True)


def _password(password_stdin: bool, oidc_only: bool) -> str | None:
    if oidc_only:
        return None
    if password_stdin:
        # One line, so `echo "$PASSWORD" | porte-voix user add …` works and the password never
        # appears in the process list or the shell history.
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Mot de passe", hide_input=True, confirmation_prompt="Encore une fois"))


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Nom d'utilisateur (l'adresse courriel pour l'OIDC)")],
    role: Annotated[str, typer.Option(help=f"Rôle : {', '.join(ROLES)}")] = "viewer",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Lire le mot de passe sur l'entrée standard.")] = False,
    oidc_only: Annotated[bool, typer.Option("--oidc-only", help="Sans mot de passe : connexion par le fournisseur d'identité seulement.")] = False,
    language: Annotated[str, typer.Option(help="Langue de l'interface : fr ou en")] = "fr",
) -> None:
    """Ajoute une personne ; le mot de passe est demandé (ou lu avec --password-stdin)."""
    from orchestrator.cli import run_service
    from orchestrator.services.users import add_user

    password = _password(password_stdin, oidc_only)
    user = run_service(lambda s: add_user(s, actor=command_line_operator(), username=username, password=password, role=role, language=language))
    typer.echo(f"{user.username} ajouté·e ({user.role}).")


@user_app.command("passwd")
@user_app.command("password", hidden=True)  # the first name it had; scripts may still use it
def user_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Lire le mot de passe sur l'entrée standard.")] = False,
) -> None:
    """Change le mot de passe d'une personne (assez long, et pas un des plus courants)."""
    from orchestrator.cli import run_service
    from orchestrator.services.auth import command_line_operator
    from orchestrator.services.users import set_password

    password = _password(password_stdin, False) or ""
    run_service(lambda s: set_password(s, actor=command_line_operator(), username=username, password=password))
    typer.echo("Mot de passe changé.")


@user_app.command("role")
def user_role(username: str, role: Annotated[str, typer.Argument(help=f"{', '.join(ROLES)}")]) -> None:
    """Change le rôle d'une personne."""
    from orchestrator.cli import run_service
    from orchestrator.services.auth import command_line_operator
    from orchestrator.services.users import set_role

    run_service(lambda s: set_role(s, actor=command_line_operator(), username=username, role=role))
    typer.echo(f"{username} : {role}.")


@user_app.command("disable")
def user_disable(username: str, enable: Annotated[bool, typer.Option("--enable", help="Réactiver plutôt.")] = False) -> None:
    """Désactive (ou réactive) une personne : elle ne peut plus se connecter."""
    from orchestrator.cli import run_service
    from orchestrator.services.auth import command_line_operator
    from orchestrator.services.users import set_disabled

    run_service(lambda s: set_disabled(s, actor=command_line_operator(), username=username, disabled=not enable))
    typer.echo(f"{username} {'réactivé·e' if enable else 'désactivé·e'}.")


@user_app.command("unlock")
def user_unlock(username: str) -> None:
    """Lève tout de suite le blocage d'une personne après trop d'essais de connexion manqués."""
    from orchestrator.cli import run_service
    from orchestrator.services.auth import command_line_operator
    from orchestrator.services.login_guard import unlock

    lifted = run_service(lambda s: unlock(s, actor=command_line_operator(), username=username))
    typer.echo(f"{username} : {'blocage levé' if lifted else 'aucun blocage en cours'}.")


@user_app.command("list")
def user_list() -> None:
    """Liste les personnes et leur rôle."""
    from orchestrator.cli import run_service
    from orchestrator.services.users import list_users

    rows = run_service(lambda s: [(u.username, u.role, u.disabled) for u in list_users(s)])
    if not rows:
        typer.echo("Personne. Ajoutez une personne : porte-voix user add NOM --role admin")
    for name, role, disabled in rows:
        typer.echo(f"{name:<40} {role:<9}{' (désactivé·e)' if disabled else ''}")
