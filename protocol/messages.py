"""Federation messages: addressed, fresh, one-shot requests and their replies.

A request is an envelope addressed (``aud``) to the node it is sent to; the
reply is an envelope addressed to the requester whose body names the
request's message id in ``reply_to``, so a reply cannot be replayed against
another request. Records travel inside messages as their exact envelope bytes.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from .envelope import Envelope
from .errors import InvalidMessage, UnknownType
from .schema import Body, Hash32, NilFree, NodeId, RecordId, parse

MAX_BATCH = 1000
MAX_RECORD_BYTES = 64 * 1024
MAX_FRAME = 64 * 1024  # a reconciliation frame (protocol/reconcile.py writes at most 60 000 bytes)

RecordBytes = Annotated[bytes, Field(min_length=1, max_length=MAX_RECORD_BYTES)]
Cursor = Annotated[int, Field(ge=0, lt=2**63)]


class Hello(Body):
    """Handshake: the sender's current signed descriptor."""

    descriptor: RecordBytes


class HelloReply(Body):
    reply_to: Hash32
    descriptor: RecordBytes


class ChangesRequest(Body):
    """Ask for the records a node holds that changed after ``since`` (its own cursor)."""

    since: Cursor
    limit: Annotated[int, Field(ge=1, le=MAX_BATCH)]


class ChangesReply(Body):
    reply_to: Hash32
    records: Annotated[tuple[RecordBytes, ...], Field(max_length=MAX_BATCH)]
    next: Cursor  # pass as ``since`` to continue
    more: bool


class PushRequest(Body):
    """Offer signed records (the sender's own or relayed) to a peer."""

    records: Annotated[tuple[RecordBytes, ...], Field(min_length=1, max_length=MAX_BATCH)]


class Rejection(Body):
    index: Annotated[int, Field(ge=0, lt=MAX_BATCH)]
    code: Annotated[str, Field(max_length=32)]
    message: Annotated[str, Field(max_length=500)]


class PushReply(Body):
    reply_to: Hash32
    stored: Annotated[int, Field(ge=0, le=MAX_BATCH)]  # newer than what the peer held
    unchanged: Annotated[int, Field(ge=0, le=MAX_BATCH)]  # already held, or older
    rejected: Annotated[tuple[Rejection, ...], Field(max_length=MAX_BATCH)]


class ReconcileRequest(Body):
    """A round of set reconciliation over the public records both sides hold (docs/protocol.md §7.4)."""

    frame: Annotated[bytes, Field(min_length=1, max_length=MAX_FRAME)]


class ReconcileReply(Body):
    reply_to: Hash32
    frame: Annotated[bytes, Field(min_length=1, max_length=MAX_FRAME)] | None = None  # absent: done
    records: Annotated[tuple[RecordBytes, ...], Field(max_length=MAX_BATCH)]  # ours the requester lacks
    truncated: bool  # some such records did not fit: the requester must not trust ``cursor``
    cursor: Cursor  # our change-feed position when the exchange started to be answered


MAX_EVENTS = 64  # agreement events per delivery: a whole chain fits


class AgreementDelivery(Body):
    """Signed agreement events for the recipient, in chain order (docs/protocol.md §7.5).

    Usually the sender's newest event; after an absence, every event the
    recipient may lack. Events are judged one by one and stop at the first refusal.
    """

    events: Annotated[tuple[RecordBytes, ...], Field(min_length=1, max_length=MAX_EVENTS)]


class EventRefusal(NilFree):
    index: Annotated[int, Field(ge=0, lt=MAX_EVENTS)]
    code: Annotated[str, Field(max_length=32)]
    message: Annotated[str, Field(max_length=500)]
    details: dict[str, Any] | None = None


class AgreementDeliveryReply(Body):
    reply_to: Hash32
    accepted: Annotated[tuple[Hash32, ...], Field(max_length=MAX_EVENTS)]  # held now (new or already)
    refused: EventRefusal | None = None  # the first event refused; the ones after it were not judged
    events: Annotated[tuple[RecordBytes, ...], Field(max_length=MAX_EVENTS)]  # the recipient's answers (e.g. its acceptance)


class StatementDelivery(Body):
    """A participant's signed statement for the authority of a convened agreement to embed
    (docs/protocol.md §7.7). The sender is the statement's author."""

    statement: Annotated[bytes, Field(min_length=1, max_length=64 * 1024)]


class StatementDeliveryReply(Body):
    reply_to: Hash32
    event: RecordBytes  # the authority's event that embeds the statement, committed before this reply


MAX_QUERIED = 100  # resources per availability query


class QueriedPeriod(Body):
    start: Annotated[int, Field(ge=0, lt=2**53)]
    end: Annotated[int, Field(ge=0, lt=2**53)]


