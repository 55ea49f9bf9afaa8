"""Signed checkpoints of a node's transparency log, witness cosignatures, equivocation proofs.

A checkpoint is a public signed envelope (type ``checkpoint``, no audience)
whose body states the log's ``size`` and RFC 9162 ``root`` at its ``iat``. A
witness that checked a checkpoint against the last one it saw (a consistency
proof) signs a ``cosignature`` naming it. Two checkpoints of one node with the
same size and different roots cannot both be true: together they are a
transferable proof of equivocation that anyone can check from the two
envelopes alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from .envelope import Envelope
from .errors import InvalidMessage
from .schema import Body, Hash32, NodeId, parse

CHECKPOINT_TYPE = "checkpoint"
COSIGNATURE_TYPE = "cosignature"
MAX_SIZE = 2**53 - 1

Size = Annotated[int, Field(ge=0, le=MAX_SIZE)]


class CheckpointBody(Body):
    size: Size
    root: Hash32


class CosignatureBody(Body):
    origin: NodeId
    checkpoint: Hash32  # message id of the checkpoint envelope
    size: Size
    root: Hash32


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A verified checkpoint: who states it, the size and root, when, and its exact envelope."""

    origin: str
    size: int
    root: bytes
    issued_at: int
    message_id: bytes
    raw: bytes


@dataclass(frozen=True, slots=True)
class Cosignature:
    witness: str
    origin: str
    checkpoint: bytes
    size: int
    root: bytes
    raw: bytes


def parse_checkpoint(envelope: Envelope) -> Checkpoint:
    """A checkpoint from an envelope ``open_envelope`` verified (InvalidMessage if it is not one)."""
    if envelope.type != CHECKPOINT_TYPE:
        raise InvalidMessage(f"not a checkpoint: {envelope.type!r}")
    if "aud" in envelope.payload:
        raise InvalidMessage("a checkpoint is public: it has no audience")
    body = parse(CheckpointBody, dict(envelope.body))
    return Checkpoint(envelope.issuer, body.size, body.root, envelope.issued_at, envelope.message_id, envelope.raw)


def parse_cosignature(envelope: Envelope) -> Cosignature:
    if envelope.type != COSIGNATURE_TYPE:
        raise InvalidMessage(f"not a cosignature: {envelope.type!r}")
    body = parse(CosignatureBody, dict(envelope.body))
    return Cosignature(envelope.issuer, body.origin, body.checkpoint, body.size, body.root, envelope.raw)


def cosignature_body(checkpoint: Checkpoint) -> dict[str, object]:
    return {"origin": checkpoint.origin, "checkpoint": checkpoint.message_id, "size": checkpoint.size,
            "root": checkpoint.root}


def cosigns(cosignature: Cosignature, checkpoint: Checkpoint) -> bool:
    """True when ``cosignature`` vouches for exactly this checkpoint."""
    return (cosignature.origin, cosignature.checkpoint, cosignature.size, cosignature.root) == (
        checkpoint.origin, checkpoint.message_id, checkpoint.size, checkpoint.root)


def is_equivocation(first: Checkpoint, second: Checkpoint) -> bool:
    """Two signed checkpoints of one log with one size and two roots: the log was forked."""
    return first.origin == second.origin and first.size == second.size and first.root != second.root


__all__ = [
    "CHECKPOINT_TYPE",
    "COSIGNATURE_TYPE",
    "Checkpoint",
    "CheckpointBody",
    "Cosignature",
    "CosignatureBody",
    "cosignature_body",
    "cosigns",
    "is_equivocation",
    "parse_checkpoint",
    "parse_cosignature",
]
