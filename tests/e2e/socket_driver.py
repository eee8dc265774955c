"""Drives Realign through Slack's Socket Mode: the same commands, submissions and clicks as SlackDriver
builds, sent as envelopes on the app's WebSocket (tests/fakes/slack_socket.py) instead of signed POSTs.

The ack's response payload plays the part of the HTTP response body, so SlackDriver's `submit` and
`click` (and the flows built on them, like test_slack_flow's `announce`) run unchanged over the socket.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.e2e.slack_driver import SlackDriver
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import Reply
from tests.fakes.slack_socket import Ack, FakeSocketMode

WAIT_FOR_ACK = 10.0  # seconds; how fast acks came is asserted on `Ack.seconds`, not by timing out


class SocketDriver(SlackDriver):
    """A Slack workspace talking to Realign over the app's Socket Mode connection."""

    def __init__(
        self, *, socket: FakeSocketMode, slack: FakeSlack, base_url: str, http: aiohttp.ClientSession
    ) -> None:
        super().__init__(base_url=base_url, slack=slack, http=http)
        self.socket = socket
        self.acks: list[Ack] = []  # the acks of the envelopes this driver sent, in order

    async def command(self, user: str, command: str, text: str = "", **options: Any) -> Reply:
        fields = self.command_fields(user, command, text)
        return self._reply(await self.socket.slash_command(fields, within=WAIT_FOR_ACK, **options))

    async def interact(self, payload: dict[str, Any], **options: Any) -> Reply:
        return self._reply(await self.socket.interactive(payload, within=WAIT_FOR_ACK, **options))

    def _reply(self, ack: Ack | None) -> Reply:
        assert ack is not None, f"Realign did not acknowledge the envelope within {WAIT_FOR_ACK}s"
        self.acks.append(ack)
        return Reply(200, json.dumps(ack.payload) if ack.payload is not None else "")
