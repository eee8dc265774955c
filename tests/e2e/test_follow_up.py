"""Closing the gap end to end: reminders to non-acknowledgers only, one escalation per manager,
the gap report at the deadline, and a reminder that falls due during a restart sent exactly once."""

from __future__ import annotations

import asyncio
from copy import deepcopy
from typing import Any

import pytest
from sqlalchemy import text

from realign.engine import Engine
from realign.runtime import Runtime
from tests.conftest import FakeClock
from tests.e2e.conftest import Realign, eventually, settings
from tests.e2e.engine import publish_to_everyone, staff
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import chosen, typed

MANAGERS = {"U1": "UM1", "U2": "UM1", "U3": "UM1", "U4": "UM2", "U5": "UM2"}  # U6 has no manager on record


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}


async def org_chart(realign: Realign, slack: FakeSlack) -> None:
    """The flow's people plus two managers, synced, with MANAGERS and a department on record."""
    seed(slack)
    for manager in ("UM1", "UM2"):
        slack.add_user(manager, name=f"Manager {manager}")
    assert realign.runtime.slack is not None
    await realign.runtime.slack.directory.sync()
    async with realign.db.transaction() as session:
        for user, manager in MANAGERS.items():
            await session.execute(
                text("UPDATE person SET manager_id = :m, department = 'Support' WHERE user_id = :u"),
                {"m": manager, "u": user},
            )


async def sweeps(realign: Realign, count: int = 2) -> None:
    """Let `count` follow-up ticks run (they run every REALIGN_SWEEP_INTERVAL)."""
    await asyncio.sleep((count + 0.5) * realign.runtime.settings.sweep_interval.total_seconds())


def texts(slack: FakeSlack, user: str) -> list[str]:
    return [message["text"] for message in slack.dms_to(user)]


async def test_reminders_escalations_and_the_gap_report(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    await org_chart(realign, slack)
    await announce(realign, remind_after=typed("5s"), reminders=chosen("2"), escalate_after=typed("12s"))
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    delivered = {u: deepcopy(slack.dms_to(u)[0]) for u in EVERYONE}
    for user in ("U1", "U4"):
        await realign.slack.click(user, delivered[user], action_id="realign.acknowledge")
    await eventually(lambda: all("Acknowledged" in str(slack.dms_to(u)[0]["blocks"]) for u in ("U1", "U4")))
    await realign.settled()
    clock.advance(seconds=5)  # first reminder due
    pending = ["U2", "U3", "U5", "U6"]
    await eventually(lambda: all(len(slack.dms_to(u)) == 2 for u in pending))
    await realign.settled()
    reminder = slack.dms_to("U2")[1]
    assert reminder["thread_ts"] == delivered["U2"]["ts"] and reminder["text"].startswith("Reminder")
    assert len(slack.dms_to("U1")) == 1 and len(slack.dms_to("U4")) == 1  # acknowledged: no reminder

    await realign.slack.click("U3", delivered["U3"], action_id="realign.acknowledge")  # acknowledges late
    clock.advance(seconds=5)  # second reminder due
    await eventually(lambda: all(len(slack.dms_to(u)) == 3 for u in ("U2", "U5", "U6")))
    await realign.settled()
    clock.advance(seconds=5)  # past escalate_after (12s); no third reminder (the policy says two)
    await eventually(lambda: slack.dms_to("UM1") and slack.dms_to("UM2"))
    await eventually(lambda: any("no manager on record" in t for t in texts(slack, ANNOUNCER)))
    clock.advance(seconds=2)
    await sweeps(realign)
    assert len(slack.dms_to("U3")) == 2 and len(slack.dms_to("U2")) == 3
    assert len(slack.dms_to("UM1")) == 1 and len(slack.dms_to("UM2")) == 1
    assert "<@U2>" in str(slack.dms_to("UM1")[0]["blocks"]) and "<@U3>" not in str(
        slack.dms_to("UM1")[0]["blocks"]
    )
    assert "<@U5>" in str(slack.dms_to("UM2")[0]["blocks"])
    assert "<@U6>" in str(slack.dms_to(ANNOUNCER)[0]["blocks"])

    clock.advance(days=21)  # past the acknowledgement deadline
    await eventually(lambda: any(t.startswith("Gap report for CHG-1") for t in texts(slack, ANNOUNCER)))
    report = next(m for m in slack.dms_to(ANNOUNCER) if m["text"].startswith("Gap report"))
    assert "3 still pending" in report["text"]
    assert "Reports of <@UM1>" in str(report["blocks"]) and "No manager on record" in str(report["blocks"])


async def test_closing_a_change_stops_reminders(realign: Realign, slack: FakeSlack, clock: FakeClock) -> None:
    seed(slack)
    key = await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))
    status = (await realign.slack.command(ANNOUNCER, "/change-status", key)).json()
    await realign.slack.click(ANNOUNCER, {"ts": "1", "blocks": status["blocks"]}, action_id="realign.close")
    await eventually(lambda: any("is closed" in r.get("text", "") for r in slack.responses))
    clock.advance(days=30)
    await sweeps(realign)
    assert all(len(slack.dms_to(u)) == 1 for u in EVERYONE)
    assert slack.dms_to(ANNOUNCER) == []


