"""Slack's Socket Mode: the listeners of /slack/events, over a WebSocket Realign opens to Slack itself.

bolt's handler converts each envelope into a BoltRequest and the listener's answer into the ack, as
`slack_bolt.adapter.aiohttp` does for HTTP. Added here is only the connection's life: the app-level
token is checked before the first connection (slack_sdk would otherwise retry a refused token for
ever), and the envelopes in hand are answered before the connection closes.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)
ACK_WINDOW = 3.0  # seconds Slack waits for an ack: answering later than that is answering no one
CONNECT_TIMEOUT = 30.0
PING_INTERVAL = 10.0  # bolt's default; a connection silent for 4 pings is replaced


class SlackSocket:
    """One app's Socket Mode connection serving `app`; `connect()`, then `close()`, on one event loop."""

    def __init__(
        self, app: AsyncApp, *, app_token: str, client: AsyncWebClient, ping_interval: float = PING_INTERVAL
    ) -> None:
        self._app, self._token, self._client = app, app_token, client
        self._ping_interval = ping_interval
        self._handler: AsyncSocketModeHandler | None = None
        self._hello = asyncio.Event()
        self._in_hand: set[asyncio.Task[Any]] = set()

    async def connect(self, *, within: float = CONNECT_TIMEOUT) -> None:
        """Open the connection and wait for Slack's `hello`.

        Raises SlackApiError when Slack refuses the app-level token, TimeoutError when no connection is
        made within `within` seconds."""
        answer = await self._client.apps_connections_open(app_token=self._token)
        handler = AsyncSocketModeHandler(
            self._app, self._token, web_client=self._client, ping_interval=self._ping_interval
        )
        handler.client.socket_mode_request_listeners[:] = [self._handle]  # bolt's own, counted
        handler.client.message_listeners.append(self._on_message)
        handler.client.wss_uri = str(answer["url"])  # the first connection uses the URL just issued
        self._handler = handler
        try:
            async with asyncio.timeout(within):
                await handler.connect_async()
                await self._hello.wait()
        except BaseException:
            await self.close(grace=0)
            raise

    async def close(self, *, grace: float = ACK_WINDOW) -> None:
        """Answer the envelopes in hand (for up to `grace` seconds), then disconnect for good."""
        handler = self._handler
        if handler is None:
            return
        if self._in_hand and grace > 0:
            await asyncio.wait(set(self._in_hand), timeout=grace)
        self._handler = None
        await handler.close_async()
        client = handler.client
        # close() cancels slack_sdk's reader, monitor and queue tasks; let them end before the loop does.
        tasks = (client.message_processor, client.current_session_monitor, client.message_receiver)
        await asyncio.gather(*(task for task in tasks if task is not None), return_exceptions=True)
        log.info("Socket Mode connection closed")

    async def _handle(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        # slack_sdk runs each envelope on a task of its own; count it so close() can wait for its ack.
        handler, task = self._handler, asyncio.current_task()
        if handler is None or task is None:
            return
        self._in_hand.add(task)
        try:
            await handler.handle(handler.client, request)
        finally:
            self._in_hand.discard(task)

    async def _on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[str, Any], raw: str | None
    ) -> None:
        if message.get("type") == "hello":
            if not self._hello.is_set():
                log.info("connected to Slack through Socket Mode")
            self._hello.set()
