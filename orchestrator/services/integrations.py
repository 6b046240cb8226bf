"""Other tools talking to Porte-voix: API tokens, the response counts they push, and the webhooks
that tell them of events.

Tokens: ``pv_`` + 43 url-safe characters (256 random bits), shown once; only their SHA-256 is
kept (a slow hash adds nothing against a secret this long, and the API checks one per request).
Admins create them with scopes (``read``, ``responses:write``), an optional expiry and a rate;
rotate them (a new token, same name and scopes, the old one revoked); revoke them.

Counts pushed through the API follow the rules of ``responses import``
(``orchestrator.services.responses_import``): counts only (case, kind, day, source, count, and no
other field), personal data refused, sources Porte-voix does not know counted without a source,
and idempotent by the caller's key: a request is recorded as a ``ResponseImport`` whose SHA-256
is that of the token's name and the key, so the same key is never counted twice, by any process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import secrets as pysecrets
import threading
import time
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from orchestrator import secrets
from orchestrator.errors import ServiceError
from orchestrator.models import ApiToken, Campaign, IntegrationWebhook, Response, ResponseImport
from orchestrator.services.auth import Actor, NotFound, audit, audit_many, require
from orchestrator.services.notify import HOOK_EVENTS, check_webhook_url
from orchestrator.services.responses_csv import normalize
from orchestrator.services.responses_fields import KIND_ALIASES, MAX_COUNT, SOURCE, value_reason
from orchestrator.services.responses_import import BATCH, case_lookup, classify_sources, write_rows
from orchestrator.timeutil import utcnow

SCOPES = {"read": {"fr": "Lecture (cas, progression, envois)", "en": "Read (cases, progress, deliveries)"},
          "responses:write": {"fr": "Envoi de comptes de réponses", "en": "Push response counts"}}
#: What each webhook event is, in words (the payload carries the event's own name).
HOOK_EVENT_WORDS = {"published": {"fr": "Publication parue", "en": "Post published"},
                    "failed": {"fr": "Envoi en échec", "en": "Delivery failed"},
                    "milestone": {"fr": "Palier atteint", "en": "Milestone reached"}}
PREFIX = "pv_"
COUNT_FIELDS = ("case", "kind", "day", "count", "source")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Tokens


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ServiceError(f"Portées possibles : {', '.join(SCOPES)} (au moins une).",
                           f"Possible scopes: {', '.join(SCOPES)} (at least one).")
    return [s for s in SCOPES if s in scopes]


def create_token(session: Session, *, actor: Actor, name: str, scopes: list[str],
                 expires_at: dt.datetime | None = None, rate_per_minute: int = 600) -> tuple[ApiToken, str]:
    """A new token; returns the row and the token itself, which is never shown again."""
    require(actor, "admin", "créer un jeton d'API", "create an API token")
    name = name.strip()
    if not name or len(name) > 64:
        raise ServiceError("Donnez un nom au jeton (l'outil qui l'utilise, 64 caractères au plus).",
                           "Name the token (the tool that uses it, at most 64 characters).")
    if not 1 <= rate_per_minute <= 100_000:
        raise ServiceError("Débit : de 1 à 100 000 requêtes par minute.", "Rate: 1 to 100,000 requests a minute.")
    same = session.exec(select(ApiToken).where(ApiToken.name == name, col(ApiToken.revoked_at).is_(None))).first()
    if same is not None:  # the same form sent twice: one tool, one token (« Renouveler » gives a new one)
        raise ServiceError(f"Un jeton en service porte déjà ce nom (n° {same.id}) : renouvelez-le ou choisissez un "
                           "autre nom.",
                           f"A token in use already has this name (no. {same.id}): renew it or choose another name.")
    token = PREFIX + pysecrets.token_urlsafe(32)
    row = ApiToken(name=name, prefix=token[:10], token_hash=hash_token(token), scopes=_check_scopes(scopes),
                   rate_per_minute=rate_per_minute, created_by=actor.username, created_at=utcnow(),
                   expires_at=expires_at)
    session.add(row)
    session.flush()
    audit(session, actor=actor, action="api_token_create", target_type="api_token", target_id=row.id,
          name=name, scopes=row.scopes, expires_at=expires_at.isoformat() if expires_at else None)
    return row, token


def get_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"Jeton {token_id} introuvable.", f"Token {token_id} not found.")
    return row


def revoke_token(session: Session, *, actor: Actor, token_id: int) -> ApiToken:
    require(actor, "admin", "révoquer un jeton d'API", "revoke an API token")
    row = get_token(session, token_id)
    # this process's API stops taking it now, and again once committed (a request reading it in
    # between saw it still valid); another process's API within TOKEN_SECONDS
    forget_token(token_id)
    sa.event.listen(session, "after_commit", lambda _session: forget_token(token_id), once=True)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        audit(session, actor=actor, action="api_token_revoke", target_type="api_token", target_id=row.id)
    return row


def rotate_token(session: Session, *, actor: Actor, token_id: int) -> tuple[ApiToken, str]:
    """A new token with the same name, scopes, rate and expiry; the old one stops working now."""
    require(actor, "admin", "renouveler un jeton d'API", "rotate an API token")
    old = get_token(session, token_id)
    if old.revoked_at is not None:
        raise ServiceError("Ce jeton est révoqué : créez-en un autre.", "This token is revoked: create another.")
    revoke_token(session, actor=actor, token_id=token_id)  # first: the new one takes its name (one transaction)
    session.flush()
    row, token = create_token(session, actor=actor, name=old.name, scopes=list(old.scopes),
                              expires_at=old.expires_at, rate_per_minute=old.rate_per_minute)
    return row, token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id).desc())))


def authenticate(session: Session, token: str, *, now: dt.datetime | None = None) -> ApiToken | str:
    """The token's row, or why it is refused: ``bad_token``, ``revoked_token``, ``expired_token``."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return "bad_token"
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None:
        return "bad_token"
    if row.revoked_at is not None:
        return "revoked_token"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired_token"
    return row


