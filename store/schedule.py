"""Scheduled changes in the database: scheduling, cancelling, and the publish tick's claim.

A claim is one `UPDATE … RETURNING` over the due scheduled changes whose lease (if any) has run out: it
sets the lease, so of several processes ticking at once each change goes to one (PostgreSQL re-checks
the condition of a row another transaction changed meanwhile and skips it; SQLite has one writer). The
publish that follows changes the change only while it is still scheduled, in the same transaction as its
delivery rows (store.changes.SqlChangeStore.publish), so even a publish after a lease ran out is once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlmodel import col

from bot.model import ChangeState
from bot.schedule import DueChange
from store import audit
from store.db import Database
from store.tables import Change


class SqlSchedule:
    """Implements `bot.schedule.ScheduleStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _move(
        self, change_id: int, *, actor: str, at: datetime, from_: ChangeState, to: ChangeState, kind: str
    ) -> bool:
        async with self.db.transaction() as session:
            moved = await session.execute(
                update(Change)
                .where(col(Change.id) == change_id, col(Change.state) == from_)
                .where(col(Change.publish_at).is_not(None))
                .values(state=to, publish_lease=None)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return False
            await audit.write(session, [audit.event(kind, actor=actor, at=at, change_id=change_id)])
        return True

    async def schedule(self, change_id: int, *, actor: str, at: datetime) -> bool:
        return await self._move(
            change_id,
            actor=actor,
            at=at,
            from_=ChangeState.DRAFT,
            to=ChangeState.SCHEDULED,
            kind="change.scheduled",
        )

    async def cancel(self, change_id: int, *, actor: str, at: datetime) -> bool:
        return await self._move(
            change_id,
            actor=actor,
            at=at,
            from_=ChangeState.SCHEDULED,
            to=ChangeState.CANCELLED,
            kind="change.schedule_cancelled",
        )

    async def claim_due(self, *, now: datetime, lease: timedelta, limit: int) -> list[DueChange]:
        lease_out = or_(col(Change.publish_lease).is_(None), col(Change.publish_lease) <= now)
        due = (
            select(col(Change.id))
            .where(col(Change.state) == ChangeState.SCHEDULED, col(Change.publish_at) <= now, lease_out)
            .order_by(col(Change.publish_at))
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(Change)
            .where(col(Change.id).in_(due.scalar_subquery()), col(Change.state) == ChangeState.SCHEDULED)
            .where(lease_out)
            .values(publish_lease=now + lease)
            .returning(col(Change.id), col(Change.workspace), col(Change.announcer_id))
        )
        async with self.db.transaction() as session:
            rows = (await session.execute(claim)).all()
        return [
            DueChange(i, f"CHG-{i}", workspace, announcer)
            for i, workspace, announcer in rows
            if i is not None
        ]
