"""SQLModel tables. The schema's history lives in storage/migrations (Alembic).

Records keep the exact signed envelope bytes so any node can relay them and
anyone can re-verify them; every other column is derived from those bytes
for querying and can be rebuilt.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, ForeignKeyConstraint, Index, Integer, LargeBinary, String
from sqlmodel import Field, SQLModel


class NodeIdentity(SQLModel, table=True):
    """This node: one row. The private key lives in the key file beside the database."""

    __tablename__ = "node_identity"

    singleton: int = Field(default=1, primary_key=True)
    node_id: str = Field(max_length=52)
    name: str = Field(max_length=200)
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Peer(SQLModel, table=True):
    """Another node we know of: where to reach it and how it has been behaving."""

    __tablename__ = "peers"

    node_id: str = Field(primary_key=True, max_length=52)
    name: str = Field(default="", max_length=200)
    addresses: str = Field(default="[]")  # JSON array of base URLs, most recently working first
    source: str = Field(default="inbound", max_length=16)  # seed | inbound | mdns | exchange
    state: str = Field(default="new", max_length=16)  # new | active | unreachable | gone | refused
    last_seen_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_attempt_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    next_attempt_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    failures: int = Field(default=0)
    last_error: str = Field(default="", max_length=500)
    descriptor: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class CatalogueRecord(SQLModel, table=True):
    """The newest known version of one record, own or replicated."""

    __tablename__ = "records"
    # Few indexes on purpose: every one costs on the replication hot path, and
    # search scans the folded text anyway (kind and distance filter that scan).
    __table_args__ = (
        Index("ix_records_seq", "seq", unique=True),
        Index("ix_records_message_id", "message_id", unique=True),
    )

    author: str = Field(primary_key=True, max_length=52)
    record_id: str = Field(primary_key=True, max_length=64)
    rtype: str = Field(max_length=16)  # descriptor | resource | offer | need | tombstone
    issued_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))  # local change order, for cursors
    public: bool = Field(default=True)  # served to anyone: scope "public"
    # public | federation | private; a federation-scoped record's federations are in record_federations
    scope: str = Field(default="public", sa_column=Column(String(16), nullable=False, server_default="public"))
    kind: str | None = Field(default=None, max_length=16)
    title: str = Field(default="", max_length=200)
    search_text: str = Field(default="")  # accent-folded, lower-case words
    lat: int | None = Field(default=None)
    lon: int | None = Field(default=None)
    received_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class RecordFederation(SQLModel, table=True):
    """One federation a federation-scoped record is meant for (the record's current version)."""

    __tablename__ = "record_federations"
    __table_args__ = (
        ForeignKeyConstraint(["author", "record_id"], ["records.author", "records.record_id"], ondelete="CASCADE"),
    )

    author: str = Field(primary_key=True, max_length=52)
    record_id: str = Field(primary_key=True, max_length=64)
    federation_id: str = Field(primary_key=True, max_length=32)


class FederationMember(SQLModel, table=True):
    """A member of a federation, as the federation's signed charter chain we hold states it."""

    __tablename__ = "federation_members"
    __table_args__ = (Index("ix_federation_members_node_id", "node_id"),)

    federation_id: str = Field(primary_key=True, max_length=32)  # the charter's agreement id, 32 hex chars
    node_id: str = Field(primary_key=True, max_length=52)
    role: str = Field(max_length=32)


class SeenNonce(SQLModel, table=True):
    """(issuer, nonce) pairs accepted inside the freshness window: a second use is a replay."""

    __tablename__ = "seen_nonces"
    __table_args__ = (Index("ix_seen_nonces_expires", "expires_ms"),)

    issuer: str = Field(primary_key=True, max_length=52)
    nonce: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    expires_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class SyncCursor(SQLModel, table=True):
    """How far we have pulled each peer's change feed (the peer's own sequence numbers)."""

    __tablename__ = "sync_cursors"

    peer_id: str = Field(primary_key=True, max_length=52)
    cursor: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    updated_ms: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class Counter(SQLModel, table=True):
    """Named monotonic counters; the row lock serialises writers, so sequence numbers
    become visible in commit order and a reader's cursor never skips one."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Agreement(SQLModel, table=True):
    """An agreement this node is a party to; its truth is its chain of signed events.

    Every column here is derived from the chain (``agreement_events``) and can be
    rebuilt by replaying it, except ``refusal``: why a counterpart refused our
    last event, which is local news for our operators.
    """

    __tablename__ = "agreements"
    __table_args__ = (Index("ix_agreements_updated", "updated_ms"),)

    id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    kind: str = Field(max_length=16)
    our_role: str = Field(max_length=16)
    counterpart: str = Field(max_length=52)
    parties: str  # JSON: role -> node id
    state: str = Field(max_length=16)
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    head: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    resource: str | None = Field(default=None, max_length=64)
    title: str = Field(default="", max_length=200)
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    refusal: str | None = Field(default=None)  # JSON {code, message, details} of the last refusal


class AgreementEvent(SQLModel, table=True):
    """One signed event of an agreement, exactly as it was signed."""

    __tablename__ = "agreement_events"
    __table_args__ = (Index("ix_agreement_events_message_id", "message_id", unique=True),)

    agreement_id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    message_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    issuer: str = Field(max_length=52)
    action: str = Field(max_length=32)
    issued_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Booking(SQLModel, table=True):
    """What an agreement holds of one of our resources, as the calendar's authority.

    A pending offer holds its slot until it expires; a sealed agreement until
    the resource is returned; a declined, withdrawn or cancelled one holds nothing.
    """

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_resource", "resource", "end_ms"),)

    agreement_id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    resource: str = Field(max_length=64)
    start_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    end_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    quantity: int
    expires_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    state: str = Field(max_length=16)


class OutboxEntry(SQLModel, table=True):
    """A signed event waiting to reach a peer; retried with backoff until the peer acknowledges it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "delivered_ms", "next_attempt_ms"),)

    id: int | None = Field(default=None, primary_key=True)
    peer: str = Field(max_length=52)
    agreement_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    message_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    next_attempt_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    attempts: int = Field(default=0)
    delivered_ms: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    last_error: str = Field(default="", max_length=500)


