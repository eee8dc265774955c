"""Drives the real Realign HTTP app as Slack would: signed slash commands, modal submissions, clicks.

The payloads and their signing are tests/fakes/slack_requests.py's (the benchmark's driver uses the
same). Slack's side of a modal (applying `response_action: update` to the open view) is emulated here,
on the fake's view store, so each step submits exactly the view Realign last showed.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    SECRET,
    Element,
    Reply,
    block_actions,
    command_fields,
    event_callback,
    form,
    interaction_form,
    post_signed,
    view_submission,
)


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
        """POST `body` to /slack/events, signed with SECRET `age` seconds ago (unless not `sign`)."""
        return await post_signed(
            self.http,
            self.events_url,
            body,
            content_type=content_type,
            secret=SECRET,
            age=age,
            sign=sign,
            headers=headers,
        )

    def command_fields(self, user: str, command: str, text: str = "") -> dict[str, str]:
        """A slash command's fields: posted form-encoded over HTTP, an envelope's payload in Socket Mode."""
        response_url = self.slack.response_url(f"command-{user}")
        return command_fields(
            team=self.team, user=user, command=command, text=text, response_url=response_url
        )

    def command_body(self, user: str, command: str, text: str = "") -> str:
        return form(self.command_fields(user, command, text))

    async def command(self, user: str, command: str, text: str = "", **options: Any) -> Reply:
        return await self.post(self.command_body(user, command, text), content_type=FORM, **options)

    async def interact(self, payload: dict[str, Any], **options: Any) -> Reply:
        """Send an interaction payload (view submission, click); `submit` and `click` build them."""
        return await self.post(interaction_form(payload), content_type=FORM, **options)

    def open_view(self) -> str:
        """The id of the view most recently opened by Realign."""
        return list(self.views)[-1]

    async def submit(
        self,
        user: str,
        view_id: str,
        values: dict[str, Element],
        *,
        as_shown: dict[str, Any] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Submit the open view (or `as_shown`, a copy taken earlier, to replay a submission)."""
        view = {**(as_shown or self.views[view_id]), "id": view_id}
        payload = view_submission(team=self.team, user=user, view=view, values=values)
        reply = await self.interact(payload, **options)
        assert reply.status == 200, reply
        answer = reply.json()
        if answer.get("response_action") == "update":  # what Slack does with the open modal
            self.views[view_id] = {**answer["view"], "id": view_id}
        return answer

    async def click(self, user: str, message: dict[str, Any], *, action_id: str) -> Reply:
        """`user` clicks the button `action_id` of `message` (as the fake holds it)."""
        button = next(
            element
            for block in message["blocks"]
            if block["type"] == "actions"
            for element in block["elements"]
            if element["action_id"] == action_id
        )
        response_url = self.slack.response_url(f"click-{user}")
        payload = block_actions(
            team=self.team, user=user, message=message, button=button, response_url=response_url
        )
        return await self.interact(payload)

    async def event(self, event: dict[str, Any], **options: Any) -> Reply:
        """An Events API callback from this workspace (e.g. `{"type": "app_uninstalled"}`)."""
        body = event_callback(team=self.team, event=event)
        return await self.post(json.dumps(body), content_type=JSON, **options)
