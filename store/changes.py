"""Changes and their audience groups, and the aggregate queries behind `/change-status`."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot import copy, model
from bot.errors import NotFound
from bot.model import ChangeState, DeliveryState
from bot.ports import BreakdownRow, ChangeSummary, Excluded, PersonState, Recipient, TallyRow
from store import audit
from store.capacity import plan_capacity_checks
from store.db import Database
from store.tables import AudienceGroup, Change, Delivery, Person

EDITABLE = (
    "announcer_id",
    "title",
    "what",
    "why",
    "effective_date",
    "ack_deadline",
    "customer_plan",
    "owner_id",
    "own_words",
    "publish_at",
    "capacity_check",
)
DELIVERY = Delivery.__table__  # type: ignore[attr-defined]
CHUNK = 5000


def chunks(items: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    while chunk := list(islice(items, size)):
        yield chunk


def reports_of(query: Any, manager_id: str) -> Any:
    """Narrow a query over deliveries to one manager's direct reports (as at publishing)."""
    return query.where(col(Delivery.manager_id) == manager_id)


MAX_ID = 2**31 - 1  # change.id is a 32-bit integer on PostgreSQL


async def workspaces_due(db: Database, *, change_id: Any, due_at: Any, now: datetime) -> list[str]:
    """The workspaces with outbox rows (of the table whose columns are given) due by `now`: one index
    probe per change, on (change_id, due_at)."""
    due = exists().where(change_id == col(Change.id), due_at <= now)
    async with db.reading() as session:
        return list(await session.scalars(select(col(Change.workspace)).where(due).distinct()))


def in_workspace(change_id: Any, workspace: str) -> Any:
    """Outbox rows of the workspace's changes."""
    return change_id.in_(select(col(Change.id)).where(col(Change.workspace) == workspace))


def key_to_id(key: str) -> int | None:
    """`CHG-12` -> 12; None for anything that cannot be a stored change's key (`CHG-²`, `CHG--1`,
    `CHG-0`, a number too large for the column), so a lookup never reaches the database with it."""
    prefix, _, number = key.strip().upper().partition("-")
    if prefix != "CHG" or not number.isascii() or not number.isdigit() or len(number) > 10:
        return None
    change_id = int(number)
    return change_id if 0 < change_id <= MAX_ID else None


def to_domain(row: Change, groups: Sequence[AudienceGroup]) -> model.Change:
    return model.Change(
        id=row.id,
        key=f"CHG-{row.id}",
        workspace=row.workspace,
        announcer_id=row.announcer_id,
        owner_id=row.owner_id,
        own_words=row.own_words,
        title=row.title,
        what=row.what,
        why=row.why,
        effective_date=row.effective_date,
        ack_deadline=row.ack_deadline,
        customer_impact=model.CustomerImpact(row.customer_impact),
        customer_plan=row.customer_plan,
        state=ChangeState(row.state),
        published_at=row.published_at,
        policy=model.Policy(
            remind_after=timedelta(seconds=row.remind_after_s),
            max_reminders=row.max_reminders,
            escalate_after=timedelta(seconds=row.escalate_after_s),
        ),
        escalate_at=row.escalate_at,
        report_at=row.report_at,
        publish_at=row.publish_at,
        capacity_check=row.capacity_check,
        revision=row.revision,
        amended_at=row.amended_at,
        groups=[
            model.AudienceGroup(
                name=g.name,
                today=g.today,
                from_effective=g.from_effective,
                user_ids=tuple(g.user_ids),
                usergroup_ids=tuple(g.usergroup_ids),
                channel_ids=tuple(g.channel_ids),
                customer_facing=g.customer_facing,
            )
            for g in sorted(groups, key=lambda g: g.position)
        ],
    )


