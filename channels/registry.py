"""Which class serves which account ``kind``; SDKs are imported only when first needed."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from channels.base import Channel, CredentialField

CHANNELS: dict[str, str] = {
    "x": "channels.x.XChannel",
    "facebook": "channels.facebook.FacebookChannel",
    "mastodon": "channels.mastodon.MastodonChannel",
    "bluesky": "channels.bluesky.BlueskyChannel",
    "instagram": "channels.instagram.InstagramChannel",
    "threads": "channels.threads.ThreadsChannel",
}


#: Every registered kind, in the order they are offered to people.
KINDS: tuple[str, ...] = tuple(CHANNELS)

#: The kinds in a French sentence, for help texts ("x, facebook, mastodon ou bluesky").
KINDS_FR = ", ".join(KINDS[:-1]) + " ou " + KINDS[-1]

T = TypeVar("T")


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


class ByKind(Mapping[str, T], Generic[T]):
    """One fact per registered kind, read from its channel class the first time it is asked for
    (so listing the kinds imports no SDK, and asking about one kind imports only its own)."""

    def __init__(self, fact: Callable[[type[Channel]], T]) -> None:
        self._fact = fact

    def __getitem__(self, kind: str) -> T:
        if kind not in CHANNELS:
            raise KeyError(kind)
        return self._fact(channel_class(kind))

    def __iter__(self) -> Iterator[str]:
        return iter(CHANNELS)

    def __len__(self) -> int:
        return len(CHANNELS)

    def __repr__(self) -> str:
        return f"ByKind({dict(self)!r})"


# ---------------------------------------------------------------------------------------------
# Facts over every kind (these import every channel module, so each is read once, when needed)


@cache
def credential_fields() -> dict[str, tuple[tuple[str, CredentialField], ...]]:
    """Every credential name any kind declares, with the kinds that declare it and how (the same
    name may be a secret on one platform and public on another), in registry order."""
    found: dict[str, list[tuple[str, CredentialField]]] = {}
    for kind in CHANNELS:
        for field in channel_class(kind).credential_fields:
            found.setdefault(field.name, []).append((kind, field))
    return {name: tuple(declared) for name, declared in found.items()}


@cache
def public_credential_names() -> frozenset[str]:
    """Credential names that are public identifiers wherever they are declared (a Page's id, a
    handle): the only ones that may be given as options or left readable in logs."""
    return frozenset(name for name, declared in credential_fields().items()
                     if not any(field.secret for _, field in declared))


@cache
def account_options() -> dict[str, tuple[str, ...]]:
    """Every account option any kind reads, with the kinds that read it."""
    found: dict[str, list[str]] = {}
    for kind in CHANNELS:
        for option in channel_class(kind).account_options:
            found.setdefault(option, []).append(kind)
    return {option: tuple(kinds) for option, kinds in found.items()}
