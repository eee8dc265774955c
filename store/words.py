"""What people said in their own words as they acknowledged (`own_words`), one line per delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, select
from sqlmodel import col

from bot import copy
from bot.errors import NotAllowed, NotFound
from bot.model import Announcement, DeliveryState, announcement_for
from bot.words import OwnWordsLine
from store import audit
from store.changes import SqlChangeStore
from store.db import Database
from store.tables import Change, Delivery, OwnWords, Person

OWN_WORDS = OwnWords.__table__  # type: ignore[attr-defined]


class SqlOwnWords:
    """Implements `bot.words.OwnWordsStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _delivery(self, session: Any, *, delivery_id: int, user_id: str, workspace: str) -> Any:
        found = (
            await session.execute(
                select(Delivery)
                .join(Change, col(Change.id) == col(Delivery.change_id))
                .where(col(Delivery.id) == delivery_id, col(Change.workspace) == workspace)
            )
        ).scalar_one_or_none()
        if found is None or found.state == DeliveryState.EXCLUDED:
            raise NotFound(copy.NO_SUCH_CHANGE.format(key=f"for delivery {delivery_id}"))
        if found.user_id != user_id:
            raise NotAllowed(copy.NOT_YOUR_DELIVERY)
        return found

    async def announcement(self, *, delivery_id: int, user_id: str, workspace: str) -> Announcement:
        async with self.db.reading() as session:
            row = await self._delivery(session, delivery_id=delivery_id, user_id=user_id, workspace=workspace)
        change = await SqlChangeStore(self.db).get_by_id(row.change_id)
        assert change is not None
        return announcement_for(
            change, row.group_mask, delivery_id=row.id, acknowledged_at=row.acknowledged_at
        )

    async def record(
        self, *, delivery_id: int, user_id: str, workspace: str, text: str, at: datetime
    ) -> None:
        async with self.db.transaction() as session:
            row = await self._delivery(session, delivery_id=delivery_id, user_id=user_id, workspace=workspace)
            await session.execute(delete(OwnWords).where(col(OwnWords.delivery_id) == delivery_id))
            line = {"delivery_id": delivery_id, "change_id": row.change_id, "text": text, "at": at}
            await session.execute(insert(OWN_WORDS), [line])
            said = audit.event(
                "delivery.own_words", actor=user_id, at=at, change_id=row.change_id, delivery_id=delivery_id
            )
            await audit.write(session, [said])

    async def lines(self, change_id: int, *, limit: int) -> list[OwnWordsLine]:
        person = and_(
            col(Person.workspace) == col(Change.workspace), col(Person.user_id) == col(Delivery.user_id)
        )
        query = (
            select(
                col(Delivery.user_id),
                col(Person.name),
                col(Delivery.group_mask),
                col(Delivery.department),
                col(OwnWords.text),
            )
            .join(Delivery, col(Delivery.id) == col(OwnWords.delivery_id))
            .join(Change, col(Change.id) == col(OwnWords.change_id))
            .outerjoin(Person, person)
            .where(col(OwnWords.change_id) == change_id)
            .order_by(col(Delivery.department), col(Person.name), col(Delivery.user_id))
            .limit(limit)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return [
            OwnWordsLine(user, name or user, mask, department, text)
            for user, name, mask, department, text in rows
        ]