#: How long the API trusts a token it has read (seconds): a token revoked or rotated in another
#: process (the dashboard) stops working within this time; in the API's own process at once
#: (``revoke_token`` forgets it). Expiry is checked on every request against the row kept.
TOKEN_SECONDS = 5.0
#: token hash -> (read at, row, revocations seen): only accepted tokens are kept, so a token just
#: created works at once and an unknown one is always looked up.
_TOKENS: dict[str, tuple[float, ApiToken, int]] = {}
_REVOCATIONS = [0]
_TOKENS_LOCK = threading.Lock()
_clock = time.monotonic


def forget_token(token_id: int) -> None:
    with _TOKENS_LOCK:
        _REVOCATIONS[0] += 1
        for digest in [d for d, hit in _TOKENS.items() if hit[1].id == token_id]:
            del _TOKENS[digest]


def cached_token(token: str, *, now: dt.datetime | None = None) -> ApiToken | str | None:
    """The token's row if it was accepted less than ``TOKEN_SECONDS`` ago (``expired_token`` if it
    has expired since), else ``None``: read it again with ``authenticate`` and ``remember_token``."""
    hit = _TOKENS.get(hash_token(token))
    if hit is None or _clock() - hit[0] >= TOKEN_SECONDS:
        return None
    row = hit[1]
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired_token"
    return row


def remember_token(token: str, row: ApiToken, revocations: int) -> None:
    """Keep an accepted token's row; ``revocations`` is ``revocations()`` taken before it was read,
    so a revocation in this process while it was being read is not undone."""
    with _TOKENS_LOCK:
        if revocations == _REVOCATIONS[0]:
            _TOKENS[hash_token(token)] = (_clock(), row, revocations)


def revocations() -> int:
    return _REVOCATIONS[0]


