"""The outbox backlog: how many rows are due now, by kind (what /metrics and /healthz show).

"Due" is what a worker would claim this moment: queued rows whose time has come and sending rows whose
lease ran out. Both counts read the partial `due_at IS NOT NULL` indexes (`ix_delivery_due`,
`ix_notice_due`), which hold only the rows that still need a worker, so the count stays cheap however
many settled rows the tables keep.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal, select, union_all
from sqlmodel import col

from store.db import Database
from store.tables import Delivery, Notice

ANNOUNCEMENT = "announcement"


class SqlBacklog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def due(self, *, now: datetime) -> dict[str, int]:
        """Rows due at `now`: announcements, and each kind of follow-up message (kinds with none absent)."""
        deliveries = select(literal(ANNOUNCEMENT), func.count()).where(col(Delivery.due_at) <= now)
        kind = col(Notice.kind)
        notices = select(kind, func.count()).where(col(Notice.due_at) <= now).group_by(kind)
        async with self.db.reading() as session:
            rows = (await session.execute(union_all(deliveries, notices))).all()
        return {str(kind): int(due) for kind, due in rows if due}
