"""Teams rosters kept up to date, end to end through the real HTTP app and the connector fake, on SQLite
and PostgreSQL: a member gone from a team's roster is inactive after the roster sync and excluded from
the next announcement as deactivated (and active again once back); people a conversationUpdate says
left are inactive at once; the time zone a person's Teams client reports lands on the person, survives
the roster sync (rosters carry none), and their reminders wait for their working hours."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest_asyncio
from sqlalchemy import select, text
from sqlmodel import col

from adapters.teams import forms
from store.tables import Notice
from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401  (fake: a fixture)
from tests.e2e.test_teams_delivery import until
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, ONCALL, TEAM, aad, basics, install, seed
from tests.fakes.teams_connector import FakeConnector

ACTIVE = "SELECT active FROM person WHERE user_id = :u"


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    settings = {"REALIGN_SWEEP_INTERVAL": "1s", "REALIGN_REMIND_AFTER": "5s", "TEAMS_POST_RATE": "200"}
    async with running(database_url, fake, clock, **settings) as app:
        yield app


async def person(realign: TeamsRealign, teams: FakeConnector, user: str, column: str) -> object:
    async with realign.db.engine.connect() as connection:
        query = text(f"SELECT {column} FROM person WHERE user_id = :u")
        return (await connection.execute(query, {"u": teams.users[user]["aadObjectId"]})).scalar_one()


async def announce_to(realign: TeamsRealign, teams: FakeConnector, *, people: tuple[str, ...]) -> None:
    """The announcer publishes CHG-1 to the team's channel and to `people` by name."""
    driver = realign.teams
    await driver.say(ANNOUNCER, "announce-change Weekend rota")
    group = {
        "name": "Support",
        "channels": TEAM,
        "people": aad(teams, *people),
        "today": "Weekdays only.",
        "from_effective": "Answer pages at weekends too.",
    }
    step = await driver.execute(
        ANNOUNCER, driver.last_card(ANNOUNCER), verb=forms.BASICS_VERB, inputs=basics() | group
    )
    review = step.body["value"]
    assert "**Support**:" in str(review["body"])  # the review, with the group's head count
    published = await driver.execute(ANNOUNCER, review, verb=forms.PUBLISH_VERB)
    assert "sending to" in str(published.body["value"])


async def test_a_member_gone_from_the_roster_is_inactive_after_the_sync_and_excluded(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    await install(realign, fake)
    assert await person(realign, fake, "29:s3", "active")
    fake.conversations[TEAM].members.remove("29:s3")  # left the team; nobody told Realign

    await realign.runtime.wiring.sync_directories()  # what the engine's hourly directory tick runs

    assert not await person(realign, fake, "29:s3", "active")
    assert all([await person(realign, fake, u, "active") for u in EVERYONE if u != "29:s3"])
    await announce_to(realign, fake, people=("29:s3",))  # named as a person: still not sent to
    reached = ["29:s1", "29:s2", "29:s4"]
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in reached))
    await realign.settled()
    assert fake.cards_to("29:s3") == []
    excluded = "SELECT last_error FROM delivery WHERE user_id = :u AND state = 'excluded'"
    async with realign.db.engine.connect() as connection:
        reason = (await connection.execute(text(excluded), {"u": aad(fake, "29:s3")})).scalar_one()
    assert reason == "deactivated"

    fake.conversations[TEAM].members.append("29:s3")  # back in the team
    await realign.runtime.wiring.sync_directories()
    assert await person(realign, fake, "29:s3", "active")


async def test_people_who_leave_a_team_are_inactive_at_once(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
) -> None:
    seed(fake)
    await install(realign, fake)
    rows = "SELECT count(*) FROM teams_member WHERE user_id = :u"
    assert await count(realign.db, rows, u=aad(fake, "29:s4")) == 2  # the team and its private channel

    left = fake.members_left(TEAM, ["29:s4"], by=ANNOUNCER)  # the conversationUpdate Teams sends
    assert (await realign.teams.post(left)).status == 200

    assert await count(realign.db, rows, u=aad(fake, "29:s4")) == 0
    assert not await person(realign, fake, "29:s4", "active")
    assert "29:s4" not in fake.conversations[ONCALL].members
    shown = await realign.teams.search(ANNOUNCER, "Person s", dataset=forms.PEOPLE_DATASET, top=50)
    found = {result["value"] for result in shown.body["value"]["results"]}
    assert aad(fake, "29:s1") in found and aad(fake, "29:s4") not in found  # pickers list the active


async def test_a_time_zone_from_client_info_lands_on_the_person_and_times_reminders(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    assert await person(realign, fake, "29:s1", "tz") is None  # rosters carry no time zone
    fake.timezones["29:s1"] = "Asia/Tokyo"  # 09:00 UTC is 18:00 there: after working hours

    assert (await realign.teams.say("29:s1", "help")).status == 200
    assert await person(realign, fake, "29:s1", "tz") == "Asia/Tokyo"
    await realign.runtime.wiring.sync_directories()  # the roster is written again ...
    assert await person(realign, fake, "29:s1", "tz") == "Asia/Tokyo"  # ... and keeps it

    await announce_to(realign, fake, people=())
    team = ["29:s1", "29:s2", "29:s3", "29:s4"]
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in team))
    await realign.settled()
    clock.advance(seconds=5)  # reminders are due: 09:00 in London, 18:00 in Tokyo
    await until(lambda: all(len(fake.cards_to(u)) == 2 for u in ("29:s2", "29:s3")), clock, step=0)
    await realign.settled()
    assert len(fake.cards_to("29:s1")) == 1  # waits for the morning in Tokyo
    waiting = select(col(Notice.due_at)).where(col(Notice.user_id) == aad(fake, "29:s1"))
    async with realign.db.reading() as session:
        due = (await session.scalars(waiting.where(col(Notice.state) == "queued"))).one()
    assert due == datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 09:00 the next morning in Tokyo
