"""The outbox: claiming due deliveries, settling their outcomes, acknowledgements.

Claims are one UPDATE ... RETURNING over a sub-select of due rows; on PostgreSQL the sub-select
locks with FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint batches. SQLite serialises
writers, so there one worker process claims at a time. Settling is fenced by the attempt number
taken at claim time: an outcome that arrives after its lease was taken over changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlmodel import col

from bot import copy
from bot.errors import NotAllowed, NotFound
from bot.model import DeliveryState
from bot.ports import Acknowledgement, Claim, Failed, MessageRef, Outcome, Retry, Sent
from store import audit
from store.changes import DELIVERY, SqlChangeStore, in_workspace, workspaces_due
from store.db import Database
from store.tables import Change, Delivery

CLAIMED = (
    Delivery.id,
    Delivery.change_id,
    Delivery.user_id,
    Delivery.group_mask,
    Delivery.attempts,
    Delivery.unsure,
)

_SETTLE: dict[type, dict[str, Any]] = {
    Sent: {
        "state": DeliveryState.DELIVERED,
        "due_at": None,
        "unsure": False,
        "last_error": None,
        "channel": bindparam("s_channel"),
        "ts": bindparam("s_ts"),
        "remind_at": bindparam("s_remind"),
        "sent_at": bindparam("s_now"),
    },
    Failed: {"state": DeliveryState.FAILED, "due_at": None, "last_error": bindparam("s_error")},
    Retry: {
        "attempts": bindparam("s_attempts"),
        "state": DeliveryState.QUEUED,
        "due_at": bindparam("s_due"),
        "unsure": bindparam("s_unsure"),
        "last_error": bindparam("s_error"),
    },
}


def _params(outcome: Outcome, now: datetime) -> dict[str, Any]:
    result = outcome.result
    params: dict[str, Any] = {"s_id": outcome.claim.delivery_id, "s_attempt": outcome.claim.attempt}
    if isinstance(result, Sent):
        params |= {
            "s_channel": result.ref.conversation,
            "s_ts": result.ref.id,
            "s_now": now,
            "s_remind": outcome.remind_at,
        }
    elif isinstance(result, Failed):
        params |= {"s_error": result.reason}
    else:
        assert isinstance(result, Retry), result  # announcements are never deferred or skipped
        # A 429 is the workspace's limit, not this recipient's trouble: it does not use up an attempt.
        attempts = outcome.claim.attempt - 1 if result.rate_limited else outcome.claim.attempt
        params |= {
            "s_due": outcome.retry_at or now,
            "s_unsure": result.unsure,
            "s_error": result.reason,
            "s_attempts": attempts,
        }
    return params


def _audit(outcome: Outcome, now: datetime) -> dict[str, Any]:
    result, claim = outcome.result, outcome.claim
    kind = {Sent: "delivery.delivered", Failed: "delivery.failed", Retry: "delivery.retry"}[type(result)]
    detail: dict[str, Any] = {"attempt": claim.attempt}
    if not isinstance(result, Sent):
        detail["reason"] = result.reason
    return audit.event(
        kind, actor="realign", at=now, change_id=claim.change_id, delivery_id=claim.delivery_id, **detail
    )


class SqlDeliveryQueue:
    """Implements `bot.ports.DeliveryQueue`."""

    def __init__(self, db: Database, changes: SqlChangeStore) -> None:
        self.db = db
        self.changes = changes

    async def due_workspaces(self, *, now: datetime) -> list[str]:
        return await workspaces_due(
            self.db, change_id=col(Delivery.change_id), due_at=col(Delivery.due_at), now=now
        )

    async def claim(self, *, now: datetime, limit: int, lease: timedelta, workspace: str) -> list[Claim]:
        due = (
            select(col(Delivery.id))
            .where(col(Delivery.due_at) <= now, in_workspace(col(Delivery.change_id), workspace))
            .order_by(col(Delivery.due_at))
            .limit(limit)
        )
        if not self.db.is_sqlite:
            due = due.with_for_update(skip_locked=True)
        claim = (
            update(Delivery)
            .where(col(Delivery.id).in_(due.scalar_subquery()))
            .values(
                state=DeliveryState.SENDING,
                due_at=now + lease,
                attempts=col(Delivery.attempts) + 1,
                unsure=or_(col(Delivery.unsure), col(Delivery.state) == DeliveryState.SENDING),
            )
            .returning(*(col(c) for c in CLAIMED))
        )
        async with self.db.transaction() as session:
            rows = (await session.execute(claim)).all()
        return [
            Claim(
                delivery_id=r.id,
                change_id=r.change_id,
                user_id=r.user_id,
                group_mask=r.group_mask,
                attempt=r.attempts,
                unsure=r.unsure,
            )
            for r in rows
        ]

    async def settle(self, outcomes: Sequence[Outcome], *, now: datetime) -> None:
        fence = (
            (DELIVERY.c.id == bindparam("s_id"))
            & (DELIVERY.c.attempts == bindparam("s_attempt"))
            & (DELIVERY.c.state == DeliveryState.SENDING)
        )
        async with self.db.transaction() as session:
            for kind, values in _SETTLE.items():
                params = [_params(o, now) for o in outcomes if isinstance(o.result, kind)]
                if params:
                    await session.execute(update(DELIVERY).where(fence).values(**values), params)
            await audit.write(session, [_audit(o, now) for o in outcomes])

    async def acknowledge(
        self, *, delivery_id: int, user_id: str, at: datetime, workspace: str
    ) -> Acknowledgement:
        async with self.db.transaction() as session:
            first = await session.execute(
                update(Delivery)
                .where(
                    col(Delivery.id) == delivery_id,
                    in_workspace(col(Delivery.change_id), workspace),
                    col(Delivery.user_id) == user_id,
                    col(Delivery.acknowledged_at).is_(None),
                    col(Delivery.state) != DeliveryState.EXCLUDED,
                )
                .values(acknowledged_at=at, remind_at=None)  # acknowledging stops the follow-up
            )
            row = await session.get(Delivery, delivery_id)
            owner = None if row is None else await session.get(Change, row.change_id)
            if row is None or owner is None or owner.workspace != workspace:  # or another workspace's
                raise NotFound(copy.NO_SUCH_CHANGE.format(key=f"for delivery {delivery_id}"))
            if row.user_id != user_id:
                raise NotAllowed(copy.NOT_YOUR_DELIVERY)
            is_first = first.rowcount == 1  # type: ignore[attr-defined]
            if is_first:
                await audit.write(
                    session,
                    [
                        audit.event(
                            "delivery.acknowledged",
                            actor=user_id,
                            at=at,
                            change_id=row.change_id,
                            delivery_id=delivery_id,
                        )
                    ],
                )
        change = await self.changes.get_by_id(row.change_id)
        assert change is not None and row.acknowledged_at is not None
        ref = MessageRef(row.channel, row.ts) if row.channel and row.ts else None
        return Acknowledgement(change, row.group_mask, row.acknowledged_at, is_first, ref)

    async def requeue_failed(self, *, change_id: int, actor: str, now: datetime) -> int:
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Delivery)
                .where(col(Delivery.change_id) == change_id, col(Delivery.state) == DeliveryState.FAILED)
                .values(state=DeliveryState.QUEUED, due_at=now, attempts=0)
            )
            count: int = result.rowcount  # type: ignore[attr-defined]
            if count:
                await audit.write(
                    session,
                    [
                        audit.event(
                            "change.requeued_failed", actor=actor, at=now, change_id=change_id, count=count
                        )
                    ],
                )
        return count
