"""Teams delivery under trouble, and follow-up: a 429 storm loses and duplicates nothing; a blocked
user and an uninstalled app are failed with the reason; 5xx are retried by the engine (botbuilder
retries no POST); reminders go to those pending only, one escalation per manager, the gap report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest_asyncio
from sqlalchemy import text

from adapters.teams import cards
from tests.conftest import FakeClock, count
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, TEAM, announce, install, seed
from tests.fakes.teams_connector import FakeConnector

MANAGERS = {"29:s1": "29:m1", "29:s2": "29:m1", "29:s3": "29:m1", "29:s4": "29:m2", "29:o5": "29:m2"}


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    settings = {
        "REALIGN_SWEEP_INTERVAL": "1s",
        "REALIGN_WORKING_HOURS": "always",
        "REALIGN_REMIND_AFTER": "5s",
        "REALIGN_ESCALATE_AFTER": "12s",
        "TEAMS_POST_RATE": "200",
    }
    async with running(database_url, fake, clock, **settings) as app:
        yield app


def announcements(fake: FakeConnector, user: str) -> list[dict[str, object]]:  # noqa: F811
    """The announcement cards in the user's 1:1 chat (not the reminders the moving clock brings)."""
    return [card for card in fake.cards_to(user) if str(card["body"][0]["text"]).startswith("Change ")]


async def until(
    check: Callable[[], object], clock: FakeClock, *, within: float = 30.0, step: float = 1
) -> None:
    """Wait for `check()`, moving the test clock on so retries (Retry-After, backoff) fall due."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {within}s: {check}")
        clock.advance(seconds=step)  # slowly: a lease (60s of the test clock) must outlast a batch
        await asyncio.sleep(0.25)


async def test_a_429_storm_and_5xx_lose_and_duplicate_nothing(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake, extra=40)
    await install(realign, fake)

    def storm() -> None:
        fake.rate_limit(8, retry_after=1)  # far below TEAMS_POST_RATE: a storm of 429s
        fake.fail("send_to_conversation", status=503, times=3)  # a gateway page, no effect
        fake.fail("send_to_conversation", status=502, code="ServiceError", times=2)

    await announce(realign, fake, sizes=(44, 3, 46), before_publish=storm)
    everyone = [u for u in fake.users if u != ANNOUNCER]
    assert len(everyone) == 46

    await until(lambda: all(len(announcements(fake, u)) == 1 for u in everyone), clock)
    await realign.settled()
    assert fake.rate_limited > 0
    assert all(len(announcements(fake, u)) == 1 for u in everyone)  # nobody twice (reminders aside)
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE state = 'delivered'") == 46
    assert await count(realign.db, "SELECT count(*) FROM teams_sent WHERE kind = 'delivery'") == 46


async def test_blocked_and_uninstalled_people_fail_with_the_reason_in_words(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    await install(realign, fake)
    fake.block("29:s2")
    fake.uninstall("29:s3")
    await announce(realign, fake)
    reached = [u for u in EVERYONE if u not in ("29:s2", "29:s3")]
    await until(lambda: all(len(announcements(fake, u)) == 1 for u in reached), clock, step=0)
    await realign.settled()
    async with realign.db.engine.connect() as connection:
        rows: dict[str, str] = dict(
            (
                await connection.execute(
                    text("SELECT user_id, last_error FROM delivery WHERE state = 'failed'")
                )
            ).all()
        )
    assert sorted(rows.values()) == ["ConversationBlockedByUser", "ForbiddenOperationException"]
    assert fake.call_count("send_to_conversation") == 5  # a 403 is never retried
    await realign.teams.say(ANNOUNCER, "change-status CHG-1")
    status = str(realign.teams.last_card(ANNOUNCER))
    assert "blocked Realign" in status and "Realign is not installed for them" in status


async def test_reminders_escalations_and_the_gap_report(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    for manager in ("29:m1", "29:m2"):
        fake.add_user(manager, name=f"Manager {manager[3:]}")
        fake.conversations[TEAM].members.append(manager)  # managers are in the team too
    await install(realign, fake)
    async with realign.db.transaction() as session:
        for user, manager in MANAGERS.items():
            await session.execute(
                text("UPDATE person SET manager_id = :m WHERE user_id = :u"),
                {"m": fake.users[manager]["aadObjectId"], "u": fake.users[user]["aadObjectId"]},
            )
    await announce(realign, fake, sizes=(6, 3, 8))
    await until(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE), clock, step=0)
    delivered = {u: fake.cards_to(u)[0] for u in EVERYONE}
    for user in ("29:s1", "29:s4"):
        await realign.teams.execute(user, delivered[user], verb=cards.ACK_VERB)
    await realign.settled()

    clock.advance(seconds=5)  # the first reminder is due
    pending = ["29:s2", "29:s3", "29:o5", "29:o6"]
    await until(lambda: all(len(fake.cards_to(u)) == 2 for u in pending), clock, step=0)
    await realign.settled()
    assert "Reminder" in str(fake.cards_to("29:s2")[1])
    assert len(fake.cards_to("29:s1")) == 1 and len(fake.cards_to("29:s4")) == 1  # acknowledged: none

    clock.advance(seconds=8)  # past escalate_after: one message per manager with pending reports

    def escalations(manager: str) -> list[str]:  # managers are in the team: they have their own card too
        return [str(c) for c in fake.cards_to(manager) if "direct reports" in str(c)]

    await until(lambda: escalations("29:m1") and escalations("29:m2"), clock, step=0)
    await realign.settled()
    [m1] = escalations("29:m1")
    assert "2 of your direct reports" in m1 and "Person s2" in m1 and "Person s1" not in m1
    assert len(escalations("29:m2")) == 1
    await until(
        lambda: any("no manager on record" in str(c) for c in fake.cards_to(ANNOUNCER)), clock, step=0
    )


async def test_a_cold_fan_out_keeps_to_the_tenants_rate(
    database_url: str,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    """No 1:1 chat exists yet: each person costs two requests (create the chat, post the card), and both
    are paced, so the fan-out keeps to TEAMS_POST_RATE in every second (not twice it)."""
    seed(fake, extra=60)
    async with running(database_url, fake, clock, TEAMS_POST_RATE="20") as app:
        await install(app, fake)
        await announce(app, fake, sizes=(64, 3, 66))
        everyone = [u for u in fake.users if u != ANNOUNCER]
        await until(lambda: all(len(announcements(fake, u)) == 1 for u in everyone), clock, step=0.1)
        await app.settled()
    calls = sorted(
        call.at for name in ("create_conversation", "send_to_conversation") for call in fake.calls_to(name)
    )
    assert len(calls) >= 2 * 66
    busiest = max(sum(1 for at in calls if start <= at < start + 1.0) for start in calls)
    assert busiest <= 20 * 1.1 + 2  # the rate, and the limiter's burst
