"""Amendments (bot.amend.AmendStore): one transaction, a few set-based statements however large the change.

The change is written only if it is still published at the revision the form was opened on (so two
amendments never cross); the acknowledgements it sets aside are copied to `ack_history` first, then
cleared; the DMs to update become AMENDMENT notices (seq: the new revision) written from the deliveries
in the database, never row by row in Python.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, case, insert, literal, null, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import model
from bot.model import ChangeState, DeliveryState, NoticeKind
from store import audit
from store.db import Database
from store.tables import AckHistory, AudienceGroup, Change, Delivery, Notice
from store.types import UTCDateTime

NOTICE = Notice.__table__  # type: ignore[attr-defined]


def _in_groups(change_id: int, mask: int) -> ColumnElement[bool]:
    return and_(col(Delivery.change_id) == change_id, col(Delivery.group_mask).op("&")(mask) != 0)


class SqlAmendments:
    """Implements `bot.amend.AmendStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def amend(
        self,
        change: model.Change,
        *,
        revision: int,
        reask_mask: int,
        touch_mask: int,
        report_at: datetime | None,
        escalate_at: datetime | None,
        actor: str,
        at: datetime,
        changed: tuple[str, ...],
    ) -> tuple[int, int] | None:
        assert change.id is not None
        new = revision + 1
        planned = {"report_at": report_at, "escalate_at": escalate_at}  # sent already or not: planned again
        again = {name: moment for name, moment in planned.items() if moment is not None}
        async with self.db.transaction() as session:
            written = await session.execute(
                update(Change)
                .where(
                    col(Change.id) == change.id,
                    col(Change.state) == ChangeState.PUBLISHED,
                    col(Change.revision) == revision,
                )
                .values(
                    what=change.what,
                    why=change.why,
                    effective_date=change.effective_date,
                    ack_deadline=change.ack_deadline,
                    revision=new,
                    amended_at=at,
                    **again,
                )
            )
            if written.rowcount != 1:  # type: ignore[attr-defined]
                return None
            for position, group in enumerate(change.groups):
                await session.execute(
                    update(AudienceGroup)
                    .where(col(AudienceGroup.change_id) == change.id, col(AudienceGroup.position) == position)
                    .values(today=group.today, from_effective=group.from_effective)
                )
            reasked = await self._reask(session, change, reask_mask, new, at) if reask_mask else 0
            updated = await self._plan_updates(session, change.id, touch_mask, new, at) if touch_mask else 0
            await audit.write(
                session,
                [
                    audit.event(
                        "change.amended",
                        actor=actor,
                        at=at,
                        change_id=change.id,
                        revision=new,
                        changed=list(changed),
                        reasked=reasked,
                        updated=updated,
                    )
                ],
            )
        return reasked, updated

    async def _reask(
        self, session: AsyncSession, change: model.Change, mask: int, revision: int, at: datetime
    ) -> int:
        """Set aside the acknowledgements of the groups in `mask` (kept in ack_history) and start their
        reminders again; everyone of those groups is marked as asked again by this revision."""
        assert change.id is not None
        acknowledged = and_(_in_groups(change.id, mask), col(Delivery.acknowledged_at).is_not(None))
        kept = select(
            col(Delivery.id),
            col(Delivery.change_id),
            col(Delivery.acknowledged_at),
            literal(revision),
            literal(at, UTCDateTime),
        ).where(acknowledged)
        columns = ["delivery_id", "change_id", "acknowledged_at", "revision", "set_aside_at"]
        kept_rows = await session.execute(
            insert(AckHistory).from_select(columns, kept).returning(col(AckHistory.id))
        )
        policy = change.policy
        remind_at = at + policy.remind_after if policy.max_reminders > 0 else None
        was_acknowledged = col(Delivery.acknowledged_at).is_not(None)
        await session.execute(  # one pass over the groups' deliveries: marked, and re-asked if acknowledged
            update(Delivery)
            .where(_in_groups(change.id, mask), col(Delivery.state) != DeliveryState.EXCLUDED)
            .values(
                reasked_revision=revision,
                acknowledged_at=None,
                remind_at=case(
                    (was_acknowledged, literal(remind_at, UTCDateTime) if remind_at else null()),
                    else_=col(Delivery.remind_at),
                ),
                reminders_before=case(
                    (was_acknowledged, col(Delivery.reminders_sent)), else_=col(Delivery.reminders_before)
                ),
            )
        )
        return len(kept_rows.all())

    async def _plan_updates(
        self, session: AsyncSession, change_id: int, mask: int, revision: int, at: datetime
    ) -> int:
        """One AMENDMENT notice per DM of the groups in `mask` delivered (or being sent) by now."""
        now = literal(at, UTCDateTime)
        notices = select(
            literal(change_id),
            literal(NoticeKind.AMENDMENT.value),
            col(Delivery.user_id),
            literal(revision),
            col(Delivery.id),
            *(literal(v) for v in (1, "queued", 0, False)),
            now,
            now,
        ).where(
            _in_groups(change_id, mask),
            col(Delivery.state).in_((DeliveryState.DELIVERED, DeliveryState.SENDING)),
        )
        columns = [
            "change_id",
            "kind",
            "user_id",
            "seq",
            "delivery_id",
            "priority",
            "state",
            "attempts",
            "unsure",
            "due_at",
            "created_at",
        ]
        into = self._insert(NOTICE).from_select(columns, notices).on_conflict_do_nothing()
        return len((await session.execute(into.returning(NOTICE.c.id))).all())
