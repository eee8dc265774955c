"""Follow-up as outbox rows: planning reminders, escalations and gap reports into `notice`, claiming and
settling them like deliveries, and what each message lists when it is sent.

Planning is a few set-based statements per wave, so 100,000 pending people are never held in memory;
the unique key on notice makes planning twice (or from two workers) write each message once. Claims
lock with FOR UPDATE SKIP LOCKED on PostgreSQL; settling is fenced by the claim's attempt, and a
message's audit event is written when it is settled, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot import model
from bot.model import ChangeState, DeliveryState, MessageRef, NoticeKind, PendingPerson
from bot.ports import Deferred, Failed, NoticeClaim, Outcome, Retry, Sent, Skipped
from store import audit
from store.changes import SqlChangeStore, chunks, in_workspace, workspaces_due
from store.db import Database
from store.questions import open_questions
from store.tables import Change, Delivery, Notice, Person
from store.types import UTCDateTime

QUESTIONS_LISTED = 10  # open questions and concerns in a gap report
NOTICE = Notice.__table__  # type: ignore[attr-defined]
WAITING = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.DELIVERED)
# Escalations and reports (0) go before a wave of reminders or of amended DMs (1).
PRIORITY = {NoticeKind.REMINDER: 1, NoticeKind.AMENDMENT: 1}
MOOT_ACKNOWLEDGED = "acknowledged meanwhile"
MOOT_CLOSED = "the change is no longer open"
MOOT_NOT_DELIVERED = "the announcement is not delivered; it will be sent as amended"
AUDITED = {
    NoticeKind.REMINDER: "delivery.reminded",
    NoticeKind.ESCALATION: "change.escalated",
    NoticeKind.UNMANAGED: "change.unmanaged_reported",
    NoticeKind.REPORT: "change.gap_reported",
    NoticeKind.CAPACITY: "change.capacity_asked",
    NoticeKind.AMENDMENT: "delivery.amended",
}


def _person() -> Any:
    return and_(col(Person.workspace) == col(Change.workspace), col(Person.user_id) == col(Delivery.user_id))


def _people() -> Any:
    """Deliveries with their person (name, time zone)."""
    return (
        select(Delivery, col(Person.name), col(Person.tz))
        .join(Change, col(Change.id) == col(Delivery.change_id))
        .outerjoin(Person, _person())
    )


def _pending_person(row: Any) -> PendingPerson:
    delivery, name, tz = row
    ref = MessageRef(delivery.channel, delivery.ts) if delivery.channel and delivery.ts else None
    return PendingPerson(
        delivery_id=delivery.id,
        change_id=delivery.change_id,
        user_id=delivery.user_id,
        name=name or delivery.user_id,
        group_mask=delivery.group_mask,
        manager_id=delivery.manager_id,
        department=delivery.department,
        tz=tz,
        reminders_sent=delivery.reminders_sent,
        ref=ref,
        reason=delivery.last_error,
    )


def _pending(change_id: int) -> Any:
    """Targeted, not acknowledged, not failed: who follow-up is about."""
    return and_(
        col(Delivery.change_id) == change_id,
        col(Delivery.state).in_(WAITING),
        col(Delivery.acknowledged_at).is_(None),
    )


def _unescalated(change_id: int, kind: NoticeKind, to: Any) -> Any:
    """Pending, and in no escalation of `kind` to `to` planned since they were last asked: an amendment
    that asks a group again escalates that group anew, and leaves those escalated already alone."""
    covered = exists().where(
        col(Notice.change_id) == change_id,
        col(Notice.kind) == kind.value,
        col(Notice.user_id) == to,
        col(Notice.seq) >= col(Delivery.reasked_revision),
    )
    return and_(_pending(change_id), ~covered)


def _notice(change_id: int, kind: NoticeKind, user_id: str, now: datetime, **more: Any) -> dict[str, Any]:
    return {
        "change_id": change_id,
        "kind": kind.value,
        "user_id": user_id,
        "seq": 0,
        "delivery_id": None,
        "priority": PRIORITY.get(kind, 0),
        "state": "queued",
        "attempts": 0,
        "unsure": False,
        "due_at": now,
        "created_at": now,
        **more,
    }


_REMINDER_OF_DELIVERY: dict[str, Any] = {  # notice column: its value for a delivery's next reminder
    "change_id": col(Delivery.change_id),
    "kind": literal(NoticeKind.REMINDER.value),
    "user_id": col(Delivery.user_id),
    "seq": col(Delivery.reminders_sent) + 1,
    "delivery_id": col(Delivery.id),
    "priority": literal(PRIORITY[NoticeKind.REMINDER]),
    "state": literal("queued"),
    "attempts": literal(0),
    "unsure": literal(False),
}


class SqlFollowUp:
    """Implements `bot.ports.FollowUpStore`."""

    def __init__(self, db: Database, changes: SqlChangeStore) -> None:
        self.db = db
        self.changes = changes
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def change(self, change_id: int) -> model.Change:
        change = await self.changes.get_by_id(change_id)
        assert change is not None, f"no change {change_id}"
        return change

    # --- planning -----------------------------------------------------------------------------------

    async def _add(self, session: AsyncSession, rows: list[dict[str, Any]]) -> int:
        written = 0
        for chunk in chunks(iter(rows), 1000):
            statement = self._insert(NOTICE).values(chunk).on_conflict_do_nothing().returning(NOTICE.c.id)
            written += len((await session.execute(statement)).all())
        return written

    async def plan_reminders(self, *, now: datetime, limit: int) -> int:
        due = (
            select(col(Delivery.id))
            .join(Change, col(Change.id) == col(Delivery.change_id))
            .where(col(Delivery.remind_at) <= now, col(Delivery.acknowledged_at).is_(None))
            .where(col(Change.state) == ChangeState.PUBLISHED)
            .order_by(col(Delivery.remind_at), col(Delivery.id))
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(of=Delivery, skip_locked=True)
        async with self.db.transaction() as session:
            ids = list((await session.scalars(due)).all())
            if ids:  # the notices are written from the rows in the database: no row passes through here
                taken = col(Delivery.id).in_(ids)
                reminders = select(
                    *_REMINDER_OF_DELIVERY.values(), literal(now, UTCDateTime), literal(now, UTCDateTime)
                )
                columns = [*_REMINDER_OF_DELIVERY, "due_at", "created_at"]
                await session.execute(
                    self._insert(NOTICE).from_select(columns, reminders.where(taken)).on_conflict_do_nothing()
                )
                # the notice carries the due time now; sending it sets the next one
                await session.execute(update(Delivery).where(taken).values(remind_at=None))
        return len(ids)

    async def _due_changes(self, session: AsyncSession, due: Any, now: datetime) -> list[Any]:
        """Clear a change-level due time and return (id, workspace, announcer, revision) of the changes
        cleared. The revision is the notices' seq: an amendment that plans the escalation or the gap report
        again (people asked again, a new deadline) gets notices of its own, beside the earlier ones."""
        claim = (
            update(Change)
            .where(col(Change.state) == ChangeState.PUBLISHED, due <= now)
            .values({due: None})
            .returning(col(Change.id), col(Change.workspace), col(Change.announcer_id), col(Change.revision))
        )
        return list((await session.execute(claim)).all())

    async def plan_escalations(self, *, now: datetime) -> int:
        written = 0
        async with self.db.transaction() as session:
            for change_id, workspace, announcer, revision in await self._due_changes(
                session, col(Change.escalate_at), now
            ):
                await self._fill_managers(session, change_id, workspace)
                at = literal(now, UTCDateTime)
                notices = (
                    select(
                        literal(change_id),
                        literal(NoticeKind.ESCALATION.value),
                        col(Delivery.manager_id),
                        literal(revision),
                        *(literal(v) for v in (0, "queued", 0, False)),
                        at,
                        at,
                    )
                    .where(
                        _unescalated(change_id, NoticeKind.ESCALATION, col(Delivery.manager_id)),
                        col(Delivery.manager_id).is_not(None),
                    )
                    .distinct()
                )
                columns = ["change_id", "kind", "user_id", "seq", "priority", "state", "attempts", "unsure"]
                into = self._insert(NOTICE).from_select([*columns, "due_at", "created_at"], notices)
                written += len(
                    (await session.execute(into.on_conflict_do_nothing().returning(NOTICE.c.id))).all()
                )
                unmanaged = exists().where(
                    _unescalated(change_id, NoticeKind.UNMANAGED, literal(announcer)),
                    col(Delivery.manager_id).is_(None),
                )
                if await session.scalar(select(unmanaged)):
                    written += await self._add(
                        session, [_notice(change_id, NoticeKind.UNMANAGED, announcer, now, seq=revision)]
                    )
        return written

    async def _fill_managers(self, session: AsyncSession, change_id: int, workspace: str) -> None:
        """Pending people whose manager was unknown at publishing take the org chart's manager now (an org
        chart imported after publishing). One definition: the delivery's manager gets the escalation and
        sees the person in status."""
        current = (
            select(col(Person.manager_id))
            .where(col(Person.workspace) == workspace, col(Person.user_id) == col(Delivery.user_id))
            .scalar_subquery()
        )
        await session.execute(
            update(Delivery)
            .where(_pending(change_id), col(Delivery.manager_id).is_(None))
            .values(manager_id=current)
        )

    async def plan_reports(self, *, now: datetime) -> int:
        async with self.db.transaction() as session:
            due = await self._due_changes(session, col(Change.report_at), now)
            reports = [_notice(i, NoticeKind.REPORT, a, now, seq=revision) for i, _, a, revision in due]
            return await self._add(session, reports)

    # --- the outbox ---------------------------------------------------------------------------------

    async def due_workspaces(self, *, now: datetime) -> list[str]:
        return await workspaces_due(
            self.db, change_id=col(Notice.change_id), due_at=col(Notice.due_at), now=now
        )

    async def claim(
        self, *, now: datetime, limit: int, lease: timedelta, workspace: str
    ) -> list[NoticeClaim]:
        due = (
            select(col(Notice.id))
            .where(col(Notice.due_at) <= now, in_workspace(col(Notice.change_id), workspace))
            .order_by(col(Notice.priority), col(Notice.due_at))
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        take = (
            update(Notice)
            .where(col(Notice.id).in_(due.scalar_subquery()))
            .values(
                state="sending",
                due_at=now + lease,
                attempts=col(Notice.attempts) + 1,
                unsure=or_(col(Notice.unsure), col(Notice.state) == "sending"),
            )
            .returning(col(Notice.id))
        )
        async with self.db.transaction() as session:
            ids = [i for i in (await session.scalars(take)).all() if i is not None]
            if not ids:
                return []
            rows = (await session.execute(self._claimed(ids))).all()
        return [_claim(row) for row in rows]

    def _claimed(self, ids: list[int]) -> Any:
        person = and_(
            col(Person.workspace) == col(Change.workspace), col(Person.user_id) == col(Notice.user_id)
        )
        return (
            select(
                Notice,
                col(Change.state),
                col(Person.tz),
                col(Delivery.group_mask),
                col(Delivery.channel),
                col(Delivery.ts),
                col(Delivery.acknowledged_at),
                col(Delivery.reminders_before),
                col(Delivery.reasked_revision),
                col(Delivery.state),
            )
            .join(Change, col(Change.id) == col(Notice.change_id))
            .outerjoin(Person, person)
            .outerjoin(Delivery, col(Delivery.id) == col(Notice.delivery_id))
            .where(col(Notice.id).in_(ids))
        )

    async def settle(self, outcomes: Sequence[Outcome[NoticeClaim]], *, now: datetime) -> None:
        """Record a batch in a few statements (one per kind of outcome), fenced by each claim's attempt;
        only the outcomes still this worker's are recorded and audited."""
        async with self.db.transaction() as session:
            ours = await self._still_ours(session, outcomes)
            for statement, params in _settling(ours, now):
                await session.execute(statement, params)
            await audit.write(session, [event for outcome in ours for event in _audit(outcome, now)])

    async def _still_ours(
        self, session: AsyncSession, outcomes: Sequence[Outcome[NoticeClaim]]
    ) -> list[Outcome[NoticeClaim]]:
        """The outcomes whose notice is still sending under their claim's attempt; the others were taken
        over by another worker. On PostgreSQL the rows stay locked until the batch is recorded."""
        if not outcomes:
            return []
        held = select(col(Notice.id), col(Notice.attempts)).where(
            col(Notice.id).in_([o.claim.id for o in outcomes]), col(Notice.state) == "sending"
        )
        if not self.db.is_sqlite:
            held = held.with_for_update()
        attempts = {notice_id: attempt for notice_id, attempt in (await session.execute(held)).all()}
        return [o for o in outcomes if attempts.get(o.claim.id) == o.claim.attempt]

    # --- what the messages list ---------------------------------------------------------------------

    async def reports_pending_of(
        self, change_id: int, managers: Collection[str | None], *, limit: int
    ) -> dict[str | None, tuple[list[PendingPerson], int]]:
        named = [m for m in managers if m is not None]
        manager = col(Delivery.manager_id)
        whose = or_(manager.in_(named), manager.is_(None)) if None in managers else manager.in_(named)
        place = func.row_number().over(partition_by=manager, order_by=(col(Person.name), col(Delivery.id)))
        ranked = _people().add_columns(place.label("place")).where(_pending(change_id), whose).subquery()
        delivery = aliased(Delivery, ranked)
        first = select(delivery, ranked.c.name, ranked.c.tz).where(ranked.c.place <= limit)
        totals = select(manager, func.count()).where(_pending(change_id), whose).group_by(manager)
        async with self.db.reading() as session:
            listed = [
                _pending_person(row) for row in (await session.execute(first.order_by(ranked.c.place))).all()
            ]
            counted = {m: int(n) for m, n in (await session.execute(totals)).all()}
        found: dict[str | None, tuple[list[PendingPerson], int]] = {
            m: ([], counted.get(m, 0)) for m in managers
        }
        for person in listed:
            found[person.manager_id][0].append(person)
        return found

    async def gap(self, change_id: int, *, limit: int) -> model.GapReport:
        failed = and_(col(Delivery.change_id) == change_id, col(Delivery.state) == DeliveryState.FAILED)
        by_manager = (col(Delivery.manager_id).is_(None), col(Delivery.manager_id), col(Person.name))
        departments = (
            select(col(Delivery.department), func.count())
            .where(_pending(change_id))
            .group_by(col(Delivery.department))
            .order_by(col(Delivery.department))
        )
        async with self.db.reading() as session:
            pending = (
                await session.execute(_people().where(_pending(change_id)).order_by(*by_manager).limit(limit))
            ).all()
            lost = (
                await session.execute(_people().where(failed).order_by(col(Person.name)).limit(limit))
            ).all()
            teams = [(name, int(n)) for name, n in (await session.execute(departments)).all()]
            lost_total = await session.scalar(select(func.count()).select_from(Delivery).where(failed))
            asked, asked_total = await open_questions(session, change_id, limit=QUESTIONS_LISTED)
        change = await self.change(change_id)
        return model.GapReport(
            change,
            tuple(_pending_person(row) for row in pending),
            tuple(_pending_person(row) for row in lost),
            pending_total=sum(n for _, n in teams),
            failed_total=int(lost_total or 0),
            departments=tuple(teams),
            questions=tuple(asked),
            questions_total=asked_total,
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


def _claim(row: Any) -> NoticeClaim:
    notice, change_state, tz, mask, channel, ts, acknowledged_at, reminded_before, reasked, delivery = row
    kind = NoticeKind(notice.kind)
    moot = None
    if change_state != ChangeState.PUBLISHED:
        moot = MOOT_CLOSED
    elif kind is NoticeKind.REMINDER and acknowledged_at is not None:
        moot = MOOT_ACKNOWLEDGED
    elif kind is NoticeKind.AMENDMENT and delivery not in (DeliveryState.DELIVERED, DeliveryState.SENDING):
        moot = MOOT_NOT_DELIVERED  # failed meanwhile, or queued again: it will go out amended
    return NoticeClaim(
        id=notice.id,
        kind=kind,
        change_id=notice.change_id,
        user_id=notice.user_id,
        attempt=notice.attempts,
        unsure=notice.unsure,
        tz=tz,
        delivery_id=notice.delivery_id,
        group_mask=mask or 0,
        thread=MessageRef(channel, ts) if channel and ts else None,
        seq=notice.seq,
        moot=moot,
        reminded_before=reminded_before or 0,
        acknowledged_at=acknowledged_at,
        # an amendment's notice (seq: its revision) asks again if that amendment re-asked this person
        reasked=kind is NoticeKind.AMENDMENT and reasked == notice.seq and acknowledged_at is None,
    )


_FENCE = (
    (NOTICE.c.id == bindparam("s_id"))
    & (NOTICE.c.attempts == bindparam("s_attempt"))
    & (NOTICE.c.state == "sending")
)
_SETTLE: dict[type, dict[str, Any]] = {
    Sent: {
        "state": "sent",
        "due_at": None,
        "unsure": False,
        "last_error": None,
        "channel": bindparam("s_channel"),
        "ts": bindparam("s_ts"),
        "sent_at": bindparam("s_now"),
    },
    Failed: {"state": "failed", "due_at": None, "last_error": bindparam("s_error")},
    Skipped: {"state": "skipped", "due_at": None, "last_error": bindparam("s_error")},
    # A deferral is not this attempt's fault, and a 429 is the workspace's: neither uses up an attempt.
    Deferred: {"state": "queued", "due_at": bindparam("s_due"), "attempts": bindparam("s_attempts")},
    Retry: {
        "state": "queued",
        "due_at": bindparam("s_due"),
        "attempts": bindparam("s_attempts"),
        "unsure": bindparam("s_unsure"),
        "last_error": bindparam("s_error"),
    },
}
DELIVERY = Delivery.__table__  # type: ignore[attr-defined]
# A reminder sent counts on its delivery and sets the next one (none once acknowledged meanwhile)...
_REMINDED = (
    update(DELIVERY)
    .where((DELIVERY.c.id == bindparam("s_delivery")) & (DELIVERY.c.reminders_sent < bindparam("s_seq")))
    .values(
        reminders_sent=bindparam("s_seq"),
        remind_at=case((DELIVERY.c.acknowledged_at.is_(None), bindparam("s_remind", type_=UTCDateTime()))),
    )
)
# ... and one that failed for good ends that person's reminders.
_UNREACHABLE = update(DELIVERY).where(DELIVERY.c.id == bindparam("s_delivery")).values(remind_at=None)


def _params(outcome: Outcome[NoticeClaim], now: datetime) -> dict[str, Any]:
    result, claim = outcome.result, outcome.claim
    params: dict[str, Any] = {"s_id": claim.id, "s_attempt": claim.attempt}
    if isinstance(result, Sent):
        return params | {"s_channel": result.ref.conversation, "s_ts": result.ref.id, "s_now": now}
    if isinstance(result, Failed | Skipped):
        return params | {"s_error": result.reason}
    if isinstance(result, Deferred):
        return params | {"s_due": result.until, "s_attempts": claim.attempt - 1}
    assert isinstance(result, Retry), result
    attempts = claim.attempt - 1 if result.rate_limited else claim.attempt
    return params | {
        "s_due": outcome.retry_at or now,
        "s_attempts": attempts,
        "s_unsure": result.unsure,
        "s_error": result.reason,
    }


def _settling(
    outcomes: Sequence[Outcome[NoticeClaim]], now: datetime
) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The statements that record a batch, each with its rows' parameters (run as executemany)."""
    statements: list[tuple[Any, list[dict[str, Any]]]] = []
    for kind, values in _SETTLE.items():
        params = [_params(o, now) for o in outcomes if type(o.result) is kind]
        if params:
            statements.append((update(NOTICE).where(_FENCE).values(**values), params))
    reminders = [
        o for o in outcomes if o.claim.kind is NoticeKind.REMINDER and o.claim.delivery_id is not None
    ]
    reminded = [
        {"s_delivery": o.claim.delivery_id, "s_seq": o.claim.seq, "s_remind": o.remind_at}
        for o in reminders
        if isinstance(o.result, Sent)
    ]
    unreachable = [{"s_delivery": o.claim.delivery_id} for o in reminders if isinstance(o.result, Failed)]
    statements += [
        (stmt, params) for stmt, params in ((_REMINDED, reminded), (_UNREACHABLE, unreachable)) if params
    ]
    return statements


def _audit(outcome: Outcome[NoticeClaim], now: datetime) -> list[dict[str, Any]]:
    """Sent and failed messages are audited (with who received them); retries and deferrals are not."""
    claim, result = outcome.claim, outcome.result
    if not isinstance(result, Sent | Failed):
        return []
    kind = AUDITED[claim.kind] + ("" if isinstance(result, Sent) else "_failed")
    detail: dict[str, Any] = {"to": claim.user_id, "notice": claim.id}
    if claim.kind is NoticeKind.REMINDER:
        detail["reminder"] = claim.seq
    if isinstance(result, Failed):
        detail["reason"] = result.reason
    return [
        audit.event(
            kind, actor="realign", at=now, change_id=claim.change_id, delivery_id=claim.delivery_id, **detail
        )
    ]
