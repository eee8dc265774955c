"""delivery: the recipient's department and manager as at publishing, for status reports by team

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FROM_PERSON = """
UPDATE delivery SET {column} = (
    SELECT person.{column} FROM person JOIN change ON change.workspace = person.workspace
    WHERE change.id = delivery.change_id AND person.user_id = delivery.user_id
)
"""


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department", sa.String(), nullable=True))
        batch_op.add_column(sa.Column("manager_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_delivery_manager", ["change_id", "manager_id"], unique=False)
    for column in ("department", "manager_id"):
        op.execute(_FROM_PERSON.format(column=column))


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_manager")
        batch_op.drop_column("manager_id")
        batch_op.drop_column("department")
