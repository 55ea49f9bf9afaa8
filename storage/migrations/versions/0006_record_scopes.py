"""Record scopes: public, federation or private; the federations a record is for; federation members.

Existing records are public or private (``public`` said which); federation-scoped
ones are new, so no link rows need deriving.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("scope", sa.String(length=16), nullable=False, server_default="public"))
    records = sa.table("records", sa.column("public", sa.Boolean()), sa.column("scope", sa.String()))
    op.execute(records.update().where(records.c.public == sa.false()).values(scope="private"))
    op.create_table(
        "record_federations",
        sa.Column("author", sa.String(length=52), primary_key=True),
        sa.Column("record_id", sa.String(length=64), primary_key=True),
        sa.Column("federation_id", sa.String(length=32), primary_key=True),
        sa.ForeignKeyConstraint(["author", "record_id"], ["records.author", "records.record_id"], ondelete="CASCADE"),
    )
    op.create_table(
        "federation_members",
        sa.Column("federation_id", sa.String(length=32), primary_key=True),
        sa.Column("node_id", sa.String(length=52), primary_key=True),
        sa.Column("role", sa.String(length=32), nullable=False),
    )
    op.create_index("ix_federation_members_node_id", "federation_members", ["node_id"])


def downgrade() -> None:
    op.drop_index("ix_federation_members_node_id", table_name="federation_members")
    op.drop_table("federation_members")
    op.drop_table("record_federations")
    # Federation-scoped records have public = false: without their scope they stay unserved.
    with op.batch_alter_table("records") as batch:
        batch.drop_column("scope")
