"""Text that staff or a platform control cannot break out of a calendar line, and tokens are
masked in logs however they are written."""

from __future__ import annotations

import logging
import urllib.parse

import sqlalchemy as sa
from sqlmodel import select

from orchestrator import db, logs, secrets
from orchestrator.models import Campaign, Delivery
from orchestrator.services.exports import schedule_ics
from tests.factories import add_account
from tests.orchestrator.helpers import approved_post, schedule


def test_a_bare_carriage_return_cannot_start_a_new_calendar_property(engine: sa.Engine) -> None:
    name = add_account(engine, "x", name="x-test", base_url="http://127.0.0.1:9")
    delivery_id = schedule(engine, approved_post(engine), name)
    hostile = "Écrivez !\rATTENDEE:mailto:tous@evil.example\rEND:VEVENT\u0007\x1bfin\r\n\nsuite"
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE delivery SET rendered_text = :t WHERE id = :i"), {"t": hostile, "i": delivery_id})
    with db.session_scope(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.is_current)).one()
        ics = schedule_ics(s, campaign=campaign)
        assert s.get(Delivery, delivery_id) is not None
    assert "\r" not in ics.replace("\r\n", "")  # every CR is part of a line ending
    lines = ics.split("\r\n")
    assert not any(line.startswith(("ATTENDEE", "END:VEVENT\\")) for line in lines)
    assert lines.count("END:VEVENT") == 1 and lines.count("BEGIN:VEVENT") == 1
    unfolded = ics.replace("\r\n ", "")
    assert "DESCRIPTION:Écrivez !\\nATTENDEE:mailto:tous@evil.example\\nEND:VEVENT" in unfolded
    assert "\x1b" not in ics and "\u0007" not in ics


def _redacted(message: str) -> str:
    record = logging.makeLogRecord({"msg": message, "args": None, "name": "porte_voix.test"})
    logs.RedactingFilter().filter(record)
    return str(record.msg)


def test_percent_encoded_and_bare_tokens_are_masked() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkaWQ6cGxjOmFiYyJ9.c2lnbmF0dXJlLWljaS0xMjM0NTY3OA"
    x_bearer = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F"
    facebook = "EAAGm0PX4ZCpsBAKZBZCxyzPercentSECRET"
    for line, secret in [
        ("GET /callback?next=%2Fme%3Faccess_token%3DSECRETpct1234%26fields%3Did", "SECRETpct1234"),
        ("body %7B%22page_token%22%3A%22SECRETjson5678%22%7D", "SECRETjson5678"),
        ("Authorization: Bearer%20SECRETbearer99", "SECRETbearer99"),
        ("header Bearer+SECRETplus77", "SECRETplus77"),
        (f"session refreshed: {jwt}", jwt),
        (f"X said 401 for {x_bearer}", x_bearer),
        (f"retrying with {facebook}", facebook),
    ]:
        cleaned = _redacted(line)
        assert secret not in cleaned and urllib.parse.unquote(secret) not in cleaned, (line, cleaned)
        assert "«masqué»" in cleaned


def test_a_decrypted_secret_is_masked_even_without_a_recognisable_shape(env: dict[str, str]) -> None:
    mastodon = "q7Rz2vKp9Lm3Xw8Tn4Bc6Hd1Fg5Js0Ya"  # an opaque token, as Mastodon issues them
    token = secrets.encrypt({"access_token": mastodon, "handle": "campagne.example"})
    assert secrets.decrypt(token)["access_token"] == mastodon
    for line in (f"instance answered for {mastodon}", f"url=https://m.example/?t={urllib.parse.quote(mastodon)}"):
        assert mastodon not in _redacted(line)
    assert "campagne.example" in _redacted("posting as campagne.example")  # public identifiers stay readable
