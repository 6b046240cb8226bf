"""The one error-mapping shape every channel uses: a table of rules on the class, read top to
bottom by Channel.map_error."""

from __future__ import annotations

import datetime as dt

import pytest

from channels.base import (
    AmbiguousError,
    AuthError,
    ErrorFacts,
    ErrorRule,
    PermanentError,
    RateLimited,
    TransientError,
    no_platform_code,
)
from channels.registry import KINDS, channel_class


class LibraryError(Exception):
    pass


class Throttled(LibraryError):
    pass


def _channel(table: tuple[ErrorRule, ...]) -> type:
    base = channel_class(KINDS[0])
    return type("Fake", (base,), {"error_table": table, "platform_name": "Fake"})


TABLE = (
    ErrorRule(RateLimited, "slow down ({code})", "ralentir ({code})", exceptions=(Throttled,), codes=(4, 17),
              statuses=(429,)),
    ErrorRule(AuthError, "token: {detail}", "jeton : {detail}", statuses=(401,)),
    ErrorRule((AmbiguousError, TransientError), "server {status}", "serveur {status}", statuses=range(500, 600)),
    ErrorRule(PermanentError, "no answer", "pas de réponse", exceptions=(LibraryError,), on_write=False,
              platform_code=no_platform_code),
)


def test_the_first_matching_rule_wins_with_statuses_or_codes() -> None:
    fake = _channel(TABLE)
    reset = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    by_code = fake.map_error(Throttled(), write=True, facts=ErrorFacts(status=400, code=17, reset_at=reset))
    assert isinstance(by_code, RateLimited) and by_code.reset_at == reset and by_code.platform_code == 17
    assert by_code.message("fr") == "ralentir (17)"
    by_status = fake.map_error(Throttled(), write=True, facts=ErrorFacts(status=429))
    assert isinstance(by_status, RateLimited) and by_status.platform_code == 429
    # Codes and statuses of a rule for another exception class do not match.
    auth = fake.map_error(Throttled(), write=False, facts=ErrorFacts(status=401, detail="revoked"))
    assert isinstance(auth, AuthError) and auth.message("en") == "token: revoked"


def test_a_pair_depends_on_whether_the_call_may_have_published() -> None:
    fake = _channel(TABLE)
    assert type(fake.map_error(LibraryError(), write=True, facts=ErrorFacts(status=503))) is AmbiguousError
    assert type(fake.map_error(LibraryError(), write=False, facts=ErrorFacts(status=503))) is TransientError


def test_on_write_and_what_no_rule_matches() -> None:
    fake = _channel(TABLE)
    read = fake.map_error(LibraryError("x"), write=False, facts=ErrorFacts(status=404))
    assert type(read) is PermanentError and read.platform_code is None
    # No rule for a write of this failure: the cautious answer, reconcile before any retry.
    assert type(fake.map_error(LibraryError(), write=True, facts=ErrorFacts(status=404))) is AmbiguousError
    assert type(fake.map_error(ValueError(), write=False)) is PermanentError


@pytest.mark.parametrize("kind", KINDS)
def test_every_channel_maps_its_failures_through_its_table(kind: str) -> None:
    cls = channel_class(kind)
    assert cls.error_table and all(isinstance(rule, ErrorRule) for rule in cls.error_table)
    # Whatever the failure, exactly one of our errors comes out, with words in both languages.
    for exc in (ValueError("bad"), KeyError("k"), RuntimeError("odd")):
        for write in (True, False):
            err = cls.map_error(exc, write=write)
            assert err.message("fr") and err.message("en") and "{" not in err.message("fr")
            # An unexplained failure of a call that may have published is never retried blindly.
            assert not write or not isinstance(err, TransientError | RateLimited), (kind, exc, err)
