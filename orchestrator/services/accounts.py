"""Channel accounts: credentials encrypted at rest, health, and building a channel to use one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from sqlmodel import Session, select

from channels.base import AccountConfig, AuthError, Channel, ChannelError, CredentialField
from channels.registry import CHANNELS, ByKind, channel_class
from content.words import Words
from orchestrator import secrets
from orchestrator.models import Account, RateBucket
from orchestrator.services.auth import Actor, NotFound, ServiceError, audit, require
from orchestrator.timeutil import utcnow

#: The platforms by their own names, for people (an account's ``kind`` is a code). These lists
#: are read from each channel class (``channels/<kind>.py`` declares its platform's facts).
PLATFORM_NAMES: Mapping[str, str] = ByKind(lambda cls: cls.platform_name)
#: Credential fields per kind.
CREDENTIALS: Mapping[str, tuple[str, ...]] = ByKind(lambda cls: cls.credential_names())
#: Complete sets of credentials per kind: any one of these groups must be complete.
REQUIRED: Mapping[str, tuple[tuple[str, ...], ...]] = ByKind(lambda cls: cls.credential_groups)
#: Each credential as its channel declares it (words, help, secret or not), for forms.
FIELDS: Mapping[str, tuple[CredentialField, ...]] = ByKind(lambda cls: cls.credential_fields)
#: The secret credentials per kind (never options, never shown back) and the public ones.
SECRET_FIELDS: Mapping[str, tuple[str, ...]] = ByKind(lambda cls: cls.secret_fields())
PUBLIC_FIELDS: Mapping[str, tuple[str, ...]] = ByKind(lambda cls: cls.public_fields())
#: Credentials the sandbox accepts, used for demo and training accounts.
SANDBOX_CREDENTIALS: Mapping[str, dict[str, str]] = ByKind(lambda cls: dict(cls.sandbox_credentials))


class _CredentialNames(Mapping[str, tuple[str, str]]):
    """Each credential in words (French, English), for the messages people read, over every kind."""

    def _all(self) -> dict[str, tuple[str, str]]:
        names: dict[str, tuple[str, str]] = {}
        for kind in CHANNELS:
            for field in channel_class(kind).credential_fields:
                names.setdefault(field.name, (field.fr, field.en))
        return names

    def __getitem__(self, name: str) -> tuple[str, str]:
        return self._all()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


CREDENTIAL_NAMES: Mapping[str, tuple[str, str]] = _CredentialNames()


def add_account(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    name: str,
    credentials: dict[str, str],
    base_url: str | None = None,
    language: str | None = None,
    options: dict[str, Any] | None = None,
    is_sandbox: bool = False,
) -> Account:
    require(actor, "admin", "ajouter un compte", "add an account")
    if kind not in CHANNELS:
        raise ServiceError(
            f"Type de compte inconnu « {kind} » (connus : {', '.join(sorted(CHANNELS))}).",
            f"Unknown account kind '{kind}' (known: {', '.join(sorted(CHANNELS))}).",
        )
    if not name.strip():
        raise ServiceError("Le compte doit avoir un nom.", "The account needs a name.")
    if language not in (None, "fr", "en"):
        raise ServiceError("Langue du compte : fr ou en.", "Account language: fr or en.")
    creds = _complete_credentials(kind, credentials)
    if session.exec(select(Account).where(Account.name == name)).first() is not None:
        raise ServiceError(f"Un compte nommé « {name} » existe déjà.", f"An account named '{name}' already exists.")
    account = Account(
        kind=kind,
        name=name,
        base_url=base_url or None,
        language=language,
        credentials=secrets.encrypt(creds),
        options=dict(options or {}),
        is_sandbox=is_sandbox,
    )
    session.add(account)
    session.flush()
    seed_rate_buckets(session, account=account)
    audit(session, actor=actor, action="account_add", target_type="account", target_id=name, kind=kind)
    return account


def _complete_credentials(kind: str, credentials: dict[str, str]) -> dict[str, str]:
    """The non-empty credentials, refused when one is foreign to ``kind`` or a group is missing."""
    creds = {k: v for k, v in credentials.items() if v}
    unknown = set(creds) - set(CREDENTIALS[kind])
    if unknown:
        raise ServiceError(
            f"Identifiants inattendus pour {kind} : {', '.join(sorted(unknown))}.",
            f"Unexpected credentials for {kind}: {', '.join(sorted(unknown))}.",
        )
    if not any(all(f in creds for f in group) for group in REQUIRED[kind]):
        platform = PLATFORM_NAMES.get(kind, kind)

        def needed(i: int, join: str, either: str) -> str:
            return f" {either} ".join(join.join(CREDENTIAL_NAMES.get(f, (f, f))[i] for f in g) for g in REQUIRED[kind])

        raise ServiceError(
            f"Identifiants incomplets pour {platform} : il faut {needed(0, ' + ', 'ou')}.",
            f"Incomplete credentials for {platform}: {needed(1, ' + ', 'or')} needed.",
        )
    return creds


#: Why an account is unhealthy when the key in force cannot read its credentials (shown on the
#: dashboard: no command line in it).
UNREADABLE = Words(
    "Identifiants illisibles : la clé de chiffrement de ce serveur ne les déchiffre pas (clé perdue ou changée). "
    "Remettez la bonne clé en place, ou saisissez de nouveau les identifiants du compte.",
    "Unreadable credentials: this server's encryption key does not decrypt them (lost or changed key). Put the "
    "right key back, or enter the account's credentials again.")
#: The French words, as stored in ``Account.last_error`` (compared to tell this reason apart).
UNREADABLE_FR = UNREADABLE.fr


def readable(account: Account) -> bool:
    """Whether the key in force decrypts the account's credentials (no key at all: False)."""
    try:
        secrets.decrypt(account.credentials)
    except secrets.SecretKeyError:
        return False
    return True


