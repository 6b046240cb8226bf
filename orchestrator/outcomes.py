"""What happens after a platform call: one table, read by the worker and nowhere else decided.

A publish call ends in one :class:`Result` (a publication, or one of the error classes of
:mod:`channels.base`, or an exception no channel names); a reconciling look ends in ``found`` or
``absent``. :data:`OUTCOMES` gives, for each, the delivery's next state, the outcome written on the
attempt row, when it is due again, whether the try counts as an attempt, and what happens to the
account. Where a result depends on one fact (retries left, a retry the platform deduplicates, an
earlier try), the table has one line per answer, the first that holds wins::

    result            when                  next state   outcome               due         attempt  account
    published         -                     published    published             -           +1       goes on
    rate_limited      -                     (requeue)    rate_limited          reset       -        paused until reset
    transient         retries left          retrying     transient             backoff     +1       goes on
    transient         no retries left       failed       transient             -           +1       goes on
    ambiguous         safe retry            retrying     ambiguous_safe_retry  backoff≤60s +1       goes on
    ambiguous         -                     unconfirmed  ambiguous             reconcile   +1       goes on
    unknown           (as ambiguous: we cannot know whether it posted)
    auth              -                     failed       auth                  -           +1       unhealthy
    permanent         -                     failed       permanent             -           +1       goes on
    duplicate_refused tried before          unconfirmed  refused_as_duplicate  now         +1       goes on
    duplicate_refused -                     failed       permanent             -           +1       goes on
    found             -                     published    reconciled_found      -           -        goes on
    absent            retries left          retrying     reconciled_absent     now         -        goes on
    absent            no retries left       failed       reconciled_absent     -           -        goes on

"(requeue)" is :func:`orchestrator.states.requeue_state`: back to the queue it was claimed from.
A safe retry is one the platform cannot turn into a second post (Bluesky's fixed record key;
Mastodon's idempotency key while the first try is well inside its window) with retries left.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import random

from channels.base import (
    AmbiguousError,
    AuthError,
    ChannelError,
    DuplicateRefused,
    PermanentError,
    RateLimited,
    TransientError,
)
from orchestrator import states
from orchestrator.settings import Settings


class Result(enum.Enum):
    """What a platform call came back with."""

    PUBLISHED = "published"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    AMBIGUOUS = "ambiguous"
    AUTH = "auth"
    PERMANENT = "permanent"
    DUPLICATE_REFUSED = "duplicate_refused"
    #: an exception no channel error class names (a bug of ours or an SDK's)
    UNKNOWN = "unknown"
    #: reconciling found the post on the platform
    FOUND = "found"
    #: reconciling proved the post is not there
    ABSENT = "absent"

    @classmethod
    def of(cls, exc: BaseException) -> Result:
        """The result a failed publish call stands for (the most precise class first)."""
        for error_class, result in _BY_CLASS:
            if isinstance(exc, error_class):
                return result
        return cls.UNKNOWN


_BY_CLASS: tuple[tuple[type[ChannelError], Result], ...] = (
    (RateLimited, Result.RATE_LIMITED),
    (TransientError, Result.TRANSIENT),
    (AmbiguousError, Result.AMBIGUOUS),
    (AuthError, Result.AUTH),
    (DuplicateRefused, Result.DUPLICATE_REFUSED),
    (PermanentError, Result.PERMANENT),
)


class When(enum.Enum):
    """The one fact a line of the table depends on."""

    ALWAYS = "always"
    RETRIES_LEFT = "retries left"
    SAFE_RETRY = "safe retry"
    TRIED_BEFORE = "tried before"


class Due(enum.Enum):
    """When the delivery is due again."""

    UNCHANGED = "unchanged"
    NOW = "now"
    BACKOFF = "backoff"
    SHORT_BACKOFF = "backoff, at most a minute"
    RESET = "the platform's reset"
    RECONCILE = "after the reconcile delay"


class ForAccount(enum.Enum):
    """What the result means for the account's other deliveries."""

    #: the runner goes on with the account's next delivery
    GOES_ON = "goes on"
    #: the account's publish budget is blocked until the platform's reset; the runner stops and
    #: the account's other deliveries wait for the reset
    PAUSED = "paused until reset"
    #: the account is marked unhealthy (its queue held until ``account test`` succeeds)
    UNHEALTHY = "unhealthy"

    @property
    def stops(self) -> bool:
        return self is not ForAccount.GOES_ON


#: the delivery goes back to the queue it came from (see :func:`states.requeue_state`)
REQUEUE = "requeue"