# ---------------------------------------------------------------------------------------------
# Outgoing webhooks


def add_webhook(session: Session, *, actor: Actor, name: str, url: str, events: list[str]) -> tuple[IntegrationWebhook, str]:
    """A webhook told of ``events`` (published, failed, milestone); returns it and its signing
    secret, shown once (kept encrypted, like credentials)."""
    require(actor, "admin", "ajouter un webhook", "add a webhook")
    allowed = set(HOOK_EVENTS.values())
    if not events or any(e not in allowed for e in events):
        def listed(language: str) -> str:
            return ", ".join(f"« {HOOK_EVENT_WORDS[e][language]} » ({e})" if language == "fr" else
                             f"“{HOOK_EVENT_WORDS[e][language]}” ({e})" for e in sorted(allowed))
        raise ServiceError(f"Choisissez au moins un événement parmi : {listed('fr')}.",
                           f"Choose at least one event among: {listed('en')}.")
    if not name.strip() or len(name.strip()) > 64:
        raise ServiceError("Donnez un nom au webhook.", "Name the webhook.")
    url = check_webhook_url(url)
    if not url:
        raise ServiceError("L'adresse du webhook est vide.", "The webhook's address is empty.")
    # The same form sent twice (a double click) must not tell the other tool everything twice.
    same = session.exec(select(IntegrationWebhook).where(IntegrationWebhook.url == url)).first()
    if same is not None:
        raise ServiceError(f"Un webhook vers cette adresse existe déjà (n° {same.id}, « {same.name} »).",
                           f"A webhook to this address already exists (no. {same.id}, '{same.name}').")
    secret = pysecrets.token_urlsafe(32)
    row = IntegrationWebhook(name=name.strip(), url=url, events=sorted(set(events)),
                             secret=secrets.encrypt({"secret": secret}), created_by=actor.username,
                             created_at=utcnow())
    session.add(row)
    session.flush()
    audit(session, actor=actor, action="webhook_add", target_type="webhook", target_id=row.id, events=row.events)
    return row, secret


def set_webhook_active(session: Session, *, actor: Actor, webhook_id: int, active: bool) -> IntegrationWebhook:
    require(actor, "admin", "changer un webhook", "change a webhook")
    row = session.get(IntegrationWebhook, webhook_id)
    if row is None:
        raise NotFound(f"Webhook {webhook_id} introuvable.", f"Webhook {webhook_id} not found.")
    row.active = active
    session.add(row)
    audit(session, actor=actor, action="webhook_active" if active else "webhook_pause", target_type="webhook",
          target_id=webhook_id)
    return row


def list_webhooks(session: Session) -> list[IntegrationWebhook]:
    return list(session.exec(select(IntegrationWebhook).order_by(col(IntegrationWebhook.id))))


# ---------------------------------------------------------------------------------------------
# Response counts pushed through the API


class Refused(ServiceError):
    """The request is refused as a whole; nothing is stored. ``code`` for the API's answer."""

    def __init__(self, code: str, fr: str, en: str, status: int = 422) -> None:
        super().__init__(fr, en)
        self.code = code
        self.status = status


@dataclasses.dataclass
class Written:
    import_id: int
    rows: int
    total: int
    replaced: int
    unknown_sources: int
    duplicate: bool = False

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: (database, campaign id) -> (read at, lookup, slugs): a request reads the cases' names once
#: every ``CASES_SECONDS`` at most (half the time of a one-count request went to reading them).
_CASES: dict[tuple[str, int], tuple[float, dict[str, int], str]] = {}
CASES_SECONDS = 10.0


#: database -> (read at, the current campaign): pushed counts go to the campaign that was current
#: at most ``CASES_SECONDS`` ago (a row read per request cost as much as the rest of the writing).
_CURRENT: dict[str, tuple[float, Campaign]] = {}


