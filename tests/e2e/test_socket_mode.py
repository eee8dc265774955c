"""Slack through Socket Mode, on SQLite and PostgreSQL: with SLACK_APP_TOKEN and no signing secret,
Realign opens the WebSocket itself (no public /slack/events), and the whole flow runs over it:
/announce-change -> modal steps (an inline error in the ack) -> publish -> DMs -> Acknowledge -> status.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from copy import deepcopy
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from bot.errors import ConfigError
from realign.runtime import Runtime
from realign.settings import Settings
from tests.conftest import FakeClock, count
from tests.e2e.conftest import Realign, eventually, settings
from tests.e2e.slack_driver import SlackDriver
from tests.e2e.socket_driver import SocketDriver
from tests.e2e.test_first_start import ROOT, free_port
from tests.e2e.test_slack_flow import ANNOUNCER, EVERYONE, announce, seed
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_socket import ACK_WINDOW, APP_TOKEN, Ack, FakeSocketMode


def socket_settings(database_url: str, slack: FakeSlack, **extra: object) -> Settings:
    """Slack with the bot token and the app-level token only: no signing secret, so no /slack/events."""
    return settings(database_url, slack, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN=APP_TOKEN, **extra)


@pytest.fixture
async def socket_mode(slack: FakeSlack) -> AsyncIterator[FakeSocketMode]:
    async with FakeSocketMode(slack) as fake:
        yield fake


@pytest.fixture
async def realign(
    database_url: str, slack: FakeSlack, socket_mode: FakeSocketMode, clock: FakeClock
) -> AsyncIterator[Realign]:
    """Realign as `realign serve` runs it with SLACK_APP_TOKEN: the web app (for /healthz), the socket,
    the ticks."""
    runtime = Runtime(socket_settings(database_url, slack), clock=clock)
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    await runtime.start_socket()
    await runtime.start_ticks()
    try:
        async with aiohttp.ClientSession() as http:
            driver = SocketDriver(
                socket=socket_mode, slack=slack, base_url=str(server.make_url("/")), http=http
            )
            yield Realign(runtime, driver)
    finally:
        await server.close()
        await runtime.close()


def acks_sent(realign: Realign) -> list[Ack]:
    """The acks of every envelope the test sent through the `realign` fixture's driver, in order."""
    assert isinstance(realign.slack, SocketDriver)
    return realign.slack.acks


