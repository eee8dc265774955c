"""Scheduled publish end to end through the Slack fake, on SQLite and PostgreSQL: a change scheduled in
the announce form waits, then is published at its moment (the FakeClock's), once; it can be published
now or cancelled from `/change-status`; a moment that passes while no process runs is published by the
next one; two processes ticking at once on PostgreSQL publish it once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import FakeClock, count, postgres_url
from tests.e2e.conftest import Realign, eventually
from tests.e2e.conftest import running as run_realign
from tests.e2e.slack_driver import SlackDriver
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import date

OPTIONS = {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_WORKING_HOURS": "always"}
AT_TEN = {"publish_on": date("2026-12-01"), "publish_time": {"type": "timepicker", "selected_time": "10:00"}}


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    return OPTIONS


async def schedule(realign: Realign) -> dict[str, Any]:
    """CHG-1 walked through the form with a publish moment of 10:00 today (the clock says 09:00; the
    announcer is in Europe/London, UTC in December); returns the modal the Schedule button leaves."""
    await announce(realign, publish=False, **AT_TEN)
    driver = realign.slack
    view = driver.open_view()
    review = str(driver.slack.views[view]["blocks"])
    assert "Publishes 1 Dec 2026 10:00 (Europe/London)" in review
    assert driver.slack.views[view]["submit"]["text"] == "Schedule"
    return await driver.submit(ANNOUNCER, view, {})


async def status(driver: SlackDriver) -> dict[str, Any]:
    return (await driver.command(ANNOUNCER, "/change-status", "CHG-1")).json()


async def click_in_status(driver: SlackDriver, user: str, action_id: str) -> None:
    shown = await status(driver)
    assert (
        await driver.click(user, {"ts": "1", "blocks": shown["blocks"]}, action_id=action_id)
    ).status == 200


async def ticked(realign: Realign) -> None:
    """Wait until a follow-up tick (which publishes what is due) has run whole since now: one started
    two seconds later or more (ticks run one at a time, every second)."""
    mark = datetime.now(UTC) + timedelta(seconds=2)
    never = "2000-01-01T00:00:00+00:00"
    await eventually(
        lambda: datetime.fromisoformat(realign.runtime.ticks.last().get("follow-up", never)) >= mark
    )


def dms(slack: FakeSlack) -> list[int]:
    return [len(slack.dms_to(user)) for user in EVERYONE]


async def test_a_scheduled_change_is_published_at_its_moment_once(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    scheduled = await schedule(realign)

    assert "CHG-1 is scheduled: it publishes 1 Dec 2026 10:00 (Europe/London)" in str(scheduled["view"])
    shown = str((await status(realign.slack))["blocks"])
    assert "(scheduled)" in shown and "Scheduled to publish 1 Dec 10:00 UTC" in shown
    assert "Publish now" in shown and "Cancel publishing" in shown
    clock.advance(minutes=59)
    await ticked(realign)
    assert dms(slack) == [0] * len(EVERYONE)
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'scheduled'") == 1

    clock.advance(minutes=1)
    await eventually(lambda: dms(slack) == [1] * len(EVERYONE))
    await realign.settled()
    clock.advance(hours=1)  # later ticks find nothing more to publish
    await ticked(realign)
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.published'") == 1
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'published'") == 1
    assert dms(slack) == [1] * len(EVERYONE)


async def test_the_announcer_can_cancel_a_scheduled_publish(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    await schedule(realign)

    await click_in_status(realign.slack, "U1", "realign.cancel_schedule")  # not the announcer's to cancel
    await eventually(lambda: any("only the announcer" in r.get("text", "") for r in slack.responses))
    await click_in_status(realign.slack, ANNOUNCER, "realign.cancel_schedule")
    await eventually(lambda: any("will not be published" in r.get("text", "") for r in slack.responses))

    clock.advance(hours=2)
    await ticked(realign)
    assert await count(realign.db, "SELECT count(*) FROM change WHERE state = 'cancelled'") == 1
    assert await count(realign.db, "SELECT count(*) FROM delivery") == 0
    assert dms(slack) == [0] * len(EVERYONE)
    assert "(cancelled)" in str((await status(realign.slack))["blocks"])


async def test_the_announcer_can_publish_a_scheduled_change_now(
    realign: Realign, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    await schedule(realign)

    await click_in_status(realign.slack, ANNOUNCER, "realign.publish_now")

    await eventually(lambda: dms(slack) == [1] * len(EVERYONE))
    await realign.settled()
    clock.advance(hours=2)  # its moment passes: nothing more
    await click_in_status(realign.slack, ANNOUNCER, "realign.close")  # still a normal, published change
    await eventually(lambda: any("is closed" in r.get("text", "") for r in slack.responses))
    assert dms(slack) == [1] * len(EVERYONE)
    assert await count(realign.db, "SELECT count(*) FROM audit_event WHERE kind = 'change.published'") == 1


@asynccontextmanager
async def running(database_url: str, slack: FakeSlack, clock: FakeClock) -> AsyncIterator[Realign]:
    async with run_realign(database_url, slack, clock, **OPTIONS) as app:
        yield app


async def test_a_moment_that_passed_while_no_process_ran_is_published_by_the_next(
    database_url: str, slack: FakeSlack, clock: FakeClock
) -> None:
    seed(slack)
    async with running(database_url, slack, clock) as before:
        await schedule(before)
    clock.advance(hours=3)  # Realign is down at 10:00

    async with running(database_url, slack, clock) as after:
        await eventually(lambda: dms(slack) == [1] * len(EVERYONE))
        await after.settled()
        assert await count(after.db, "SELECT count(*) FROM change WHERE state = 'published'") == 1
    assert dms(slack) == [1] * len(EVERYONE)


async def test_two_processes_ticking_at_once_publish_it_once_on_postgresql(
    slack: FakeSlack, clock: FakeClock
) -> None:
    """Several delivering processes share one change on PostgreSQL (SQLite runs one process)."""
    database_url = postgres_url()
    seed(slack)
    async with running(database_url, slack, clock) as first, running(database_url, slack, clock) as second:
        await schedule(first)
        clock.advance(hours=1)  # both engines tick every second from now on

        await eventually(lambda: dms(slack) == [1] * len(EVERYONE))
        await first.settled()
        await second.settled()
        assert await count(first.db, "SELECT count(*) FROM delivery WHERE state = 'delivered'") == 6
        published = "SELECT count(*) FROM audit_event WHERE kind = 'change.published'"
        assert await count(first.db, published) == 1
    assert dms(slack) == [1] * len(EVERYONE)
