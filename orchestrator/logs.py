"""One line per event; JSON when ``PORTEVOIX_LOG_FORMAT=json``. Secrets never reach a log line."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import threading
import urllib.parse
from collections.abc import Iterable

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Tokens look like long runs of base64/hex; credentials in URLs look like access_token=...
# A value may be percent-encoded (a URL inside a URL's query: "%3Faccess_token%3D…"): "%xx" is
# part of the value, except the encoded "&", '"' and "," that end it.
_VALUE = r"((?:%(?!2[26cC])[0-9A-Fa-f]{2}|[^\s&\"',}%])+)"
_SECRET_NAMES = (r"access_token|page_token|bearer_token|app_password|password|consumer_secret|consumer_key|"
                 r"access_token_secret|refresh_token|client_secret|app_secret|appsecret_proof|api_key|"
                 r"oauth_token|oauth_signature|authorization|accessJwt|refreshJwt")
_SECRET_PATTERNS = [
    # first: the name pattern would eat "Bearer"; the space may be encoded ("Bearer%20…", "Bearer+…")
    re.compile(r"(?i)(bearer(?:\s+|%20|\+))([A-Za-z0-9._\-~+/%]+=*)"),
    re.compile(r"(?i)(" + _SECRET_NAMES + r")((?:['\"]|%22)?\s*(?:[:=]|%3[aAdD])\s*(?:['\"]|%22)?)" + _VALUE),
    # Tokens recognisable without their name: a JWT (Bluesky's sessions), X's app-only bearer
    # tokens (a run of "A" then the token), Facebook's access tokens ("EAA…").
    re.compile(r"()(eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)"),
    re.compile(r"()(A{12,}[A-Za-z0-9%_\-]{20,})"),
    re.compile(r"()(\bEAA[A-Za-z0-9]{20,})"),
]

#: Secrets this process has decrypted (orchestrator.secrets), masked wherever they turn up, as
#: written or percent-encoded: a Mastodon token has no shape to recognise it by. Kept in the order
#: they were first seen and bounded: a worker running for weeks sees a new Bluesky session every
#: few hours, and the oldest of those have long expired (their JWTs are masked by shape anyway).
_KNOWN: dict[str, None] = {}
_KNOWN_MAX = 1_000
_known_pattern: re.Pattern[str] | None = None
_known_stale = False
_known_lock = threading.Lock()


def remember_secrets(values: Iterable[object]) -> None:
    """Mask these values in every later log line (short ones would mask ordinary words). Cheap:
    the pattern is rebuilt when a line is next cleaned, not here (decrypting must not cost a
    regular-expression compile of every secret seen so far)."""
    global _known_stale
    fresh = [v for v in values if isinstance(v, str) and len(v) >= 8 and v not in _KNOWN]
    if not fresh:
        return
    with _known_lock:
        for value in fresh:
            _KNOWN[value] = None
        while len(_KNOWN) > _KNOWN_MAX:
            del _KNOWN[next(iter(_KNOWN))]
        _known_stale = True
    _redact_short.cache_clear()  # a line cleaned before may hold one of them


def _known() -> re.Pattern[str] | None:
    global _known_pattern, _known_stale
    if not _known_stale:
        return _known_pattern
    with _known_lock:
        if _known_stale:
            forms = {form for v in _KNOWN for form in (v, urllib.parse.quote(v, safe=""), urllib.parse.quote_plus(v))}
            _known_pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))
            _known_stale = False
        return _known_pattern


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(0)[: len(m.group(0)) - len(m.groups()[-1])] + "«masqué»", text)
    known = _known()
    if known is not None:
        text = known.sub("«masqué»", text)
    return text


@functools.lru_cache(maxsize=4096)
def _redact_short(text: str) -> str:
    """Extra fields repeat (event names, states, worker ids): clean each distinct one once."""
    return redact(text)


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return _redact_short(value) if len(value) <= 200 else redact(value)
    if isinstance(value, dict):
        return {k: "«masqué»" if isinstance(v, str) and _SECRET_KEY.search(str(k)) else _redact_value(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    return value


#: A record may carry a batch of events of one kind (the transitions written by one statement):
#: ``events`` is a list of dicts, ``event_common`` the fields they all share (cleaned once) and
#: ``event_message`` a ``str.format`` template for each. Our formatters write one line per event,
#: so a batch costs one record and one write instead of one per delivery, and the output is the
#: same as if each had been logged alone.
EVENTS = "events"
COMMON = "event_common"
_BATCH_KEYS = (EVENTS, COMMON, "event_message")

#: Extra fields whose very name says they hold a secret are masked whatever their value looks like.
_SECRET_KEY = re.compile(r"(?i)token|secret|password|authorization|jwt|credential|cookie")


@functools.lru_cache(maxsize=256)
def _secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def _redact_event(event: dict[str, object]) -> dict[str, object]:
    """One event of a batch: the same rules as the extra fields of a record."""
    return {k: "«masqué»" if isinstance(v, str) and _secret_key(k) else _redact_value(v) for k, v in event.items()}


def _lines(record: logging.LogRecord) -> list[tuple[str, dict[str, object]]]:
    """(message, own fields) per line: one per event of a batch, else the record itself."""
    events = getattr(record, EVENTS, None)
    if isinstance(events, list):
        template = str(getattr(record, "event_message", "{}"))
        common = getattr(record, COMMON, None) or {}
        merged = [{**common, **event} for event in events] if common else events
        return [(template.format_map(_Missing(event)), event) for event in merged]
    return [(record.getMessage(), {})]


class _Missing(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "?"


class RedactingFilter(logging.Filter):
    """On the handler, so every record is cleaned whatever logger (ours or a library's) made it:
    the message, the extra fields, and the exception's text (a requests error carries the URL,
    and Facebook's URLs carry ``access_token=`` in the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key == EVENTS and isinstance(value, list):
                record.events = [_redact_event(event) for event in value]
            elif key == COMMON and isinstance(value, dict):
                record.event_common = _redact_event(value)
            elif key not in _STANDARD and not key.startswith("_"):
                secret = isinstance(value, str) and _SECRET_KEY.search(key)
                setattr(record, key, "«masqué»" if secret else _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, EVENTS, None) is None:
            return redact(super().format(record))
        lines = []
        for message, _ in _lines(record):
            line = logging.makeLogRecord({**vars(record), "msg": message, "args": None, EVENTS: None})
            lines.append(redact(super().format(line)))
        return "\n".join(lines)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base: dict[str, object] = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": "",
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _BATCH_KEYS and not key.startswith("_"):
                base[key] = value
        if record.exc_info:
            base["error"] = record.exc_text or redact(self.formatException(record.exc_info))
        return "\n".join(json.dumps({**base, "message": message, **own}, ensure_ascii=False, default=str)
                         for message, own in _lines(record))


QUIET_LOGGERS = (
    "urllib3", "requests", "httpx", "httpcore", "hpack", "apscheduler.executors", "apscheduler.scheduler",
    "requests_oauthlib", "oauthlib", "tweepy", "mastodon", "atproto", "atproto_client", "atproto_core",
    "facebook", "websockets", "PIL",
)


def setup(level: str = "INFO", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        handler.formatter.converter = __import__("time").gmtime  # type: ignore[union-attr]
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Libraries that log whole requests or responses at DEBUG: URLs with tokens in the query, and
    # bodies with the public's names and replies. Kept at WARNING even when we run at DEBUG; the
    # handler's filter is the second line of defence for what they log above that.
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
