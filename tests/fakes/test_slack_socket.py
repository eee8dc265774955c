"""The fake Socket Mode server, driven by slack_sdk's own aiohttp SocketModeClient, as bolt drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_socket import APP_TOKEN, FakeSocketMode


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as fake:
        yield fake


@pytest.fixture
async def socket_mode(slack: FakeSlack) -> AsyncIterator[FakeSocketMode]:
    async with FakeSocketMode(slack) as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])


@pytest.fixture
async def client(web: AsyncWebClient, socket_mode: FakeSocketMode) -> AsyncIterator[SocketModeClient]:
    """slack_sdk's client, answering every envelope with a payload naming what it received."""
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web, ping_interval=1)

    async def echo(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        answer = SocketModeResponse(request.envelope_id, payload={"text": f"got {request.type}"})
        await client.send_socket_mode_response(answer)

    client.socket_mode_request_listeners.append(echo)
    await client.connect()
    await socket_mode.connected()
    yield client
    await client.close()


async def test_an_envelope_is_acknowledged_with_its_response_payload(
    client: SocketModeClient, socket_mode: FakeSocketMode
) -> None:
    ack = await socket_mode.slash_command({"command": "/change-status", "user_id": "U1"})

    assert ack is not None and ack.payload == {"text": "got slash_commands"}
    assert socket_mode.acks_for(ack.envelope_id) == [ack]


async def test_disconnect_moves_the_client_to_a_new_connection(
    client: SocketModeClient, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    await socket_mode.disconnect()

    assert socket_mode.connections == 2 and socket_mode.open_connections == 1
    assert len(slack.calls_to("apps.connections.open")) == 2
    ack = await socket_mode.interactive({"type": "block_actions", "actions": []})
    assert ack is not None and ack.payload == {"text": "got interactive"}


async def test_close_is_seen_by_the_server(client: SocketModeClient, socket_mode: FakeSocketMode) -> None:
    await client.close()

    await socket_mode.closed(within=5)


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-test", "not_allowed_token_type"), ("xapp-1-A0REALIGN-1-wrong", "invalid_auth")],
    ids=["bot token", "unknown app token"],
)
async def test_connections_open_takes_the_app_level_token_only(
    web: AsyncWebClient, socket_mode: FakeSocketMode, token: str, error: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await web.apps_connections_open(app_token=token)

    assert refused.value.response["error"] == error


async def test_a_url_is_good_for_one_connection(web: AsyncWebClient, socket_mode: FakeSocketMode) -> None:
    url = (await web.apps_connections_open(app_token=APP_TOKEN))["url"]
    assert url.startswith(f"{socket_mode.url}?ticket=")

    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as first:
            assert (await first.receive_json())["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url)
    assert refused.value.status == 401


async def test_the_app_token_is_not_a_bot_token(slack: FakeSlack, socket_mode: FakeSocketMode) -> None:
    web = AsyncWebClient(token=APP_TOKEN, base_url=slack.url, retry_handlers=[])

    with pytest.raises(SlackApiError) as refused:
        await web.auth_test()

    assert refused.value.response["error"] == "not_allowed_token_type"