class LogEntry(SQLModel, table=True):
    """One leaf of this node's transparency log (RFC 9162): an agreement event it signed or accepted.

    The leaf data is the event's exact envelope bytes (kept in ``agreement_events``);
    the leaf hash is stored so proofs need no re-hashing.
    """

    __tablename__ = "log_entries"
    __table_args__ = (Index("ix_log_entries_message_id", "message_id", unique=True),)

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    message_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    appended_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Checkpoint(SQLModel, table=True):
    """A signed checkpoint (tree size, root) of a node's log: ours, or a peer's we witnessed."""

    __tablename__ = "checkpoints"
    __table_args__ = (Index("ix_checkpoints_origin_size", "origin", "size"),)

    message_id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    origin: str = Field(max_length=52)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    issued_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Cosignature(SQLModel, table=True):
    """A witness's signature over one of our checkpoints (or one we made over a peer's)."""

    __tablename__ = "cosignatures"

    checkpoint: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))  # message id of the checkpoint
    witness: str = Field(primary_key=True, max_length=52)
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class Equivocation(SQLModel, table=True):
    """Proof that a node signed two checkpoints that cannot both be true."""

    __tablename__ = "equivocations"

    origin: str = Field(primary_key=True, max_length=52)
    first: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # checkpoint envelopes
    second: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    found_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    reported_by: str = Field(max_length=52)  # us, or the peer that passed the proof on


class LogNode(SQLModel, table=True):
    """The hash of a complete perfect subtree of our log (level >= 1; leaves are level 0 in
    ``log_entries``): any proof or past root is then a handful of look-ups."""

    __tablename__ = "log_nodes"

    level: int = Field(primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LogState(SQLModel, table=True):
    """The log's right edge (RFC 9162 compact range): its size and one subtree hash per bit of it."""

    __tablename__ = "log_state"

    singleton: int = Field(default=1, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    hashes: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SupersededEvent(SQLModel, table=True):
    """An event of ours the other party's overtook before it arrived: out of the chain, but we
    signed it and our log holds it, so it is kept for audits."""

    __tablename__ = "superseded_events"

    message_id: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    agreement_id: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, nullable=False))
    envelope: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    superseded_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class WebUser(SQLModel, table=True):
    """A person who signs in to the node's web pages: administrator, member or reader.

    Only an argon2 hash of the password is kept.
    """

    __tablename__ = "web_users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, sa_column_kwargs={"unique": True})
    role: str = Field(max_length=16)  # admin | member | reader
    password_hash: str = Field(max_length=300)
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


class WebSession(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_expires", "expires_ms"),)

    token_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    expires_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
