"""The orchestrator: models, migrations, the service layer, the worker and the CLI."""

__version__ = "0.1.0"
