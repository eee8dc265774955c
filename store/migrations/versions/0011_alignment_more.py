"""alignment more: scheduled publish, the capacity check, customer-facing groups (issue 11)

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change") as change:
        change.add_column(sa.Column("publish_at", store.types.UTCDateTime(timezone=True), nullable=True))
        change.add_column(sa.Column("publish_lease", store.types.UTCDateTime(timezone=True), nullable=True))
        change.add_column(
            sa.Column("capacity_check", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_change_publish_at", "change", ["publish_at"], unique=False)
    with op.batch_alter_table("audience_group") as group:
        group.add_column(
            sa.Column("customer_facing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "capacity_answer",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(), nullable=False),
        sa.Column("answered_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["change_id"], ["change.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("change_id", "manager_id"),
    )


def downgrade() -> None:
    op.drop_table("capacity_answer")
    with op.batch_alter_table("audience_group") as group:
        group.drop_column("customer_facing")
    op.drop_index("ix_change_publish_at", table_name="change")
    with op.batch_alter_table("change") as change:
        change.drop_column("capacity_check")
        change.drop_column("publish_lease")
        change.drop_column("publish_at")
