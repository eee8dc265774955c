"""What a Home tab page shows, read in a few aggregate queries over one workspace.

Every query starts from the workspace's changes and reaches their deliveries through the indexes on
(change_id, user_id) and (change_id, manager_id), so a page costs one index probe per open change, not
a scan of every delivery, whatever the audiences.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from bot.home import ChangeProgress, TeamChange, ToAcknowledge
from bot.model import ChangeState, DeliveryState
from bot.questions import QuestionKind
from store.changes import reports_of
from store.db import Database
from store.questions import OPEN
from store.tables import Change, Delivery, HomeViewer, Question

WATCHED = (ChangeState.PUBLISHED, ChangeState.SCHEDULED)  # an announcer's changes on their page


def _open_changes(workspace: str) -> Any:
    return select(col(Change.id)).where(
        col(Change.workspace) == workspace, col(Change.state) == ChangeState.PUBLISHED
    )


class SqlHome:
    """Implements `bot.home.HomeStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def to_acknowledge(
        self, *, workspace: str, user_id: str, limit: int
    ) -> tuple[list[ToAcknowledge], int]:
        mine = (
            col(Delivery.change_id).in_(_open_changes(workspace)),
            col(Delivery.user_id) == user_id,
            col(Delivery.state) == DeliveryState.DELIVERED,
            col(Delivery.acknowledged_at).is_(None),
        )
        first = (
            select(
                col(Delivery.id),
                col(Change.id),
                col(Change.title),
                col(Change.ack_deadline),
                col(Change.effective_date),
                col(Change.own_words),
            )
            .join(Change, col(Change.id) == col(Delivery.change_id))
            .where(*mine)
            .order_by(col(Change.ack_deadline), col(Delivery.id))
            .limit(limit)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(first)).all()
            total = await session.scalar(select(func.count()).select_from(Delivery).where(*mine))
        items = [
            ToAcknowledge(int(d or 0), f"CHG-{c}", title, deadline, effective, own_words)
            for d, c, title, deadline, effective, own_words in rows
        ]
        return items, int(total or 0)

    async def announced(
        self, *, workspace: str, user_id: str, admin: bool, limit: int
    ) -> tuple[list[ChangeProgress], int]:
        theirs = [col(Change.workspace) == workspace, col(Change.state).in_(WATCHED)]
        if not admin:
            theirs.append(col(Change.announcer_id) == user_id)
        targeted = func.count(col(Delivery.id)).filter(col(Delivery.state) != DeliveryState.EXCLUDED)
        first = (
            select(
                col(Change.id),
                col(Change.title),
                col(Change.state),
                targeted,
                func.count(col(Delivery.acknowledged_at)),
            )
            .join(Delivery, col(Delivery.change_id) == col(Change.id), isouter=True)
            .where(*theirs)
            .group_by(col(Change.id))
            .order_by(col(Change.id).desc())
            .limit(limit)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(first)).all()
            total = await session.scalar(select(func.count()).select_from(Change).where(*theirs))
            ids = [row[0] for row in rows]
            asked = (
                select(col(Question.change_id), col(Question.kind), func.count())
                .where(col(Question.change_id).in_(ids), OPEN)
                .group_by(col(Question.change_id), col(Question.kind))
            )
            questions: dict[tuple[Any, str], int] = {}
            if ids:
                questions = {(c, kind): n for c, kind, n in (await session.execute(asked)).all()}
        items = [
            ChangeProgress(
                f"CHG-{c}",
                title,
                str(state),
                int(n),
                int(acked),
                int(questions.get((c, QuestionKind.QUESTION), 0)),
                int(questions.get((c, QuestionKind.CONCERN), 0)),
            )
            for c, title, state, n, acked in rows
        ]
        return items, int(total or 0)

    async def team(self, *, workspace: str, manager_id: str, limit: int) -> list[TeamChange]:
        live = col(Delivery.state) != DeliveryState.EXCLUDED
        waiting = (
            live & (col(Delivery.state) != DeliveryState.FAILED) & col(Delivery.acknowledged_at).is_(None)
        )
        pending = func.count(col(Delivery.id)).filter(waiting)
        query = reports_of(
            select(col(Change.id), col(Change.title), func.count(col(Delivery.id)).filter(live), pending)
            .join(Change, col(Change.id) == col(Delivery.change_id))
            .where(col(Delivery.change_id).in_(_open_changes(workspace)))
            .group_by(col(Change.id), col(Change.title))
            .having(pending > 0)
            .order_by(col(Change.id).desc())
            .limit(limit),
            manager_id,
        )
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return [TeamChange(int(c), f"CHG-{c}", title, int(n), int(p)) for c, title, n, p in rows]

    async def manager_of(self, *, delivery_id: int) -> str | None:
        async with self.db.reading() as session:
            return await session.scalar(
                select(col(Delivery.manager_id)).where(col(Delivery.id) == delivery_id)
            )

    async def viewed(self, *, workspace: str, user_id: str, at: datetime) -> None:
        insert = self._insert(HomeViewer).values(workspace=workspace, user_id=user_id, opened_at=at)
        async with self.db.transaction() as session:
            await session.execute(
                insert.on_conflict_do_update(
                    index_elements=["workspace", "user_id"], set_={"opened_at": insert.excluded.opened_at}
                )
            )

    async def viewers(self, *, workspace: str, user_ids: Collection[str]) -> set[str]:
        query = select(col(HomeViewer.user_id)).where(
            col(HomeViewer.workspace) == workspace, col(HomeViewer.user_id).in_(list(user_ids))
        )
        async with self.db.reading() as session:
            return set((await session.scalars(query)).all())
