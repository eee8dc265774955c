"""Scheduled publish and the capacity check in the database: a due scheduled change is claimed by one
claimer at a time (two racing claims take it once; a lease that ran out lets another take it over); the
publish writes its deliveries once even when two publishers get that far; cancelling stops it; the
capacity notices are planned in the publish's transaction, one per manager; answers are the asked
managers' only, replaced when given again, counted worst first. Migration 0011 makes the tables as
declared. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from bot.capacity import CapacityAnswer
from bot.errors import NotAllowed, NotFound
from bot.model import AudienceGroup, Change, ChangeState
from bot.ports import Recipient
from store.capacity import SqlCapacity
from store.changes import SqlChangeStore
from store.db import Database, parse_url
from store.migrate import config, upgrade
from store.people import SqlPeople
from store.schedule import SqlSchedule
from store.tables import CapacityAnswer as AnswerRow
from tests.conftest import FakeClock, count

WORKSPACE = "slack:T1"
LEASE = timedelta(minutes=2)
MANAGERS = {"U1": "UM1", "U2": "UM1", "U3": "UM2", "U4": "UANN"}  # U5: nobody; UANN is the announcer


async def drafted(db: Database, clock: FakeClock, *, publish_at: datetime, capacity: bool = False) -> Change:
    await SqlPeople(db).ensure_workspace(key=WORKSPACE, platform="slack", name="Acme", at=clock.now())
    draft = Change(
        workspace=WORKSPACE,
        announcer_id="UANN",
        title="New CRM",
        what="We move to the new CRM.",
        why="",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 10),
        groups=[AudienceGroup("Everyone", "Log calls in the CRM", user_ids=("U1", "U2", "U3", "U4", "U5"))],
        publish_at=publish_at,
        capacity_check=capacity,
    )
    return await SqlChangeStore(db).save_draft(draft, draft_ref="V1", at=clock.now())


def recipients() -> list[Recipient]:
    return [Recipient(u, 1, None, MANAGERS.get(u)) for u in ("U1", "U2", "U3", "U4", "U5")]


async def test_a_due_scheduled_change_is_claimed_once_and_again_only_after_its_lease(
    db: Database, clock: FakeClock
) -> None:
    change = await drafted(db, clock, publish_at=clock.now() + timedelta(hours=1))
    assert change.id is not None and change.publish_at is not None
    schedule = SqlSchedule(db)
    assert await schedule.schedule(change.id, actor="UANN", at=clock.now())
    assert not await schedule.schedule(change.id, actor="UANN", at=clock.now())  # already scheduled
    assert await schedule.claim_due(now=clock.now(), lease=LEASE, limit=10) == []  # not yet due

    clock.advance(hours=1)
    claims = await asyncio.gather(
        *(schedule.claim_due(now=clock.now(), lease=LEASE, limit=10) for _ in range(4))
    )
    assert sorted(len(c) for c in claims) == [0, 0, 0, 1]  # racing claimers: one takes it
    assert next(c for c in claims if c)[0].key == change.key
    assert await schedule.claim_due(now=clock.now() + LEASE / 2, lease=LEASE, limit=10) == []
    again = await schedule.claim_due(now=clock.now() + LEASE, lease=LEASE, limit=10)  # claimer gone
    assert [c.change_id for c in again] == [change.id]

    reloaded = await SqlChangeStore(db).get(change.key)
    assert reloaded is not None and reloaded.state is ChangeState.SCHEDULED
    assert reloaded.publish_at == change.publish_at  # the claim leaves the moment as it was


async def test_two_publishers_of_a_scheduled_change_write_its_deliveries_once(
    db: Database, clock: FakeClock
) -> None:
    change = await drafted(db, clock, publish_at=clock.now() + timedelta(minutes=5))
    assert change.id is not None
    await SqlSchedule(db).schedule(change.id, actor="UANN", at=clock.now())
    change.state = ChangeState.SCHEDULED
    changes = SqlChangeStore(db)

    firsts = await asyncio.gather(
        *(changes.publish(change, recipients(), [], at=clock.now()) for _ in range(3))
    )

    assert sorted(firsts) == [False, False, True]
    assert await count(db, "SELECT count(*) FROM delivery") == 5
    assert await count(db, "SELECT count(*) FROM audit_event WHERE kind = 'change.published'") == 1
    assert await SqlSchedule(db).claim_due(now=clock.now() + timedelta(hours=1), lease=LEASE, limit=9) == []


async def test_a_cancelled_scheduled_change_is_never_published(db: Database, clock: FakeClock) -> None:
    change = await drafted(db, clock, publish_at=clock.now() + timedelta(minutes=5))
    assert change.id is not None
    schedule = SqlSchedule(db)
    await schedule.schedule(change.id, actor="UANN", at=clock.now())

    assert await schedule.cancel(change.id, actor="UANN", at=clock.now())
    assert not await schedule.cancel(change.id, actor="UANN", at=clock.now())

    assert await schedule.claim_due(now=clock.now() + timedelta(hours=1), lease=LEASE, limit=9) == []
    assert not await SqlChangeStore(db).publish(change, recipients(), [], at=clock.now())
    assert await count(db, "SELECT count(*) FROM delivery") == 0
    kinds = "SELECT count(*) FROM audit_event WHERE kind IN ('change.scheduled', 'change.schedule_cancelled')"
    assert await count(db, kinds) == 2


async def test_capacity_notices_are_planned_with_the_publish_one_per_manager(
    db: Database, clock: FakeClock
) -> None:
    change = await drafted(db, clock, publish_at=clock.now(), capacity=True)
    changes = SqlChangeStore(db)
    assert await changes.publish(change, recipients(), [], at=clock.now())
    assert not await changes.publish(change, recipients(), [], at=clock.now())

    managers = "SELECT count(*) FROM notice WHERE kind = 'capacity' AND user_id IN ('UM1', 'UM2')"
    assert await count(db, managers) == 2  # UM1 once for two reports; the announcer is not asked
    assert await count(db, "SELECT count(*) FROM notice") == 2


async def test_only_asked_managers_answer_and_answering_again_replaces_it(
    db: Database, clock: FakeClock
) -> None:
    change = await drafted(db, clock, publish_at=clock.now(), capacity=True)
    assert change.id is not None
    await SqlChangeStore(db).publish(change, recipients(), [], at=clock.now())
    store = SqlCapacity(db)

    def answer(manager: str, given: CapacityAnswer, comment: str = "", key: str = change.key) -> Any:
        return store.answer(
            workspace=WORKSPACE,
            change_key=key,
            manager_id=manager,
            answer=given,
            comment=comment,
            at=clock.now(),
        )

    with pytest.raises(NotAllowed):
        await answer("U1", CapacityAnswer.YES)  # a recipient, not a manager Realign asked
    with pytest.raises(NotFound):
        await answer("UM1", CapacityAnswer.YES, key="CHG-999")
    first = await answer("UM1", CapacityAnswer.YES)
    assert first.answer is CapacityAnswer.YES and first.announcer_id == "UANN"
    await answer("UM1", CapacityAnswer.NO, "Two people are on leave.")
    await answer("UM2", CapacityAnswer.HELP)

    summary = await store.summary(change.id, limit=10)
    assert summary.asked == 2 and summary.answered == 2
    assert [(r.manager_id, r.answer, r.comment) for r in summary.replies] == [
        ("UM1", CapacityAnswer.NO, "Two people are on leave."),
        ("UM2", CapacityAnswer.HELP, ""),
    ]
    assert await count(db, "SELECT count(*) FROM audit_event WHERE kind = 'capacity.answered'") == 3


def test_migration_0011_creates_the_tables_as_declared(bare_database_url: str) -> None:
    upgrade(bare_database_url, "0011")
    engine = create_engine(parse_url(bare_database_url, sync=True))
    try:
        found = inspect(engine)
        columns = {c["name"]: c["nullable"] for c in found.get_columns("capacity_answer")}
        change_columns = {c["name"] for c in found.get_columns("change")}
        group_columns = {c["name"] for c in found.get_columns("audience_group")}
        change_indexes = {i["name"] for i in found.get_indexes("change")}
    finally:
        engine.dispose()
    table = AnswerRow.__table__  # type: ignore[attr-defined]
    assert columns == {c.name: c.nullable for c in table.columns}
    assert {"publish_at", "publish_lease", "capacity_check"} <= change_columns
    assert "customer_facing" in group_columns and "ix_change_publish_at" in change_indexes

    command.downgrade(config(bare_database_url), "0010")  # and back down
    engine = create_engine(parse_url(bare_database_url, sync=True))
    try:
        assert "capacity_answer" not in inspect(engine).get_table_names()
        assert "publish_at" not in {c["name"] for c in inspect(engine).get_columns("change")}
    finally:
        engine.dispose()
