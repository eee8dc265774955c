"""Named leases for singleton jobs: one upsert takes a free or expired lease, or extends the holder's own.

`INSERT … ON CONFLICT (name) DO UPDATE … WHERE lease.until < now OR lease.holder = holder RETURNING`
is atomic on PostgreSQL and SQLite alike: of two processes racing for the same lease, exactly one gets
a row back. Times come from the callers' clocks (as delivery leases do), so keep the TTL well above
the clock skew between machines.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from store.db import Database
from store.tables import Lease

LEASE = Lease.__table__  # type: ignore[attr-defined]


class SqlLeases:
    """Implements `bot.ports.Leases`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def acquire(self, name: str, *, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the lease, or extend it if `holder` has it; False while another holder's is unexpired."""
        insert = self._insert(LEASE).values(name=name, holder=holder, until=now + ttl)
        statement = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": insert.excluded.holder, "until": insert.excluded.until},
            where=or_(LEASE.c.until < now, LEASE.c.holder == holder),
        ).returning(LEASE.c.holder)
        async with self.db.transaction() as session:
            taken = (await session.execute(statement)).scalar_one_or_none()
        return taken == holder

    async def release(self, name: str, *, holder: str) -> None:
        """Give the lease up, if `holder` still has it, so the next taker need not wait for it to expire."""
        async with self.db.transaction() as session:
            await session.execute(delete(LEASE).where(LEASE.c.name == name, LEASE.c.holder == holder))

    async def holder(self, name: str, *, now: datetime) -> str | None:
        """Who holds the lease right now (None if nobody, or it has expired)."""
        async with self.db.reading() as session:
            row = await session.get(Lease, name)
        return row.holder if row is not None and row.until >= now else None