class SqlChangeStore:
    """Implements `bot.ports.ChangeStore`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def _groups(self, session: AsyncSession, row: Change) -> list[AudienceGroup]:
        return list(
            await session.scalars(select(AudienceGroup).where(col(AudienceGroup.change_id) == row.id))
        )

    async def _load(self, session: AsyncSession, row: Change | None) -> model.Change | None:
        return None if row is None else to_domain(row, await self._groups(session, row))

    async def get_by_id(self, change_id: int) -> model.Change | None:
        async with self.db.reading() as session:
            return await self._load(session, await session.get(Change, change_id))

    async def revisions(self, change_ids: Collection[int]) -> dict[int, int]:
        if not change_ids:
            return {}
        query = select(col(Change.id), col(Change.revision)).where(col(Change.id).in_(list(change_ids)))
        async with self.db.reading() as session:
            return {int(i or 0): int(r) for i, r in (await session.execute(query)).all()}

    async def get(self, key: str) -> model.Change | None:
        change_id = key_to_id(key)
        return None if change_id is None else await self.get_by_id(change_id)

    async def save_draft(self, change: model.Change, *, draft_ref: str, at: datetime) -> model.Change:
        fields = {name: getattr(change, name) for name in EDITABLE} | {
            "customer_impact": change.customer_impact.value,
            "remind_after_s": int(change.policy.remind_after.total_seconds()),
            "max_reminders": change.policy.max_reminders,
            "escalate_after_s": int(change.policy.escalate_after.total_seconds()),
        }
        async with self.db.transaction() as session:
            row = await session.scalar(select(Change).where(col(Change.draft_ref) == draft_ref))
            owner = (change.workspace, change.announcer_id)
            if row is not None and (row.workspace, row.announcer_id) != owner:
                raise NotFound(copy.FORM_UNREADABLE)  # someone else's form: neither shown nor changed
            if row is not None and row.state != ChangeState.DRAFT:  # published meanwhile: keep it as it is
                return to_domain(row, await self._groups(session, row))
            first = row is None
            if row is None:
                row = Change.model_validate(
                    fields | {"draft_ref": draft_ref, "created_at": at, "workspace": change.workspace}
                )
            else:
                row.sqlmodel_update(fields)
            session.add(row)
            await session.flush()
            assert row.id is not None
            await session.execute(delete(AudienceGroup).where(col(AudienceGroup.change_id) == row.id))
            session.add_all(
                AudienceGroup(
                    change_id=row.id,
                    position=position,
                    name=group.name,
                    today=group.today,
                    from_effective=group.from_effective,
                    user_ids=list(group.user_ids),
                    usergroup_ids=list(group.usergroup_ids),
                    channel_ids=list(group.channel_ids),
                    customer_facing=group.customer_facing,
                )
                for position, group in enumerate(change.groups)
            )
            if first:
                drafted = audit.event("change.drafted", actor=change.announcer_id, at=at, change_id=row.id)
                await audit.write(session, [drafted])
            await session.flush()
            return to_domain(row, await self._groups(session, row))

    async def publish(
        self,
        change: model.Change,
        recipients: Sequence[Recipient],
        excluded: Sequence[Excluded],
        *,
        at: datetime,
    ) -> bool:
        waiting = (ChangeState.DRAFT, ChangeState.SCHEDULED)  # a scheduled change publishes here too
        async with self.db.transaction() as session:
            claimed = await session.execute(
                update(Change)
                .where(col(Change.id) == change.id, col(Change.state).in_(waiting))
                .values(
                    state=ChangeState.PUBLISHED,
                    published_at=at,
                    escalate_at=change.escalate_at,
                    report_at=change.report_at,
                    publish_lease=None,
                )
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            queued = (
                {
                    "change_id": change.id,
                    "user_id": r.user_id,
                    "group_mask": r.group_mask,
                    "state": DeliveryState.QUEUED,
                    "due_at": at,
                    "last_error": None,
                    "department": r.department,
                    "manager_id": r.manager_id,
                }
                for r in recipients
            )
            skipped = (
                {
                    "change_id": change.id,
                    "user_id": e.user_id,
                    "group_mask": e.group_mask,
                    "state": DeliveryState.EXCLUDED,
                    "due_at": None,
                    "last_error": e.reason.value,
                    "department": None,
                    "manager_id": None,
                }
                for e in excluded
            )
            for rows in (queued, skipped):
                for chunk in chunks(rows):
                    await session.execute(insert(DELIVERY), chunk)
            if change.capacity_check:  # the managers' questions go out with the announcements, once
                assert change.id is not None
                await plan_capacity_checks(
                    session, change.id, announcer_id=change.announcer_id, at=at, sqlite=self.db.is_sqlite
                )
            await audit.write(
                session,
                [
                    audit.event(
                        "change.published",
                        actor=change.announcer_id,
                        at=at,
                        change_id=change.id,
                        recipients=len(recipients),
                        excluded=len(excluded),
                    )
                ],
            )
        if not self.db.is_sqlite:
            # The planner's row counts predate this bulk insert: refresh them, so the status queries
            # over this change (and the claims) are planned for its real size from the first minute.
            async with self.db.transaction() as session:
                await session.execute(text("ANALYZE delivery"))
        return True

    def _summaries(self, workspace: str) -> Any:
        acknowledged = func.count(col(Delivery.acknowledged_at))
        targeted = func.count(col(Delivery.id)).filter(col(Delivery.state) != DeliveryState.EXCLUDED)
        return (
            select(col(Change.id), col(Change.title), col(Change.state), targeted, acknowledged)
            .join(Delivery, col(Delivery.change_id) == col(Change.id), isouter=True)
            .where(col(Change.workspace) == workspace, col(Change.state) != ChangeState.DRAFT)
            .group_by(col(Change.id))
            .order_by(col(Change.id).desc())
            .limit(25)
        )

    async def visible_to(self, *, workspace: str, user_id: str, admin: bool) -> list[ChangeSummary]:
        announced = self._summaries(workspace)
        if not admin:
            announced = announced.where(col(Change.announcer_id) == user_id)
        reaching = reports_of(self._summaries(workspace), user_id)
        async with self.db.reading() as session:
            rows = [*(await session.execute(announced)).all(), *(await session.execute(reaching)).all()]
        seen: set[int] = set()
        summaries = []
        for id_, title, state, targeted, acked in rows:
            if id_ not in seen:
                seen.add(id_)
                summaries.append(ChangeSummary(f"CHG-{id_}", title, state, targeted, acked))
        return summaries

    async def tally(self, change_id: int, *, manager_id: str | None = None) -> list[TallyRow]:
        acked = col(Delivery.acknowledged_at).is_not(None)
        query = (
            select(col(Delivery.group_mask), col(Delivery.state), acked, func.count())
            .where(col(Delivery.change_id) == change_id)
            .group_by(col(Delivery.group_mask), col(Delivery.state), acked)
        )
        if manager_id is not None:
            query = reports_of(query, manager_id)
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return [TallyRow(mask, DeliveryState(state), bool(ack), n) for mask, state, ack, n in rows]

    async def breakdown(self, change_id: int, *, manager_id: str | None = None) -> list[BreakdownRow]:
        live = col(Delivery.state) != DeliveryState.EXCLUDED
        query = (
            select(
                col(Delivery.department),
                col(Delivery.manager_id),
                func.count(col(Delivery.id)).filter(live),
                func.count(col(Delivery.acknowledged_at)).filter(live),
                func.count(col(Delivery.id)).filter(col(Delivery.state) == DeliveryState.FAILED),
            )
            .where(col(Delivery.change_id) == change_id)
            .group_by(col(Delivery.department), col(Delivery.manager_id))
        )
        if manager_id is not None:
            query = reports_of(query, manager_id)
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return [BreakdownRow(*row) for row in rows if row[2]]

    async def people_in(
        self,
        change_id: int,
        *,
        states: Collection[DeliveryState],
        acknowledged: bool,
        limit: int,
        manager_id: str | None = None,
    ) -> list[PersonState]:
        """The first `limit` matching people, by name. Only `limit` rows are read, whatever the audience."""
        ack = col(Delivery.acknowledged_at)
        first = (
            select(Delivery)
            .where(
                col(Delivery.change_id) == change_id,
                col(Delivery.state).in_(list(states)),
                ack.is_not(None) if acknowledged else ack.is_(None),
            )
            .order_by(col(Delivery.id))
            .limit(limit)
        )
        if manager_id is not None:
            first = reports_of(first, manager_id)
        chosen = first.subquery()
        person = and_(col(Person.workspace) == col(Change.workspace), col(Person.user_id) == chosen.c.user_id)
        query = (
            select(
                chosen.c.user_id, col(Person.name), chosen.c.group_mask, chosen.c.state, chosen.c.last_error
            )
            .join(Change, col(Change.id) == chosen.c.change_id)
            .join(Person, person, isouter=True)
            .order_by(col(Person.name), chosen.c.user_id)
        )
        async with self.db.reading() as session:
            rows = (await session.execute(query)).all()
        return [
            PersonState(user_id, name or user_id, mask, DeliveryState(state), error)
            for user_id, name, mask, state, error in rows
        ]