async def test_the_whole_flow_runs_over_the_socket(
    realign: Realign, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    seed(slack)
    assert socket_mode.open_connections == 1
    assert [call.params for call in slack.calls_to("apps.connections.open")] == [{}]  # token in the header

    key = await announce(realign)  # views.open, a refused step answered in the ack, groups, review, publish

    assert len(slack.calls_to("views.open")) == 1
    await eventually(lambda: all(len(slack.dms_to(user)) == 1 for user in EVERYONE))
    assert slack.dms_to(ANNOUNCER) == []
    as_delivered = {user: deepcopy(slack.dms_to(user)[0]) for user in EVERYONE}
    for user in ("U1", "U2"):
        reply = await realign.slack.click(user, as_delivered[user], action_id="realign.acknowledge")
        assert reply.body == ""  # a bare ack; the DM is updated through chat.update
    await eventually(lambda: all("Acknowledged" in str(slack.dms_to(u)[0]["blocks"]) for u in ("U1", "U2")))
    assert "Acknowledged" not in str(slack.dms_to("U3")[0]["blocks"])
    assert await count(realign.db, "SELECT count(*) FROM delivery WHERE acknowledged_at IS NOT NULL") == 2

    status = (await realign.slack.command(ANNOUNCER, "/change-status", key)).json()
    assert "Delivered 6 · Acknowledged 2 · Pending 4 · Failed 0" in str(status["blocks"])

    sent = acks_sent(realign)
    assert len(sent) == 10  # 2 commands, 6 submissions, 2 clicks
    assert [len(socket_mode.acks_for(ack.envelope_id)) for ack in sent] == [1] * len(sent)
    assert max(ack.seconds for ack in sent) < ACK_WINDOW


async def test_no_slack_endpoint_is_served_without_the_signing_secret(realign: Realign) -> None:
    http, events_url = realign.slack.http, realign.slack.events_url

    async with http.post(events_url, data=b"payload=%7B%7D") as response:
        assert response.status == 404
    async with http.get(events_url.replace("/slack/events", "/healthz")) as health:
        assert health.status == 200 and (await health.json())["slack"] == "socket-mode"


async def test_with_the_signing_secret_too_both_ways_serve_the_same_listeners(
    tmp_path: Path, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    # While an app moves from its request URL to Socket Mode, Slack may use either.
    seed(slack)
    runtime = Runtime(settings(f"sqlite:///{tmp_path / 'realign.db'}", slack, SLACK_APP_TOKEN=APP_TOKEN))
    await runtime.open()
    server = TestServer(runtime.web_app(), host="127.0.0.1")
    await server.start_server()
    await runtime.start_socket()
    try:
        async with aiohttp.ClientSession() as http:
            base_url = str(server.make_url("/"))
            over_http = SlackDriver(base_url=base_url, slack=slack, http=http)
            over_socket = SocketDriver(socket=socket_mode, slack=slack, base_url=base_url, http=http)
            for driver in (over_http, over_socket):
                reply = await driver.command(ANNOUNCER, "/change-status")
                assert reply.status == 200 and reply.json()["text"]
    finally:
        await server.close()
        await runtime.close()

    assert len(over_socket.acks) == 1 and socket_mode.open_connections == 0


async def test_a_new_connection_when_slack_asks_for_one(
    realign: Realign, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    seed(slack)
    await socket_mode.disconnect()  # Slack does this every few hours, and before maintenance

    assert len(slack.calls_to("apps.connections.open")) == 2
    assert socket_mode.connections == 2 and socket_mode.open_connections == 1
    await realign.slack.command(ANNOUNCER, "/announce-change", "After the move")
    assert slack.views[realign.slack.open_view()]["blocks"][0]["element"]["initial_value"] == "After the move"


async def test_closing_answers_the_envelope_in_hand_then_disconnects(
    tmp_path: Path, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    seed(slack)
    slack.slow("views.open", seconds=1.0)
    runtime = Runtime(socket_settings(f"sqlite:///{tmp_path / 'realign.db'}", slack))
    await runtime.open()
    await runtime.start_socket()
    async with aiohttp.ClientSession() as http:
        fields = SocketDriver(socket=socket_mode, slack=slack, base_url="", http=http).command_fields
        answer = asyncio.ensure_future(socket_mode.slash_command(fields(ANNOUNCER, "/announce-change")))
        await eventually(lambda: slack.calls_to("views.open"))  # the listener is waiting on Slack
        await runtime.close()

    ack = await answer
    assert ack is not None and ack.payload is None  # answered before the connection closed
    assert socket_mode.open_connections == 0
    assert len(slack.views) == 1


async def test_a_refused_app_token_stops_start_up_in_one_line(tmp_path: Path, slack: FakeSlack) -> None:
    async with FakeSocketMode(slack, app_token="xapp-1-A0REALIGN-1-other"):
        runtime = Runtime(socket_settings(f"sqlite:///{tmp_path / 'realign.db'}", slack))
        await runtime.open()
        try:
            with pytest.raises(ConfigError) as refused:
                await runtime.start_socket()
        finally:
            await runtime.close()

    assert str(refused.value) == f"Slack did not accept SLACK_APP_TOKEN at {slack.url}: invalid_auth"
    assert runtime.socket is None


# --- the CLI: `realign serve` connects, `realign worker` does not -------------------------------------


def cli_env(tmp_path: Path, slack: FakeSlack, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'realign.db'}",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_APP_TOKEN": APP_TOKEN,
        "SLACK_API_URL": slack.url,
    }


async def stop(process: asyncio.subprocess.Process) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    return stderr.decode()


async def test_serve_connects_and_closes_the_socket_on_sigterm(
    tmp_path: Path, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    seed(slack)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realign.cli", "serve",
        cwd=tmp_path, env=cli_env(tmp_path, slack, port), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await socket_mode.connected(within=30)
        async with aiohttp.ClientSession() as http:
            fields = SocketDriver(socket=socket_mode, slack=slack, base_url="", http=http).command_fields
            ack = await socket_mode.slash_command(fields(ANNOUNCER, "/change-status"), within=10)
    finally:
        log = await stop(process)

    assert ack is not None and ack.payload is not None and ack.payload["text"], log
    await socket_mode.closed(within=5)
    assert process.returncode == 0, log
    assert "Slack through Socket Mode" in log and "Socket Mode connection closed" in log, log
    assert "Traceback" not in log and " ERROR " not in log, log


async def test_a_worker_does_not_open_the_socket(
    tmp_path: Path, slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "realign.cli", "worker",
        cwd=tmp_path, env=cli_env(tmp_path, slack, free_port()), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        # The worker logged in (auth.test) and ran its first ticks: past the point a socket would open.
        await eventually(lambda: slack.calls_to("auth.test") and slack.calls_to("users.list"), within=30)
    finally:
        log = await stop(process)

    assert process.returncode == 0, log
    assert slack.calls_to("apps.connections.open") == [] and socket_mode.connections == 0
