"""Web accounts and their sessions.

Passwords are kept as argon2id hashes only (argon2-cffi); a session cookie
carries a random 32-byte token and the table keeps its SHA-256, so a copy of
the database opens no session. Functions take the caller's session (and
transaction) like the rest of storage.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, select

from .models import WebSession, WebUser

ROLES = ("admin", "member", "reader")
SESSION_TOKEN_BYTES = 32
MAX_NAME = 100
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, 3 passes)
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A name, role or password that cannot be accepted (the message says why, in French)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    role: str


def _view(row: WebUser) -> User:
    assert row.id is not None
    return User(row.id, row.name, row.role)


def new_password() -> str:
    """A one-time password to hand over (about 96 bits, easy to type: no look-alike characters)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise AccountError(f"le nom doit compter de 1 à {MAX_NAME} caractères")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"le mot de passe doit compter au moins {MIN_PASSWORD} caractères")


def create(s: Session, name: str, role: str, password_hash: str, *, now_ms: int) -> User:
    name = check_name(name)
    if role not in ROLES:
        raise AccountError(f"rôle inconnu : {role}")
    if get_by_name(s, name) is not None:
        raise AccountError(f"le nom « {name} » est déjà pris")
    row = WebUser(name=name, role=role, password_hash=password_hash, created_ms=now_ms)
    s.add(row)
    s.flush()
    return _view(row)


def count(s: Session) -> int:
    return len(s.exec(select(WebUser.id)).all())


def list_all(s: Session) -> list[User]:
    return [_view(row) for row in s.exec(select(WebUser).order_by(col(WebUser.name))).all()]


def get(s: Session, user_id: int) -> User | None:
    row = s.get(WebUser, user_id)
    return None if row is None else _view(row)


def get_by_name(s: Session, name: str) -> User | None:
    row = s.exec(select(WebUser).where(WebUser.name == name.strip())).first()
    return None if row is None else _view(row)


def authenticate(s: Session, name: str, password: str) -> User | None:
    """The user if the password is right (rehashing it when the parameters changed), else None."""
    row = s.exec(select(WebUser).where(WebUser.name == name.strip())).first()
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
        s.add(row)
    return _view(row)


def set_password(s: Session, user_id: int, password_hash: str) -> None:
    """Replace a password; every session of that user ends."""
    row = s.get(WebUser, user_id)
    if row is None:
        raise AccountError("compte inconnu")
    row.password_hash = password_hash
    s.add(row)
    s.exec(delete(WebSession).where(col(WebSession.user_id) == user_id))  # type: ignore[call-overload]


def set_role(s: Session, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise AccountError(f"rôle inconnu : {role}")
    row = s.get(WebUser, user_id)
    if row is None:
        raise AccountError("compte inconnu")
    row.role = role
    s.add(row)


# ---- sessions -----------------------------------------------------------------------------------


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def open_session(s: Session, user_id: int, *, now_ms: int, lifetime_ms: int) -> str:
    """A new session for the user; returns the token for the cookie (never stored as is)."""
    token = secrets.token_urlsafe(SESSION_TOKEN_BYTES)
    s.add(WebSession(token_hash=_digest(token), user_id=user_id, expires_ms=now_ms + lifetime_ms, created_ms=now_ms))
    s.exec(delete(WebSession).where(col(WebSession.expires_ms) <= now_ms))  # type: ignore[call-overload]
    return token


def session_user(s: Session, token: str, *, now_ms: int) -> User | None:
    row = s.get(WebSession, _digest(token))
    if row is None or row.expires_ms <= now_ms:
        return None
    return get(s, row.user_id)


def close_session(s: Session, token: str) -> None:
    s.exec(delete(WebSession).where(col(WebSession.token_hash) == _digest(token)))  # type: ignore[call-overload]
