"""Follow-up rules end to end, on the test clock: acknowledging from a reminder, a reminder that fails
for good, the recipient's working week across a weekend and a time-zone boundary, and the manager who is
escalated to seeing the person in /change-status."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually
from tests.e2e.test_slack_flow import EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import chosen, typed


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "09:00-17:00"}  # Monday to Friday


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


async def notices_due(realign: Realign, due: datetime) -> int:
    """Reminders waiting (deferred) for exactly `due`."""
    async with realign.db.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT due_at FROM notice WHERE state = 'queued'"))).all()
    return sum(1 for (at,) in rows if at is not None and str(at)[:16] == due.strftime("%Y-%m-%d %H:%M"))


async def test_acknowledging_from_a_reminder_updates_the_announcement_too(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    await announce(realign, remind_after=typed("1h"), reminders=chosen("1"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    clock.advance(hours=1)
    await eventually(lambda: len(slack.dms_to("U2")) == 2)
    reminder = slack.dms_to("U2")[1]
    assert buttons(reminder) == ["realign.acknowledge"]

    await realign.slack.click("U2", reminder, action_id="realign.acknowledge")
    asking = ["realign.ask", "realign.concern"]  # asking stays possible once acknowledged
    await eventually(
        lambda: buttons(slack.dms_to("U2")[0]) == asking and buttons(slack.dms_to("U2")[1]) == []
    )
    assert "Acknowledged" in str(slack.dms_to("U2")[0]["blocks"])  # the original, in place
    assert "Acknowledged" in str(slack.dms_to("U2")[1]["blocks"])
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 1


async def test_a_reminder_that_fails_for_good_ends_that_persons_reminders(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    await announce(realign, remind_after=typed("1h"), reminders=chosen("3"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    slack.add_user("U2", name="Person U2", deleted=True)  # deactivated after the announcement
    clock.advance(hours=1)
    await eventually(lambda: all(len(slack.dms_to(u)) == 2 for u in EVERYONE if u != "U2"))
    failed = "SELECT count(*) FROM notice WHERE user_id = 'U2' AND state = 'failed'"
    await until(lambda: count(realign.db, failed), 1)
    assert (
        await count(realign.db, "SELECT count(*) FROM delivery WHERE user_id = 'U2' AND remind_at IS NULL")
        == 1
    )
    clock.advance(hours=1)  # the second reminder goes to the others only
    await eventually(lambda: all(len(slack.dms_to(u)) == 3 for u in EVERYONE if u != "U2"))
    assert await count(realign.db, "SELECT count(*) FROM notice WHERE user_id = 'U2'") == 1
    reason = "SELECT count(*) FROM audit_event WHERE kind = 'delivery.reminded_failed'"
    assert await count(realign.db, reason) == 1


async def until(probe: Callable[[], Awaitable[int]], expected: int, *, within: float = 10) -> None:
    """Poll `probe` (a database count) until it gives `expected`, or fail with what it gave."""
    deadline = asyncio.get_running_loop().time() + within
    while (got := await probe()) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{probe} gave {got}, not {expected}, for {within}s")
        await asyncio.sleep(0.05)


async def test_reminders_wait_for_each_recipients_working_week(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    slack.add_user("U5", name="Person U5", tz="America/New_York")
    clock.current = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)  # Friday 15:00 in London, 10:00 in New York
    await announce(realign, remind_after=typed("4h"), reminders=chosen("1"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    clock.advance(hours=4)  # Friday 19:00 London (after hours), 14:00 in New York (working)
    await eventually(lambda: len(slack.dms_to("U5")) == 2)
    london = [u for u in EVERYONE if u != "U5"]
    monday_nine = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    await until(lambda: notices_due(realign, monday_nine), len(london))  # deferred to their Monday
    clock.current = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # Saturday morning: still waiting
    await until(lambda: notices_due(realign, monday_nine), len(london))
    assert all(len(slack.dms_to(u)) == 1 for u in london)
    clock.current = monday_nine
    await eventually(lambda: all(len(slack.dms_to(u)) == 2 for u in london))


async def test_the_manager_escalated_to_sees_the_person_in_status(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    slack.add_user("UM1", name="Manager One")
    assert realign.runtime.slack is not None
    await realign.runtime.slack.directory.sync()
    key = await announce(realign, escalate_after=typed("1h"), reminders=chosen("0"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    async with realign.db.transaction() as session:  # the org chart is imported after publishing
        await session.execute(text("UPDATE person SET manager_id = 'UM1' WHERE user_id IN ('U1', 'U2')"))
    clock.advance(hours=1)
    await eventually(lambda: len(slack.dms_to("UM1")) == 1)
    escalation = str(slack.dms_to("UM1")[0]["blocks"])
    assert "<@U1>" in escalation and "<@U2>" in escalation and "<@U3>" not in escalation
    status = str((await realign.slack.command("UM1", "/change-status", key)).json()["blocks"])
    assert "<@U1>" in status and "<@U2>" in status and "<@U3>" not in status
