"""The audit export: one row per targeted or excluded person of a change, streamed from the database
(rows are read in batches as they are written out, so a 100,000-person change never sits in memory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot import copy, model
from bot.model import DeliveryState, NoticeKind, groups_in
from bot.questions import QuestionState
from store.changes import SqlChangeStore, key_to_id
from store.db import Database
from store.tables import AckHistory, Change, Delivery, Notice, OwnWords, Person, Question

COLUMNS = (
    "person",
    "user_id",
    "email",
    "department",
    "manager",
    "groups",
    "state",
    "reason",
    "sent_at",
    "acknowledged_at",
    "reacknowledged_at",  # after an amendment asked again (acknowledged_at: the first time)
    "reminders",
    "escalated_to",
    "questions",
    "open_questions",
    "own_words",
)
BATCH = 1000


def _when(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _reason(state: str, raw: str | None) -> str:
    if state == DeliveryState.FAILED:
        return copy.failure_reason(raw)
    return raw or "" if state == DeliveryState.EXCLUDED else ""


def _query(change_id: int) -> Any:
    person, manager = aliased(Person), aliased(Person)
    manager_id = func.coalesce(col(Delivery.manager_id), col(person.manager_id))
    escalated = exists().where(
        col(Notice.change_id) == change_id,
        col(Notice.kind) == NoticeKind.ESCALATION,
        col(Notice.state) == "sent",
        col(Notice.user_id) == col(Delivery.manager_id),
        (col(Delivery.acknowledged_at).is_(None)) | (col(Delivery.acknowledged_at) > col(Notice.sent_at)),
    )
    earliest = select(func.min(col(AckHistory.acknowledged_at))).where(
        col(AckHistory.delivery_id) == col(Delivery.id)
    )
    asked = select(func.count()).where(col(Question.delivery_id) == col(Delivery.id))
    still_open = asked.where(
        ((col(Question.kind) == "question") & (col(Question.state) == QuestionState.OPEN))
        | ((col(Question.kind) == "concern") & (col(Question.state) != QuestionState.RESOLVED))
    )
    return (
        select(
            col(person.name),
            col(Delivery.user_id),
            col(person.email),
            func.coalesce(col(Delivery.department), col(person.department)),
            func.coalesce(col(manager.name), manager_id),
            col(Delivery.group_mask),
            col(Delivery.state),
            col(Delivery.last_error),
            col(Delivery.sent_at),
            col(Delivery.acknowledged_at),
            earliest.scalar_subquery(),
            col(Delivery.reminders_sent),
            escalated,
            asked.scalar_subquery(),
            still_open.scalar_subquery(),
            col(OwnWords.text),
        )
        .join(Change, col(Change.id) == col(Delivery.change_id))
        .outerjoin(
            person,
            and_(
                col(person.workspace) == col(Change.workspace), col(person.user_id) == col(Delivery.user_id)
            ),
        )
        .outerjoin(
            manager, and_(col(manager.workspace) == col(Change.workspace), col(manager.user_id) == manager_id)
        )
        .outerjoin(OwnWords, col(OwnWords.delivery_id) == col(Delivery.id))
        .where(col(Delivery.change_id) == change_id)
        .order_by(col(Delivery.id))
    )


def _row(change: model.Change, row: Any) -> list[str]:
    name, user_id, email, department, manager, mask, state, error, sent, acked, first, reminders = row[:12]
    escalated, asked, still_open, words = row[12:]
    return [
        name or "",
        user_id,
        email or "",
        department or "",
        manager or "",
        "; ".join(group.name for group in groups_in(mask, change.groups)),
        state,
        _reason(state, error),
        _when(sent),
        _when(first or acked),
        _when(acked) if first else "",
        str(reminders),
        (manager or "") if escalated else "",
        str(asked or 0),
        str(still_open or 0),
        words or "",
    ]


async def find_change(db: Database, key: str) -> model.Change | None:
    return await SqlChangeStore(db).get(key) if key_to_id(key) is not None else None


async def export_rows(db: Database, change: model.Change) -> AsyncIterator[list[str]]:
    """The change's rows as text cells, in COLUMNS order, read from the database in batches."""
    assert change.id is not None
    async with db.reading() as session:
        result = await session.stream(_query(change.id).execution_options(yield_per=BATCH))
        async for row in result:
            yield _row(change, row)


class SqlExport:
    """`bot.exporting.ExportRows` over the database: the same rows `realign export` writes."""

    columns = COLUMNS

    def __init__(self, db: Database) -> None:
        self.db = db

    def rows(self, change: model.Change) -> AsyncIterator[list[str]]:
        return export_rows(self.db, change)
