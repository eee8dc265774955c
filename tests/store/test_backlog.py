"""The backlog /metrics and /healthz show: outbox rows due now, by kind. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from store.backlog import SqlBacklog
from store.db import Database
from store.tables import Change, Delivery, Notice
from tests.conftest import FakeClock


def delivery(change_id: int, user_id: str, state: str, due_at: datetime | None) -> Delivery:
    return Delivery(change_id=change_id, user_id=user_id, group_mask=1, state=state, due_at=due_at)


def notice(
    change_id: int, kind: str, user_id: str, state: str, due_at: datetime | None, at: datetime
) -> Notice:
    return Notice(change_id=change_id, kind=kind, user_id=user_id, state=state, due_at=due_at, created_at=at)


async def test_only_rows_a_worker_would_claim_now_are_due(db: Database, clock: FakeClock) -> None:
    now = clock.now()
    past, future = now - timedelta(minutes=1), now + timedelta(hours=1)
    async with db.transaction() as session:
        change = Change(
            workspace="slack:T1",
            announcer_id="UANN",
            title="New CRM",
            what="We move to the new CRM.",
            effective_date=date(2026, 12, 14),
            ack_deadline=date(2026, 12, 21),
            state="published",
            created_at=now,
        )
        session.add(change)
        await session.flush()
        assert change.id is not None
        session.add_all(
            [
                delivery(change.id, "U1", "queued", past),  # due
                delivery(change.id, "U2", "sending", past),  # its lease ran out: due again
                delivery(change.id, "U3", "sending", future),  # in flight
                delivery(change.id, "U4", "queued", future),  # a retry, later
                delivery(change.id, "U5", "delivered", None),  # settled
                notice(change.id, "reminder", "U1", "queued", past, now),
                notice(change.id, "reminder", "U2", "queued", now, now),  # due this very moment
                notice(change.id, "reminder", "U3", "queued", future, now),  # outside working hours
                notice(change.id, "escalation", "UM1", "queued", past, now),
                notice(change.id, "report", "UANN", "sent", None, now),
            ]
        )

    due = await SqlBacklog(db).due(now=now)

    assert due == {"announcement": 2, "reminder": 2, "escalation": 1}


async def test_an_empty_outbox_has_nothing_due(db: Database, clock: FakeClock) -> None:
    assert await SqlBacklog(db).due(now=clock.now()) == {}