class AvailabilityQuery(Body):
    """Are these resources of yours free for ``period`` (``quantity`` units)? For federated search."""

    resources: Annotated[tuple[RecordId, ...], Field(min_length=1, max_length=MAX_QUERIED)]
    period: QueriedPeriod
    quantity: Annotated[int, Field(ge=1, le=1_000_000_000)]


class Unavailable(Body):
    resource: RecordId
    reasons: Annotated[tuple[Annotated[str, Field(max_length=32)], ...], Field(min_length=1, max_length=16)]


class AvailabilityReply(Body):
    reply_to: Hash32
    free: Annotated[tuple[RecordId, ...], Field(max_length=MAX_QUERIED)]
    unavailable: Annotated[tuple[Unavailable, ...], Field(max_length=MAX_QUERIED)]


MAX_PROOF = 64  # hashes in a proof: enough for logs of 2^63 leaves
ProofHashes = Annotated[tuple[Hash32, ...], Field(max_length=MAX_PROOF)]
LogSize = Annotated[int, Field(ge=0, lt=2**53)]


class CheckpointRequest(NilFree):
    """The recipient's latest signed checkpoint, or (``origin``) the latest it witnessed of another node."""

    origin: NodeId | None = None


class CheckpointReply(NilFree):
    reply_to: Hash32
    checkpoint: RecordBytes | None = None  # absent: none known
    cosignatures: Annotated[tuple[RecordBytes, ...], Field(max_length=64)]


class LogProofRequest(NilFree):
    """Proofs against the recipient's log at ``size``: inclusion of an event, consistency from ``old_size``."""

    size: LogSize
    message_id: Hash32 | None = None  # the event whose inclusion is asked
    old_size: LogSize | None = None


class LogProofReply(NilFree):
    reply_to: Hash32
    index: LogSize | None = None
    inclusion: ProofHashes | None = None
    consistency: ProofHashes | None = None


class CosignRequest(Body):
    """A witness's cosignature of one of the recipient's checkpoints."""

    cosignature: RecordBytes


class CosignReply(Body):
    reply_to: Hash32
    stored: bool


class EquivocationReport(Body):
    """Two checkpoints of one node that cannot both be true, passed on for the recipient to check."""

    first: RecordBytes
    second: RecordBytes


class EquivocationReply(Body):
    reply_to: Hash32
    accepted: bool


MESSAGE_TYPES: dict[str, type[Body]] = {
    "hello": Hello,
    "hello-reply": HelloReply,
    "changes": ChangesRequest,
    "changes-reply": ChangesReply,
    "push": PushRequest,
    "push-reply": PushReply,
    "reconcile": ReconcileRequest,
    "reconcile-reply": ReconcileReply,
    "agreement": AgreementDelivery,
    "agreement-reply": AgreementDeliveryReply,
    "statement": StatementDelivery,
    "statement-reply": StatementDeliveryReply,
    "availability": AvailabilityQuery,
    "availability-reply": AvailabilityReply,
    "checkpoint": CheckpointRequest,
    "checkpoint-reply": CheckpointReply,
    "log-proof": LogProofRequest,
    "log-proof-reply": LogProofReply,
    "cosign": CosignRequest,
    "cosign-reply": CosignReply,
    "equivocation": EquivocationReport,
    "equivocation-reply": EquivocationReply,
}

REPLY_TYPES: dict[str, str] = {
    "hello": "hello-reply",
    "changes": "changes-reply",
    "push": "push-reply",
    "reconcile": "reconcile-reply",
    "agreement": "agreement-reply",
    "statement": "statement-reply",
    "availability": "availability-reply",
    "checkpoint": "checkpoint-reply",
    "log-proof": "log-proof-reply",
    "cosign": "cosign-reply",
    "equivocation": "equivocation-reply",
}


def parse_message(envelope: Envelope, expected_type: str) -> Any:
    """Validate an envelope's body as the message type an endpoint expects."""
    if envelope.type != expected_type:
        if envelope.type not in MESSAGE_TYPES:
            raise UnknownType(f"unknown message type {envelope.type!r}", expected=expected_type)
        raise InvalidMessage(f"expected a {expected_type!r} message, got {envelope.type!r}")
    return parse(MESSAGE_TYPES[expected_type], dict(envelope.body))


def parse_reply(envelope: Envelope, request: Envelope) -> Any:
    """Validate a reply: the right type, and bound to ``request`` by ``reply_to``."""
    body = parse_message(envelope, REPLY_TYPES[request.type])
    if body.reply_to != request.message_id:
        raise InvalidMessage("reply does not answer our request (reply_to mismatch)")
    return body
