"""Monotonic counters shared by every writer (see models.Counter)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session

from .models import Counter

C = Counter.__table__


def allocate(session: Session, name: str, n: int) -> int:
    """Reserve ``n`` consecutive values of counter ``name``; return the first.

    The UPDATE takes the row lock until the caller's transaction ends, so
    values become visible in the order they were handed out.
    """
    last = session.execute(
        update(C).where(C.c.name == name).values(value=C.c.value + n).returning(C.c.value)
    ).scalar_one()
    return int(last) - n + 1


def current(session: Session, name: str) -> int:
    row = session.get(Counter, name)
    return row.value if row else 0