def _current_campaign(session: Session) -> Campaign:
    from orchestrator.services.campaigns import current_campaign

    key = str(session.get_bind().engine.url)
    hit = _CURRENT.get(key)
    if hit is not None and time.monotonic() - hit[0] < CASES_SECONDS:
        return hit[1]
    campaign = current_campaign(session)
    _CURRENT[key] = (time.monotonic(), campaign)
    return campaign


def _cases(session: Session, campaign: Campaign) -> tuple[dict[str, int], str]:
    key = (str(session.get_bind().engine.url), campaign.id or 0)
    hit = _CASES.get(key)
    if hit is not None and time.monotonic() - hit[0] < CASES_SECONDS:
        return hit[1], hit[2]
    lookup, known = case_lookup(session, campaign)
    _CASES[key] = (time.monotonic(), lookup, known)
    return lookup, known


Parsed = Counter[tuple[int, str, dt.date, str]]


def _parse_items(session: Session, campaign: Campaign, items: list[Any]) -> Parsed:
    """Check every item (all or nothing) and sum them by (case, kind, day, source as written)."""
    cases, known = _cases(session, campaign)
    parsed: Parsed = Counter()
    for number, item in enumerate(items, start=1):
        where = f"counts[{number - 1}]"
        if not isinstance(item, dict):
            raise Refused("invalid", f"{where} : un objet est attendu.", f"{where}: an object is expected.")
        extra = sorted(set(item) - set(COUNT_FIELDS))
        if extra:  # a field we do not read may hold a person: refused, not ignored
            raise Refused("personal_data" if any(_looks_personal(k, item[k]) for k in extra) else "unknown_field",
                          f"{where} : champ(s) refusé(s) {', '.join(extra)} ; seuls {', '.join(COUNT_FIELDS)} sont lus "
                          "(des comptes, jamais des personnes).",
                          f"{where}: field(s) refused {', '.join(extra)}; only {', '.join(COUNT_FIELDS)} are read "
                          "(counts, never people).")
        for name in ("case", "source", "kind"):
            value = item.get(name, "")
            if not isinstance(value, str):
                raise Refused("invalid", f"{where}.{name} : texte attendu.", f"{where}.{name}: text expected.")
            if name != "kind" and value_reason(value):
                raise Refused("personal_data", f"{where}.{name} ressemble à une donnée personnelle : refusé.",
                              f"{where}.{name} looks like personal data: refused.")
        case_id = cases.get(normalize(item.get("case", "")))
        if case_id is None:
            raise Refused("unknown_case", f"{where} : cas inconnu (cas : {known}).", f"{where}: unknown case (cases: {known}).")
        kind = KIND_ALIASES.get(normalize(item.get("kind", "")))
        if kind is None:
            raise Refused("invalid", f"{where}.kind : type d'action inconnu.", f"{where}.kind: unknown kind of action.")
        count = item.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
            raise Refused("invalid", f"{where}.count : un entier de 0 à {MAX_COUNT}.",
                          f"{where}.count: an integer from 0 to {MAX_COUNT}.")
        try:
            day = dt.date.fromisoformat(str(item.get("day", "")))
        except ValueError:
            raise Refused("invalid", f"{where}.day : une date AAAA-MM-JJ.", f"{where}.day: a YYYY-MM-DD date.") from None
        source = item.get("source", "").strip()
        if source and not SOURCE.match(source):
            raise Refused("invalid", f"{where}.source : un code ou un nom court, sans espace.",
                          f"{where}.source: a code or a short name, without spaces.")
        parsed[(case_id, kind, day, source)] += count
    return parsed


def _merge(parsed: Parsed, kinds: dict[str, tuple[str, str] | None]) -> tuple[list[tuple[Any, ...]], int]:
    """The rows to write (by natural key, sources classified) and how many sources were unknown."""
    merged: Counter[tuple[int, str, dt.date, str, str]] = Counter()
    unknown = 0
    for (case_id, kind, day, source), count in parsed.items():
        known_source = kinds.get(source)
        if known_source is None:  # counted without a source, the value is not kept (as imports do)
            unknown += 1
            known_source = ("import", "")
        merged[(case_id, kind, day, *known_source)] += count
    return [(*key, n) for key, n in merged.items()], unknown


