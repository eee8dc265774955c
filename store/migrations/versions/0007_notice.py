"""notice: follow-up messages (reminders, escalations, gap reports) as outbox rows; outbox rows by change;
the post rate SLACK_POST_RATE=auto found per workspace

Reminders that were due but not yet sent stay due on their deliveries and are planned as notices by the
next follow-up tick.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", BigId, nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("unsure", sa.Boolean(), nullable=False),
        sa.Column("due_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("ts", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["change.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("change_id", "kind", "user_id", "seq"),
    )
    op.create_index(
        "ix_notice_due",
        "notice",
        ["change_id", "priority", "due_at"],
        unique=False,
        postgresql_where=sa.text("due_at IS NOT NULL"),
        sqlite_where=sa.text("due_at IS NOT NULL"),
    )

    # Each workspace's deliveries are claimed apart (fairness between workspaces): which have rows due,
    # and a workspace's due rows, are both found through (change_id, due_at).
    op.create_index(
        "ix_delivery_change_due",
        "delivery",
        ["change_id", "due_at"],
        unique=False,
        postgresql_where=sa.text("due_at IS NOT NULL"),
        sqlite_where=sa.text("due_at IS NOT NULL"),
    )

    # SLACK_POST_RATE=auto: the rate found for each workspace, kept across restarts.
    with op.batch_alter_table("workspace") as workspace:
        workspace.add_column(sa.Column("post_rate", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace") as workspace:
        workspace.drop_column("post_rate")
    op.drop_index("ix_delivery_change_due", table_name="delivery")
    op.drop_index("ix_notice_due", table_name="notice")
    op.drop_table("notice")
