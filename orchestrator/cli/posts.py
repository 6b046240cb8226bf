"""``porte-voix post …``, ``schedule``, ``status`` and ``check``: posts, their deliveries, and the
state of what was sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from channels.registry import KINDS_FR
from orchestrator.cli.common import fail, run_service
from orchestrator.cli.plans import schedule_file
from orchestrator.services.auth import command_line_operator
from orchestrator.timeutil import parse_when

post_app = typer.Typer(help="Publications : écrire, approuver, refuser, retirer.", no_args_is_help=True)
#: Commands at the top level (``porte-voix schedule`` …): the package adds them to the root app.
commands = typer.Typer()


def staff_member(session: Any, username: str, role: str) -> Any:
    """The staff member named by ``--by``: an existing, enabled account with at least ``role``."""
    from orchestrator.services.auth import ROLE_LABELS, NotFound, require
    from orchestrator.services.users import active_actor

    person = active_actor(session, username=username.strip().lower())
    if person is None:
        raise NotFound(f"--by : « {username} » n'est pas une personne active (porte-voix user list).",
                       f"--by: '{username}' is not an active staff member (porte-voix user list).")
    require(person, role, f"agir ici ({ROLE_LABELS[role]['fr']})", f"act here ({role})")
    return person


_BY_HELP = ("Nom de la personne de l'équipe pour qui vous agissez (vérifié) ; sans --by, le journal "
            "retient votre compte du système (cli:NOM)")


@post_app.command("add")
def post_add(
    case: Annotated[str, typer.Option(help="Identifiant du cas (ex. juan-lopez)")],
    text: Annotated[str, typer.Option(help="Texte de la publication")],
    language: Annotated[str, typer.Option(help="fr ou en")] = "fr",
    link: Annotated[str | None, typer.Option(help="Lien (reçoit le code source de chaque envoi)")] = None,
    action: Annotated[str | None, typer.Option(help="Appel à l'action (ex. ecrire)")] = None,
    by: Annotated[str | None, typer.Option("--by", help=_BY_HELP)] = None,
    content_warning: Annotated[str | None, typer.Option(
        "--content-warning", help="Avertissement de contenu Mastodon (\"\" : aucun) ; sans l'option, celui du cas")] = None,
    visibility: Annotated[str | None, typer.Option(
        help="Visibilité Mastodon : public, unlisted ou private ; sans l'option, celle du cas")] = None,
    label: Annotated[list[str] | None, typer.Option(
        "--label", help="Étiquette Bluesky (graphic-media, nudity), répétable ; sans l'option, celles du cas")] = None,
    part: Annotated[list[str] | None, typer.Option(
        "--part", help="Partie suivante d'un fil (répétable, dans l'ordre) ; --text est la première")] = None,
) -> None:
    """Écrit une publication (en attente d'approbation) et affiche son numéro. Son autrice ou
    auteur est la personne --by, sinon votre compte du système (cli:NOM). L'avertissement, la
    visibilité et les étiquettes sont ceux du cas, sauf option contraire. Avec --part, un fil :
    --text, puis chaque --part en réponse à la précédente (sur Facebook : en commentaires)."""
    from orchestrator.services.posts import create_post

    def add(s: Any) -> Any:
        author = staff_member(s, by, "editor") if by else command_line_operator()
        return create_post(s, actor=author, case_slug=case, language=language, text=text, link=link,
                           action_slug=action, submit=True, content_warning=content_warning,
                           visibility=visibility, self_labels=label, parts=[{"text": p} for p in part or []])

    post = run_service(add)
    typer.echo(post.id)


@post_app.command("approve")
def post_approve(
    post_id: int,
    by: Annotated[str | None, typer.Option("--by", help=(
        "La personne qui approuve (vérifié : rôle approbation, ni autrice ni autrice d'une modification "
        "du texte). Sans --by, l'approbation est la vôtre (cli:NOM) et contourne les quatre yeux : "
        "docs/security.md"))] = None,
) -> None:
    """Approuve une publication : son texte est figé pour chaque envoi. Avec --by NOM, NOM est
    enregistré comme la personne qui approuve, et les quatre yeux sont vérifiés pour NOM."""
    from orchestrator.services.auth import audit
    from orchestrator.services.posts import approve_post

    def approve(s: Any) -> None:
        operator = command_line_operator()
        if by is None:
            approve_post(s, actor=operator, post_id=post_id)
            return
        person = staff_member(s, by, "approver")
        approve_post(s, actor=person, post_id=post_id)
        audit(s, actor=operator, action="approve_as", target_type="post", target_id=post_id,
              approver=person.username)

    run_service(approve)
    typer.echo(f"Publication {post_id} approuvée" + (f" par {by.strip().lower()}." if by else "."))


@post_app.command("reject")
def post_reject(
    post_id: int,
    comment: Annotated[str, typer.Option("--comment", help="Pourquoi : l'autrice ou l'auteur le lira")],
) -> None:
    """Refuse une publication en attente, avec un commentaire ; ses envois attendent qu'elle soit corrigée."""
    from orchestrator.services.posts import reject_post

    run_service(lambda s: reject_post(s, actor=command_line_operator(), post_id=post_id, comment=comment))
    typer.echo(f"Publication {post_id} refusée.")


@post_app.command("withdraw")
def post_withdraw(post_id: int) -> None:
    """Retire une publication de l'approbation : elle redevient un brouillon."""
    from orchestrator.services.posts import withdraw_post

    run_service(lambda s: withdraw_post(s, actor=command_line_operator(), post_id=post_id))
    typer.echo(f"Publication {post_id} retirée : c'est de nouveau un brouillon.")


@commands.command()
def schedule(
    post_id: Annotated[int | None, typer.Argument(help="Numéro de la publication")] = None,
    account: Annotated[str | None, typer.Option(help="Nom du compte")] = None,
    at: Annotated[str | None, typer.Option(help="Quand : ISO-8601 avec décalage, ou « now »")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Plan CSV, une ligne par envoi (docs/bulk-scheduling.md)")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Avec --file : approuver les publications créées.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Avec --file : vérifier seulement, rien n'est enregistré.")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Avec --file : langue des messages, fr ou en")] = "fr",
) -> None:
    """Programme une publication sur un compte (affiche le numéro de l'envoi), ou tout un plan
    avec --file PLAN.csv."""
    from orchestrator.services.deliveries import schedule as schedule_delivery

    if file is not None:
        if post_id is not None or account is not None or at is not None:
            fail("soit POST_ID --account --at, soit --file PLAN.csv, pas les deux.")
        schedule_file(file, approve=approve, dry_run=dry_run, language=lang)
        return
    if approve or dry_run:
        fail("--approve et --dry-run vont avec --file PLAN.csv.")
    if post_id is None or account is None or at is None:
        fail("il faut POST_ID, --account et --at (ex. : porte-voix schedule 3 --account x-fr --at now).")
    assert at is not None and account is not None and post_id is not None
    try:
        when = parse_when(at)
    except ValueError as exc:
        fail(str(exc))
    delivery = run_service(lambda s: schedule_delivery(s, actor=command_line_operator(), post_id=post_id, account_name=account, at=when))
    typer.echo(delivery.id)


@commands.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
    check: Annotated[bool, typer.Option("--check", help="Code de sortie non nul si quelque chose ne va pas")] = False,
) -> None:
    """État des envois, des travailleurs et de ce qui attend une personne."""
    from orchestrator.services.status import health_problems, summary
    from orchestrator.services.suspensions import in_force

    def read(session):  # type: ignore[no-untyped-def]
        stopped = [{"id": s.id, "scope": s.scope, "of": s.scope_name, "reason": s.reason, "set_by": s.set_by,
                    "set_at": s.set_at.isoformat()} for s in in_force(session)]
        return {**summary(session), "suspensions": stopped}

    data = run_service(read)
    problems = health_problems(data)
    if as_json:
        typer.echo(json.dumps({**data, "problems": problems}, ensure_ascii=False, indent=2))
    else:
        typer.echo("Envois : " + (", ".join(f"{k} {v}" for k, v in sorted(data["deliveries"].items())) or "aucun"))
        typer.echo(f"Prochain envoi dû : {data['next_due'] or '—'}")
        for item in data["suspensions"]:
            scope = {"all": "toute l'organisation", "campaign": f"édition {item['of']}",
                     "account": f"compte {item['of']}"}[item["scope"]]
            typer.echo(f"SUSPENDU ({scope}) n° {item['id']} par {item['set_by']} le {item['set_at']} : {item['reason']}")
        for w in data["workers"]:
            state = " (terminé)" if w["ended_at"] else "" if w["fresh"] else " (silencieux)"
            typer.echo(f"Travailleur {w['id']} vu {w['last_seen']}{state}")
        for item in data["attention"]:
            typer.echo(f"À voir : envoi {item['id']} {item['state']} — {item['reason']}")
        gone = data["retractions"]
        if gone["pending"] or gone["awaiting_confirmation"]:
            typer.echo(f"Retraits : {gone['pending']} suppression(s) en cours, "
                       f"{gone['awaiting_confirmation']} demande(s) en attente d'une deuxième personne")
        for item in gone["failed"]:
            typer.echo(f"À retirer à la main : envoi {item['delivery_id']} (retrait {item['retraction']}) — "
                       f"{item['reason']}" + (f" {item['url']}" if item["url"] else ""))
        for s in data["stuck"]:
            typer.echo(f"Bloqué : envoi {s['id']} (travailleur {s['worker_id']}, bail expiré {s['lease_until']})")
        if data.get("short_links"):
            typer.echo(f"Note : {data['short_links']}")
        if data.get("public_media"):
            typer.echo(f"Note : {data['public_media']}")
        for p in problems:
            typer.echo(f"ALERTE : {p}")
    if check and problems:
        raise typer.Exit(2)


