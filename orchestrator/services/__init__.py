"""Every state change staff can make, with its rules, in one place for the CLI and the dashboard.

Service functions take the session and the acting person explicitly, as keyword arguments.
"""

from orchestrator.services.auth import Actor, PermissionDenied, ServiceError

__all__ = ["Actor", "PermissionDenied", "ServiceError"]
