"""Slack's side of the conversation, from outside Realign's process: signed slash commands, modal
submissions and Acknowledge clicks, built and signed by tests/fakes/slack_requests.py (as the tests'
SlackDriver does).

The fake runs in another process, so the modal is not read back from it: each step's view is built
here (its id comes from the fake's `/_fake/stats`), with the block ids and element states of
adapters/slack/render.py.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import aiohttp

from tests.fakes.slack_requests import (
    SECRET,
    Element,
    Reply,
    block_actions,
    chosen,
    command_fields,
    form,
    interaction_form,
    options,
    post_signed,
    typed,
    view_submission,
)
from tests.fakes.slack_requests import date as picked

TEAM = "T001"  # the fake's default workspace


class SignedSlack:
    """Sends what Slack would send to Realign's `/slack/events`, signed with `secret`."""

    def __init__(
        self, *, realign_url: str, fake_url: str, http: aiohttp.ClientSession, secret: str = SECRET
    ) -> None:
        self.events_url = realign_url.rstrip("/") + "/slack/events"
        self.response_base = fake_url.replace("/api/", "/_response/")
        self.http = http
        self.secret = secret

    async def post(self, body: str) -> Reply:
        """POST a form-encoded, signed body; returns the answer and its round-trip time."""
        return await post_signed(self.http, self.events_url, body, secret=self.secret)

    async def command(self, user: str, command: str, text: str = "") -> Reply:
        """A slash command typed by `user`."""
        response_url = f"{self.response_base}command-{user}"
        fields = command_fields(team=TEAM, user=user, command=command, text=text, response_url=response_url)
        return await self.post(form(fields))

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, Element]) -> Reply:
        """Submit `view` (id, callback_id, private_metadata) with these element states by block id."""
        return await self.post(
            interaction_form(view_submission(team=TEAM, user=user, view=view, values=values))
        )

    async def acknowledge(self, user: str, delivery_id: int, ts: str) -> Reply:
        """`user` clicks Acknowledge on the DM (message `ts`) of delivery `delivery_id`."""
        button = {"type": "button", "action_id": "realign.acknowledge", "value": str(delivery_id)}
        message = {"type": "message", "ts": ts, "text": "", "blocks": []}
        response_url = f"{self.response_base}click-{user}"
        payload = block_actions(
            team=TEAM, user=user, message=message, button=button, response_url=response_url
        )
        return await self.post(interaction_form(payload))


def basics_values(today: date) -> dict[str, Element]:
    """The first modal step: effective in two weeks, acknowledge within three."""
    return {
        "title": typed("Benchmark: new on-call rota"),
        "what": typed("Support takes weekend on-call."),
        "why": typed("Customers wait too long at weekends."),
        "effective_date": picked((today + timedelta(days=14)).isoformat()),
        "ack_deadline": picked((today + timedelta(days=21)).isoformat()),
        "customer_impact": chosen("none"),
        "customer_plan": typed(""),
    }


def group_values(usergroup: str) -> dict[str, Element]:
    """One audience group: every member of `usergroup`, with new expectations."""
    return {
        "name": typed("Everyone"),
        "usergroups": options(usergroup),
        "today": typed("Weekdays only."),
        "from_effective": typed("Answer pages at weekends too."),
    }
