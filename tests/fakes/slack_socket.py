"""Slack's Socket Mode end over a real WebSocket on 127.0.0.1, so Realign runs with no public URL in tests.

`apps.connections.open` (plugged into the Web API fake, answering the app-level token only) hands out
`ws://127.0.0.1:<port>/link/?ticket=…`, one ticket per connection. A connection with a fresh ticket gets
`hello`; then the envelopes a test sends (`slash_commands`, `interactive`, `events_api`) go to the newest
connection, as Slack sends each to one of the app's connections, and every ack that comes back is
recorded with its response payload: what Slack would apply (a view update, `response_action: errors`,
an ephemeral reply).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_state import Params, SlackError

APP_TOKEN = "xapp-1-A0REALIGN-1-test"
ACK_WINDOW = 3.0  # seconds Slack waits for an ack before it shows the person an error


@dataclass(frozen=True)
class Ack:
    """One acknowledgement received on the socket: the envelope it answers, its response payload (None
    for a bare ack) and how long after the envelope was sent it came."""

    envelope_id: str
    payload: dict[str, Any] | None
    seconds: float


class FakeSocketMode:
    """Slack's Socket Mode server for one app: issues WebSocket URLs, sends envelopes, records acks."""

    def __init__(self, api: FakeSlack, *, app_token: str = APP_TOKEN, app_id: str = "A0REALIGN") -> None:
        self.api = api
        self.app_token = app_token
        self.app_id = app_id
        self.acks: list[Ack] = []
        self.connections = 0  # WebSocket connections accepted so far (a reconnection adds one)
        self.url = ""
        self._tickets: set[str] = set()
        self._links: list[web.WebSocketResponse] = []  # the app's connections, oldest first
        self._sent: dict[str, float] = {}  # envelope id -> when it was sent (loop time)
        self._answered: dict[str, asyncio.Future[Ack]] = {}
        self._serial = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> FakeSocketMode:
        """Serve on a free port of 127.0.0.1 and answer `apps.connections.open` on the Web API fake."""
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"ws://{host}:{port}/link/"
        self.api.add_method("apps.connections.open", self._connections_open, token=self.app_token)
        return self

    async def stop(self) -> None:
        for link in list(self._links):
            await link.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSocketMode:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- what a test does --------------------------------------------------------------------------

    @property
    def open_connections(self) -> int:
        return sum(not link.closed for link in self._links)

    async def connected(self, *, within: float = 10.0) -> None:
        """Wait until the app holds an open connection that was sent `hello`."""
        await _until(lambda: self.open_connections > 0, within, "no Socket Mode connection")

    async def closed(self, *, within: float = 10.0) -> None:
        """Wait until the app has closed every connection."""
        await _until(lambda: self.open_connections == 0, within, "a Socket Mode connection is still open")

    async def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int | None = None,
        within: float = ACK_WINDOW,
    ) -> Ack | None:
        """Send one envelope on the newest connection; its ack, or None if none came `within` seconds."""
        envelope_id = f"{kind}-{next(self._serial)}-{secrets.token_hex(4)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
            "payload": payload,
        }
        if retry_attempt is not None:
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": "timeout"}
        answered = self._answered[envelope_id] = asyncio.get_running_loop().create_future()
        self._sent[envelope_id] = asyncio.get_running_loop().time()
        await self._newest().send_json(envelope)
        try:
            return await asyncio.wait_for(answered, within)
        except TimeoutError:
            return None
        finally:
            self._answered.pop(envelope_id, None)

    async def slash_command(self, fields: dict[str, str], **options: Any) -> Ack | None:
        """A slash command: in Socket Mode its payload is the form fields Slack would have posted."""
        return await self.send("slash_commands", fields, **options)

    async def interactive(self, payload: dict[str, Any], **options: Any) -> Ack | None:
        """A view submission or a block action: the payload Slack would have posted as `payload=`."""
        return await self.send("interactive", payload, **options)

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the app to move to a new connection, as Slack does every few hours; the old one is closed
        once the app has opened another (or after 10 seconds)."""
        link = self._newest()
        before = self.connections
        await link.send_json({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})
        with contextlib.suppress(AssertionError):
            await _until(lambda: self.connections > before, 10.0, "no new connection")
        await link.close()

    # --- Slack's side ------------------------------------------------------------------------------

    def _connections_open(self, params: Params) -> dict[str, Any]:
        if not self.url:
            raise SlackError("internal_error")
        ticket = secrets.token_hex(8)
        self._tickets.add(ticket)
        return {"url": f"{self.url}?ticket={ticket}&app_id={self.app_id}"}

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # every URL is good for one connection
            return web.Response(status=401, text="invalid ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)  # answers the client's pings with pongs
        await socket.prepare(request)
        self.connections += 1
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": self.open_connections + 1,
                "debug_info": {"host": "fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._links.append(socket)
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._received(json.loads(message.data))
        finally:
            self._links.remove(socket)
        return socket

    def _received(self, message: dict[str, Any]) -> None:
        envelope_id = str(message.get("envelope_id", ""))
        sent = self._sent.get(envelope_id)
        seconds = asyncio.get_running_loop().time() - sent if sent is not None else float("nan")
        ack = Ack(envelope_id, message.get("payload"), seconds)
        self.acks.append(ack)
        waiting = self._answered.get(envelope_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(ack)

    def _newest(self) -> web.WebSocketResponse:
        live = [link for link in self._links if not link.closed]
        if not live:
            raise AssertionError("the app holds no Socket Mode connection")
        return live[-1]

    def acks_for(self, envelope_id: str) -> list[Ack]:
        return [ack for ack in self.acks if ack.envelope_id == envelope_id]


async def _until(check: Any, within: float, failure: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{failure} after {within}s")
        await asyncio.sleep(0.02)
