"""The transparency log: leaves appended in the caller's transaction, checkpoints, cosignatures,
equivocation proofs. Functions take the caller's session."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session

from protocol.checkpoints import Checkpoint, Cosignature

from . import counters
from .models import Checkpoint as CheckpointRow
from .models import Cosignature as CosignatureRow
from .models import Equivocation, LogEntry

LOG_COUNTER = "log"


def append(session: Session, leaf_hash: bytes, message_id: bytes, *, now_ms: int) -> int:
    """Add a leaf at the end of the log; returns its index. Commits with the caller's transaction,
    so an event and its leaf are stored together or not at all."""
    index = counters.allocate(session, LOG_COUNTER, 1) - 1
    session.add(LogEntry(idx=index, leaf_hash=leaf_hash, message_id=message_id, appended_ms=now_ms))
    return index


def size(session: Session) -> int:
    return counters.current(session, LOG_COUNTER)


def leaf_hashes(session: Session, upto: int) -> list[bytes]:
    """The first ``upto`` leaf hashes, in order."""
    stmt = select(LogEntry.leaf_hash).where(LogEntry.idx < upto).order_by(LogEntry.idx)  # type: ignore[arg-type, operator]
    return [bytes(h) for h in session.scalars(stmt)]


def index_of(session: Session, message_id: bytes) -> int | None:
    return session.scalar(select(LogEntry.idx).where(LogEntry.message_id == message_id))


def entries(session: Session, start: int, stop: int) -> list[LogEntry]:
    stmt = select(LogEntry).where(LogEntry.idx >= start, LogEntry.idx < stop).order_by(LogEntry.idx)  # type: ignore[arg-type, operator]
    return list(session.scalars(stmt))


def count_entries(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)


# ---- checkpoints ------------------------------------------------------------------------------


def store_checkpoint(session: Session, checkpoint: Checkpoint, *, now_ms: int) -> None:
    if session.get(CheckpointRow, checkpoint.message_id) is None:
        session.add(
            CheckpointRow(
                message_id=checkpoint.message_id,
                origin=checkpoint.origin,
                size=checkpoint.size,
                root=checkpoint.root,
                issued_ms=checkpoint.issued_at,
                envelope=checkpoint.raw,
                received_ms=now_ms,
            )
        )


def latest_checkpoint(session: Session, origin: str) -> CheckpointRow | None:
    """The largest checkpoint we hold of ``origin`` (the newest of that size)."""
    stmt = (
        select(CheckpointRow)
        .where(CheckpointRow.origin == origin)
        .order_by(CheckpointRow.size.desc(), CheckpointRow.issued_ms.desc())  # type: ignore[attr-defined]
        .limit(1)
    )
    return session.scalars(stmt).first()


def checkpoints(session: Session, origin: str) -> list[CheckpointRow]:
    stmt = select(CheckpointRow).where(CheckpointRow.origin == origin).order_by(CheckpointRow.size)  # type: ignore[arg-type]
    return list(session.scalars(stmt))


def checkpoint_of_size(session: Session, origin: str, size: int) -> CheckpointRow | None:
    stmt = select(CheckpointRow).where(CheckpointRow.origin == origin, CheckpointRow.size == size)
    return session.scalars(stmt.limit(1)).first()


def store_cosignature(session: Session, cosignature: Cosignature, *, now_ms: int) -> bool:
    key = (cosignature.checkpoint, cosignature.witness)
    if session.get(CosignatureRow, key) is not None:
        return False
    session.add(CosignatureRow(checkpoint=cosignature.checkpoint, witness=cosignature.witness,
                               envelope=cosignature.raw, received_ms=now_ms))
    return True


def cosignatures(session: Session, checkpoint: bytes) -> list[bytes]:
    stmt = select(CosignatureRow.envelope).where(CosignatureRow.checkpoint == checkpoint)
    return [bytes(e) for e in session.scalars(stmt)]


# ---- equivocations ----------------------------------------------------------------------------


def store_equivocation(session: Session, first: Checkpoint, second: Checkpoint, *, reported_by: str, now_ms: int) -> bool:
    if session.get(Equivocation, first.origin) is not None:
        return False
    session.add(Equivocation(origin=first.origin, first=first.raw, second=second.raw, found_ms=now_ms,
                             reported_by=reported_by))
    return True


def equivocations(session: Session) -> list[Equivocation]:
    return list(session.scalars(select(Equivocation).order_by(Equivocation.found_ms)))  # type: ignore[arg-type]


def equivocation_of(session: Session, origin: str) -> Equivocation | None:
    return session.get(Equivocation, origin)
