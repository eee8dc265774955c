"""SIGKILL during a Teams fan-out loses and duplicates nothing: a change announced to a few hundred
people through the real card flow, delivered by `realign worker` processes against the connector fake
(with latency, so requests are in flight when the kill lands), SIGKILLed again and again and restarted.

Counted in the fake: every targeted person has exactly one card; in the database: every delivery row is
delivered. A kill lands between a post and its settle (found by the activity id in `teams_sent`) and in
the middle of a request (found in the 1:1 chat through the fake's Graph, never posted again).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from aiohttp.test_utils import TestServer

from bot.clock import SystemClock
from realign.runtime import Runtime
from tests.conftest import count
from tests.e2e.conftest import eventually
from tests.e2e.engine import Worker
from tests.e2e.teams_driver import TeamsDriver, TeamsRealign, fake, teams_settings  # noqa: F401
from tests.e2e.test_teams_delivery import announcements
from tests.e2e.test_teams_flow import ANNOUNCER, announce, install, seed
from tests.fakes.teams_connector import FakeConnector

EXTRA = 300  # the team's General channel: the announcer, four people and EXTRA more
TARGETED = EXTRA + 6


@pytest_asyncio.fixture
async def announced(database_url: str, fake: FakeConnector) -> AsyncIterator[TeamsRealign]:  # noqa: F811
    """A change published to TARGETED people through the web app, with no engine running in this
    process: the outbox waits for the workers."""
    seed(fake, extra=EXTRA)
    runtime = Runtime(teams_settings(database_url), clock=SystemClock())
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            realign = TeamsRealign(
                runtime, TeamsDriver(base_url=str(server.make_url("/")), fake=fake, http=http)
            )
            await install(realign, fake)
            await announce(realign, fake, sizes=(EXTRA + 4, 3, TARGETED))
            yield realign
    finally:
        await server.close()
        await runtime.close()


def worker_env(database_url: str, fake: FakeConnector) -> dict[str, str]:  # noqa: F811
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "DATABASE_URL": database_url,
        "REALIGN_TEAMS_DEV": "1",
        "MICROSOFT_GRAPH_URL": fake.graph_url,
        "TEAMS_POST_RATE": "60",
        "SLACK_API_TIMEOUT": "1",
        "REALIGN_DELIVERY_LEASE": "2s",
    }


async def test_workers_killed_mid_fanout_again_and_again_send_everyone_exactly_one_card(
    announced: TeamsRealign,
    database_url: str,
    fake: FakeConnector,  # noqa: F811
) -> None:
    targeted = [u for u in fake.users if u != ANNOUNCER]
    assert len(targeted) == TARGETED
    assert await count(announced.db, "SELECT count(*) FROM delivery WHERE state <> 'excluded'") == TARGETED
    fake.latency = 0.1  # a create and a post per person: several requests in flight at any time
    env = worker_env(database_url, fake)

    def reached() -> int:
        return sum(1 for u in targeted if fake.cards_to(u))

    for _ in range(3):
        worker, before = Worker(env), reached()
        try:
            await eventually(lambda: reached() >= before + 40, within=60)  # noqa: B023
        finally:
            worker.kill()  # SIGKILL: whatever it had in hand, posted or not, is left unsettled
    assert reached() < TARGETED, "the fan-out finished before the last kill; make it longer"
    survivor = Worker(env)
    try:
        await eventually(lambda: reached() == TARGETED, within=90)
        await asyncio.sleep(1)  # anything sent twice would show now

        async def unsettled() -> int:
            return await count(
                announced.db, "SELECT count(*) FROM delivery WHERE state IN ('queued', 'sending')"
            )

        for _ in range(300):
            if await unsettled() == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        errors = await survivor.stop()
    assert "Traceback" not in errors, errors
    assert {u: len(announcements(fake, u)) for u in targeted if len(announcements(fake, u)) != 1} == {}
    assert await count(announced.db, "SELECT count(*) FROM delivery WHERE state = 'delivered'") == TARGETED
    assert await count(announced.db, "SELECT count(*) FROM teams_sent WHERE kind = 'delivery'") == TARGETED
    assert fake.call_count("graph_chat_messages") > 0, "no kill landed in the middle of a request"
