"""``porte-voix init | worker | sandbox | up``: set up the database, and start the parts."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
import typer

from orchestrator import db
from orchestrator.cli.common import content_root, engine, fail, load_campaigns, setup_logging
from orchestrator.secrets import SecretKeyError
from orchestrator.services.auth import command_line_operator
from orchestrator.settings import get_settings

if TYPE_CHECKING:
    from channels.sandbox import SandboxServer
    from channels.sandbox.clicks import Clicker

#: Commands at the top level (``porte-voix init`` …): the package adds them to the root app.
commands = typer.Typer()


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


@commands.command()
def init(
    content: Annotated[Path | None, typer.Option(help="Dossier des campagnes (un sous-dossier par édition).")] = None,
    new_key: Annotated[bool, typer.Option(
        "--new-key", help="Clé perdue pour de bon : créer une nouvelle clé même si la base contient des identifiants "
                          "chiffrés (ils devront être ressaisis avec « account set-credentials »).")] = False,
) -> None:
    """Crée ou met à jour le schéma, puis charge les campagnes (sans effet si rien n'a changé)."""
    from orchestrator.services.campaigns import load_content

    setup_logging()
    eng = db.get_engine()
    prepare_key(eng, new_key=new_key)
    db.upgrade(eng)
    folders = load_campaigns(content or content_root())
    with db.session_scope(eng) as session:
        for loaded in folders:
            campaign = load_content(session, actor=command_line_operator(), content=loaded)
            typer.echo(f"Campagne {campaign.slug} : {len(loaded.cases)} cas, {len(loaded.actions)} appels à l'action.")
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


@commands.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Fait ce qui est dû maintenant, puis s'arrête.")] = False,
    cpus: Annotated[str | None, typer.Option(
        "--cpus", help="Processeurs où garder le travailleur (0, 0,2 ou 1-3) ; par défaut PORTEVOIX_WORKER_CPUS.")] = None,
) -> None:
    """Le travailleur : publie ce qui est dû, vérifie, relève les statistiques."""
    from orchestrator import cpus as processors
    from orchestrator.worker import Worker

    setup_logging()
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


@commands.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port d'écoute.")] = 0,
    seed: Annotated[int, typer.Option(help="Graine du public simulé.")] = 1,
    speed: Annotated[float, typer.Option(help="Vitesse du public simulé (secondes simulées par seconde).")] = 30.0,
) -> None:
    """Lance seuls les émulateurs des quatre plateformes sur 127.0.0.1."""
    from channels.sandbox import Sandbox, SandboxServer

    setup_logging()
    server = SandboxServer(_with_public(Sandbox(seed=seed, speed=speed)), port=port or get_settings().sandbox_port)
    typer.echo(f"Bac à sable : {server.url} (Ctrl-C pour arrêter)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.stop()


#: Where ``links serve`` listens by default, and ``up`` when the short-link address is elsewhere.
LINKS_PORT = 8780


def local_links_port(base_url: str) -> int | None:
    """The port of a short-link address on this machine (``http://127.0.0.1:8780`` → 8780), or
    ``None`` when the address is elsewhere (a public name behind a proxy)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not is_loopback(parts.hostname or ""):
        return None
    return port or (443 if parts.scheme == "https" else 80)


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on ``host:port`` yet (a bind succeeds)."""
    import socket

    with socket.socket() as probe:
        # as the server will: a port left in TIME_WAIT by the last run is free, a listener is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def process_plan(*, port: int, host: str, links_base_url: str) -> dict[str, list[str]]:
    """The commands ``up`` starts beside its sandbox, by name: the worker, the short-link
    service and the dashboard. The short-link service listens on this machine only, on the port
    of ``links_base_url`` when that address is here (so the links the demo's posts carry lead to
    it), else on :data:`LINKS_PORT` (a reverse proxy in front of it serves the public address)."""
    links_port = local_links_port(links_base_url) or LINKS_PORT
    app_path = Path(str(resources.files("dashboard") / "app.py"))
    return {
        "worker": [sys.executable, "-m", "orchestrator", "worker"],
        "links": [sys.executable, "-m", "orchestrator", "links", "serve", "--host", LOCAL_HOST,
                  "--port", str(links_port)],
        "dashboard": [
            sys.executable, "-m", "streamlit", "run", str(app_path), "--server.port", str(port),
            "--server.address", host,
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",
        ],
    }


def start_clicks(server: SandboxServer, links_base_url: str) -> Clicker | None:
    """The sandbox's simulated readers following the demo's short links, when they lead to the
    short-link service ``up`` runs on this machine (never anywhere else)."""
    from channels.sandbox.clicks import Clicker

    if not get_settings().sandbox_clicks or local_links_port(links_base_url) is None:
        return None
    return Clicker(server.sandbox, links_base_url).start()


def _with_public(sandbox: Any) -> Any:
    """The demo's simulated public posts with the edition's hashtags and answers our posts
    (emulators that simulate one have ``auto_public``; tests leave it off)."""
    for emulator in sandbox.emulators:
        if hasattr(emulator, "auto_public"):
            emulator.auto_public = True
    return sandbox


@commands.command()
def up(
    no_sandbox: Annotated[bool, typer.Option("--no-sandbox", help="Sans émulateurs : comptes réels seulement.")] = False,
    port: Annotated[int, typer.Option(help="Port du tableau de bord.")] = 8501,
    host: Annotated[str, typer.Option(
        help="Adresse où le tableau de bord écoute. Par défaut 127.0.0.1 : cette machine seulement. "
             "Une autre adresse (0.0.0.0 : tout le réseau) l'ouvre aux autres machines, en HTTP non chiffré.")] = LOCAL_HOST,
) -> None:
    """Tout lancer : émulateurs, un travailleur, les liens courts et le tableau de bord. Ctrl-C arrête tout."""
    from channels.sandbox import Sandbox, SandboxServer
    from orchestrator import demo

    exposed = not is_loopback(host)
    init(content=None, new_key=False)
    settings = get_settings()
    children: list[subprocess.Popen[bytes]] = []
    server = None
    if not no_sandbox:
        try:
            server = SandboxServer(_with_public(Sandbox(seed=int(time.time()) % 1000, speed=30.0)),
                                   port=settings.sandbox_port).start()
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
    plan = process_plan(port=port, host=host, links_base_url=settings.links_base_url)
    links_port = int(plan["links"][-1])
    if not port_free(LOCAL_HOST, links_port):
        if server is not None:
            server.stop()
        fail(f"le port {links_port} des liens courts est pris : un autre « porte-voix up » ou « links serve » "
             "tourne-t-il ? Donnez une autre adresse, p. ex. PORTEVOIX_LINKS_BASE_URL=http://127.0.0.1:8781. "
             f"(Port {links_port} of the short-link service is taken; set another PORTEVOIX_LINKS_BASE_URL.)")
    for command in plan.values():
        children.append(subprocess.Popen(command, env=env))
    clicks = start_clicks(server, settings.links_base_url) if server is not None else None
    typer.echo(f"Liens courts : {settings.links_base_url}/<code> (service sur {LOCAL_HOST}:{links_port})")
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
        if clicks is not None:
            clicks.stop()
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

