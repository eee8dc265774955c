"""Heartbeats of the delivering processes: how many share each workspace's rate right now, and the
rates that SLACK_POST_RATE=auto found for each workspace (kept across restarts)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlmodel import col

from store.db import Database
from store.tables import Worker, Workspace


class SqlWorkers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def beat(self, worker_id: str, *, name: str, now: datetime, alive_within: timedelta) -> int:
        """Record that this worker is alive; forget those silent for `alive_within`; count the living."""
        async with self.db.transaction() as session:
            seen = await session.execute(
                update(Worker).where(col(Worker.id) == worker_id).values(seen_at=now)
            )
            if seen.rowcount == 0:  # type: ignore[attr-defined]
                session.add(Worker(id=worker_id, name=name, seen_at=now))
            await session.execute(delete(Worker).where(col(Worker.seen_at) < now - alive_within))
            return int(await session.scalar(select(func.count()).select_from(Worker)) or 0)

    async def leave(self, worker_id: str) -> None:
        async with self.db.transaction() as session:
            await session.execute(delete(Worker).where(col(Worker.id) == worker_id))

    async def learned_rates(self) -> dict[str, float]:
        """Each workspace's rate as probing last left it."""
        async with self.db.reading() as session:
            rows = await session.execute(
                select(col(Workspace.key), col(Workspace.post_rate)).where(
                    col(Workspace.post_rate).is_not(None)
                )
            )
            return {key: float(rate) for key, rate in rows.all() if rate is not None}

    async def learn_rates(self, rates: Mapping[str, float]) -> None:
        """Keep what probing found, so the next process starts there instead of at the safe rate."""
        if not rates:
            return
        async with self.db.transaction() as session:
            for key, rate in rates.items():
                await session.execute(
                    update(Workspace).where(col(Workspace.key) == key).values(post_rate=rate)
                )