def _looks_personal(name: str, value: Any) -> bool:
    from orchestrator.services.responses_fields import header_reason

    return bool(header_reason(name)) or (isinstance(value, str) and bool(value_reason(value)))


def write_counts(session: Session, *, token: ApiToken, key: str, body: dict[str, Any],
                 campaign: Campaign | None = None) -> Written:
    """Check and write one request's counts (all or nothing), idempotent by ``key``."""
    result = write_requests(session, [(token, key, body)], campaign=campaign)[0]
    if isinstance(result, Exception):
        raise result
    return result


@dataclasses.dataclass
class _Request:
    token: ApiToken
    key: str
    body: dict[str, Any]
    mode: str
    items: list[Any]
    digest: str
    fingerprint: str
    parsed: Parsed = dataclasses.field(default_factory=Counter)
    rows: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)
    unknown: int = 0


def _checked(token: ApiToken, key: str, body: dict[str, Any]) -> _Request:
    """The request's own checks, before any count is read (nothing from the database)."""
    if "responses:write" not in token.scopes:
        raise Refused("wrong_scope", "Ce jeton n'a pas la portée responses:write.",
                      "This token lacks the responses:write scope.", 403)
    if not key or len(key) > 200 or not key.isprintable():
        raise Refused("missing_key", "Clé d'idempotence manquante ou invalide (« key », ou l'en-tête Idempotency-Key, "
                      "200 caractères au plus).", "Missing or invalid idempotency key ('key', or the Idempotency-Key "
                      "header, at most 200 characters).", 400)
    extra = sorted(set(body) - {"key", "mode", "counts"})
    if extra:
        raise Refused("unknown_field", f"Champ(s) refusé(s) : {', '.join(extra)} (key, mode, counts).",
                      f"Field(s) refused: {', '.join(extra)} (key, mode, counts).")
    mode = body.get("mode", "set")
    if mode not in ("set", "add"):
        raise Refused("invalid", "mode : « set » (remplace le chiffre, comme un import) ou « add » (s'y ajoute).",
                      "mode: 'set' (replaces the figure, as an import does) or 'add' (adds to it).")
    items = body.get("counts")
    if not isinstance(items, list) or not items:
        raise Refused("invalid", "counts : une liste non vide est attendue.", "counts: a non-empty list is expected.")
    from orchestrator.settings import get_settings

    if len(items) > get_settings().api_max_counts:
        raise Refused("too_many", f"Au plus {get_settings().api_max_counts} comptes par requête.",
                      f"At most {get_settings().api_max_counts} counts per request.", 413)
    digest = hashlib.sha256(f"api\0{token.name}\0{key}".encode()).hexdigest()
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return _Request(token, key, body, mode, items, digest, fingerprint)


_IMPORTS: Any = ResponseImport.__table__  # type: ignore[attr-defined]
_EARLIER = sa.select(_IMPORTS.c.sha256, _IMPORTS.c.id, _IMPORTS.c.filename, _IMPORTS.c.keys_written,
                     _IMPORTS.c.total, _IMPORTS.c.keys_replaced).where(
    _IMPORTS.c.sha256.in_(sa.bindparam("digests", expanding=True)))


def _earlier(session: Session, digests: list[str]) -> dict[str, Any]:
    """The imports already stored under these keys (their digests)."""
    return {row.sha256: row for start in range(0, len(digests), BATCH)
            for row in session.execute(_EARLIER, {"digests": digests[start:start + BATCH]})}


