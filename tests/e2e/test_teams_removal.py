"""Realign removed in Teams, end to end through the real HTTP app and the connector fake, on SQLite and
PostgreSQL: a person who removes it from their personal scope has what waited for them failed (or
skipped) with the reason in words and is sent nothing more, while everyone else goes on; removing it
from a team makes that team's people inactive; removing its last install (installationUpdate and
conversationUpdate both, as Teams sends them) fails everything waiting in the tenant, once, and
nothing more is sent there; status shows the reason when Realign is added again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio

from tests.conftest import FakeClock, count
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401  (fake: a fixture)
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, TEAM, announce, install, seed
from tests.fakes.teams_connector import FakeConnector

WAITING = "SELECT count(*) FROM delivery WHERE state IN ('queued', 'sending')"
ENDED = "SELECT count(*) FROM {table} WHERE user_id = :u AND state = :state AND last_error = :reason"


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    settings = {
        "REALIGN_SWEEP_INTERVAL": "1s",
        "REALIGN_WORKING_HOURS": "always",
        "REALIGN_REMIND_AFTER": "5s",
        "TEAMS_POST_RATE": "200",
    }
    async with running(database_url, fake, clock, **settings) as app:
        yield app


def sends_to(teams: FakeConnector, conversation_id: str) -> int:
    return sum(call.conversation_id == conversation_id for call in teams.calls_to("send_to_conversation"))


async def holds(
    realign: TeamsRealign, sql: str, expected: int, *, within: float = 15, **params: object
) -> None:
    """Wait until the database answers `expected` to the count `sql`."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := await count(realign.db, sql, **params)) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{sql} {params}: {found}, not {expected}, after {within}s")
        await asyncio.sleep(0.1)


async def quiet_for(clock: FakeClock, *, minutes: int) -> None:
    """Let `minutes` of the test clock pass, in steps, with the engine ticking in between."""
    for _ in range(minutes):
        clock.advance(minutes=1)
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)


async def status_of(realign: TeamsRealign) -> str:
    assert (await realign.teams.say(ANNOUNCER, "change-status CHG-1")).status == 200
    return str(realign.teams.last_card(ANNOUNCER))


async def test_a_personal_uninstall_fails_only_that_persons_waiting_messages(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    for user in ("29:s1", "29:s2"):  # both have Realign in their personal scope too
        assert (await realign.teams.install(user)).status == 200
    s1, s2 = fake.personal_conversation("29:s1"), fake.personal_conversation("29:s2")
    aad1, aad2 = fake.users["29:s1"]["aadObjectId"], fake.users["29:s2"]["aadObjectId"]
    fake.fail("send_to_conversation", status=503, times=None, when=lambda call: call.conversation_id == s2)
    await announce(realign, fake)
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE if u != "29:s2"))
    await eventually(lambda: sends_to(fake, s2) >= 1)  # s2's card is waiting for a retry
    await realign.settled()

    # s1's reminder cannot go out either: it waits, as a notice, for its next attempt.
    fake.fail("send_to_conversation", status=503, times=None, when=lambda call: call.conversation_id == s1)
    clock.advance(seconds=5)
    reminder = "SELECT count(*) FROM notice WHERE user_id = :u AND state = 'queued' AND attempts > 0"
    await holds(realign, reminder, 1, u=aad1)
    await realign.settled()

    # s1 removes Realign (Teams says so with a conversationUpdate), s2 too (with an installationUpdate).
    assert (await realign.teams.post(fake.removed_by("29:s1"))).status == 200
    assert (await realign.teams.post(fake.installation_update("29:s2", "remove"))).status == 200

    reason = "teams_removed_by_user"
    assert await count(realign.db, ENDED.format(table="delivery"), u=aad2, state="failed", reason=reason) == 1
    assert await count(realign.db, ENDED.format(table="notice"), u=aad1, state="skipped", reason=reason) == 1
    mine = "SELECT count(*) FROM delivery WHERE user_id = :u AND state = 'delivered' AND remind_at IS NULL"
    assert await count(realign.db, mine, u=aad1) == 1  # delivered stays delivered; no more reminders
    assert await count(realign.db, WAITING) == 0
    events = "SELECT count(*) FROM audit_event WHERE kind = 'change.recipient_removed'"
    assert await count(realign.db, events) == 2
    status = await status_of(realign)
    assert "they removed Realign" in status and "Failed 1" in status

    tried = sends_to(fake, s1), sends_to(fake, s2)
    others = len(fake.cards_to("29:s3"))
    await quiet_for(clock, minutes=10)  # retries and reminders would all be due by now
    assert (sends_to(fake, s1), sends_to(fake, s2)) == tried  # nothing more is sent to them
    assert len(fake.cards_to("29:s3")) > others  # the others' reminders go on


async def test_removing_the_last_install_stops_the_tenant_once(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    fake.fail("send_to_conversation", status=503, times=None)  # every card waits for a retry
    await announce(realign, fake)
    await eventually(lambda: all(fake.personal_conversation(u) in fake.conversations for u in EVERYONE))
    await eventually(lambda: all(sends_to(fake, fake.personal_conversation(u)) for u in EVERYONE))
    await realign.settled()
    assert await count(realign.db, WAITING) == 6

    # Removed from the team: the announcer's personal scope is still an install, so nothing fails, but
    # the team's people are in no install now.
    assert (await realign.teams.post(fake.removed_by(ANNOUNCER, conversation_id=TEAM))).status == 200
    assert await count(realign.db, "SELECT count(*) FROM teams_install") == 1
    assert await count(realign.db, WAITING) == 6
    inactive = "SELECT count(*) FROM person WHERE NOT active"
    assert await count(realign.db, inactive) == len(EVERYONE)
    announcer = fake.users[ANNOUNCER]["aadObjectId"]
    assert await count(realign.db, "SELECT count(*) FROM person WHERE active AND user_id = :u", u=announcer)

    # The last install goes: Teams sends both an installationUpdate and a conversationUpdate.
    assert (await realign.teams.post(fake.installation_update(ANNOUNCER, "remove"))).status == 200
    assert (await realign.teams.post(fake.removed_by(ANNOUNCER))).status == 200
    assert await count(realign.db, "SELECT count(*) FROM teams_install") == 0
    assert await count(realign.db, WAITING) == 0
    failed = "SELECT count(*) FROM delivery WHERE state = 'failed' AND last_error = 'teams_removed'"
    assert await count(realign.db, failed) == 6
    removed = "SELECT count(*) FROM audit_event WHERE kind = 'change.workspace_removed'"
    assert await count(realign.db, removed) == 1  # the second removal found nothing left to stop

    posted = len(fake.calls_to("send_to_conversation"))
    await quiet_for(clock, minutes=10)
    assert len(fake.calls_to("send_to_conversation")) == posted  # nothing more is sent there

    # Added again, the announcer sees why the change reached nobody.
    fake.uninstalled.discard(ANNOUNCER)
    assert (await realign.teams.install(ANNOUNCER)).status == 200
    status = await status_of(realign)
    assert "Failed 6" in status and "Realign was removed from this tenant" in status
