"""Initial schema: identity, peers, catalogue records, seen nonces, sync cursors, counters.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "node_identity",
        sa.Column("singleton", sa.Integer(), primary_key=True),
        sa.Column("node_id", sa.String(52), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "peers",
        sa.Column("node_id", sa.String(52), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("addresses", sa.String(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_seen_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_attempt_ms", sa.BigInteger(), nullable=True),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=False),
        sa.Column("descriptor", sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        "records",
        sa.Column("author", sa.String(52), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("rtype", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.LargeBinary(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("search_text", sa.String(), nullable=False),
        sa.Column("lat", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Integer(), nullable=True),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_records_seq", "records", ["seq"], unique=True)
    op.create_index("ix_records_message_id", "records", ["message_id"], unique=True)
    op.create_table(
        "seen_nonces",
        sa.Column("issuer", sa.String(52), primary_key=True),
        sa.Column("nonce", sa.LargeBinary(), primary_key=True),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_seen_nonces_expires", "seen_nonces", ["expires_ms"])
    op.create_table(
        "sync_cursors",
        sa.Column("peer_id", sa.String(52), primary_key=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)), [{"name": "records", "value": 0}])


def downgrade() -> None:
    for index, table in (
        ("ix_seen_nonces_expires", "seen_nonces"),
        ("ix_records_message_id", "records"),
        ("ix_records_seq", "records"),
    ):
        op.drop_index(index, table_name=table)
    for table in ("counters", "sync_cursors", "seen_nonces", "records", "peers", "node_identity"):
        op.drop_table(table)
