"""The directory sync against the Slack fake, on SQLite and PostgreSQL: profile data is refreshed,
people who left are marked inactive (never deleted), and the org chart's fields survive a sync."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from adapters.slack.directory import SlackDirectory
from store.db import Database
from store.people import SqlPeople
from tests.conftest import FakeClock, count
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


async def test_sync_refreshes_profiles_and_marks_leavers_inactive(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    for user in ("U1", "U2", "U3"):
        slack.add_user(user, name=f"Person {user}", email=f"{user.lower()}@acme.test", tz="Europe/London")
    people = SqlPeople(db)
    directory = SlackDirectory(
        workspace="slack:T001",
        client=AsyncWebClient(token="xoxb-test", base_url=slack.url),
        people=people,
        clock=clock,
    )
    assert await directory.sync() == 3
    async with db.transaction() as session:
        await session.execute(
            text("UPDATE person SET manager_id = 'U1', department = 'Ops' WHERE user_id = 'U2'")
        )

    clock.advance(minutes=5)
    slack.add_user("U2", name="Person U2", email="u2@acme.test", tz="America/New_York")  # moved
    slack.add_user("U3", name="Person U3", deleted=True)  # deactivated
    slack.remove_user("U1")  # gone from the workspace altogether
    assert await directory.sync() == 2

    found = await people.get_many("slack:T001", ["U1", "U2", "U3"])
    assert found["U2"].tz == "America/New_York" and found["U2"].active
    assert (found["U2"].manager_id, found["U2"].department) == ("U1", "Ops")  # the org chart's, kept
    assert not found["U3"].active
    assert not found["U1"].active
    assert await count(db, "SELECT count(*) FROM person") == 3
