"""The directory against the Slack fake, on SQLite and PostgreSQL: the sync refreshes profile data, marks
people who left inactive (never deleted) and keeps the org chart's fields; it waits out 429s, runs in
one process at a time under a lease; big channels are read in the background within a request budget;
cached member lists are bounded."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from adapters.slack.directory import SYNC_LEASE, SlackDirectory
from adapters.slack.membership import MemberCache
from bot import copy as text_of
from bot.errors import InvalidInput
from bot.model import AudienceGroup
from store.db import Database
from store.leases import SqlLeases
from store.people import SqlPeople
from tests.conftest import FakeClock, count
from tests.fakes.slack_api import FakeSlack

WORKSPACE = "slack:T001"


async def eventually(check: Callable[[], Any], *, within: float = 10.0) -> None:
    """Wait until `check()` is true (work goes on in the background)."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"still not true after {within}s"
        await asyncio.sleep(0.02)


async def until(read: Callable[[], Awaitable[Any]], expected: Any, *, within: float = 10.0) -> None:
    """Wait until `await read()` equals `expected`."""
    deadline = asyncio.get_running_loop().time() + within
    while (found := await read()) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"still {found!r}, not {expected!r}"
        await asyncio.sleep(0.02)


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


# --- 100,000-person workspaces ---------------------------------------------------------------------


def page_from(start: int) -> Callable[[dict[str, Any]], bool]:
    """Matches the users.list call for the page that begins at person `start` (the fake's cursor)."""
    cursor = base64.urlsafe_b64encode(str(start).encode()).decode() if start else ""
    return lambda params: (params.get("cursor") or "") == cursor


def audience(*, channels: tuple[str, ...] = (), usergroups: tuple[str, ...] = ()) -> AudienceGroup:
    return AudienceGroup(
        name="Everyone", from_effective="Use the new tool.", usergroup_ids=usergroups, channel_ids=channels
    )


def directory_for(
    slack: FakeSlack, db: Database, clock: FakeClock, *, leases: SqlLeases | None = None, holder: str = "p1"
) -> SlackDirectory:
    return SlackDirectory(
        workspace=WORKSPACE,
        client=AsyncWebClient(token="xoxb-test", base_url=slack.url),
        people=SqlPeople(db),
        clock=clock,
        leases=leases,
        holder=holder,
    )


