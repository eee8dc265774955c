"""Follow-up rows: due reminders, escalations and gap reports, each claimed atomically."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlmodel import col

from bot import model
from bot.model import ChangeState, DeliveryState, MessageRef, PendingPerson
from store import audit
from store.changes import DELIVERY, SqlChangeStore
from store.db import Database
from store.tables import Change, Delivery, Person

PeopleQuery = Select[Delivery, str, str | None, str | None, str | None]
WAITING = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.DELIVERED)


def _people() -> PeopleQuery:
    """Deliveries with their person (name, manager, department, time zone)."""
    person = and_(
        col(Person.workspace) == col(Change.workspace), col(Person.user_id) == col(Delivery.user_id)
    )
    return (
        select(Delivery, col(Person.name), col(Person.manager_id), col(Person.department), col(Person.tz))
        .join(Change, col(Change.id) == col(Delivery.change_id))
        .outerjoin(Person, person)
    )


def _pending(row: Any) -> PendingPerson:
    delivery, name, manager_id, department, tz = row
    ref = MessageRef(delivery.channel, delivery.ts) if delivery.channel and delivery.ts else None
    return PendingPerson(
        delivery_id=delivery.id,
        change_id=delivery.change_id,
        user_id=delivery.user_id,
        name=name or delivery.user_id,
        group_mask=delivery.group_mask,
        manager_id=manager_id,
        department=department,
        tz=tz,
        reminders_sent=delivery.reminders_sent,
        ref=ref,
        reason=delivery.last_error,
    )


class SqlFollowUp:
    """Implements `bot.ports.FollowUpStore`."""

    def __init__(self, db: Database, changes: SqlChangeStore) -> None:
        self.db = db
        self.changes = changes

    async def change(self, change_id: int) -> model.Change:
        change = await self.changes.get_by_id(change_id)
        assert change is not None, f"no change {change_id}"
        return change

    async def _select(self, query: PeopleQuery) -> list[PendingPerson]:
        async with self.db.reading() as session:
            return [_pending(row) for row in (await session.execute(query)).all()]

    def _due(self, now: datetime) -> PeopleQuery:
        return _people().where(
            col(Delivery.remind_at) <= now,
            col(Delivery.acknowledged_at).is_(None),
            col(Change.state) == ChangeState.PUBLISHED,
        )

    async def due_reminders(self, *, now: datetime, limit: int) -> list[PendingPerson]:
        return await self._select(self._due(now).order_by(col(Delivery.remind_at)).limit(limit))

    async def postpone_reminders(self, when: Mapping[int, datetime]) -> None:
        if not when:
            return
        statement = (
            update(DELIVERY).where(DELIVERY.c.id == bindparam("d_id")).values(remind_at=bindparam("d_at"))
        )
        async with self.db.transaction() as session:
            await session.execute(statement, [{"d_id": i, "d_at": at} for i, at in when.items()])

    async def claim_reminders(
        self, delivery_ids: Sequence[int], *, now: datetime, lease: timedelta
    ) -> list[PendingPerson]:
        if not delivery_ids:
            return []
        claim = (
            update(Delivery)
            .where(col(Delivery.id).in_(delivery_ids), col(Delivery.remind_at) <= now)
            .where(col(Delivery.acknowledged_at).is_(None))
            .values(remind_at=now + lease)  # if this worker dies, the reminder falls due again
            .returning(col(Delivery.id))
        )
        async with self.db.transaction() as session:
            claimed = list((await session.scalars(claim)).all())
        return await self._select(_people().where(col(Delivery.id).in_(claimed))) if claimed else []

    async def settle_reminder(
        self, delivery_id: int, *, reminders_sent: int, remind_at: datetime | None, now: datetime
    ) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Delivery, delivery_id)
            assert row is not None
            reminded = reminders_sent > row.reminders_sent
            row.reminders_sent = reminders_sent
            row.remind_at = remind_at if row.acknowledged_at is None else None
            if reminded:
                await audit.write(
                    session,
                    [
                        audit.event(
                            "delivery.reminded",
                            actor="realign",
                            at=now,
                            change_id=row.change_id,
                            delivery_id=delivery_id,
                            reminder=reminders_sent,
                        )
                    ],
                )

    async def _claim_change(self, due: Any, kind: str, *, now: datetime) -> list[int]:
        """Clear a change-level due time and return the ids cleared: one worker wins each."""
        claim = (
            update(Change)
            .where(col(Change.state) == ChangeState.PUBLISHED, due <= now)
            .values({due: None})
            .returning(col(Change.id))
        )
        async with self.db.transaction() as session:
            ids = [i for i in (await session.scalars(claim)).all() if i is not None]
            await audit.write(session, [audit.event(kind, actor="realign", at=now, change_id=i) for i in ids])
        return ids

    async def claim_escalations(self, *, now: datetime) -> list[int]:
        return await self._claim_change(col(Change.escalate_at), "change.escalated", now=now)

    async def claim_reports(self, *, now: datetime) -> list[int]:
        return await self._claim_change(col(Change.report_at), "change.gap_reported", now=now)

    async def pending(self, change_id: int) -> list[PendingPerson]:
        return await self._select(
            _people()
            .where(col(Delivery.change_id) == change_id, col(Delivery.state).in_(WAITING))
            .where(col(Delivery.acknowledged_at).is_(None))
            .order_by(col(Person.name))
        )

    async def failed(self, change_id: int) -> list[PendingPerson]:
        return await self._select(
            _people()
            .where(col(Delivery.change_id) == change_id, col(Delivery.state) == DeliveryState.FAILED)
            .order_by(col(Person.name))
        )

    async def close(self, change_id: int, *, actor: str, at: datetime) -> bool:
        async with self.db.transaction() as session:
            closed = await session.execute(
                update(Change)
                .where(col(Change.id) == change_id, col(Change.state) == ChangeState.PUBLISHED)
                .values(state=ChangeState.CLOSED, closed_at=at, escalate_at=None, report_at=None)
            )
            if closed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            await session.execute(
                update(Delivery).where(col(Delivery.change_id) == change_id).values(remind_at=None)
            )
            await audit.write(
                session, [audit.event("change.closed", actor=actor, at=at, change_id=change_id)]
            )
        return True
