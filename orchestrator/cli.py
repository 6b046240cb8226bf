"""The ``porte-voix`` command. Each command is a thin call into the service layer."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer

from orchestrator import db, logs
from orchestrator.secrets import SecretKeyError
from orchestrator.services.auth import ServiceError, command_line_operator
from orchestrator.settings import get_settings
from orchestrator.timeutil import parse_when

app = typer.Typer(help="Porte-voix : l'orchestrateur de la campagne Écrire, ça libère !", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
account_app = typer.Typer(help="Comptes des plateformes (X, Facebook, Mastodon, Bluesky).", no_args_is_help=True)
post_app = typer.Typer(help="Publications : écrire, approuver, refuser, retirer.", no_args_is_help=True)
content_app = typer.Typer(help="Contenu de campagne (dossiers YAML).", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(post_app, name="post")
app.add_typer(content_app, name="content")


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"Erreur : {message}", err=True)
    raise typer.Exit(code)


def _setup_logging() -> None:
    s = get_settings()
    logs.setup(s.log_level, s.log_format)


def engine() -> sa.Engine:
    eng = db.get_engine()
    if not sa.inspect(eng).has_table("alembic_version"):
        fail("la base de données n'est pas initialisée : lancez « porte-voix init ». "
             "(The database is not initialised: run `porte-voix init`.)")
    return eng


def bundled_campaigns() -> Path:
    return Path(str(resources.files("content") / "campaigns"))


def content_root() -> Path:
    return get_settings().content_dir or bundled_campaigns()


def edition_folders(root: Path) -> list[Path]:
    """An edition folder itself, or every edition folder below ``root``."""
    if (root / "campaign.yaml").exists():
        return [root]
    if (root / "campaigns").is_dir():
        root = root / "campaigns"
    return sorted(p for p in root.iterdir() if (p / "campaign.yaml").exists()) if root.is_dir() else []


def load_editions(root: Path) -> list[Any]:
    """Every edition below ``root``; one invalid edition stops all (nothing half-loaded)."""
    from content.loader import ContentInvalid, load_campaign

    editions, problems = [], []
    folders = edition_folders(root)
    if not folders:
        fail(f"aucune édition (campaign.yaml) dans {root}")
    for folder in folders:
        try:
            editions.append(load_campaign(folder))
        except ContentInvalid as exc:
            problems.append(f"{folder.name} :\n{exc}")
    if problems:
        fail("contenu invalide, rien n'a été chargé :\n" + "\n".join(problems))
    return editions


def run_service(fn: Any) -> Any:
    """Call a service function in one transaction; refusals become a clear message, not a trace."""
    try:
        with db.session_scope(engine()) as session:
            return fn(session)
    except ServiceError as exc:
        fail(str(exc))
    except SecretKeyError as exc:  # wrong or missing key: a clear message, not a trace
        fail(key_message(exc))


def key_message(exc: SecretKeyError) -> str:
    """A missing key is explained according to what the database holds (restore it, or ``init``)."""
    if exc.missing:
        from orchestrator.services.keys import missing_key_message

        return missing_key_message(db.get_engine())
    return str(exc)


# ---------------------------------------------------------------------------------------------


def prepare_key(eng: sa.Engine, *, new_key: bool = False) -> None:
    """The key ``init`` needs: an existing one checked, or a new key file on a new installation.
    Never a new key over encrypted credentials unless asked (``--new-key``): they would all become
    unreadable, silently."""
    from orchestrator import secrets
    from orchestrator.services import keys

    settings = get_settings()
    path = settings.key_file()
    if settings.secret_key.strip() or path.exists():
        try:
            secrets.load_keys(settings)
        except SecretKeyError as exc:
            fail(str(exc))
        if new_key:
            fail("--new-key ne sert que lorsque la clé est absente ; celle-ci est en place. "
                 "Pour changer de clé sans rien perdre : porte-voix secrets rotate. "
                 "(--new-key only applies when the key is missing; to change it: `porte-voix secrets rotate`.)")
        return
    encrypted = keys.encrypted_rows(eng)
    if encrypted and not new_key:
        fail(keys.missing_key_message(eng, settings) + "\nRien n'a été changé. (Nothing was changed.)")
    secrets.ensure_key_file(path)
    if encrypted:
        typer.echo(f"ATTENTION : nouvelle clé dans {path} ; les {encrypted} identifiant(s) chiffré(s) avec l'ancienne "
                   "sont illisibles. Ressaisissez-les : porte-voix account set-credentials NOM … "
                   f"(WARNING: new key in {path}; the {encrypted} credential(s) encrypted with the old one are "
                   "unreadable: enter them again with `porte-voix account set-credentials NAME …`.)", err=True)


@app.command()
def init(
    content: Annotated[Path | None, typer.Option(help="Dossier des campagnes (un sous-dossier par édition).")] = None,
    new_key: Annotated[bool, typer.Option(
        "--new-key", help="Clé perdue pour de bon : créer une nouvelle clé même si la base contient des identifiants "
                          "chiffrés (ils devront être ressaisis avec « account set-credentials »).")] = False,
) -> None:
    """Crée ou met à jour le schéma, puis charge les campagnes (sans effet si rien n'a changé)."""
    from orchestrator.services.campaigns import load_content

    _setup_logging()
    eng = db.get_engine()
    prepare_key(eng, new_key=new_key)
    db.upgrade(eng)
    editions = load_editions(content or content_root())
    with db.session_scope(eng) as session:
        for edition in editions:
            campaign = load_content(session, actor=command_line_operator(), content=edition)
            typer.echo(f"Campagne {campaign.slug} : {len(edition.cases)} cas, {len(edition.actions)} appels à l'action.")
    typer.echo(f"Base prête : {eng.url.render_as_string(hide_password=True)}")


#: Where ``up`` serves the dashboard unless told otherwise: this machine only.
LOCAL_HOST = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warning(host: str, port: int) -> str:
    everywhere = host.strip() in ("0.0.0.0", "::", "[::]", "")
    where = "sur toutes les interfaces réseau" if everywhere else f"sur {host}"
    where_en = "on every network interface" if everywhere else f"on {host}"
    return (f"ATTENTION : le tableau de bord est ouvert {where} (port {port}), en HTTP non chiffré : toute machine "
            "de ce réseau peut afficher la page de connexion, et les mots de passe y passent en clair. Hors d'un "
            "réseau de confiance, laissez l'adresse par défaut (127.0.0.1) ou placez un proxy TLS devant "
            "(docs/deploy.md).\n"
            f"WARNING: the dashboard is open {where_en} (port {port}) over plain HTTP: any machine on this network "
            "can reach the sign-in page, and passwords cross it in clear. Outside a trusted network keep the default "
            "(127.0.0.1) or put a TLS proxy in front (docs/deploy.md).")


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Fait ce qui est dû maintenant, puis s'arrête.")] = False,
    cpus: Annotated[str | None, typer.Option(
        "--cpus", help="Processeurs où garder le travailleur (0, 0,2 ou 1-3) ; par défaut PORTEVOIX_WORKER_CPUS.")] = None,
) -> None:
    """Le travailleur : publie ce qui est dû, vérifie, relève les statistiques."""
    from orchestrator import cpus as processors
    from orchestrator.worker import Worker

    _setup_logging()
    try:  # before any thread starts: every thread of the worker inherits it
        pinned = processors.pin(get_settings().worker_cpus if cpus is None else cpus)
    except processors.CpuError as exc:
        fail(str(exc))
    if pinned:
        logging.getLogger("porte_voix.worker").info("worker kept to processor(s) %s", ", ".join(map(str, sorted(pinned))))
    w = Worker(engine())
    if once:
        w.run_once()
        w.pool.shutdown(wait=True)
        if w.key_problems:
            fail(f"{len(w.key_problems)} compte(s) aux identifiants illisibles avec la clé en place : "
                 f"{', '.join(sorted(w.key_problems))}. Ils sont marqués en panne et leurs publications retenues ; "
                 "rien n'a été envoyé pour eux. Remettez la bonne clé, ou « porte-voix account set-credentials NOM », "
                 "puis « porte-voix account test NOM ». "
                 f"({len(w.key_problems)} account(s) with credentials unreadable by the key in force; marked "
                 "unhealthy, deliveries held, nothing sent for them.)")
    else:
        w.run_forever()


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port d'écoute.")] = 0,
    seed: Annotated[int, typer.Option(help="Graine du public simulé.")] = 1,
    speed: Annotated[float, typer.Option(help="Vitesse du public simulé (secondes simulées par seconde).")] = 30.0,
) -> None:
    """Lance seuls les émulateurs des quatre plateformes sur 127.0.0.1."""
    from channels.sandbox import Sandbox, SandboxServer

    _setup_logging()
    server = SandboxServer(Sandbox(seed=seed, speed=speed), port=port or get_settings().sandbox_port)
    typer.echo(f"Bac à sable : {server.url} (Ctrl-C pour arrêter)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


@app.command()
def up(
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Sans émulateurs : comptes réels seulement.")] = False,
    port: Annotated[int, typer.Option(help="Port du tableau de bord.")] = 8501,
    host: Annotated[str, typer.Option(
        help="Adresse où le tableau de bord écoute. Par défaut 127.0.0.1 : cette machine seulement. "
             "Une autre adresse (0.0.0.0 : tout le réseau) l'ouvre aux autres machines, en HTTP non chiffré.")] = LOCAL_HOST,
) -> None:
    """Tout lancer : émulateurs, un travailleur et le tableau de bord. Ctrl-C arrête tout."""
    from channels.sandbox import Sandbox, SandboxServer
    from orchestrator import demo

    exposed = not is_loopback(host)
    init(content=None, new_key=False)
    settings = get_settings()
    children: list[subprocess.Popen[bytes]] = []
    server = None
    if not no_sandbox:
        try:
            server = SandboxServer(Sandbox(seed=int(time.time()) % 1000, speed=30.0), port=settings.sandbox_port).start()
        except OSError as exc:
            fail(f"le port {settings.sandbox_port} du bac à sable est pris ({exc}) : "
                 "un autre « porte-voix up » tourne-t-il ? Changez PORTEVOIX_SANDBOX_PORT.")
        assert server is not None
        typer.echo(f"Bac à sable : {server.url}")
        with db.session_scope(engine()) as session:
            if not demo.has_real_accounts(session):
                accounts = demo.ensure_sandbox_accounts(session, base_url=server.url)
                made = demo.schedule_demo(session, accounts=accounts)
                typer.echo(f"Démo : {len(accounts)} comptes bac à sable, {made} publications programmées.")
                logins = demo.ensure_demo_users(session, home=settings.home)
                if logins:
                    names = ", ".join(f"{u} ({r})" for u, r, _ in logins)
                    typer.echo(f"Comptes de démonstration : {names} ; mots de passe dans "
                               f"{settings.home / 'demo-logins.txt'} (lisible par vous seul).")
    env = dict(os.environ)
    children.append(subprocess.Popen([sys.executable, "-m", "orchestrator", "worker"], env=env))
    app_path = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    children.append(subprocess.Popen([
        sys.executable, "-m", "streamlit", "run", str(app_path), "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
    ], env=env))
    shown = "127.0.0.1" if not exposed else host
    typer.echo(f"Tableau de bord : http://{shown}:{port}  (Ctrl-C pour tout arrêter)")
    if exposed:
        typer.echo(exposure_warning(host, port), err=True)

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        fail("un des processus s'est arrêté ; arrêt de tout.")
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if server is not None:
            server.stop()


# ---------------------------------------------------------------------------------------------
# accounts

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

    _setup_logging()
    ok, message = run_service(lambda s: test_account(s, actor=command_line_operator(), name=name))
    if ok:
        typer.echo(f"OK : {name} publie en tant que {message}")
    else:
        fail(f"{name} : {message}")


# ---------------------------------------------------------------------------------------------
# posts and schedule


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
) -> None:
    """Écrit une publication (en attente d'approbation) et affiche son numéro. Son autrice ou
    auteur est la personne --by, sinon votre compte du système (cli:NOM)."""
    from orchestrator.services.posts import create_post

    def add(s: Any) -> Any:
        author = staff_member(s, by, "editor") if by else command_line_operator()
        return create_post(s, actor=author, case_slug=case, language=language, text=text, link=link,
                           action_slug=action, submit=True)

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