async def test_a_reminder_due_across_a_restart_is_sent_exactly_once(
    database_url: str, slack: FakeSlack, clock: FakeClock
) -> None:
    users = staff(slack, 20)
    options = {
        "REALIGN_SWEEP_INTERVAL": "1s",
        "REALIGN_WORKING_HOURS": "always",
        "REALIGN_REMIND_AFTER": "5s",
    }
    before = Runtime(settings(database_url, slack, **options), clock=clock)
    await before.open()
    assert before.slack is not None
    await before.slack.directory.sync()
    await publish_to_everyone(before)
    engine = Engine(before.settings, clock=clock, logins=before.wiring.logins)
    await engine.open()
    await engine.dispatcher.drain()  # delivered, no ticks running
    await engine.close()
    assert all(len(slack.dms_to(u)) == 1 for u in users)
    clock.advance(seconds=6)  # the reminders fall due ...
    await before.close()  # ... and the process stops before any tick sends them

    after = Runtime(settings(database_url, slack, **options), clock=clock)
    await after.open()
    await after.start_ticks()
    try:
        await eventually(lambda: all(len(slack.dms_to(u)) == 2 for u in users))
        clock.advance(seconds=1)  # not yet due again
        await asyncio.sleep(2.5)  # two more sweeps
        assert [len(slack.dms_to(u)) for u in users] == [2] * len(users)
    finally:
        await after.close()


async def test_managers_see_their_reports_only_and_status_breaks_down_by_department_and_manager(
    realign: Realign, slack: FakeSlack
) -> None:
    await org_chart(realign, slack)
    key = await announce(realign)
    await eventually(lambda: all(len(slack.dms_to(u)) == 1 for u in EVERYONE))

    manager_view = str((await realign.slack.command("UM2", "/change-status", key)).json()["blocks"])
    assert "Showing your direct reports only" in manager_view
    assert "Delivered 2 · Acknowledged 0 · Pending 2" in manager_view
    assert "<@U4>" in manager_view and "<@U5>" in manager_view and "<@U1>" not in manager_view
    assert "Close change" not in manager_view
    overview = str((await realign.slack.command("UM2", "/change-status")).json()["blocks"])
    assert key in overview and "0% (0/2)" in overview
    refused = await realign.slack.command("U6", "/change-status", key)
    assert "only the announcer of CHG-1" in refused.body

    full = str((await realign.slack.command(ANNOUNCER, "/change-status", key)).json()["blocks"])
    assert "*By department*" in full and "Support: `░░░░░░░░░░ 0% (0/5)`" in full
    assert "*By manager*" in full and "<@UM1>: `░░░░░░░░░░ 0% (0/3)`" in full
    assert "not on record: `░░░░░░░░░░ 0% (0/1)`" in full
