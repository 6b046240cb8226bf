"""The emulators the sandbox serves (each platform module registers its class here)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.sandbox.core import Emulator

EMULATORS: dict[str, str] = {
    "x": "channels.sandbox.x.XEmulator",
    "facebook": "channels.sandbox.facebook.FacebookEmulator",
    "mastodon": "channels.sandbox.mastodon.MastodonEmulator",
    "bluesky": "channels.sandbox.bluesky.BlueskyEmulator",
    "instagram": "channels.sandbox.instagram.InstagramEmulator",
    "threads": "channels.sandbox.threads.ThreadsEmulator",
}


def emulator_classes() -> list[type[Emulator]]:
    classes = []
    for dotted in EMULATORS.values():
        module_name, _, class_name = dotted.rpartition(".")
        classes.append(getattr(importlib.import_module(module_name), class_name))
    return classes