def _replayed(earlier: Any, request: _Request) -> Written | Refused:
    """A key already stored: the same figures are a duplicate (nothing counted again), others refused."""
    if not earlier.filename.endswith(request.fingerprint):
        return Refused("key_reused", f"La clé « {request.key} » a déjà servi pour d'autres chiffres (import n° "
                       f"{earlier.id}) : rien n'est enregistré. Une clé par envoi.",
                       f"The key '{request.key}' was already used for other figures (import #{earlier.id}): nothing "
                       "is stored. One key per request.", 409)
    return Written(import_id=earlier.id or 0, rows=earlier.keys_written, total=earlier.total,
                   replaced=earlier.keys_replaced, unknown_sources=0, duplicate=True)


def write_requests(session: Session, requests: list[tuple[ApiToken, str, dict[str, Any]]], *,
                   campaign: Campaign | None = None) -> list[Written | Exception]:
    """Several requests' counts (the API's group commit), each all or nothing and idempotent by
    its key, in a few statements whatever their number; one result or error per request, in order.

    A request refused leaves the others written. Two with the same key: the first is written, the
    second is its replay. The writes go in one savepoint; if it fails on a key (``IntegrityError``:
    another process has just stored it), each request is written again in a savepoint of its own,
    so only that one fails. Any other error fails them all (the caller's transaction)."""
    out: list[Written | Exception | None] = [None] * len(requests)
    checked: list[tuple[int, _Request]] = []
    for index, (token, key, body) in enumerate(requests):
        try:
            checked.append((index, _checked(token, key, body)))
        except Refused as refused:
            out[index] = refused
    earlier = _earlier(session, sorted({r.digest for _, r in checked}))
    fresh: list[tuple[int, _Request]] = []
    later: list[int] = []  # a key already in this batch: answered after it, as its replay
    taken: set[str] = set()
    for index, request in checked:
        if request.digest in earlier:
            out[index] = _replayed(earlier[request.digest], request)
        elif request.digest in taken:
            later.append(index)
        else:
            taken.add(request.digest)
            fresh.append((index, request))
    if fresh:
        campaign = campaign or _current_campaign(session)
        valid: list[tuple[int, _Request]] = []
        for index, request in fresh:
            try:
                request.parsed = _parse_items(session, campaign, request.items)
                valid.append((index, request))
            except Refused as refused:
                out[index] = refused
        if valid:
            kinds = classify_sources(session, campaign, {k[3] for _, r in valid for k in r.parsed})
            for _, request in valid:
                request.rows, request.unknown = _merge(request.parsed, kinds)
            try:
                with session.begin_nested():
                    for index, written in zip([i for i, _ in valid], _store(session, campaign, valid), strict=True):
                        out[index] = written
            except sa.exc.IntegrityError as clash:
                if len(valid) == 1:
                    out[valid[0][0]] = _after_clash(session, valid[0][1], clash)
                else:  # one at a time, each in its own savepoint: only the clashing one fails
                    for index, request in valid:
                        try:
                            with session.begin_nested():
                                out[index] = _store(session, campaign, [(index, request)])[0]
                        except sa.exc.IntegrityError as own:
                            out[index] = _after_clash(session, request, own)
    if later:  # their first is written (or refused) now: the same rules answer them
        again = write_requests(session, [requests[i] for i in later], campaign=campaign)
        for index, result in zip(later, again, strict=True):
            out[index] = result
    return [r if r is not None else RuntimeError("unanswered") for r in out]


def _after_clash(session: Session, request: _Request, clash: sa.exc.IntegrityError) -> Written | Exception:
    """A key another transaction stored while this one was writing it (a client sending again
    while its first try is being written, on another connection): once that one is committed, the
    same rules as any replay answer; until then, the clash itself (the API's 409)."""
    found = _earlier(session, [request.digest]).get(request.digest)
    return clash if found is None else _replayed(found, request)