async def test_throttled_pages_are_asked_for_again_and_nobody_is_lost(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.add_users(2_500)  # three pages of 1,000
    slack.throttle("users.list", when=page_from(1000), times=2)  # 429 + Retry-After: 0, twice
    slack.throttle("users.list", when=page_from(2000))
    directory = directory_for(slack, db, clock)

    assert await directory.sync() == 2_500

    assert slack.rate_limited == 3
    assert len(slack.calls_to("users.list")) == 3 + 3
    assert {call.params["limit"] for call in slack.calls_to("users.list")} == {"1000"}
    assert await count(db, "SELECT count(*) FROM person WHERE active") == 2_500


async def test_a_failed_walk_marks_nobody_inactive(db: Database, slack: FakeSlack, clock: FakeClock) -> None:
    slack.add_users(1_500)
    directory = directory_for(slack, db, clock)
    await directory.sync()
    clock.advance(hours=1)
    slack.error("users.list", "internal_error", when=page_from(1000))
    with pytest.raises(SlackApiError):
        await directory.sync()
    assert await count(db, "SELECT count(*) FROM person WHERE active") == 1_500


async def test_two_processes_syncing_at_once_do_the_work_once(
    database_url: str, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.add_users(1_200)
    slack.slow("users.list", seconds=0.3, times=2)  # long enough for both to try while one syncs
    first, second = Database(database_url), Database(database_url)  # as two processes
    try:
        results = await asyncio.gather(
            directory_for(slack, first, clock, leases=SqlLeases(first), holder="p1").sync(),
            directory_for(slack, second, clock, leases=SqlLeases(second), holder="p2").sync(),
        )
        assert sorted(results, key=str) == [1_200, None]
        assert len(slack.calls_to("users.list")) == 2  # one walk of two pages
        assert (
            await SqlLeases(first).holder(f"directory.sync:{WORKSPACE}", now=clock.now()) is None
        )  # released
        assert await count(first, "SELECT count(*) FROM person WHERE active") == 1_200
    finally:
        await first.close()
        await second.close()


async def test_a_dead_holders_lease_is_taken_over_once_expired(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.add_users(10)
    leases = SqlLeases(db)
    directory = directory_for(slack, db, clock, leases=leases)
    assert await leases.acquire(
        f"directory.sync:{WORKSPACE}", holder="crashed", now=clock.now(), ttl=SYNC_LEASE
    )

    assert await directory.sync() is None  # skipped, no error
    assert slack.calls_to("users.list") == []

    clock.advance(seconds=SYNC_LEASE.total_seconds() + 1)
    assert await directory.sync() == 10


async def test_a_long_sync_renews_its_lease(db: Database, slack: FakeSlack, clock: FakeClock) -> None:
    slack.add_users(1_200)
    slack.slow("users.list", seconds=0.5, times=2)
    leases = SqlLeases(db)
    syncing = directory_for(slack, db, clock, leases=leases, holder="p1")
    syncing.lease_ttl = timedelta(seconds=0.3)  # renewed every 0.1 s
    other = directory_for(slack, db, clock, leases=leases, holder="p2")
    name = f"directory.sync:{WORKSPACE}"

    running = asyncio.ensure_future(syncing.sync())
    await eventually(lambda: len(slack.calls_to("users.list")) == 1)
    clock.advance(seconds=1)  # well past the first lease's end
    await until(lambda: leases.holder(name, now=clock.now()), "p1")  # renewed from the new now
    assert await other.sync() is None

    assert await running == 1_200
    assert len(slack.calls_to("users.list")) == 2


# --- audiences from channels -------------------------------------------------------------------------


async def test_a_10000_member_channel_is_read_in_the_background_within_the_request_budget(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    members = [f"U{n:08d}" for n in range(10_000)]
    slack.add_channel("CBIG", members)
    directory = directory_for(slack, db, clock)
    directory.channel_wait = 60  # the page budget decides here, not the clock
    group = audience(channels=("CBIG",))

    with pytest.raises(InvalidInput) as still_loading:
        await directory.members(group)
    assert "still reading" in still_loading.value.errors["channels"]
    assert len(slack.calls_to("conversations.members")) <= directory.channel_pages + 1  # one may be in flight

    await eventually(lambda: ("channel", "CBIG") in directory.cache)
    assert await directory.members(group) == set(members)  # the announcer submits again
    calls = slack.calls_to("conversations.members")
    assert len(calls) == 10 and {call.params["limit"] for call in calls} == {"1000"}


async def test_a_channel_of_a_few_pages_resolves_in_the_request(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.add_channel("CMID", [f"U{n:04d}" for n in range(2_500)])
    directory = directory_for(slack, db, clock)
    assert len(await directory.members(audience(channels=("CMID",)))) == 2_500
    assert len(slack.calls_to("conversations.members")) == 3


async def test_a_private_channel_realign_is_not_in_is_refused_with_what_to_do(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.add_channel("GSECRET", ["U1", "U2"], private=True)
    directory = directory_for(slack, db, clock)
    group = audience(channels=("GSECRET",))

    with pytest.raises(InvalidInput) as refused:
        await directory.members(group)
    assert refused.value.errors == {"channels": text_of.CHANNEL_HIDDEN}

    slack.add_channel("GSECRET", ["U1", "U2", "UBOT"], private=True)  # /invite @Realign
    assert await directory.members(group) == {"U1", "U2", "UBOT"}


async def test_cached_groups_are_bounded(db: Database, slack: FakeSlack, clock: FakeClock) -> None:
    for n in range(3):
        slack.add_usergroup(f"S{n}", f"team{n}", [f"U{n}a", f"U{n}b"])
    directory = directory_for(slack, db, clock)
    directory.cache = MemberCache(max_groups=2, max_members=100)
    for n in (0, 1, 0, 2):  # S1 is the least recently used when S2 comes in
        await directory.members(audience(usergroups=(f"S{n}",)))
    assert len(slack.calls_to("usergroups.users.list")) == 3
    await directory.members(audience(usergroups=("S0",)))  # still cached
    await directory.members(audience(usergroups=("S1",)))  # evicted: asked again
    assert len(slack.calls_to("usergroups.users.list")) == 4


def test_the_member_cache_holds_at_most_so_many_groups_and_member_ids() -> None:
    cache = MemberCache(max_groups=3, max_members=10)
    for n in range(3):
        cache.put(("channel", f"C{n}"), frozenset({f"U{n}a", f"U{n}b", f"U{n}c"}))
    assert (len(cache), cache.members) == (3, 9)
    cache.get(("channel", "C0"))
    cache.put(("channel", "C3"), frozenset({"U3a", "U3b"}))  # 11 ids: the least recent goes
    assert ("channel", "C1") not in cache and ("channel", "C0") in cache
    assert (len(cache), cache.members) == (3, 8)
    cache.put(("channel", "C4"), frozenset(f"U{n}" for n in range(50)))  # bigger than the bound alone
    assert (len(cache), cache.members) == (1, 50)
    cache.put(("channel", "C4"), frozenset({"U1"}))  # replaced, counted once
    assert (len(cache), cache.members) == (1, 1)


async def test_the_request_path_never_waits_out_a_429(
    db: Database, slack: FakeSlack, clock: FakeClock
) -> None:
    slack.add_usergroup("S1", "support", ["U1"])
    slack.throttle("usergroups.users.list", retry_after=30)
    directory = directory_for(slack, db, clock)
    with pytest.raises(SlackApiError) as throttled:
        await asyncio.wait_for(directory.members(audience(usergroups=("S1",))), timeout=5)
    assert throttled.value.response.status_code == 429
    assert len(slack.calls_to("usergroups.users.list")) == 1
