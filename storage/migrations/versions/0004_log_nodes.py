"""Log subtree hashes and right edge (O(log n) proofs and roots); superseded events kept.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from protocol.merkle import CompactRange

    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "log_state",
        sa.Column("singleton", sa.Integer(), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "superseded_events",
        sa.Column("message_id", sa.LargeBinary(), primary_key=True),
        sa.Column("agreement_id", sa.LargeBinary(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("superseded_ms", sa.BigInteger(), nullable=False),
    )
    # Build the subtree table and the right edge of the log written so far.
    connection = op.get_bind()
    leaves = connection.execute(sa.text("SELECT leaf_hash FROM log_entries ORDER BY idx")).scalars()
    edge = CompactRange()
    nodes = []
    for leaf in leaves:
        nodes += [{"level": level, "idx": idx, "hash": h} for (level, idx), h in edge.append(bytes(leaf))]
    if nodes:
        op.bulk_insert(sa.table("log_nodes", sa.column("level"), sa.column("idx"), sa.column("hash")), nodes)
    wire = edge.to_wire()
    op.bulk_insert(
        sa.table("log_state", sa.column("singleton"), sa.column("size"), sa.column("hashes")),
        [{"singleton": 1, "size": wire["size"], "hashes": wire["hashes"]}],
    )
    op.execute("DELETE FROM counters WHERE name = 'log'")


def downgrade() -> None:
    op.drop_table("superseded_events")
    op.drop_table("log_state")
    op.drop_table("log_nodes")
    op.execute("INSERT INTO counters (name, value) SELECT 'log', count(*) FROM log_entries")
