"""Questions and concerns (`question`), each state change with its audit event in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import copy
from bot.errors import NotFound
from bot.model import DeliveryState, MessageRef
from bot.questions import Question, QuestionKind, QuestionState
from store import audit
from store.changes import key_to_id
from store.db import Database
from store.tables import Change, Delivery
from store.tables import Question as Row

OPEN = ((col(Row.kind) == QuestionKind.QUESTION) & (col(Row.state) == QuestionState.OPEN)) | (
    (col(Row.kind) == QuestionKind.CONCERN) & (col(Row.state) != QuestionState.RESOLVED)
)


def _query() -> Any:
    """Questions with what they show of their change and the asker's announcement."""
    return (
        select(Row, col(Change.title), col(Change.announcer_id), col(Delivery.channel), col(Delivery.ts))
        .join(Change, col(Change.id) == col(Row.change_id))
        .join(Delivery, col(Delivery.id) == col(Row.delivery_id))
    )


def to_domain(row: Any) -> Question:
    question, title, announcer_id, channel, ts = row
    return Question(
        id=question.id,
        change_id=question.change_id,
        change_key=f"CHG-{question.change_id}",
        title=title,
        delivery_id=question.delivery_id,
        asker_id=question.asker_id,
        owner_id=question.owner_id,
        kind=QuestionKind(question.kind),
        text=question.text,
        asked_at=question.asked_at,
        state=QuestionState(question.state),
        answer=question.answer,
        answered_by=question.answered_by,
        answered_at=question.answered_at,
        resolved_at=question.resolved_at,
        thread=MessageRef(channel, ts) if channel and ts else None,
        announcer_id=announcer_id,
        posted=MessageRef(question.channel, question.ts) if question.channel and question.ts else None,
    )


async def open_questions(session: AsyncSession, change_id: int, *, limit: int) -> tuple[list[Question], int]:
    """The first `limit` open questions and concerns of a change, oldest first, and how many in all."""
    mine = (col(Row.change_id) == change_id) & OPEN
    rows = (await session.execute(_query().where(mine).order_by(col(Row.id)).limit(limit))).all()
    total = await session.scalar(select(func.count()).select_from(Row).where(mine))
    return [to_domain(row) for row in rows], int(total or 0)


class SqlQuestions:
    """Implements `bot.questions.QuestionStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _one(self, session: AsyncSession, question_id: int) -> Question:
        row = (await session.execute(_query().where(col(Row.id) == question_id))).first()
        if row is None:
            raise NotFound(copy.NO_SUCH_QUESTION)
        return to_domain(row)

    async def ask(
        self,
        *,
        workspace: str,
        change_key: str,
        user_id: str,
        kind: QuestionKind,
        text: str,
        at: datetime,
        request_ref: str,
    ) -> Question:
        change_id = key_to_id(change_key)
        async with self.db.transaction() as session:
            known = await session.scalar(select(col(Row.id)).where(col(Row.request_ref) == request_ref))
            if known is not None:
                return await self._one(session, known)
            found = (
                await session.execute(
                    select(col(Delivery.id), func.coalesce(col(Change.owner_id), col(Change.announcer_id)))
                    .join(Change, col(Change.id) == col(Delivery.change_id))
                    .where(
                        col(Delivery.change_id) == change_id,
                        col(Change.workspace) == workspace,
                        col(Delivery.user_id) == user_id,
                        col(Delivery.state) != DeliveryState.EXCLUDED,
                    )
                )
            ).first()
            if change_id is None or found is None:
                raise NotFound(copy.NOT_YOUR_CHANGE_TO_ASK.format(key=change_key))
            delivery_id, owner_id = found
            assert delivery_id is not None
            row = Row(
                change_id=change_id,
                delivery_id=delivery_id,
                asker_id=user_id,
                owner_id=owner_id,
                kind=kind,
                text=text,
                state=QuestionState.OPEN,
                request_ref=request_ref,
                asked_at=at,
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            asked = audit.event(
                f"{kind.value}.asked",
                actor=user_id,
                at=at,
                change_id=change_id,
                delivery_id=delivery_id,
                question=row.id,
            )
            await audit.write(session, [asked])
            return await self._one(session, row.id)

    async def replied_to(self, *, workspace: str, user_id: str, thread: MessageRef | None) -> str | None:
        mine = select(col(Delivery.change_id)).join(Change, col(Change.id) == col(Delivery.change_id))
        mine = mine.where(
            col(Change.workspace) == workspace,
            col(Delivery.user_id) == user_id,
            col(Delivery.state) == DeliveryState.DELIVERED,
        )
        async with self.db.reading() as session:
            change_id = None
            if thread is not None:
                change_id = await session.scalar(
                    mine.where(col(Delivery.channel) == thread.conversation, col(Delivery.ts) == thread.id)
                )
            if change_id is None:
                change_id = await session.scalar(mine.order_by(col(Delivery.sent_at).desc()).limit(1))
        return None if change_id is None else f"CHG-{change_id}"

    async def get(self, question_id: int, *, workspace: str) -> Question:
        async with self.db.reading() as session:
            row = (
                await session.execute(
                    _query().where(col(Row.id) == question_id, col(Change.workspace) == workspace)
                )
            ).first()
        if row is None:
            raise NotFound(copy.NO_SUCH_QUESTION)
        return to_domain(row)

    async def posted(self, question_id: int, ref: MessageRef) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(Row).where(col(Row.id) == question_id).values(channel=ref.conversation, ts=ref.id)
            )

    async def answer(self, question_id: int, *, user_id: str, text: str, at: datetime) -> Question:
        async with self.db.transaction() as session:
            keep_resolved = case(
                (col(Row.state) == QuestionState.RESOLVED, QuestionState.RESOLVED.value),
                else_=QuestionState.ANSWERED.value,
            )
            await session.execute(
                update(Row)
                .where(col(Row.id) == question_id)
                .values(
                    answer=text,
                    answered_by=user_id,
                    answered_at=at,
                    state=keep_resolved,
                )
            )
            question = await self._one(session, question_id)
            answered = audit.event(
                f"{question.kind.value}.answered",
                actor=user_id,
                at=at,
                change_id=question.change_id,
                delivery_id=question.delivery_id,
                question=question_id,
            )
            await audit.write(session, [answered])
            return question

    async def resolve(self, question_id: int, *, user_id: str, at: datetime) -> Question:
        async with self.db.transaction() as session:
            first = await session.execute(
                update(Row)
                .where(col(Row.id) == question_id, col(Row.state) != QuestionState.RESOLVED)
                .values(state=QuestionState.RESOLVED, resolved_at=at)
            )
            question = await self._one(session, question_id)
            if first.rowcount == 1:  # type: ignore[attr-defined]
                resolved = audit.event(
                    f"{question.kind.value}.resolved",
                    actor=user_id,
                    at=at,
                    change_id=question.change_id,
                    delivery_id=question.delivery_id,
                    question=question_id,
                )
                await audit.write(session, [resolved])
            return question

    async def open_questions(self, change_id: int, *, limit: int) -> tuple[list[Question], int]:
        async with self.db.reading() as session:
            return await open_questions(session, change_id, limit=limit)
