"""The log handler cleans what any logger hands it: messages, extra fields, exception texts."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator

import pytest
import requests

from orchestrator import logs

SECRET = "EAAGm0PX4ZCpsBAxyzSECRET123"


@contextlib.contextmanager
def configured(level: str, fmt: str) -> Iterator[io.StringIO]:
    """``logs.setup`` as the CLI calls it, writing to a buffer; the previous logging put back after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    buffer = io.StringIO()
    logs.setup(level, fmt)
    ours = root.handlers[0]
    assert isinstance(ours, logging.StreamHandler)
    ours.setStream(buffer)
    # pytest's capture handlers see records before ours cleans them; keep only ours meanwhile
    root.handlers[:] = [ours]
    try:
        yield buffer
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        for name, level_ in levels.items():
            logging.getLogger(name).setLevel(level_)


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    with configured("DEBUG", "json") as buffer:
        yield buffer


def _lines(buffer: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    buffer.seek(0)
    buffer.truncate()
    return lines


def test_tokens_in_messages_extras_and_exceptions_are_masked(json_logs: io.StringIO) -> None:
    log = logging.getLogger("porte_voix.test")
    log.info("GET https://graph.facebook.com/v24.0/me/feed?access_token=%s&fields=id", SECRET)
    log.info("headers %s", {"Authorization": f"Bearer {SECRET}"})
    log.info("oauth", extra={"page_token": SECRET, "request": {"app_password": SECRET, "n": 3}, "tokens": 4.5})
    log.info('signed: OAuth oauth_consumer_key="k", oauth_token="%s", oauth_signature="%s"', SECRET, SECRET)
    try:
        raise requests.ConnectionError(f"Max retries exceeded with url: /v24.0/me?access_token={SECRET}")
    except requests.ConnectionError:
        log.exception("publish failed")
    lines = _lines(json_logs)
    assert len(lines) == 5
    assert SECRET not in json.dumps(lines)
    assert lines[2]["page_token"] == "«masqué»" and lines[2]["request"]["n"] == 3 and lines[2]["tokens"] == 4.5
    assert "Max retries exceeded" in lines[4]["error"]


def test_text_format_masks_exception_texts_too() -> None:
    with configured("INFO", "text") as buffer:
        try:
            raise RuntimeError(f"url ?access_token={SECRET}")
        except RuntimeError:
            logging.getLogger("porte_voix.test").exception("failed")
    err = buffer.getvalue()
    assert "failed" in err and "access_token=«masqué»" in err and SECRET not in err


def test_libraries_that_dump_requests_stay_quiet_at_debug(json_logs: io.StringIO) -> None:
    for name in ("urllib3.connectionpool", "tweepy.client", "mastodon", "httpx", "atproto_client"):
        logging.getLogger(name).debug("Making API request: GET /?access_token=%s body {'display_name': 'Ana'}", SECRET)
    assert _lines(json_logs) == []
    logging.getLogger("porte_voix.worker").debug("our own debug lines still go out")
    assert [r["message"] for r in _lines(json_logs)] == ["our own debug lines still go out"]
