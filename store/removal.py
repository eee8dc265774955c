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
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
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


async def _stop(
    session: AsyncSession, *, deliveries: tuple[Any, ...], notices: tuple[Any, ...], reason: str
) -> tuple[Counter[int], Counter[int]]:
    """Fail the waiting deliveries and skip the waiting notices that match, end their reminders; how
    many of each, by change."""
    failed = (
        await session.execute(
            update(Delivery)
            .where(*deliveries, col(Delivery.state).in_(WAITING))
            .values(state=DeliveryState.FAILED, due_at=None, last_error=reason, remind_at=None)
            .returning(col(Delivery.change_id))
        )
    ).all()
    skipped = (
        await session.execute(
            update(Notice)
            .where(*notices, col(Notice.state).in_(WAITING))
            .values(state="skipped", due_at=None, last_error=reason)
            .returning(col(Notice.change_id))
        )
    ).all()
    await session.execute(
        update(Delivery).where(*deliveries, col(Delivery.remind_at).is_not(None)).values(remind_at=None)
    )
    return Counter(row[0] for row in failed), Counter(row[0] for row in skipped)


async def _audit(
    session: AsyncSession, kind: str, stopped: tuple[Counter[int], Counter[int]], **detail: Any
) -> Stopped:
    """One audit event per change that had something stopped."""
    failed_by, skipped_by = stopped
    events = [
        audit.event(
            kind, change_id=change_id, failed=failed_by[change_id], skipped=skipped_by[change_id], **detail
        )
        for change_id in sorted(failed_by.keys() | skipped_by.keys())
    ]
    await audit.write(session, events)
    return Stopped(deliveries=sum(failed_by.values()), notices=sum(skipped_by.values()))


async def stop_workspace(db: Database, *, workspace: str, reason: str, actor: str, at: datetime) -> Stopped:
    """Fail the workspace's waiting deliveries, skip its waiting notices, plan no more follow-up."""
    async with db.transaction() as session:
        stopped = await _stop(
            session,
            deliveries=(in_workspace(col(Delivery.change_id), workspace),),
            notices=(in_workspace(col(Notice.change_id), workspace),),
            reason=reason,
        )
        await session.execute(
            update(Change)
            .where(col(Change.workspace) == workspace)
            .where((col(Change.escalate_at).is_not(None)) | (col(Change.report_at).is_not(None)))
            .values(escalate_at=None, report_at=None)
        )
        return await _audit(session, "change.workspace_removed", stopped, actor=actor, at=at, reason=reason)


async def stop_person(
    db: Database, *, workspace: str, user_id: str, reason: str, actor: str, at: datetime
) -> Stopped:
    """One person removed Realign (a Teams personal uninstall): fail their waiting deliveries, skip the
    follow-up waiting for them and remind them no more, in one transaction. Everyone else goes on."""
    async with db.transaction() as session:
        stopped = await _stop(
            session,
            deliveries=(col(Delivery.user_id) == user_id, in_workspace(col(Delivery.change_id), workspace)),
            notices=(col(Notice.user_id) == user_id, in_workspace(col(Notice.change_id), workspace)),
            reason=reason,
        )
        return await _audit(
            session, "change.recipient_removed", stopped, actor=actor, at=at, user_id=user_id, reason=reason
        )