def set_credentials(
    session: Session, *, actor: Actor, name: str, credentials: dict[str, str], base_url: str | None = None
) -> Account:
    """Replace an account's credentials as a whole, without reading the old ones: what is left
    to do after the key was lost (or a token was revoked). Every credential the kind needs must be
    given. The account's queue stays as it is until ``test_account`` succeeds."""
    require(actor, "admin", "remplacer les identifiants d'un compte", "replace an account's credentials")
    account = get_account(session, name=name)
    creds = _complete_credentials(account.kind, credentials)
    account.credentials = secrets.encrypt(creds)  # any stored platform session goes with the old ones
    if base_url is not None:
        account.base_url = base_url or None
    if account.last_error == UNREADABLE_FR:
        account.last_error = "Nouveaux identifiants : à vérifier (tester le compte)."
    session.add(account)
    audit(session, actor=actor, action="account_credentials", target_type="account", target_id=name,
          fields=sorted(creds), replaced=True)
    return account


def remove_account(session: Session, *, actor: Actor, name: str) -> str:
    """Remove an account, without needing its credentials. One that never had a delivery goes
    entirely ("deleted"). One with history keeps its row for the record, but loses its
    credentials, its queue is cancelled and it is marked out of service ("retired"). Refused while
    a delivery is being sent or may have gone out unconfirmed: that must be settled first."""
    from orchestrator import states
    from orchestrator.models import Delivery, EngagementHour

    require(actor, "admin", "retirer un compte", "remove an account")
    account = get_account(session, name=name)
    found = list(session.exec(select(Delivery).where(Delivery.account_id == account.id)))
    open_now = [d for d in found if d.state in (states.PUBLISHING, states.UNCONFIRMED)]
    if open_now:
        raise ServiceError(
            f"{len(open_now)} publication(s) de « {name} » sont en cours d'envoi ou non confirmées : réglez-les "
            "d'abord (file d'envoi), puis retirez le compte.",
            f"{len(open_now)} deliveries of '{name}' are being sent or unconfirmed: settle them first (queue), "
            "then remove the account.",
        )
    if not found:
        for bucket in session.exec(select(RateBucket).where(RateBucket.account_id == account.id)):
            session.delete(bucket)
        for hour in session.exec(select(EngagementHour).where(EngagementHour.account_id == account.id)):
            session.delete(hour)
        session.delete(account)
        audit(session, actor=actor, action="account_remove", target_type="account", target_id=name, kept=False)
        return "deleted"
    cancelled = 0
    for delivery in found:
        if delivery.state in states.FINAL:
            continue
        states.transition(session, delivery, states.CANCELLED, actor=actor.username, outcome="cancelled",
                          detail="account removed")
        cancelled += 1
    account.credentials = ""
    account.healthy = False
    account.last_error = "Compte retiré : identifiants effacés."
    account.last_checked_at = utcnow()
    session.add(account)
    audit(session, actor=actor, action="account_remove", target_type="account", target_id=name, kept=True,
          cancelled=cancelled)
    return "retired"


def update_credentials(
    session: Session, *, actor: Actor, name: str, credentials: dict[str, str], base_url: str | None = None
) -> Account:
    require(actor, "admin", "modifier les identifiants d'un compte", "edit an account's credentials")
    account = get_account(session, name=name)
    given = {k: v for k, v in credentials.items() if v}
    try:
        old = secrets.decrypt(account.credentials)
    except secrets.SecretKeyError:
        # The old ones cannot be read (key lost or changed): a complete new set replaces them.
        if any(all(f in given for f in group) for group in REQUIRED[account.kind]):
            return set_credentials(session, actor=actor, name=name, credentials=given, base_url=base_url)
        raise ServiceError(
            "Les identifiants enregistrés sont illisibles (clé de chiffrement perdue ou changée) : saisissez-les "
            "tous de nouveau, pas seulement ceux qui changent.",
            "The stored credentials are unreadable (encryption key lost or changed): enter all of them again, "
            "not only those that change.",
        ) from None
    merged = {**old, **given}
    if given:
        merged.pop("session_string", None)  # a platform session of the old login must not outlive it
    account.credentials = secrets.encrypt(merged)
    if base_url is not None:
        account.base_url = base_url or None
    session.add(account)
    audit(session, actor=actor, action="account_credentials", target_type="account", target_id=name,
          fields=sorted(k for k, v in credentials.items() if v))
    return account


