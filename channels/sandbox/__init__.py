"""Emulators of the platforms' HTTP APIs, served on 127.0.0.1 for tests, demos and training.

``start_sandbox()`` serves them all on one port (X ``/2/…``, Graph ``/vNN.N/…``, Mastodon
``/api/…``, Bluesky ``/xrpc/…``) plus a control API under ``/_sandbox/``. Instagram and Threads
speak Graph's paths too: Instagram's emulator claims its own ids, Threads' the requests meant for
its host (``X-Original-Host``), before Facebook's sees them (``Emulator.narrow``).
"""

from channels.sandbox.core import Fault, Sandbox, SandboxServer, start_sandbox

__all__ = ["Fault", "Sandbox", "SandboxServer", "start_sandbox"]