@dataclasses.dataclass(frozen=True)
class Then:
    state: str
    outcome: str
    due: Due = Due.UNCHANGED
    counts: bool = True
    account: ForAccount = ForAccount.GOES_ON


@dataclasses.dataclass(frozen=True)
class Attempted:
    """How one publish call ended, as the runner sees it: the result and what it means for the
    account's next deliveries."""

    result: Result
    account: ForAccount = ForAccount.GOES_ON

    @property
    def published(self) -> bool:
        return self.result is Result.PUBLISHED


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the table's conditions are asked about one delivery."""

    #: tries charged to the delivery, this one included when it counts
    attempts: int = 0
    max_attempts: int = 5
    #: the platform cannot make a second post of this delivery if it is sent again now
    safe_retry: bool = False
    #: an earlier try may have gone out (charged before, or ambiguous)
    tried_before: bool = False

    def holds(self, when: When) -> bool:
        if when is When.ALWAYS:
            return True
        if when is When.RETRIES_LEFT:
            return self.attempts < self.max_attempts
        if when is When.SAFE_RETRY:
            return self.safe_retry and self.attempts < self.max_attempts
        return self.tried_before


_AMBIGUOUS = (
    (When.SAFE_RETRY, Then(states.RETRYING, "ambiguous_safe_retry", Due.SHORT_BACKOFF)),
    (When.ALWAYS, Then(states.UNCONFIRMED, "ambiguous", Due.RECONCILE)),
)

OUTCOMES: dict[Result, tuple[tuple[When, Then], ...]] = {
    Result.PUBLISHED: ((When.ALWAYS, Then(states.PUBLISHED, "published")),),
    Result.RATE_LIMITED: (
        (When.ALWAYS, Then(REQUEUE, "rate_limited", Due.RESET, counts=False, account=ForAccount.PAUSED)),),
    Result.TRANSIENT: (
        (When.RETRIES_LEFT, Then(states.RETRYING, "transient", Due.BACKOFF)),
        (When.ALWAYS, Then(states.FAILED, "transient")),
    ),
    Result.AMBIGUOUS: _AMBIGUOUS,
    Result.UNKNOWN: _AMBIGUOUS,
    Result.AUTH: ((When.ALWAYS, Then(states.FAILED, "auth", account=ForAccount.UNHEALTHY)),),
    Result.PERMANENT: ((When.ALWAYS, Then(states.FAILED, "permanent")),),
    Result.DUPLICATE_REFUSED: (
        # an earlier try did go out after all: find it rather than fail a published post
        (When.TRIED_BEFORE, Then(states.UNCONFIRMED, "refused_as_duplicate", Due.NOW)),
        (When.ALWAYS, Then(states.FAILED, "permanent")),
    ),
    Result.FOUND: ((When.ALWAYS, Then(states.PUBLISHED, "reconciled_found", counts=False)),),
    Result.ABSENT: (
        (When.RETRIES_LEFT, Then(states.RETRYING, "reconciled_absent", Due.NOW, counts=False)),
        (When.ALWAYS, Then(states.FAILED, "reconciled_absent", counts=False)),
    ),
}


def decide(result: Result, facts: Facts) -> Then:
    """The first line of ``result`` whose condition holds."""
    for when, then in OUTCOMES[result]:
        if facts.holds(when):
            return then
    raise AssertionError(f"no line of the outcome table holds for {result}")  # every list ends with ALWAYS


def backoff(attempts: int, settings: Settings) -> float:
    """Seconds before try ``attempts + 1``: doubling from ``backoff_base``, jittered."""
    base = min(settings.backoff_max, settings.backoff_base * (2 ** max(0, attempts - 1)))
    return base * random.uniform(0.5, 1.5)  # jitter: retries of a burst do not land together


def due_at(due: Due, *, now: dt.datetime, current: dt.datetime, attempts: int, settings: Settings,
           reset_at: dt.datetime | None = None) -> dt.datetime:
    """The delivery's next due time for ``due``; ``attempts`` counts this try."""
    if due is Due.NOW:
        return now
    if due is Due.BACKOFF:
        return now + dt.timedelta(seconds=backoff(attempts, settings))
    if due is Due.SHORT_BACKOFF:
        return now + dt.timedelta(seconds=min(backoff(attempts, settings), 60.0))
    if due is Due.RESET:
        return reset_at or now + dt.timedelta(seconds=60)
    if due is Due.RECONCILE:
        return now + dt.timedelta(seconds=settings.reconcile_delay_seconds)
    return current


def target_state(then: Then, attempts: int) -> str:
    """``then.state``, with :data:`REQUEUE` resolved for a delivery charged ``attempts`` tries."""
    return states.requeue_state(attempts) if then.state == REQUEUE else then.state
