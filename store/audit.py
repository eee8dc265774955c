"""The audit log: one row per state change, written in the same transaction as the change itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from store.tables import AuditEvent

AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]


def event(
    kind: str,
    *,
    actor: str,
    at: datetime,
    change_id: int | None = None,
    delivery_id: int | None = None,
    **detail: Any,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "actor": actor,
        "at": at,
        "change_id": change_id,
        "delivery_id": delivery_id,
        "detail": detail,
    }


async def write(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    if events:
        await session.execute(insert(AUDIT), list(events))