@commands.command()
def check(
    kind: Annotated[str, typer.Argument(help=KINDS_FR)],
    text: Annotated[str | None, typer.Argument(help="Texte à vérifier")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Lire le texte dans un fichier")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Instance Mastodon ou PDS Bluesky")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1,
                                              help="Limite de longueur du compte (ex. celle de l'instance Mastodon)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    language: Annotated[str, typer.Option(help="Langue des messages : fr ou en")] = "fr",
) -> None:
    """Vérifie un texte selon les règles d'une plateforme (longueur, liens…), sans contacter la plateforme."""
    from channels.registry import ByKind, UnknownKind
    from orchestrator.services.validators import offline_validator

    if file is not None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"fichier illisible : {exc}")
    if text is None:
        fail("donnez un TEXTE ou --file CHEMIN.")
    assert text is not None
    # the option each channel reads its length limit from
    limit_option = ByKind(lambda cls: cls.limit_option)
    options = {limit_option[kind]: limit} if limit is not None and kind in limit_option else {}
    try:
        validator = offline_validator(kind, name="check", base_url=base_url, options=options)
    except UnknownKind as exc:
        fail(str(exc))
    result = validator.validate(text.rstrip("\n") if file is not None else text)
    from orchestrator.media_urls import missing_for

    media_note = missing_for({kind}, language=language)  # the platform fetches images: they need a public address
    if as_json:
        out = result.as_dict(language)
        if validator.note is not None:
            out["note"] = validator.note.text(language)
        if media_note:
            out["media_note"] = media_note
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(f"{kind} : {result.length}/{result.limit} — {'valide' if result.valid else 'invalide'}")
        for p in result.problems:
            typer.echo(f"  - {p.text(language)}")
        for p in result.warnings:
            typer.echo(f"  ! {p.text(language)}")
        if validator.note is not None:
            typer.echo(f"  (i) {validator.note.text(language)}")
        if media_note:
            typer.echo(f"  (i) {media_note}")
    if not result.valid:
        raise typer.Exit(1)