def _store(session: Session, campaign: Campaign, requests: list[tuple[int, _Request]]) -> list[Written]:
    """Write checked requests, in their order: their records (one statement), their counts
    (consecutive ``add`` requests summed in one upsert; each ``set`` on its own, as an import), and
    their audit entries."""
    imports: Any = ResponseImport.__table__  # type: ignore[attr-defined]
    now = utcnow()
    users = [f"api:{r.token.name}"[:64] for _, r in requests]
    ids = list(session.execute(
        sa.insert(imports).returning(imports.c.id, sort_by_parameter_order=True),
        [{"campaign_id": campaign.id or 0, "sha256": r.digest, "filename": f"api {r.token.name} {r.fingerprint}",
          "encoding": "json", "delimiter": ",", "lines": len(r.items), "lines_skipped": 0, "keys_written": len(r.rows),
          "keys_replaced": 0, "total": sum(row[-1] for row in r.rows), "dropped_columns": [], "imported_by": user,
          "created_at": now} for (_, r), user in zip(requests, users, strict=True)]).scalars())
    replaced = [0] * len(requests)
    adding: dict[tuple[Any, ...], list[Any]] = {}  # natural key -> [count, import id, entered by]

    def add_pending() -> None:
        if adding:
            _add(session, [(*k, n, i, by) for k, (n, i, by) in adding.items()], now)
            adding.clear()

    for number, ((_, request), import_id, user) in enumerate(zip(requests, ids, users, strict=True)):
        if request.mode == "add":
            for *natural, count in request.rows:
                pending = adding.setdefault(tuple(natural), [0, import_id, user])
                pending[0] += count
                pending[1:] = [import_id, user]  # the last request adding to a key is its import
        else:
            add_pending()
            replaced[number] = write_rows(session, request.rows, import_id=import_id, entered_by=user)
            if replaced[number]:
                session.execute(sa.update(imports).where(imports.c.id == import_id)
                                .values(keys_replaced=replaced[number]))
    add_pending()
    audit_many(session, [(Actor(user, "editor"), "api_responses", "response_import", import_id,
                          {"token": request.token.id, "rows": len(request.rows),
                           "total": sum(row[-1] for row in request.rows), "mode": request.mode})
                         for (_, request), import_id, user in zip(requests, ids, users, strict=True)])
    return [Written(import_id=import_id, rows=len(r.rows), total=sum(row[-1] for row in r.rows),
                    replaced=replaced[number], unknown_sources=r.unknown)
            for number, ((_, r), import_id) in enumerate(zip(requests, ids, strict=True))]


_ADD: dict[str, Any] = {}


def _add_statement(dialect: str) -> Any:
    """The upsert that adds a count to its key's figure, built once per database kind."""
    if dialect not in _ADD:
        table: Any = Response.__table__  # type: ignore[attr-defined]
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        _ADD[dialect] = stmt.on_conflict_do_update(
            index_elements=["case_id", "kind", "day", "source_type", "source"],
            index_where=table.c.import_id.is_not(None),
            set_={"count": table.c.count + stmt.excluded["count"], "import_id": stmt.excluded.import_id,
                  "entered_by": stmt.excluded.entered_by, "created_at": stmt.excluded.created_at},
        )
    return _ADD[dialect]


def _add(session: Session, rows: list[tuple[Any, ...]], now: dt.datetime) -> None:
    """Like ``write_rows``, but each count adds to the figure already imported for its key. Rows:
    (case id, kind, day, source type, source, count, import id, entered by), one per key."""
    stmt = _add_statement(session.get_bind().dialect.name)
    for start in range(0, len(rows), BATCH):
        session.execute(stmt, [
            {"case_id": c, "kind": k, "day": d, "source_type": t, "source": s, "count": n,
             "import_id": i, "entered_by": by, "created_at": now}
            for c, k, d, t, s, n, i, by in rows[start:start + BATCH]
        ])


def api_imports(session: Session, *, limit: int = 50) -> list[ResponseImport]:
    return list(session.exec(select(ResponseImport).where(col(ResponseImport.encoding) == "json")
                             .order_by(col(ResponseImport.id).desc()).limit(limit)))
