"""A running Realign (real aiohttp app, real scheduler) wired to the Slack fake through SLACK_API_URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import text

from realign.runtime import Runtime
from realign.settings import Settings
from store.db import Database
from tests.conftest import FakeClock
from tests.e2e.slack_driver import SlackDriver
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import SECRET


@dataclass
class Realign:
    runtime: Runtime
    slack: SlackDriver

    @property
    def db(self) -> Database:
        return self.runtime.db

    async def settled(self, *, within: float = 10.0) -> None:
        """Wait until no delivery or notice is in flight. A test moves the fake clock only after this:
        a message the fake has seen may not be settled yet, and its next reminder is timed from the
        moment it is."""
        in_flight = "SELECT (SELECT count(*) FROM delivery WHERE state = 'sending')"
        in_flight += " + (SELECT count(*) FROM notice WHERE state = 'sending')"
        deadline = asyncio.get_running_loop().time() + within
        while True:
            async with self.db.engine.connect() as connection:
                if not (await connection.execute(text(in_flight))).scalar_one():
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"messages still in flight after {within}s")
            await asyncio.sleep(0.05)


async def eventually(check: Callable[[], Any], *, within: float = 10.0) -> None:
    """Wait until `check()` is true (work happens in the background), or fail with what it was."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still not true after {within}s: {check}")
        await asyncio.sleep(0.05)


def settings(database_url: str, slack: FakeSlack, **extra: Any) -> Settings:
    values = {
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.url,
        "SLACK_POST_RATE": 500,
        **extra,
    }
    return Settings(**values)


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
def realign_settings() -> dict[str, Any]:
    """Extra settings for the `realign` fixture; override in a test module."""
    return {}


@asynccontextmanager
async def running(
    database_url: str, slack: FakeSlack, clock: FakeClock, **extra: Any
) -> AsyncIterator[Realign]:
    """A whole Realign process (web and engine) on `database_url`, wired to the Slack fake; a test may run
    several at once, or one after another (a restart)."""
    runtime = Runtime(settings(database_url, slack, **extra), clock=clock)
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    await runtime.start_ticks()
    try:
        async with aiohttp.ClientSession() as http:
            yield Realign(runtime, SlackDriver(base_url=str(server.make_url("/")), slack=slack, http=http))
    finally:
        await server.close()
        await runtime.close()


@pytest.fixture
async def realign(
    database_url: str, slack: FakeSlack, clock: FakeClock, realign_settings: dict[str, Any]
) -> AsyncIterator[Realign]:
    async with running(database_url, slack, clock, **realign_settings) as app:
        yield app
