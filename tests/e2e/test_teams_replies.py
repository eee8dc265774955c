"""Interactive replies on Teams within the tenant's budget, through the real HTTP app and the connector
fake, on SQLite and PostgreSQL: the web loop's replies go at once and are paid for by the engine's
limiter of the tenant, so both loops together keep to TEAMS_POST_RATE; a 429 answering a reply is
waited out once and the reply still arrives; a second 429 is one line in the log, never a traceback,
and the turn is answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from copy import deepcopy

import pytest
import pytest_asyncio

from adapters.teams import cards
from adapters.teams.app import HELP
from adapters.teams.tenants import workspace_key
from tests.conftest import FakeClock
from tests.e2e.conftest import eventually
from tests.e2e.teams_driver import TeamsRealign, fake, running  # noqa: F401  (fake: a fixture)
from tests.e2e.test_teams_flow import ANNOUNCER, EVERYONE, announce, install, seed
from tests.fakes.teams_connector import FakeConnector


@pytest_asyncio.fixture
async def realign(database_url: str, fake: FakeConnector, clock: FakeClock) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    async with running(database_url, fake, clock, REALIGN_WORKING_HOURS="always") as app:
        yield app


def answers(teams: FakeConnector, user: str) -> list[str]:
    """The plain text the bot posted in the user's 1:1 chat."""
    return [a["text"] for a in teams.activities_to(user) if a.get("text") and not a.get("attachments")]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.exc_info or "Traceback" in record.getMessage()]


async def test_a_429_answering_a_command_is_waited_out_and_the_answer_arrives(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(fake)
    await install(realign, fake)
    fake.fail("reply_to_activity", status=429, retry_after=1, times=1)
    caplog.set_level(logging.INFO)

    started = asyncio.get_running_loop().time()
    answer = await realign.teams.say(ANNOUNCER, "help")

    assert answer.status == 200
    assert answers(fake, ANNOUNCER) == [HELP]  # it arrived, once
    tried = fake.calls_to("reply_to_activity")
    assert len(tried) == 2 and tried[1].at - tried[0].at >= 0.9  # again after Retry-After
    assert asyncio.get_running_loop().time() - started < 10
    assert tracebacks(caplog) == []


async def test_a_second_429_is_one_line_in_the_log_not_a_traceback(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(fake)
    await install(realign, fake)
    fake.fail("reply_to_activity", status=429, retry_after=1, times=2)
    caplog.set_level(logging.INFO)

    answer = await realign.teams.say(ANNOUNCER, "change-status")

    assert answer.status == 200  # the turn is answered: Teams does not send the activity again
    assert fake.call_count("reply_to_activity") == 2  # tried once more, then given up
    said = [r for r in caplog.records if "throttled" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "\n" not in said[0].getMessage()
    assert tracebacks(caplog) == []
    await realign.teams.say(ANNOUNCER, "help")  # Teams has calmed down: the next answer goes out
    assert answers(fake, ANNOUNCER) == [HELP]


async def test_a_card_refresh_after_a_click_survives_a_429(
    realign: TeamsRealign,
    fake: FakeConnector,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    seed(fake)
    await install(realign, fake)
    await announce(realign, fake)
    await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))
    await realign.settled()
    fake.fail("update_activity", status=429, retry_after=1, times=1)  # a PUT: urllib3 leaves it to Realign
    caplog.set_level(logging.INFO)

    card = deepcopy(fake.cards_to("29:s1")[0])
    assert (await realign.teams.execute("29:s1", card, verb=cards.ACK_VERB)).status == 200

    await eventually(lambda: "Acknowledged" in str(fake.cards_to("29:s1")[0]))  # updated in place
    assert fake.call_count("update_activity") == 2 and len(fake.activities_to("29:s1")) == 1
    assert tracebacks(caplog) == []


async def test_replies_are_paid_for_by_the_engines_budget_of_the_tenant(
    database_url: str,
    fake: FakeConnector,  # noqa: F811
    clock: FakeClock,
) -> None:
    seed(fake)
    async with running(database_url, fake, clock, TEAMS_POST_RATE="10") as app:
        await install(app, fake)
        await announce(app, fake)  # the engine now delivers to the tenant: it holds its limiter
        await eventually(lambda: all(len(fake.cards_to(u)) == 1 for u in EVERYONE))
        workspace = workspace_key(fake.tenant_id)
        assert app.runtime.engine is not None
        engine = app.runtime.engine.limiter(workspace)
        assert engine is not None and engine.whole == 10.0  # delivery has the whole rate while nobody clicks
        before = engine.spent

        done = await asyncio.gather(*(app.teams.say(ANNOUNCER, "help") for _ in range(3)))

        assert [answer.status for answer in done] == [200, 200, 200]
        await eventually(lambda: engine.spent == before + 3)  # each reply took a slot of the engine's
