"""amendments and the digest (issue 11)

An amended change counts its revisions; a delivery re-asked by an amendment remembers which revision
asked (`reasked_revision`) and how many reminders it had had before (`reminders_before`), and each
acknowledgement an amendment set aside is kept in `ack_history`. `digest_post` holds one row per digest
the cron schedule called for, so several processes post each one once.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change") as change:
        change.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        change.add_column(sa.Column("amended_at", store.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("delivery") as delivery:
        delivery.add_column(sa.Column("reasked_revision", sa.Integer(), nullable=False, server_default="0"))
        delivery.add_column(sa.Column("reminders_before", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "ack_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("set_aside_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["change_id"], ["change.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ack_history_delivery_id", "ack_history", ["delivery_id"], unique=False)
    op.create_table(
        "digest_post",
        sa.Column("slot", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("destination", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("lease_until", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("posted_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ref", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("slot", "destination"),
    )


def downgrade() -> None:
    op.drop_table("digest_post")
    op.drop_index("ix_ack_history_delivery_id", table_name="ack_history")
    op.drop_table("ack_history")
    with op.batch_alter_table("delivery") as delivery:
        delivery.drop_column("reminders_before")
        delivery.drop_column("reasked_revision")
    with op.batch_alter_table("change") as change:
        change.drop_column("amended_at")
        change.drop_column("revision")
