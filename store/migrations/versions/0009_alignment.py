"""alignment: questions and concerns, and what two-way alignment records (issue 11)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "question",
        sa.Column("id", BigId, nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("asker_id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("request_ref", sa.String(length=128), nullable=False),
        sa.Column("asked_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("ts", sa.String(length=64), nullable=True),
        sa.Column("answer", sa.String(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["change_id"], ["change.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_ref"),
    )
    op.create_index("ix_question_open", "question", ["change_id", "state"], unique=False)
    # A named owner of the change answers its questions (NULL: the announcer does).
    with op.batch_alter_table("change") as change:
        change.add_column(sa.Column("owner_id", sa.String(length=64), nullable=True))
        change.add_column(sa.Column("own_words", sa.Boolean(), nullable=False, server_default=sa.false()))
    # "In your own words": one line per delivery, said while acknowledging.
    op.create_table(
        "own_words",
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["change_id"], ["change.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_index("ix_own_words_change_id", "own_words", ["change_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_own_words_change_id", table_name="own_words")
    op.drop_table("own_words")
    with op.batch_alter_table("change") as change:
        change.drop_column("own_words")
        change.drop_column("owner_id")
    op.drop_index("ix_question_open", table_name="question")
    op.drop_table("question")
