"""who watches their Slack Home tab

`home_viewer` remembers who opened their Home tab (and when last), so that every process, not only
the one that answered the opening, republishes their page as acknowledgements arrive, and a restart
forgets nobody.

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_viewer",
        sa.Column("workspace", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("opened_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workspace", "user_id"),
    )


def downgrade() -> None:
    op.drop_table("home_viewer")