@app.command()
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
        from orchestrator.cli_plan import schedule_file

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


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
    check: Annotated[bool, typer.Option("--check", help="Code de sortie non nul si quelque chose ne va pas")] = False,
) -> None:
    """État des envois, des travailleurs et de ce qui attend une personne."""
    from orchestrator.services.status import health_problems, summary

    data = run_service(lambda s: summary(s))
    problems = health_problems(data)
    if as_json:
        typer.echo(json.dumps({**data, "problems": problems}, ensure_ascii=False, indent=2))
    else:
        typer.echo("Envois : " + (", ".join(f"{k} {v}" for k, v in sorted(data["deliveries"].items())) or "aucun"))
        typer.echo(f"Prochain envoi dû : {data['next_due'] or '—'}")
        for w in data["workers"]:
            state = " (terminé)" if w["ended_at"] else "" if w["fresh"] else " (silencieux)"
            typer.echo(f"Travailleur {w['id']} vu {w['last_seen']}{state}")
        for item in data["attention"]:
            typer.echo(f"À voir : envoi {item['id']} {item['state']} — {item['reason']}")
        for s in data["stuck"]:
            typer.echo(f"Bloqué : envoi {s['id']} (travailleur {s['worker_id']}, bail expiré {s['lease_until']})")
        for p in problems:
            typer.echo(f"ALERTE : {p}")
    if check and problems:
        raise typer.Exit(2)


