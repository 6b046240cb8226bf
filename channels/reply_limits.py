"""Who may reply to a new post: one small vocabulary, mapped to what each platform offers.

A case may say that its new posts take replies from fewer people (``Case.reply_limit``): under
posts about people at risk, replies can turn to harassment. The setting goes with the first part
of a post (a thread's later parts are replies and take none of their own):

=================  =====================  ==============================  ==========================  =========================
ours               X ``reply_settings``   Bluesky thread-gate ``allow``   Mastodon quote policy       Threads ``reply_control``
=================  =====================  ==============================  ==========================  =========================
"" (everyone)      (not sent)             (no gate)                       (not sent)                  (not sent)
``followers``      ``following`` [1]      ``[followerRule]``              ``followers``               ``followers_only``
``mentioned``      ``mentionedUsers``     ``[mentionRule]``               ``nobody`` [2]              ``mentioned_only``
``nobody``         ``mentionedUsers`` [3] ``[]``                          ``nobody`` [2]              ``parent_post_author_only``
=================  =====================  ==============================  ==========================  =========================

[1] X has no "our followers" setting: ``following`` lets the accounts *we follow* reply, the
nearest it offers. [2] Mastodon cannot limit replies at all: its 4.5 ``quote_approval_policy``
limits who may *quote* the post, and has no rule for mentioned accounts (the stricter one is
used). [3] X has no "nobody": ``mentionedUsers`` leaves only the accounts the post mentions
(none, for most campaign posts). Facebook and Instagram offer nothing of the kind to an API
client: their posts go out open to all, and the compose preview says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from content.model import ReplyLimit

#: Our values, least limited first ("" = everyone is not among them).
LIMITS: tuple[str, ...] = get_args(ReplyLimit)

X: Mapping[str, str] = {"followers": "following", "mentioned": "mentionedUsers", "nobody": "mentionedUsers"}
#: Bluesky: the thread-gate's ``allow`` rules, by their lexicon type.
BLUESKY: Mapping[str, tuple[str, ...]] = {
    "followers": ("app.bsky.feed.threadgate#followerRule",),
    "mentioned": ("app.bsky.feed.threadgate#mentionRule",),
    "nobody": (),
}
MASTODON: Mapping[str, str] = {"followers": "followers", "mentioned": "nobody", "nobody": "nobody"}
THREADS: Mapping[str, str] = {"followers": "followers_only", "mentioned": "mentioned_only",
                              "nobody": "parent_post_author_only"}


def value_for(mapping: Mapping[str, Any], limit: str) -> Any:
    """The platform's value for ``limit``; None for "" (everyone: nothing is sent) or a value
    the platform does not know."""
    return mapping.get(limit) if limit else None
