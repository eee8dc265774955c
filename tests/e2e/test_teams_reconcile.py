"""Teams exactly once for a send whose answer never came: before any resend the row is looked for in
the person's 1:1 chat through Microsoft Graph (the fake answers Graph too), by the client-generated id
every card carries. Found: settled as delivered, never posted again. Not there: sent. The lookup
itself failing: the row stays unsure and is looked for again, never blindly resent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest_asyncio

from tests.conftest import FakeClock, count
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401
from tests.e2e.test_teams_delivery import announcements, until
from tests.e2e.test_teams_flow import EVERYONE, announce, install, seed
from tests.fakes.teams_connector import Call, FakeConnector


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    settings = {"TEAMS_POST_RATE": "200", "SLACK_API_TIMEOUT": "1", "MICROSOFT_GRAPH_URL": fake.graph_url}
    async with running(database_url, fake, clock, **settings) as app:
        yield app


def to(fake: FakeConnector, *users: str) -> Callable[[Call], bool]:  # noqa: F811
    """A fault filter: posts to these people's 1:1 chats."""
    chats = {fake.personal_conversation(u) for u in users}
    return lambda call: call.conversation_id in chats


async def delivered(realign: TeamsRealign) -> int:
    return await count(realign.db, "SELECT count(*) FROM delivery WHERE state = 'delivered'")


async def all_delivered(realign: TeamsRealign, clock: FakeClock, *, within: float = 30) -> None:
    """Move the test clock on (retries and lookups fall due) until every delivery is delivered."""
    for _ in range(int(within * 4)):
        if await delivered(realign) == len(EVERYONE):
            return
        clock.advance(seconds=1)
        await asyncio.sleep(0.25)
    raise AssertionError(f"only {await delivered(realign)} delivered after {within}s")


async def test_a_post_that_landed_but_was_never_answered_is_found_not_resent(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)

    def trouble() -> None:  # s1: posted, then a 504; s2: posted, then no answer within the timeout
        fake.fail("send_to_conversation", status=504, after_effect=True, when=to(fake, "29:s1"))
        fake.slow("send_to_conversation", seconds=3, after_effect=True, when=to(fake, "29:s2"))

    await announce(realign, fake, before_publish=trouble)
    await until(lambda: all(len(announcements(fake, u)) >= 1 for u in EVERYONE), clock)
    await all_delivered(realign, clock)
    assert {u: len(announcements(fake, u)) for u in EVERYONE if len(announcements(fake, u)) != 1} == {}
    looked_in = {call.match["chat"] for call in fake.calls_to("graph_chat_messages")}
    assert looked_in == {fake.graph_chat_id("29:s1"), fake.graph_chat_id("29:s2")}
    # each card carries its client-generated id; the one found is recorded with its activity id
    ids = [str(fake.cards_to(u)[0]["body"][0]["id"]) for u in EVERYONE]
    assert all(i.startswith("realign-delivery-") for i in ids) and len(set(ids)) == len(EVERYONE)
    for user in ("29:s1", "29:s2"):
        activity = fake.activities_to(user)[0]["id"]
        assert (
            await count(realign.db, f"SELECT count(*) FROM teams_sent WHERE activity_id = '{activity}'") == 1
        )


async def test_a_post_that_never_landed_is_looked_for_then_sent_once(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)

    def trouble() -> None:  # a 500 before any effect: unsure to Realign, but nothing was posted
        fake.fail("send_to_conversation", status=500, times=1, when=to(fake, "29:s3"))

    await announce(realign, fake, before_publish=trouble)
    await until(lambda: all(len(announcements(fake, u)) >= 1 for u in EVERYONE), clock)
    await all_delivered(realign, clock)
    assert {u: len(announcements(fake, u)) for u in EVERYONE if len(announcements(fake, u)) != 1} == {}
    assert [c.match["chat"] for c in fake.calls_to("graph_chat_messages")] == [fake.graph_chat_id("29:s3")]


async def test_a_failing_lookup_keeps_the_row_unsure_and_never_resends_blindly(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)

    def trouble() -> None:  # posted then a 502; Graph then fails twice (a 503 page, a 429)
        fake.fail("send_to_conversation", status=502, after_effect=True, when=to(fake, "29:o5"))
        fake.fail("graph_chat_messages", status=503, times=1)
        fake.fail("graph_chat_messages", status=429, times=1, retry_after=1)

    await announce(realign, fake, before_publish=trouble)
    await until(lambda: len(fake.calls_to("graph_chat_messages")) >= 3, clock, within=40)
    looked = fake.calls_to("graph_chat_messages")
    await until(lambda: all(len(announcements(fake, u)) >= 1 for u in EVERYONE), clock)
    await all_delivered(realign, clock)
    assert len(looked) >= 3  # failed, throttled, then answered
    assert len(announcements(fake, "29:o5")) == 1  # the lookups that failed never led to a resend
    assert {u: len(announcements(fake, u)) for u in EVERYONE if len(announcements(fake, u)) != 1} == {}
