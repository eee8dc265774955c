"""teams: Teams conversation references and installs (issue 10)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "teams_user",
        sa.Column("workspace", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("teams_id", sa.String(), nullable=False),
        sa.Column("service_url", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=True),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "teams_install",
        sa.Column("workspace", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("service_url", sa.String(), nullable=False),
        sa.Column("reference", sa.JSON(), nullable=False),
        sa.Column("installed_at", store.types.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "teams_member",
        sa.Column("workspace", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(), primary_key=True),
        sa.Column("user_id", sa.String(64), primary_key=True),
    )
    op.create_table(
        "teams_sent",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("row_id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("sent_at", store.types.UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("teams_sent", "teams_member", "teams_install", "teams_user"):
        op.drop_table(table)
