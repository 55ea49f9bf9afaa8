"""Transparency log: leaves, signed checkpoints (ours and witnessed), cosignatures, equivocations.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.LargeBinary(), nullable=False),
        sa.Column("appended_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_log_entries_message_id", "log_entries", ["message_id"], unique=True)
    op.create_table(
        "checkpoints",
        sa.Column("message_id", sa.LargeBinary(), primary_key=True),
        sa.Column("origin", sa.String(52), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("issued_ms", sa.BigInteger(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_checkpoints_origin_size", "checkpoints", ["origin", "size"])
    op.create_table(
        "cosignatures",
        sa.Column("checkpoint", sa.LargeBinary(), primary_key=True),
        sa.Column("witness", sa.String(52), primary_key=True),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "equivocations",
        sa.Column("origin", sa.String(52), primary_key=True),
        sa.Column("first", sa.LargeBinary(), nullable=False),
        sa.Column("second", sa.LargeBinary(), nullable=False),
        sa.Column("found_ms", sa.BigInteger(), nullable=False),
        sa.Column("reported_by", sa.String(52), nullable=False),
    )
    counters = sa.table("counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "log", "value": 0}])


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name = 'log'")
    for table in ("equivocations", "cosignatures", "checkpoints", "log_entries"):
        op.drop_table(table)
