"""Which class serves which account ``kind``; SDKs are imported only when first needed."""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from channels.base import Channel

CHANNELS: dict[str, str] = {
    "x": "channels.x.XChannel",
    "facebook": "channels.facebook.FacebookChannel",
    "mastodon": "channels.mastodon.MastodonChannel",
    "bluesky": "channels.bluesky.BlueskyChannel",
}


class UnknownKind(ValueError):
    pass


@cache
def channel_class(kind: str) -> type[Channel]:
    try:
        dotted = CHANNELS[kind]
    except KeyError:
        known = ", ".join(sorted(CHANNELS))
        raise UnknownKind(f"Type de compte inconnu « {kind} » (connus : {known}).") from None
    module_name, _, class_name = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)  # type: ignore[no-any-return]
