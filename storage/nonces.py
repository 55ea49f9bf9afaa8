"""Replay protection: each (issuer, nonce) is accepted once inside the freshness window."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from protocol import Replay

from .models import SeenNonce

N = SeenNonce.__table__


def remember(session: Session, issuer: str, nonce: bytes, *, expires_ms: int, now_ms: int) -> None:
    """Record a nonce in the caller's transaction; Replay if it was already used and not expired."""
    held = session.execute(select(N.c.expires_ms).where(N.c.issuer == issuer, N.c.nonce == nonce)).scalar()
    if held is not None:
        if held > now_ms:
            raise Replay("this message was already received", issuer=issuer)
        session.execute(delete(N).where(N.c.issuer == issuer, N.c.nonce == nonce))
    try:
        with session.begin_nested():
            session.execute(insert(N).values(issuer=issuer, nonce=nonce, expires_ms=expires_ms))
    except IntegrityError:
        raise Replay("this message was already received", issuer=issuer) from None


def purge_expired(session: Session, now_ms: int) -> int:
    return session.execute(delete(N).where(N.c.expires_ms <= now_ms)).rowcount or 0
