"""follow-up: per-change policy and due times, per-delivery reminders

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("remind_after_s", sa.Integer(), nullable=False, server_default="86400"))
        batch_op.add_column(sa.Column("max_reminders", sa.Integer(), nullable=False, server_default="2"))
        batch_op.add_column(
            sa.Column("escalate_after_s", sa.Integer(), nullable=False, server_default="172800")
        )
        batch_op.add_column(sa.Column("escalate_at", store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("report_at", store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_change_escalate_at"), ["escalate_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_change_report_at"), ["report_at"], unique=False)
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remind_at", store.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(
            "ix_delivery_remind",
            ["remind_at"],
            unique=False,
            postgresql_where=sa.text("remind_at IS NOT NULL"),
            sqlite_where=sa.text("remind_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_remind")
        batch_op.drop_column("reminders_sent")
        batch_op.drop_column("remind_at")
    with op.batch_alter_table("change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_change_report_at"))
        batch_op.drop_index(batch_op.f("ix_change_escalate_at"))
        for column in (
            "report_at",
            "escalate_at",
            "escalate_after_s",
            "max_reminders",
            "remind_after_s",
            "closed_at",
        ):
            batch_op.drop_column(column)
