"""Agreements: their signed event chains, the calendar's bookings, and the outbox to peers.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("id", sa.LargeBinary(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("our_role", sa.String(16), nullable=False),
        sa.Column("counterpart", sa.String(52), nullable=False),
        sa.Column("parties", sa.String(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.LargeBinary(), nullable=False),
        sa.Column("resource", sa.String(64), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("refusal", sa.String(), nullable=True),
    )
    op.create_index("ix_agreements_updated", "agreements", ["updated_ms"])
    op.create_table(
        "agreement_events",
        sa.Column("agreement_id", sa.LargeBinary(), primary_key=True),
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.LargeBinary(), nullable=False),
        sa.Column("issuer", sa.String(52), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("issued_at", sa.BigInteger(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("received_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_agreement_events_message_id", "agreement_events", ["message_id"], unique=True)
    op.create_table(
        "bookings",
        sa.Column("agreement_id", sa.LargeBinary(), primary_key=True),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
    )
    op.create_index("ix_bookings_resource", "bookings", ["resource", "end_ms"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("peer", sa.String(52), nullable=False),
        sa.Column("agreement_id", sa.LargeBinary(), nullable=False),
        sa.Column("message_id", sa.LargeBinary(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("next_attempt_ms", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_ms", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=False),
    )
    op.create_index("ix_outbox_due", "outbox", ["delivered_ms", "next_attempt_ms"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("bookings")
    op.drop_table("agreement_events")
    op.drop_table("agreements")
