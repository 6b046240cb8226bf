"""``porte-voix listen --once``: one listening pass, and what it found per case and platform."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orchestrator.cli.common import engine, fail, setup_logging

listen_app = typer.Typer(help="Écoute : les publications du public avec les mots-dièse de l'édition.")

_KINDS = {
    "original": ("publication", "post"), "photo": ("photo", "photo"), "reply": ("réponse", "reply"),
    "quote": ("citation", "quote"), "repost": ("partage", "repost"),
}


@listen_app.command("listen")
def listen(
    once: Annotated[bool, typer.Option("--once", help="Un seul passage, puis s'arrêter (le travailleur écoute tout seul).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON")] = False,
    lang: Annotated[str, typer.Option("--lang", help="Langue des messages : fr ou en")] = "fr",
) -> None:
    """Lit les publications du public portant les termes d'écoute, et les réponses à nos
    publications, sur chaque compte en bonne santé, dans la limite de son budget d'appels."""
    if not once:
        fail("le travailleur (« porte-voix worker ») écoute de lui-même ; pour un seul passage : "
             "« porte-voix listen --once ». (The worker listens on its own; for one pass: `porte-voix listen --once`.)")
    if lang not in ("fr", "en"):
        fail("--lang : fr ou en")
    setup_logging()
    from channels.registry import channel_class
    from orchestrator.services.listening_view import searches_keywords
    from orchestrator.settings import get_settings
    from orchestrator.worker.channels import Channels
    from orchestrator.worker.listen import Listener

    eng = engine()
    settings = get_settings()
    report = Listener(eng, settings, channels=Channels(eng, settings)).listen()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, sort_keys=True))
        return
    en = lang == "en"
    typer.echo((f"Listening pass for {report.campaign or '—'}: {report.new} new public post(s), "
                f"{report.calls} call(s), {report.duplicates} already counted.") if en else
               (f"Passage d'écoute pour {report.campaign or '—'} : {report.new} nouvelle(s) publication(s) du public, "
                f"{report.calls} appel(s), {report.duplicates} déjà comptée(s)."))
    for (case, platform), kinds in sorted(report.found.items()):
        name = case or ("(the edition as a whole)" if en else "(l'édition entière)")
        parts = ", ".join(f"{n} {_KINDS.get(kind, (kind, kind))[1 if en else 0]}" for kind, n in sorted(kinds.items()))
        typer.echo(f"  {name:<28} {platform:<9} {parts}")
    account_kinds = _account_kinds(eng)
    for account, stream in report.unavailable:
        platform = account_kinds.get(account, "")
        if not searches_keywords(platform) and stream.startswith("keyword:"):  # by design: nothing to re-test
            word, label = stream.split(":", 1)[1], channel_class(platform).label
            typer.echo((f"  {account}: keyword \"{word}\" not listened to ({label} searches hashtags only, not "
                        "keywords)") if en else
                       (f"  {account} : mot-clé « {word} » non écouté ({label} ne cherche que les mots-clics, pas "
                        "les mots-clés)"))
            continue
        typer.echo((f"  {account}: {stream} not available to this account (search not included; re-test the "
                    "account once its access allows it)") if en else
                   (f"  {account} : {stream} non disponible pour ce compte (recherche non comprise dans son accès ; "
                    "retestez le compte quand elle le sera)"))
    for account, stream, error in report.errors:
        typer.echo(f"  {account} · {stream} : {error['en' if en else 'fr']}", err=True)
    for account, streams in sorted(report.held_for_budget.items()):
        typer.echo((f"  {account}: {streams} stream(s) left for the next pass, to keep the budget for publishing")
                   if en else
                   (f"  {account} : {streams} flux remis au prochain passage, pour garder le budget de la publication"))


def _account_kinds(eng: object) -> dict[str, str]:
    """Each account's platform, by name (the report names accounts)."""
    from sqlmodel import Session, select

    from orchestrator.models import Account

    with Session(eng) as s:  # type: ignore[arg-type]
        return {str(name): str(kind) for name, kind in s.exec(select(Account.name, Account.kind))}
