"""Drives the real Realign HTTP app as Slack would: signed slash commands, modal submissions, clicks.

Slack's side of a modal (applying `response_action: update` to the open view) is emulated here, on the
fake's view store, so each step submits exactly the view Realign last showed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import FakeSlack

SECRET = "test-signing-secret"


@dataclass
class Reply:
    status: int
    body: str

    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body)) if self.body else {}


# Element states as Slack puts them in view.state.values[block_id]["value"].
def typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def date(value: str) -> dict[str, Any]:
    return {"type": "datepicker", "selected_date": value}


def chosen(value: str) -> dict[str, Any]:
    return {"type": "static_select", "selected_option": {"value": value}}


def users(*ids: str) -> dict[str, Any]:
    return {"type": "multi_users_select", "selected_users": list(ids)}


def options(*values: str) -> dict[str, Any]:
    return {"type": "multi_static_select", "selected_options": [{"value": v} for v in values]}


def conversations(*ids: str) -> dict[str, Any]:
    return {"type": "multi_conversations_select", "selected_conversations": list(ids)}


def checked(*values: str) -> dict[str, Any]:
    return {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}


class SlackDriver:
    """A Slack workspace talking to Realign at `base_url` (requests signed with SECRET)."""

    def __init__(
        self, *, base_url: str, slack: FakeSlack, http: aiohttp.ClientSession, team: str = "T001"
    ) -> None:
        self.base_url = base_url
        self.events_url = base_url.rstrip("/") + "/slack/events"
        self.slack = slack
        self.http = http
        self.team = team  # the workspace every request comes from
        self.verifier = SignatureVerifier(SECRET)

    def of(self, team: str) -> SlackDriver:
        """The same Realign, as another workspace talks to it."""
        return SlackDriver(base_url=self.base_url, slack=self.slack, http=self.http, team=team)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """This workspace's views, as the fake holds them."""
        return self.slack.teams.get(self.team, self.slack.workspace).views

    async def post(
        self,
        body: str,
        *,
        content_type: str,
        age: float = 0,
        sign: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        timestamp = str(int(time.time() - age))
        signature = self.verifier.generate_signature(timestamp=timestamp, body=body) if sign else "v0=bad"
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature or "",
            **(headers or {}),
        }
        async with self.http.post(self.events_url, data=body.encode(), headers=all_headers) as response:
            return Reply(response.status, await response.text())

    def command_fields(self, user: str, command: str, text: str = "") -> dict[str, str]:
        """A slash command's fields: posted form-encoded over HTTP, an envelope's payload in Socket Mode."""
        return {
            "token": "legacy",
            "team_id": self.team,
            "team_domain": "acme",
            "channel_id": "C0GENERAL",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0REALIGN",
            "trigger_id": f"trigger-{user}-{time.monotonic_ns()}",
            "response_url": self.slack.response_url(f"command-{user}"),
        }

    def command_body(self, user: str, command: str, text: str = "") -> str:
        return urlencode(self.command_fields(user, command, text))

    async def command(self, user: str, command: str, text: str = "", **options: Any) -> Reply:
        return await self.post(
            self.command_body(user, command, text),
            content_type="application/x-www-form-urlencoded",
            **options,
        )

    async def interact(self, payload: dict[str, Any], **options: Any) -> Reply:
        """Send an interaction payload (view submission, click); `submit` and `click` build them."""
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, content_type="application/x-www-form-urlencoded", **options)

    def open_view(self) -> str:
        """The id of the view most recently opened by Realign."""
        return list(self.views)[-1]

    async def submit(
        self,
        user: str,
        view_id: str,
        values: dict[str, dict[str, Any]],
        *,
        as_shown: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Submit the open view (or `as_shown`, a copy taken earlier, to replay a submission)."""
        view = as_shown or self.views[view_id]
        state = {"values": {block: {"value": element} for block, element in values.items()}}
        payload = {
            "type": "view_submission",
            "team": {"id": self.team},
            "user": {"id": user, "team_id": self.team},
            "api_app_id": "A0REALIGN",
            "trigger_id": "trigger-submit",
            "view": {**view, "id": view_id, "team_id": self.team, "state": state, "hash": "h"},
        }
        reply = await self.interact(payload, **options)
        assert reply.status == 200, reply
        answer = reply.json()
        if answer.get("response_action") == "update":  # what Slack does with the open modal
            self.views[view_id] = {**answer["view"], "id": view_id}
        return answer

    async def click(self, user: str, message: dict[str, Any], *, action_id: str) -> Reply:
        button = next(
            element
            for block in message["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
            if element["action_id"] == action_id
        )
        payload = {
            "type": "block_actions",
            "team": {"id": self.team},
            "user": {"id": user, "team_id": self.team},
            "api_app_id": "A0REALIGN",
            "trigger_id": "trigger-click",
            "container": {"type": "message", "channel_id": f"D{user}", "message_ts": message["ts"]},
            "channel": {"id": f"D{user}"},
            "message": message,
            "response_url": self.slack.response_url(f"click-{user}"),
            "actions": [{**button, "block_id": "realign.respond", "action_ts": str(time.time())}],
        }
        return await self.interact(payload)

    async def event(self, event: dict[str, Any], **options: Any) -> Reply:
        """An Events API callback from this workspace (e.g. `{"type": "app_uninstalled"}`)."""
        body = {
            "token": "legacy",
            "team_id": self.team,
            "api_app_id": "A0REALIGN",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
        }
        return await self.post(json.dumps(body), content_type="application/json", **options)