def get_account(session: Session, *, name: str) -> Account:
    account = session.exec(select(Account).where(Account.name == name)).first()
    if account is None:
        known = ", ".join(a.name for a in session.exec(select(Account).order_by(Account.name)))
        raise NotFound(
            f"Compte inconnu « {name} » (comptes : {known or 'aucun'}).",
            f"Unknown account '{name}' (accounts: {known or 'none'}).",
        )
    return account


def list_accounts(session: Session) -> list[Account]:
    return list(session.exec(select(Account).order_by(Account.kind, Account.name)))


def account_config(account: Account) -> AccountConfig:
    return AccountConfig(
        kind=account.kind,
        name=account.name,
        credentials=secrets.decrypt(account.credentials),
        base_url=account.base_url,
        options=dict(account.options or {}),
    )


def build_channel(
    account: Account, *, timeout: float = 20.0, session: requests.Session | None = None
) -> Channel:
    cls = channel_class(account.kind)
    return cls(account_config(account), session=session, timeout=timeout)


def rate_limits_of(account: Account) -> dict[str, tuple[int, int]]:
    """(capacity, window in seconds) per endpoint: the platform's figures, then the account's own."""
    limits = channel_class(account.kind).rate_limits
    overrides = (account.options or {}).get("rate_limits", {})
    return {**limits, **{k: (int(v[0]), int(v[1])) for k, v in overrides.items()}}


def seed_rate_buckets(session: Session, *, account: Account) -> None:
    """One bucket per endpoint the platform limits, full at first."""
    assert account.id is not None
    have = {b.endpoint for b in session.exec(select(RateBucket).where(RateBucket.account_id == account.id))}
    for endpoint, (capacity, window) in rate_limits_of(account).items():
        if endpoint in have:
            continue
        session.add(RateBucket(account_id=account.id, endpoint=endpoint, capacity=int(capacity),
                               window_seconds=int(window), tokens=float(capacity)))


def test_account(session: Session, *, actor: Actor, name: str, timeout: float = 20.0,
                 language: str = "fr") -> tuple[bool, str]:
    """Check the credentials against the platform. Success makes the account healthy again and
    releases the deliveries held because of it. The message comes back in ``language`` (the
    account keeps its last error in French, as the worker writes it)."""
    from orchestrator.services import deliveries

    require(actor, "editor", "tester un compte", "test an account")
    account = get_account(session, name=name)
    try:
        channel = build_channel(account, timeout=timeout)
    except secrets.SecretKeyError as exc:
        if exc.missing:
            raise  # no key at all: the caller explains how to put it back
        # Not a platform's refusal: the key in force cannot read what is stored. Said as such,
        # and the account's queue held, as the worker does.
        mark_unhealthy(session, account=account, reason=UNREADABLE_FR)
        audit(session, actor=actor, action="account_test", target_type="account", target_id=name, ok=False)
        return False, UNREADABLE_FR
    try:
        handle = channel.whoami()
    except ChannelError as exc:
        account.last_error = exc.text("fr")
        if isinstance(exc, AuthError):
            account.healthy = False
        ok, message = False, exc.text(language)
    else:
        account.handle = handle
        account.last_error = ""
        was_unhealthy = not account.healthy
        account.healthy = True
        ok, message = True, handle
        if was_unhealthy:
            deliveries.release_account(session, account=account, actor=actor)
        from orchestrator.services.listening import clear_unavailable

        clear_unavailable(session, account_id=account.id or 0)  # a re-tested account listens again
        options = getattr(channel, "stored_options", None)
        if callable(options):
            account.options = {**(account.options or {}), **options()}
    account.last_checked_at = utcnow()
    session.add(account)
    audit(session, actor=actor, action="account_test", target_type="account", target_id=name, ok=ok)
    return ok, message


def mark_unhealthy(session: Session, *, account: Account, reason: str, at: dt.datetime | None = None) -> None:
    from orchestrator.services import deliveries
    from orchestrator.services.notify import emit_safely

    if account.healthy:  # told once, when it turns unhealthy
        emit_safely(session, "account_unhealthy", [{"account_id": account.id, "account": account.name,
                                                    "kind": account.kind, "error": reason[:500]}])
    account.healthy = False
    account.last_error = reason
    account.last_checked_at = at or utcnow()
    session.add(account)
    deliveries.hold_account(session, account=account, reason=reason)


def store_session(session: Session, *, account_id: int, session_string: str) -> str | None:
    """Keep a platform session (Bluesky's, which holds tokens) inside the account's encrypted
    credentials, so every worker process reuses it instead of logging in again. Returns the new
    encrypted credentials, or None when that session was already stored."""
    query = select(Account).where(Account.id == account_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    account = session.exec(query).first()
    if account is None:
        return None
    creds = secrets.decrypt(account.credentials)
    if creds.get("session_string") == session_string:
        return None
    creds["session_string"] = session_string
    account.credentials = secrets.encrypt(creds)
    session.add(account)
    return account.credentials
