"""The transparency log: leaves appended in the caller's transaction, checkpoints, cosignatures,
equivocation proofs. Functions take the caller's session."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlmodel import Session

from protocol.checkpoints import Checkpoint, Cosignature
from protocol.merkle import (
    CompactRange,
    Subtree,
    consistency_proof,
    consistency_subtrees,
    inclusion_proof,
    inclusion_subtrees,
    root_at,
    root_subtrees,
)

from .models import Checkpoint as CheckpointRow
from .models import Cosignature as CosignatureRow
from .models import Equivocation, LogEntry, LogNode, LogState

def _edge(session: Session) -> tuple[LogState, CompactRange]:
    state = session.get(LogState, 1)
    if state is None:
        state = LogState(singleton=1, size=0, hashes=b"")
    return state, CompactRange.from_wire({"size": state.size, "hashes": bytes(state.hashes)})


def append(session: Session, leaf_hash: bytes, message_id: bytes, *, now_ms: int) -> int:
    """Add a leaf at the end of the log; returns its index.

    Commits with the caller's transaction, so an event and its leaf are stored
    together or not at all; the subtrees the leaf completes and the log's new
    right edge are stored with it, so roots and proofs never re-read the log.
    """
    state, edge = _edge(session)
    index = edge.size
    for (level, idx), h in edge.append(leaf_hash):
        session.add(LogNode(level=level, idx=idx, hash=h))
    session.add(LogEntry(idx=index, leaf_hash=leaf_hash, message_id=message_id, appended_ms=now_ms))
    wire = edge.to_wire()
    state.size, state.hashes = wire["size"], wire["hashes"]
    session.add(state)
    return index


def size(session: Session) -> int:
    state = session.get(LogState, 1)
    return state.size if state is not None else 0


def current_root(session: Session) -> tuple[int, bytes]:
    """The log's size and root, from its right edge (O(log n))."""
    _, edge = _edge(session)
    return edge.size, edge.root()


def subtrees(session: Session, wanted: Iterable[Subtree]) -> dict[Subtree, bytes]:
    """The hashes of these perfect subtrees (level 0: leaves), for proofs and past roots."""
    wanted = set(wanted)
    found: dict[Subtree, bytes] = {}
    leaves = [idx for level, idx in wanted if level == 0]
    for start in range(0, len(leaves), 500):
        stmt = select(LogEntry.idx, LogEntry.leaf_hash).where(LogEntry.idx.in_(leaves[start : start + 500]))  # type: ignore[attr-defined]
        found.update({(0, int(i)): bytes(h) for i, h in session.execute(stmt)})
    for level, idx in wanted:
        if level:
            row = session.get(LogNode, (level, idx))
            if row is not None:
                found[(level, idx)] = bytes(row.hash)
    return found


def inclusion(session: Session, index: int, upto: int) -> list[bytes]:
    return inclusion_proof(subtrees(session, inclusion_subtrees(index, upto)), index, upto)


def consistency(session: Session, old_size: int, new_size: int) -> list[bytes]:
    return consistency_proof(subtrees(session, consistency_subtrees(old_size, new_size)), old_size, new_size)


def root_of_size(session: Session, upto: int) -> bytes:
    return root_at(subtrees(session, root_subtrees(upto)), upto)


def leaf_hashes(session: Session, upto: int) -> list[bytes]:
    """The first ``upto`` leaf hashes, in order (whole-log audits)."""
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
