"""The capacity check in the database: its notices (planned in the publish's own transaction) and the
managers' answers (`capacity_answer`, one per manager and change), with their audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import copy
from bot.capacity import CapacityAnswer, CapacityReply, CapacitySummary
from bot.errors import NotAllowed, NotFound
from bot.model import DeliveryState, NoticeKind
from store import audit
from store.db import Database
from store.tables import CapacityAnswer as AnswerRow
from store.tables import Change, Delivery, Notice
from store.types import UTCDateTime

NOTICE = Notice.__table__  # type: ignore[attr-defined]
ANSWER = AnswerRow.__table__  # type: ignore[attr-defined]
_COLUMNS = ["change_id", "kind", "user_id", "seq", "priority", "state", "attempts", "unsure"]
_WORST_FIRST = case((col(AnswerRow.answer) == "no", 0), (col(AnswerRow.answer) == "help", 1), else_=2)


async def plan_capacity_checks(
    session: AsyncSession, change_id: int, *, announcer_id: str, at: datetime, sqlite: bool
) -> int:
    """One `capacity` notice per manager of the change's queued recipients (not the announcer), written
    from the delivery rows in the database; the notice's unique key makes a second planning write none."""
    at_ = literal(at, UTCDateTime)
    managers = (
        select(
            literal(change_id),
            literal(NoticeKind.CAPACITY.value),
            col(Delivery.manager_id),
            *(literal(value) for value in (0, 0, "queued", 0, False)),
            at_,
            at_,
        )
        .where(
            col(Delivery.change_id) == change_id,
            col(Delivery.state) == DeliveryState.QUEUED,
            col(Delivery.manager_id).is_not(None),
            col(Delivery.manager_id) != announcer_id,
        )
        .distinct()
    )
    insert = sqlite_insert if sqlite else pg_insert
    into = insert(NOTICE).from_select([*_COLUMNS, "due_at", "created_at"], managers)
    return len((await session.execute(into.on_conflict_do_nothing().returning(NOTICE.c.id))).all())


def _reply(row: Any) -> CapacityReply:
    answer, change_id, title, effective, announcer = row
    return CapacityReply(
        change_key=f"CHG-{change_id}",
        title=title,
        effective_date=effective,
        announcer_id=announcer,
        manager_id=answer.manager_id,
        answer=CapacityAnswer(answer.answer),
        comment=answer.comment,
        at=answer.answered_at,
    )


def _replies() -> Any:
    return select(
        AnswerRow, col(Change.id), col(Change.title), col(Change.effective_date), col(Change.announcer_id)
    ).join(Change, col(Change.id) == col(AnswerRow.change_id))


class SqlCapacity:
    """Implements `bot.capacity.CapacityStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def answer(
        self,
        *,
        workspace: str,
        change_key: str,
        manager_id: str,
        answer: CapacityAnswer,
        comment: str,
        at: datetime,
    ) -> CapacityReply:
        from store.changes import key_to_id  # store.changes plans the checks: imported when used

        change_id = key_to_id(change_key)
        asked = and_(
            col(Notice.change_id) == col(Change.id),
            col(Notice.kind) == NoticeKind.CAPACITY.value,
            col(Notice.user_id) == manager_id,
        )
        async with self.db.transaction() as session:
            found = None
            if change_id is not None:
                found = (
                    await session.execute(
                        select(col(Change.id), select(col(Notice.id)).where(asked).exists()).where(
                            col(Change.id) == change_id, col(Change.workspace) == workspace
                        )
                    )
                ).first()
            if found is None:
                raise NotFound(copy.NO_SUCH_CHANGE.format(key=change_key))
            if not found[1]:
                raise NotAllowed(copy.CAPACITY_NOT_ASKED.format(key=change_key))
            values = {"answer": answer.value, "comment": comment, "answered_at": at}
            upsert = self._insert(ANSWER).values(change_id=change_id, manager_id=manager_id, **values)
            await session.execute(
                upsert.on_conflict_do_update(index_elements=["change_id", "manager_id"], set_=values)
            )
            event = audit.event(
                "capacity.answered", actor=manager_id, at=at, change_id=change_id, answer=answer.value
            )
            await audit.write(session, [event])
            row = (
                await session.execute(
                    _replies().where(
                        col(AnswerRow.change_id) == change_id, col(AnswerRow.manager_id) == manager_id
                    )
                )
            ).one()
        return _reply(row)

    async def summary(self, change_id: int, *, limit: int) -> CapacitySummary:
        asked = (
            select(func.count())
            .select_from(Notice)
            .where(col(Notice.change_id) == change_id, col(Notice.kind) == NoticeKind.CAPACITY.value)
        )
        counts = (
            select(col(AnswerRow.answer), func.count())
            .where(col(AnswerRow.change_id) == change_id)
            .group_by(col(AnswerRow.answer))
        )
        first = (
            _replies()
            .where(col(AnswerRow.change_id) == change_id)
            .order_by(_WORST_FIRST, col(AnswerRow.answered_at))
            .limit(limit)
        )
        async with self.db.reading() as session:
            total = int(await session.scalar(asked) or 0)
            if not total:
                return CapacitySummary(0)
            tally = [(CapacityAnswer(a), int(n)) for a, n in (await session.execute(counts)).all()]
            replies = [_reply(row) for row in (await session.execute(first)).all()]
        return CapacitySummary(total, tuple(replies), tuple(tally))
