"""Follow-up messages as outbox rows: planning is idempotent, escalations go one per manager (the
delivery's manager, filled from the org chart when unknown at publishing), escalations and reports are
claimed before a reminder wave, and settling is fenced by attempt. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import text, update
from sqlmodel import col

from bot.model import AudienceGroup, Change, MessageRef, NoticeKind
from bot.ports import Deferred, Failed, Outcome, Recipient, Sent, Skipped
from store.changes import SqlChangeStore
from store.db import Database
from store.followup import MOOT_ACKNOWLEDGED, SqlFollowUp
from store.people import SqlPeople
from store.tables import Delivery
from tests.conftest import FakeClock, count

WORKSPACE = "slack:T1"
LEASE = timedelta(minutes=1)
PEOPLE = [f"U{i}" for i in range(1, 7)]  # U1-U3 report to UM1, U4-U5 to UM2, U6 to nobody


async def published(db: Database, clock: FakeClock) -> tuple[SqlFollowUp, int]:
    """A change delivered to PEOPLE, with every reminder, the escalation and the report due now."""
    await SqlPeople(db).ensure_workspace(key=WORKSPACE, platform="slack", name="Acme", at=clock.now())
    changes = SqlChangeStore(db)
    draft = Change(
        workspace=WORKSPACE,
        announcer_id="UANN",
        title="New CRM",
        what="We move to the new CRM.",
        why="",
        effective_date=date(2026, 12, 14),
        ack_deadline=date(2026, 12, 21),
        groups=[AudienceGroup("Everyone", "Log calls in the CRM", user_ids=tuple(PEOPLE))],
    )
    change = await changes.save_draft(draft, draft_ref="V1", at=clock.now())
    assert change.id is not None
    managers = {"U1": "UM1", "U2": "UM1", "U3": "UM1", "U4": "UM2"}  # U5's manager comes later
    change.escalate_at = change.report_at = clock.now()
    await changes.publish(
        change, [Recipient(u, 1, None, managers.get(u)) for u in PEOPLE], [], at=clock.now()
    )
    async with db.transaction() as session:
        await session.execute(
            text(
                "UPDATE delivery SET state = 'delivered', channel = 'D' || user_id, ts = '1.0', due_at = NULL"
            )
        )
        await session.execute(
            text(
                "INSERT INTO person (workspace, user_id, name, active, is_bot, manager_id, updated_at) "
                "VALUES ('slack:T1', 'U5', 'Five', true, false, 'UM2', '2026-12-01')"
            )
        )
    store = SqlFollowUp(db, changes)
    async with db.transaction() as session:  # every reminder due now (settled announcements set it)
        await session.execute(
            text("UPDATE delivery SET remind_at = (SELECT published_at FROM change WHERE id = change_id)")
        )
    return store, change.id


async def notices(db: Database, kind: NoticeKind) -> list[tuple[str, int]]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT user_id, seq FROM notice WHERE kind = :k ORDER BY user_id"), {"k": kind.value}
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_planning_twice_or_concurrently_writes_each_message_once(
    db: Database, clock: FakeClock
) -> None:
    store, _ = await published(db, clock)
    now = clock.now()
    planned = await asyncio.gather(*(store.plan_reminders(now=now, limit=100) for _ in range(3)))
    assert sum(planned) == len(PEOPLE)  # each due reminder was taken by one planner
    assert await store.plan_reminders(now=now, limit=100) == 0
    assert await notices(db, NoticeKind.REMINDER) == [(u, 1) for u in PEOPLE]

    escalations = await asyncio.gather(store.plan_escalations(now=now), store.plan_escalations(now=now))
    assert sum(escalations) == 3  # UM1, UM2, and the announcer for U6
    assert await store.plan_escalations(now=now) == 0
    assert await notices(db, NoticeKind.ESCALATION) == [("UM1", 0), ("UM2", 0)]
    assert await notices(db, NoticeKind.UNMANAGED) == [("UANN", 0)]
    assert await store.plan_reports(now=now) == 1 and await store.plan_reports(now=now) == 0


async def test_the_org_chart_fills_unknown_managers_so_escalation_and_status_agree(
    db: Database, clock: FakeClock
) -> None:
    store, change_id = await published(db, clock)
    await store.plan_escalations(now=clock.now())
    lists = await store.reports_pending_of(change_id, ["UM2", "UM1", "UNOBODY"], limit=10)
    reports, total = lists["UM2"]
    assert total == 2 and {p.user_id for p in reports} == {"U4", "U5"}  # U5 through the org chart
    assert await count(db, "SELECT count(*) FROM delivery WHERE manager_id = 'UM2'") == 2  # status sees it
    assert lists["UNOBODY"] == ([], 0)
    again = await store.reports_pending_of(change_id, ["UM1", None], limit=2)
    first, total = again["UM1"]
    assert again[None] == ([p for p in again[None][0] if p.user_id == "U6"], 1)  # no manager on record
    assert len(first) == 2 and total == 3  # the first few listed (by name), all counted
    assert [p.name for p in first] == sorted(p.name for p in lists["UM1"][0])[:2]


async def test_escalations_and_reports_go_before_a_reminder_wave(db: Database, clock: FakeClock) -> None:
    store, _ = await published(db, clock)
    await store.plan_reminders(now=clock.now(), limit=100)
    clock.advance(seconds=1)
    await store.plan_escalations(now=clock.now())
    await store.plan_reports(now=clock.now())
    first = await store.claim(now=clock.now(), limit=4, lease=LEASE, workspace=WORKSPACE)
    assert {c.kind for c in first} == {NoticeKind.ESCALATION, NoticeKind.UNMANAGED, NoticeKind.REPORT}
    assert len(first) == 4  # UM1, UM2, the unmanaged note, the report
    rest = await store.claim(now=clock.now(), limit=100, lease=LEASE, workspace=WORKSPACE)
    assert [c.kind for c in rest] == [NoticeKind.REMINDER] * len(PEOPLE)
    assert all(c.thread is not None and c.seq == 1 for c in rest)


async def test_settling_is_fenced_and_a_sent_reminder_schedules_the_next(
    db: Database, clock: FakeClock
) -> None:
    store, _ = await published(db, clock)
    await store.plan_reminders(now=clock.now(), limit=100)
    claims = {
        c.user_id: c for c in await store.claim(now=clock.now(), limit=100, lease=LEASE, workspace=WORKSPACE)
    }
    clock.advance(minutes=2)  # the lease ran out: another worker takes U1's over
    again = {
        c.user_id: c for c in await store.claim(now=clock.now(), limit=100, lease=LEASE, workspace=WORKSPACE)
    }
    assert again["U1"].unsure and again["U1"].attempt == 2
    next_at = clock.now() + timedelta(days=1)
    stale = Outcome(claims["U1"], Sent(_ref("U1")), remind_at=next_at)
    await store.settle([stale], now=clock.now())  # superseded: ignored
    assert await count(db, "SELECT count(*) FROM notice WHERE state = 'sent'") == 0

    await store.settle(
        [
            Outcome(again["U1"], Sent(_ref("U1")), remind_at=next_at),
            Outcome(again["U2"], Failed("account_inactive")),
            Outcome(again["U3"], Deferred(clock.now() + timedelta(hours=3))),
            Outcome(again["U4"], Skipped(MOOT_ACKNOWLEDGED)),
        ],
        now=clock.now(),
    )
    assert await count(db, "SELECT reminders_sent FROM delivery WHERE user_id = 'U1'") == 1
    assert (
        await count(db, "SELECT count(*) FROM delivery WHERE user_id = 'U1' AND remind_at IS NOT NULL") == 1
    )
    assert await count(db, "SELECT count(*) FROM delivery WHERE user_id = 'U2' AND remind_at IS NULL") == 1
    deferred = "SELECT attempts FROM notice WHERE user_id = 'U3' AND state = 'queued'"
    assert await count(db, deferred) == 1  # deferring used up no attempt
    audited = "SELECT count(*) FROM audit_event WHERE kind LIKE 'delivery.reminde%'"
    assert await count(db, audited) == 2  # the sent one and the failed one, each once


async def test_a_reminder_claimed_after_its_person_acknowledged_is_moot(
    db: Database, clock: FakeClock
) -> None:
    store, _ = await published(db, clock)
    await store.plan_reminders(now=clock.now(), limit=100)
    async with db.transaction() as session:
        acknowledged = update(Delivery).where(col(Delivery.user_id) == "U1")
        await session.execute(acknowledged.values(acknowledged_at=clock.now()))
    claims = {
        c.user_id: c for c in await store.claim(now=clock.now(), limit=100, lease=LEASE, workspace=WORKSPACE)
    }
    assert claims["U1"].moot == MOOT_ACKNOWLEDGED and claims["U2"].moot is None


def _ref(user: str) -> MessageRef:
    return MessageRef(f"D{user}", "2.0")
