"""The sandbox's live public: people who post with the campaign's hashtags and answer its posts
while the demo runs, so that listening finds something without anyone calling ``inject_public``.

Each emulator asks :meth:`LivePublic.due` when a listening request comes in (a search for a term,
the account's mentions, notifications or comments): the answer is how many posts the public made
on that stream since the previous request, at a rate fixed by the seed, the platform and the
stream (12 to 47 an hour of simulated time), and over how many seconds to spread them. The
emulator then makes them with its own ``inject_public``, in its platform's shapes.

On when the emulator's ``auto_public`` is set (the demo: ``porte-voix up`` and ``porte-voix
sandbox`` set it on every emulator that has it) or ``PORTEVOIX_SANDBOX_PUBLIC`` is ``on``; off when
that variable is ``off``. The tests' sandbox leaves it off: its public posts only when a test says so.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

#: What the live public posts, in turn: mostly its own words, some photos, some answers.
KINDS = ("original", "original", "photo", "reply", "quote", "repost")
ANSWER_KINDS = ("reply", "quote", "repost")
#: What the live public writes when it answers our posts (the inbox shows it): questions, thanks,
#: testimonies, a broken link reported, and, as under posts about people at risk, harassment.
ANSWER_TEXTS = (
    "Où est-ce que je signe ?",
    "Merci pour ce que vous faites, j'ai écrit ma lettre ce matin.",
    "La pétition ne marche pas sur mon téléphone.",
    "Where do I sign? The link seems broken.",
    "Fermez-la, bande de traîtres. Personne ne vous écoute.",
    "J'ai partagé avec ma classe, on écrit vendredi !",
    "Thank you, I signed and shared it.",
)
#: One mention of the account for so many answers made for one request.
MENTION_EVERY = 5
BACKLOG = 3600.0  # the first request finds an hour of posts already there
MAX_BATCH = 500  # at most this many posts made for one request


def enabled(emulator: Any) -> bool:
    flag = os.environ.get("PORTEVOIX_SANDBOX_PUBLIC", "").strip().lower()
    if flag in ("on", "1", "true", "yes"):
        return True
    if flag in ("off", "0", "false", "no"):
        return False
    return bool(getattr(emulator, "auto_public", False))


class LivePublic:
    def __init__(self, emulator: Any) -> None:
        self.emulator = emulator
        self.sandbox = emulator.sandbox
        self.platform = emulator.platform
        self.last: dict[str, float] = {}
        self.carry: dict[str, float] = {}

    def reset(self) -> None:
        self.last.clear()
        self.carry.clear()

    def rate(self, stream: str) -> int:
        """Posts an hour of simulated time on this stream, the same for a given seed."""
        digest = hashlib.sha256(f"{self.sandbox.seed}:{self.platform}:{stream}".encode()).digest()
        return 12 + digest[0] % 36

    def due(self, stream: str) -> tuple[int, float]:
        """(posts to make, seconds to spread them over) for a request on ``stream`` now."""
        if not enabled(self.emulator):
            return 0, 0.0
        with self.sandbox.lock:
            now = self.sandbox.now()
            last = self.last.get(stream, now - BACKLOG)
            self.last[stream] = now
            elapsed = max(0.0, now - last)
            speed = max(1.0, float(getattr(self.sandbox, "speed", 1.0)))
            expected = self.rate(stream) * elapsed * speed / 3600 + self.carry.get(stream, 0.0)
            made = min(int(expected), MAX_BATCH)
            self.carry[stream] = expected - made if made < MAX_BATCH else 0.0
        return made, elapsed
