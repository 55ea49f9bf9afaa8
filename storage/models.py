"""SQLModel tables. The schema's history lives in storage/migrations (Alembic).

Records keep the exact signed envelope bytes so any node can relay them and
anyone can re-verify them; every other column is derived from those bytes
for querying and can be rebuilt.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, LargeBinary
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
    public: bool = Field(default=True)
    kind: str | None = Field(default=None, max_length=16)
    title: str = Field(default="", max_length=200)
    search_text: str = Field(default="")  # accent-folded, lower-case words
    lat: int | None = Field(default=None)
    lon: int | None = Field(default=None)
    received_ms: int = Field(sa_column=Column(BigInteger, nullable=False))


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
