"""The worker: claims due deliveries, publishes them, records outcomes, reconciles, polls metrics.

Its parts live in the modules of this package; :class:`Worker` puts them together.
"""

from orchestrator.outcomes import backoff
from orchestrator.worker.claimer import Claimed
from orchestrator.worker.worker import Worker

__all__ = ["Claimed", "Worker", "backoff"]
