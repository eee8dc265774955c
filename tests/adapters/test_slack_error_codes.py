"""Every failed Web API call is reported under one code (what realign_platform_errors_total counts), on
the fan-out's hot path and through slack_sdk alike, against the Slack fake over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.messenger import SlackMessenger
from bot.ports import Failed, Retry, Sent
from tests.adapters.test_slack_messenger import ANNOUNCEMENT
from tests.e2e.test_first_start import free_port
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        fake.add_user("U1", name="Person U1")
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def messenger(url: str, http: aiohttp.ClientSession, codes: list[str]) -> SlackMessenger:
    """A messenger that appends the code of each failed call to `codes`."""
    client = AsyncWebClient(token="xoxb-test", base_url=url, session=http, timeout=1, retry_handlers=[])
    return SlackMessenger(client, on_error=codes.append)


async def test_each_failed_post_reports_its_code(slack: FakeSlack, http: aiohttp.ClientSession) -> None:
    codes: list[str] = []
    dms = messenger(slack.url, http, codes)
    slack.error("chat.postMessage", "account_inactive", times=1)
    slack.fail("chat.postMessage", status=500)
    slack.slow("chat.postMessage", seconds=2, after_effect=False)

    results = [await dms.send_announcement(ANNOUNCEMENT, user_id="U1") for _ in range(4)]

    assert results[:3] == [
        Failed("account_inactive"),
        Retry("http_500", unsure=True),
        Retry("timeout", unsure=True),
    ]
    assert isinstance(results[3], Sent)
    assert codes == ["account_inactive", "http_500", "timeout"]  # a success reports nothing


async def test_a_429_through_slack_sdk_reports_ratelimited(
    slack: FakeSlack, http: aiohttp.ClientSession
) -> None:
    codes: list[str] = []
    dms = messenger(slack.url, http, codes)
    slack.rate_limit("chat.postMessage", per_second=1)  # the second post in the same second is refused

    for _ in range(2):
        await dms.send_reminder(ANNOUNCEMENT, user_id="U1", thread=None, notice_id=7)

    assert codes == ["ratelimited"]


async def test_a_platform_that_cannot_be_reached_reports_connection_failed(
    http: aiohttp.ClientSession,
) -> None:
    codes: list[str] = []
    dms = messenger(f"http://127.0.0.1:{free_port()}/api/", http, codes)  # nothing listens there

    result = await dms.send_announcement(ANNOUNCEMENT, user_id="U1")

    assert isinstance(result, Retry) and not result.unsure  # never connected: nothing was sent
    assert codes == ["connection_failed"]
