"""The JSON API: tokens and scopes, every refusal storing nothing, counts by the rules of
``responses import``, the read routes, and the OpenAPI description."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from orchestrator import db
from orchestrator.api import OPENAPI_FILE, RateLimiter, create_api
from orchestrator.links import create_app
from orchestrator.models import ApiToken, Case, Response, ResponseImport
from orchestrator.services import integrations
from orchestrator.services.auth import Actor, PermissionDenied
from orchestrator.timeutil import utcnow

ADMIN = Actor("ada", "admin")
BASE = "/api/v1"


@pytest.fixture
def client(engine: sa.Engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine, notify_seconds=0)) as c:
        yield c


def token(engine: sa.Engine, scopes: tuple[str, ...] = ("read", "responses:write"), **kw: Any) -> tuple[int, str]:
    with db.session_scope(engine) as s:
        row, secret = integrations.create_token(s, actor=ADMIN, name=kw.pop("name", "petition"), scopes=list(scopes), **kw)
        return row.id or 0, secret


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def stored(engine: sa.Engine) -> tuple[int, int]:
    """(imports, sum of counts) in the database."""
    with db.session_scope(engine) as s:
        imports = s.exec(select(sa.func.count()).select_from(ResponseImport)).one()
        total = s.exec(select(sa.func.coalesce(sa.func.sum(Response.count), 0))).one()
    return int(imports), int(total)


def counts(*items: dict[str, Any], key: str = "k1", **extra: Any) -> dict[str, Any]:
    return {"key": key, "counts": list(items), **extra}


ITEM = {"case": "juan-lopez", "kind": "signature", "day": "2025-12-05", "count": 12, "source": "x"}


# ---------------------------------------------------------------------------------------------
# tokens


def test_only_admins_create_tokens_and_only_the_hash_is_kept(engine: sa.Engine) -> None:
    with db.session_scope(engine) as s, pytest.raises(PermissionDenied):
        integrations.create_token(s, actor=Actor("edith", "editor"), name="x", scopes=["read"])
    _, secret = token(engine)
    with db.session_scope(engine) as s:
        row = s.exec(select(ApiToken)).one()
    assert secret.startswith("pv_") and len(secret) >= 40
    assert secret not in json.dumps(row.model_dump(), default=str) and row.token_hash == integrations.hash_token(secret)


@pytest.mark.parametrize(("case", "code", "status"), [
    ("none", "missing_token", 401), ("bad", "bad_token", 401), ("revoked", "revoked_token", 401),
    ("expired", "expired_token", 401), ("scope", "wrong_scope", 403)])
def test_every_bad_token_is_refused_and_nothing_is_stored(engine: sa.Engine, client: TestClient, case: str,
                                                          code: str, status: int) -> None:
    token_id, secret = token(engine, scopes=("read",) if case == "scope" else ("read", "responses:write"),
                             expires_at=utcnow() - dt.timedelta(seconds=1) if case == "expired" else None)
    if case == "revoked":
        with db.session_scope(engine) as s:
            integrations.revoke_token(s, actor=ADMIN, token_id=token_id)
    headers = {} if case == "none" else auth("pv_" + "x" * 43 if case == "bad" else secret)
    answer = client.post(f"{BASE}/responses", json=counts(ITEM), headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code and answer.json()["error"]["fr"]
    assert stored(engine) == (0, 0)


def test_rotating_stops_the_old_token_at_once(engine: sa.Engine, client: TestClient) -> None:
    token_id, old = token(engine)
    with db.session_scope(engine) as s:
        _, new = integrations.rotate_token(s, actor=ADMIN, token_id=token_id)
    assert client.get(f"{BASE}/cases", headers=auth(old)).status_code == 401
    assert client.get(f"{BASE}/cases", headers=auth(new)).status_code == 200


def test_each_token_has_its_rate(engine: sa.Engine, client: TestClient) -> None:
    _, slow = token(engine, rate_per_minute=3)
    _, other = token(engine, name="other")
    answers = [client.get(f"{BASE}/progress", headers=auth(slow)).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = client.get(f"{BASE}/progress", headers=auth(slow))
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
    assert client.get(f"{BASE}/progress", headers=auth(other)).status_code == 200  # its own bucket
    limiter = RateLimiter()
    assert [limiter.take(1, 60, now=t) for t in (0.0,) * 60][-1] == 0.0
    assert limiter.take(1, 60, now=0.0) > 0 and limiter.take(1, 60, now=1.01) == 0.0  # one a second comes back


# ---------------------------------------------------------------------------------------------
# bad input: a clear error, nothing stored


@pytest.mark.parametrize(("body", "headers", "code", "status"), [
    (b"{not json", {}, "malformed_json", 400),
    (b"[1, 2]", {}, "malformed_json", 400),
    (b"{}", {"Content-Type": "text/plain"}, "wrong_type", 415),
    (json.dumps(counts(ITEM, padding="x" * 300_000)).encode(), {}, "too_large", 413),
    (json.dumps({"counts": [ITEM]}).encode(), {}, "missing_key", 400),
    (json.dumps(counts({**ITEM, "email": "marie@example.org"})).encode(), {}, "personal_data", 422),
    (json.dumps(counts({**ITEM, "prenom": "Marie"})).encode(), {}, "personal_data", 422),
    (json.dumps(counts({**ITEM, "source": "marie.tremblay@example.org"})).encode(), {}, "personal_data", 422),
    (json.dumps(counts({**ITEM, "note": "x"})).encode(), {}, "unknown_field", 422),
    (json.dumps(counts({**ITEM, "case": "nobody"})).encode(), {}, "unknown_case", 422),
    (json.dumps(counts({**ITEM, "count": -1})).encode(), {}, "invalid", 422),
    (json.dumps(counts({**ITEM, "count": "12"})).encode(), {}, "invalid", 422),
    (json.dumps(counts({**ITEM, "day": "05/12/2025"})).encode(), {}, "invalid", 422),
    (json.dumps(counts(ITEM, {**ITEM, "kind": "hugs"})).encode(), {}, "invalid", 422),  # all or nothing
    (json.dumps(counts(ITEM, supporter="Marie")).encode(), {}, "unknown_field", 422),
])
def test_bad_requests_are_refused_clearly_and_store_nothing(engine: sa.Engine, client: TestClient, body: bytes,
                                                            headers: dict[str, str], code: str, status: int) -> None:
    _, secret = token(engine)
    answer = client.post(f"{BASE}/responses", content=body,
                         headers={"Content-Type": "application/json", **auth(secret), **headers})
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert answer.json()["error"]["en"]
    assert stored(engine) == (0, 0)


# ---------------------------------------------------------------------------------------------
# counts


def test_counts_are_stored_once_per_key(engine: sa.Engine, client: TestClient) -> None:
    _, secret = token(engine)
    first = client.post(f"{BASE}/responses", json=counts(ITEM, {**ITEM, "count": 3}), headers=auth(secret))
    assert first.status_code == 201 and first.json()["total"] == 15 and first.json()["rows"] == 1
    again = client.post(f"{BASE}/responses", json=counts(ITEM, {**ITEM, "count": 3}), headers=auth(secret))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert stored(engine) == (1, 15)
    other = client.post(f"{BASE}/responses", json=counts({**ITEM, "count": 99}), headers=auth(secret))
    assert other.status_code == 409 and other.json()["error"]["code"] == "key_reused"
    assert stored(engine) == (1, 15)


def test_set_replaces_a_figure_as_imports_do_and_add_adds(engine: sa.Engine, client: TestClient) -> None:
    _, secret = token(engine)
    assert client.post(f"{BASE}/responses", json=counts(ITEM, key="a"), headers=auth(secret)).status_code == 201
    assert client.post(f"{BASE}/responses", json=counts({**ITEM, "count": 20}, key="b"),
                       headers=auth(secret)).status_code == 201
    assert stored(engine)[1] == 20  # the petition tool's running total for the day replaced
    assert client.post(f"{BASE}/responses", json=counts({**ITEM, "count": 5}, key="c", mode="add"),
                       headers={**auth(secret)}).status_code == 201
    assert stored(engine)[1] == 25


def test_the_key_may_come_in_a_header_and_unknown_sources_keep_no_value(engine: sa.Engine, client: TestClient) -> None:
    _, secret = token(engine)
    body = {"counts": [{**ITEM, "source": "crm-export-7"}]}
    answer = client.post(f"{BASE}/responses", json=body, headers={**auth(secret), "Idempotency-Key": "h1"})
    assert answer.status_code == 201 and answer.json()["unknown_sources"] == 1
    with db.session_scope(engine) as s:
        assert [r.source for r in s.exec(select(Response))] == [""]


# ---------------------------------------------------------------------------------------------
# reading


def test_read_routes_give_cases_progress_and_deliveries(engine: sa.Engine, client: TestClient) -> None:
    _, secret = token(engine, scopes=("read",))
    with db.session_scope(engine) as s:
        case = s.exec(select(Case).where(Case.slug == "juan-lopez")).one()
        s.add(Response(case_id=case.id or 0, kind="letter", count=40, day=dt.date(2025, 12, 5), source_type="tally"))
    cases = client.get(f"{BASE}/cases", headers=auth(secret)).json()["cases"]
    assert {"juan-lopez"} <= {c["slug"] for c in cases}
    one = client.get(f"{BASE}/cases/juan-lopez", headers=auth(secret)).json()
    assert one["actions"] == 40 and "goal" in one
    assert client.get(f"{BASE}/cases/nobody", headers=auth(secret)).status_code == 404
    progress = client.get(f"{BASE}/progress", headers=auth(secret)).json()
    assert progress["actions"] == 40 and "pace" in progress and progress["by_kind"]["letter"] == 40
    deliveries = client.get(f"{BASE}/deliveries?state=published", headers=auth(secret)).json()
    assert deliveries["deliveries"] == []
    assert client.get(f"{BASE}/deliveries?state=nope", headers=auth(secret)).status_code == 400
    # a read token cannot write
    assert client.post(f"{BASE}/responses", json=counts(ITEM), headers=auth(secret)).status_code == 403


# ---------------------------------------------------------------------------------------------
# the description


def _routes(app: Any, prefix: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):
            found |= _routes(route.app, prefix + route.path)
        elif isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method.lower(), prefix + route.path))
    return found


def test_every_route_is_described_and_the_served_description_is_the_file(engine: sa.Engine, client: TestClient) -> None:
    served = client.get(f"{BASE}/openapi.json").json()
    assert served == json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    described = {(method, path) for path, item in served["paths"].items() for method in item}
    assert _routes(create_api(engine)) == described
    for item in served["paths"].values():
        for operation in item.values():
            assert operation["summary"] and operation["responses"]
