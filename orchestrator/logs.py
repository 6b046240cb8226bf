"""One line per event; JSON when ``PORTEVOIX_LOG_FORMAT=json``. Secrets never reach a log line."""

from __future__ import annotations

import functools
import json
import logging
import re
import sys

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# Tokens look like long runs of base64/hex; credentials in URLs look like access_token=...
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._\-~+/]+=*)"),  # first: the name pattern would eat "Bearer"
    re.compile(r"(?i)(access_token|page_token|bearer_token|app_password|password|consumer_secret|consumer_key|"
               r"access_token_secret|refresh_token|client_secret|app_secret|appsecret_proof|api_key|"
               r"oauth_token|oauth_signature|authorization|accessJwt|refreshJwt)(['\"]?\s*[:=]\s*['\"]?)([^\s&\"',}]+)"),
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(0)[: len(m.group(0)) - len(m.groups()[-1])] + "«masqué»", text)
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


#: Extra fields whose very name says they hold a secret are masked whatever their value looks like.
_SECRET_KEY = re.compile(r"(?i)token|secret|password|authorization|jwt|credential|cookie")


class RedactingFilter(logging.Filter):
    """On the handler, so every record is cleaned whatever logger (ours or a library's) made it:
    the message, the extra fields, and the exception's text (a requests error carries the URL,
    and Facebook's URLs carry ``access_token=`` in the query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                secret = isinstance(value, str) and _SECRET_KEY.search(key)
                setattr(record, key, "«masqué»" if secret else _redact_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "at": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["error"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


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
