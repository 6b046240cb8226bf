"""The ``porte-voix`` command: the root app, built from one module per group of commands.

Each command is a thin call into the service layer. Imports go one way: this package root imports
the command modules, the command modules import :mod:`orchestrator.cli.common` (and ``posts``
imports ``plans`` for ``schedule --file``); none imports the package root
(``tests/orchestrator/cli/test_cli_package.py`` checks it).
"""

from __future__ import annotations

import typer

from orchestrator.cli import (
                  accounts,
                  campaigns,
                  listen,
                  ops,
                  plans,
                  posts,
                  responses,
                  retract,
                  start,
                  stop,
                  users,
)

app = typer.Typer(help="Porte-voix : l'orchestrateur de la campagne Écrire, ça libère !", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)

# Top-level commands, in the order ``porte-voix --help`` lists them.
app.add_typer(start.commands)  # init, worker, sandbox, up
app.add_typer(posts.commands)  # schedule, status, check
app.add_typer(ops.commands)  # backup, restore
app.add_typer(listen.listen_app)  # listen
app.add_typer(stop.commands)  # suspend, resume
app.add_typer(retract.commands)  # retract, confirm-retraction

# Groups of commands.
app.add_typer(accounts.account_app, name="account")
app.add_typer(posts.post_app, name="post")
app.add_typer(campaigns.content_app, name="content")
app.add_typer(users.user_app, name="user")
app.add_typer(plans.plan_app, name="plan")
app.add_typer(plans.export_app, name="export")
app.add_typer(ops.secrets_app, name="secrets")
app.add_typer(ops.metrics_app, name="metrics")
app.add_typer(responses.responses_app, name="responses")
app.add_typer(responses.links_app, name="links")
app.add_typer(responses.api_app, name="api")

__all__ = ["app"]
