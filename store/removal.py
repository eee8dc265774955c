"""A workspace removed Realign (uninstalled it, or revoked its bot token): its outboxes stop; or one
person removed it (a Teams personal uninstall, `stop_person`): what waits for them stops.

Deliveries still waiting are settled as failed with the reason in words, follow-up messages waiting
are skipped, and no more follow-up is planned for its changes, all in one transaction; one audit event
per change says what was stopped. Rows a worker holds right now are settled here too: the worker's own
settle, fenced by state, then changes nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col

from bot.model import DeliveryState
from store import audit
from store.changes import in_workspace
from store.db import Database
from store.tables import Change, Delivery, Notice

WAITING = (DeliveryState.QUEUED, DeliveryState.SENDING)


@dataclass(frozen=True)
class Stopped:
    deliveries: int  # failed
    notices: int  # skipped


async def stop_workspace(db: Database, *, workspace: str, reason: str, actor: str, at: datetime) -> Stopped:
    """Fail the workspace's waiting deliveries, skip its waiting notices, plan no more follow-up."""
    async with db.transaction() as session:
        failed = (
            await session.execute(
                update(Delivery)
                .where(in_workspace(col(Delivery.change_id), workspace), col(Delivery.state).in_(WAITING))
                .values(state=DeliveryState.FAILED, due_at=None, last_error=reason, remind_at=None)
                .returning(col(Delivery.change_id))
            )
        ).all()
        skipped = (
            await session.execute(
                update(Notice)
                .where(in_workspace(col(Notice.change_id), workspace), col(Notice.state).in_(WAITING))
                .values(state="skipped", due_at=None, last_error=reason)
                .returning(col(Notice.change_id))
            )
        ).all()
        await session.execute(
            update(Delivery)
            .where(in_workspace(col(Delivery.change_id), workspace), col(Delivery.remind_at).is_not(None))
            .values(remind_at=None)
        )
        await session.execute(
            update(Change)
            .where(col(Change.workspace) == workspace)
            .where((col(Change.escalate_at).is_not(None)) | (col(Change.report_at).is_not(None)))
            .values(escalate_at=None, report_at=None)
        )
        failed_by, skipped_by = Counter(row[0] for row in failed), Counter(row[0] for row in skipped)
        events = [
            audit.event(
                "change.workspace_removed",
                actor=actor,
                at=at,
                change_id=change_id,
                reason=reason,
                failed=failed_by[change_id],
                skipped=skipped_by[change_id],
            )
            for change_id in sorted(failed_by.keys() | skipped_by.keys())
        ]
        await audit.write(session, events)
    return Stopped(deliveries=len(failed), notices=len(skipped))


async def stop_person(
    db: Database, *, workspace: str, user_id: str, reason: str, actor: str, at: datetime
) -> Stopped:
    """One person removed Realign (a Teams personal uninstall): fail their waiting deliveries, skip the
    follow-up waiting for them and remind them no more, in one transaction. Everyone else goes on."""
    mine = (col(Delivery.user_id) == user_id, in_workspace(col(Delivery.change_id), workspace))
    async with db.transaction() as session:
        failed = (
            await session.execute(
                update(Delivery)
                .where(*mine, col(Delivery.state).in_(WAITING))
                .values(state=DeliveryState.FAILED, due_at=None, last_error=reason, remind_at=None)
                .returning(col(Delivery.change_id))
            )
        ).all()
        skipped = (
            await session.execute(
                update(Notice)
                .where(
                    col(Notice.user_id) == user_id,
                    in_workspace(col(Notice.change_id), workspace),
                    col(Notice.state).in_(WAITING),
                )
                .values(state="skipped", due_at=None, last_error=reason)
                .returning(col(Notice.change_id))
            )
        ).all()
        await session.execute(
            update(Delivery).where(*mine, col(Delivery.remind_at).is_not(None)).values(remind_at=None)
        )
        failed_by, skipped_by = Counter(row[0] for row in failed), Counter(row[0] for row in skipped)
        events = [
            audit.event(
                "change.recipient_removed",
                actor=actor,
                at=at,
                change_id=change_id,
                user_id=user_id,
                reason=reason,
                failed=failed_by[change_id],
                skipped=skipped_by[change_id],
            )
            for change_id in sorted(failed_by.keys() | skipped_by.keys())
        ]
        await audit.write(session, events)
    return Stopped(deliveries=len(failed), notices=len(skipped))