@app.command()
def check(
    kind: Annotated[str, typer.Argument(help="x, facebook, mastodon ou bluesky")],
    text: Annotated[str | None, typer.Argument(help="Texte à vérifier")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Lire le texte dans un fichier")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="Instance Mastodon ou PDS Bluesky")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1,
                                              help="Limite de longueur du compte (ex. celle de l'instance Mastodon)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    language: Annotated[str, typer.Option(help="Langue des messages : fr ou en")] = "fr",
) -> None:
    """Vérifie un texte selon les règles d'une plateforme (longueur, liens…), sans contacter la plateforme."""
    from channels.registry import UnknownKind
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
    limit_option = {"x": "text_limit", "facebook": "max_message_length", "mastodon": "max_characters",
                    "bluesky": "max_graphemes"}
    options = {limit_option[kind]: limit} if limit is not None and kind in limit_option else {}
    try:
        validator = offline_validator(kind, name="check", base_url=base_url, options=options)
    except UnknownKind as exc:
        fail(str(exc))
    result = validator.validate(text.rstrip("\n") if file is not None else text)
    if as_json:
        out = result.as_dict(language)
        if validator.note is not None:
            out["note"] = validator.note.text(language)
        typer.echo(json.dumps(out, ensure_ascii=False))
    else:
        typer.echo(f"{kind} : {result.length}/{result.limit} — {'valide' if result.valid else 'invalide'}")
        for p in result.problems:
            typer.echo(f"  - {p.text(language)}")
        if validator.note is not None:
            typer.echo(f"  (i) {validator.note.text(language)}")
    if not result.valid:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------
# content


@content_app.command("validate")
def content_validate(path: Annotated[Path | None, typer.Argument(help="Dossier d'une édition, ou des éditions")] = None) -> None:
    """Vérifie un dossier de campagne : chaque problème avec son fichier et son champ."""
    from content.loader import validate_campaign

    root = path or content_root()
    folders = edition_folders(root)
    if not folders:
        fail(f"aucun campaign.yaml dans {root}")
    bad = 0
    for folder in folders:
        problems = validate_campaign(folder)
        if problems:
            bad += len(problems)
            typer.echo(f"{folder} : {len(problems)} problème(s)")
            for p in problems:
                typer.echo(f"  {p}")
        else:
            typer.echo(f"{folder} : valide")
    if bad:
        raise typer.Exit(1)


@content_app.command("load")
def content_load(path: Path) -> None:
    """Charge (ou met à jour) une édition depuis son dossier."""
    from content.loader import ContentInvalid, load_campaign
    from orchestrator.services.campaigns import load_content

    try:
        edition = load_campaign(path)
    except ContentInvalid as exc:
        fail(f"contenu invalide, rien n'a été chargé :\n{exc}")
    campaign = run_service(lambda s: load_content(s, actor=command_line_operator(), content=edition))
    typer.echo(f"Campagne {campaign.slug} chargée ({len(edition.cases)} cas).")


# Sub-apps kept in their own modules (dashboard staff, plans and exports).
from orchestrator.cli_plans import export_app, plan_app  # noqa: E402
from orchestrator.cli_users import user_app  # noqa: E402

app.add_typer(user_app, name="user")
app.add_typer(plan_app, name="plan")
app.add_typer(export_app, name="export")

from orchestrator.cli_ops import register as register_ops  # noqa: E402

register_ops(app)  # secrets rotate, backup, restore

from orchestrator import cli_plan  # noqa: E402,F401  (adds `export deliveries` to export_app)
from orchestrator.cli_responses import links_app, responses_app  # noqa: E402

app.add_typer(responses_app, name="responses")
app.add_typer(links_app, name="links")

from orchestrator import cli_accounts  # noqa: E402,F401,I001  (account add, set-credentials, remove)
from orchestrator import cli_editions  # noqa: E402,F401  (adds `content dump` to content_app)

if __name__ == "__main__":
    app()
