"""Emulators of the four platforms' HTTP APIs, served on 127.0.0.1 for tests, demos and training.

``start_sandbox()`` serves all four on one port (their paths do not overlap: X ``/2/…``, Graph
``/vNN.N/…``, Mastodon ``/api/…``, Bluesky ``/xrpc/…``) plus a control API under ``/_sandbox/``.
"""

from channels.sandbox.core import Fault, Sandbox, SandboxServer, start_sandbox

__all__ = ["Fault", "Sandbox", "SandboxServer", "start_sandbox"]
