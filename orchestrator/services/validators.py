"""Offline validators: a channel built only to check a text and its images against a platform's
rules, with no credentials and no network.

Every page and command that checks a text before it goes out (Compose's counters, Approvals'
previews, the templates' fit report, ``porte-voix check``) builds its validator here, from the
account it is about, so that the same account is judged the same way everywhere.

Why a place of its own: a channel's constructor is written for publishing. Mastodon's refuses to
be built without the instance's address (each server is its own platform), and Facebook's without
a Page id and token. ``validate()`` itself needs neither: it reads the limits from the account's
options (``account test`` stores a Mastodon instance's real limits there) or falls back to each
platform's documented defaults. The stand-ins below only satisfy the constructors; nothing is ever
sent with them, and stored credentials are never decrypted to check a text.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from channels.base import AccountConfig, Channel, Image, Problem, Validation
from channels.registry import ByKind

if TYPE_CHECKING:
    from orchestrator.models import Account

#: How staff read each kind of account (each channel declares its platform's name).
PLATFORM_NAMES: Mapping[str, str] = ByKind(lambda cls: cls.platform_name)

#: Satisfies a Mastodon client's constructor when the account has no instance address; the
#: ``.invalid`` top-level domain can never resolve (RFC 2606), so nothing could reach it anyway.
PLACEHOLDER_INSTANCE = "https://mastodon.invalid"

def platform_name(kind: str) -> str:
    return PLATFORM_NAMES.get(kind, kind.capitalize())


@dataclasses.dataclass(frozen=True)
class OfflineValidator:
    """A channel that only validates, and what the page should say about how sure it is."""

    kind: str
    channel: Channel
    #: Said beside the counter when the limit is a platform default rather than the account's own.
    note: Problem | None = None

    def validate(self, text: str, images: list[Image] | tuple[Image, ...] = (), *,
                 content_warning: str = "") -> Validation:
        """``content_warning`` counts where the platform counts it with the text (Mastodon's
        ``spoiler_text``); elsewhere it is not sent, so not counted. The accessibility warnings
        (``channels/accessibility.py``: hashtags, emoji, a link mid-sentence on X, alt text) are
        added to the platform's own: they never make a text invalid."""
        from channels import accessibility

        if content_warning and self.channel.can_content_warning:
            verdict = self.channel.validate(text, images, spoiler_text=content_warning)  # type: ignore[call-arg]
        else:
            verdict = self.channel.validate(text, images)
        extra = accessibility.warnings(self.channel, text, images)
        return dataclasses.replace(verdict, warnings=verdict.warnings + tuple(extra)) if extra else verdict


def _server_limit_note(options: dict[str, Any]) -> Problem | None:
    """For an account on its own server (Mastodon), whose limit is read from that server."""
    if options.get("max_characters"):
        return None
    return Problem(
        "limit_unknown",
        "Limite de l'instance Mastodon pas encore lue : la limite par défaut de Mastodon (500 caractères) "
        "s'applique. Testez le compte (page Comptes) pour lire celle de l'instance.",
        "The Mastodon instance's limit has not been read yet: Mastodon's default (500 characters) applies. "
        "Test the account (Channels page) to read the instance's own.",
    )


def offline_validator(
    kind: str, *, name: str = "", base_url: str | None = None, options: dict[str, Any] | None = None
) -> OfflineValidator:
    """The validator of one kind of account, with its instance (Mastodon), PDS (Bluesky) or
    emulator address and its stored options (which may change a limit)."""
    from channels.registry import channel_class

    options = dict(options or {})
    cls = channel_class(kind)  # raises UnknownKind for a kind no channel serves
    if cls.needs_server:
        base_url = base_url or options.get("instance_url") or PLACEHOLDER_INSTANCE
    config = AccountConfig(kind=kind, name=name or kind, credentials=dict(cls.offline_credentials),
                           base_url=base_url, options=options)
    note = _server_limit_note(options) if cls.needs_server else None
    return OfflineValidator(kind=kind, channel=cls(config), note=note)


def for_account(account: Account) -> OfflineValidator:
    """The validator of a stored account, built from its address and options only. Validators
    hold no state, so one is kept per distinct set of rules: approving a plan of thousands of
    posts does not build thousands of clients."""
    # a stored login session has nothing to do with the rules, and would defeat the sharing
    options = {k: v for k, v in (account.options or {}).items() if k != "session_string"}
    return _shared(account.kind, account.base_url, json.dumps(options, sort_keys=True, default=str))


@functools.lru_cache(maxsize=64)
def _shared(kind: str, base_url: str | None, options: str) -> OfflineValidator:
    return offline_validator(kind, base_url=base_url, options=json.loads(options))
