"""Staff accounts for the dashboard: Argon2 password hashes, roles, and the OIDC mapping."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from orchestrator.models import User
from orchestrator.services import passwords
from orchestrator.services.auth import ROLES, SYSTEM, Actor, NotFound, ServiceError, audit, require

_hasher = PasswordHasher()
#: Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("porte-voix: no such user")
MIN_PASSWORD = passwords.MIN_PASSWORD


#: Names that stand for the machine, not a person: the command line and the worker act as
#: ``system`` in the audit log (a worker as its own id). A staff account of that name would mix
#: its actions with theirs; "?" is how a failed sign-in under an unknown name is audited. Names
#: starting with ``cli:`` are the command line's operators (``cli:alice``), reserved too.
RESERVED_NAMES = frozenset({SYSTEM.username, "?"})


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ServiceError(
            f"Rôle inconnu « {role} » (rôles : {', '.join(ROLES)}).", f"Unknown role '{role}' (roles: {', '.join(ROLES)})."
        )


def _check_password(password: str, username: str) -> None:
    passwords.check_password(password, username=username)  # length, common passwords, guessability


def get_user(session: Session, *, username: str) -> User:
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise NotFound(f"Utilisateur inconnu « {username} ».", f"Unknown user '{username}'.")
    return user


def add_user(
    session: Session, *, actor: Actor, username: str, password: str | None, role: str, language: str = "fr"
) -> User:
    """A new staff account. ``password`` may be None for a person who signs in only through OIDC."""
    require(actor, "admin", "ajouter une personne", "add a user")
    username = username.strip().lower()  # e-mail addresses from OIDC compare case-insensitively
    if not username:
        raise ServiceError("Le nom d'utilisateur est vide.", "The username is empty.")
    if username in RESERVED_NAMES or username.startswith("cli:"):
        raise ServiceError(
            f"« {username} » est réservé : c'est le nom sous lequel la ligne de commande et le travailleur agissent "
            "dans le journal. Choisissez un autre nom.",
            f"'{username}' is reserved: the command line and the worker act under that name in the audit log. "
            "Choose another name.",
        )
    _check_role(role)
    if language not in ("fr", "en"):
        raise ServiceError("Langue : fr ou en.", "Language: fr or en.")
    if password is not None:
        _check_password(password, username)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise ServiceError(f"« {username} » existe déjà.", f"'{username}' already exists.")
    user = User(username=username, role=role, language=language,
                password_hash=_hasher.hash(password) if password else "")
    session.add(user)
    session.flush()
    audit(session, actor=actor, action="user_add", target_type="user", target_id=username, role=role)
    return user


def set_password(session: Session, *, actor: Actor, username: str, password: str) -> User:
    user = get_user(session, username=username)
    if actor.username != user.username:  # everyone may change their own password
        require(actor, "admin", "changer le mot de passe d'une autre personne", "change someone else's password")
    _check_password(password, user.username)
    user.password_hash = _hasher.hash(password)
    user.credentials_epoch += 1  # every session opened with the old password ends
    session.add(user)
    audit(session, actor=actor, action="user_password", target_type="user", target_id=user.username)
    return user


def set_role(session: Session, *, actor: Actor, username: str, role: str) -> User:
    require(actor, "admin", "changer un rôle", "change a role")
    _check_role(role)
    user = get_user(session, username=username)
    if user.username == actor.username and role != "admin":
        # Keeps at least the person doing it able to undo it.
        raise ServiceError("Vous ne pouvez pas retirer votre propre rôle d'administration.",
                           "You cannot remove your own admin role.")
    previous, user.role = user.role, role
    session.add(user)
    audit(session, actor=actor, action="user_role", target_type="user", target_id=user.username,
          previous=previous, role=role)
    return user


def set_disabled(session: Session, *, actor: Actor, username: str, disabled: bool) -> User:
    require(actor, "admin", "désactiver une personne", "disable a user")
    user = get_user(session, username=username)
    if user.username == actor.username and disabled:
        raise ServiceError("Vous ne pouvez pas désactiver votre propre compte.", "You cannot disable your own account.")
    user.disabled = disabled
    user.credentials_epoch += 1  # a session must not survive a disable-then-enable it slept through
    session.add(user)
    audit(session, actor=actor, action="user_disable" if disabled else "user_enable", target_type="user",
          target_id=user.username)
    return user


def set_language(session: Session, *, actor: Actor, language: str) -> None:
    """The interface language a person chose, remembered for next time."""
    if language not in ("fr", "en"):
        return
    user = session.exec(select(User).where(User.username == actor.username)).first()
    if user is not None and user.language != language:
        user.language = language
        session.add(user)


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.username)))


def authenticate(session: Session, *, username: str, password: str) -> Actor | None:
    """The person behind a username and password, or None. A failure is audited without saying
    which of the two was wrong."""
    name = username.strip().lower()
    user = session.exec(select(User).where(User.username == name)).first()
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
        ok = user is not None and bool(user.password_hash) and not user.disabled
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        # A name that matches nobody is not written down: it is sometimes a password typed in the
        # wrong box. The attempt is still counted (login_guard), under a hash of what was typed.
        known = user.username if user is not None else "?"
        audit(session, actor=Actor(known, "viewer"), action="login_failed", target_type="user", target_id=known)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    actor = Actor(user.username, user.role)
    audit(session, actor=actor, action="login", target_type="user", target_id=user.username)
    return actor


def actor_for_email(session: Session, *, email: str) -> Actor | None:
    """OIDC sign-in: the identity provider vouches for the e-mail; the role comes from our own
    user row of that name, so a provider account alone grants nothing."""
    name = (email or "").strip().lower()
    if not name:
        return None
    user = session.exec(select(User).where(User.username == name)).first()
    if user is None or user.disabled:
        return None
    return Actor(user.username, user.role)


def active_actor(session: Session, *, username: str, epoch: int | None = None) -> Actor | None:
    """The person as they are now (role changes and disabling apply at once), or None. With
    ``epoch`` (the one the session signed in under), None too once their password was reset or
    their account disabled since."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.disabled:
        return None
    if epoch is not None and epoch != user.credentials_epoch:
        return None
    return Actor(user.username, user.role)


def credentials_epoch(session: Session, *, username: str) -> int | None:
    """What a new session records at sign-in (see ``active_actor``)."""
    user = session.exec(select(User).where(User.username == username)).first()
    return user.credentials_epoch if user is not None else None


def user_language(session: Session, *, username: str) -> str | None:
    user = session.exec(select(User).where(User.username == username)).first()
    return user.language if user is not None else None
