"""Slack's side of the conversation: signed slash commands, modal submissions and button clicks.

Modal payloads are built here rather than copied from the view Realign opened (that view lives in the
fake's process); block ids and element state shapes are those of adapters/slack/render.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

SECRET = "bench-secret"
TEAM = "T001"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer from Realign and how long it took."""

    status: int
    body: str
    seconds: float

    def json(self) -> dict[str, Any]:
        """The body as JSON ({} when empty)."""
        return dict(json.loads(self.body)) if self.body else {}


class SignedSlack:
    """Sends what Slack would send to Realign's `/slack/events`, signed with SECRET."""

    def __init__(self, *, realign_url: str, fake_url: str, http: aiohttp.ClientSession) -> None:
        self.events_url = realign_url.rstrip("/") + "/slack/events"
        self.response_base = fake_url.replace("/api/", "/_response/")
        self.http = http
        self.verifier = SignatureVerifier(SECRET)

    async def post(self, fields: dict[str, str]) -> Reply:
        """POST a form-encoded, signed body; returns the answer and its round-trip time."""
        body = urlencode(fields)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": FORM,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=timestamp, body=body) or "",
        }
        started = time.perf_counter()
        async with self.http.post(self.events_url, data=body.encode(), headers=headers) as response:
            text = await response.text()
        return Reply(response.status, text, time.perf_counter() - started)

    async def command(self, user: str, command: str, text: str = "") -> Reply:
        """A slash command typed by `user`."""
        return await self.post(
            {
                "token": "legacy",
                "team_id": TEAM,
                "channel_id": "C0GENERAL",
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A0REALIGN",
                "trigger_id": f"trigger-{user}-{time.monotonic_ns()}",
                "response_url": f"{self.response_base}command-{user}",
            }
        )

    async def interact(self, payload: dict[str, Any]) -> Reply:
        """An interactivity payload (view submission, block action)."""
        return await self.post({"payload": json.dumps(payload)})

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, dict[str, Any]]) -> Reply:
        """Submit `view` (id, callback_id, private_metadata) with these element states by block id."""
        state = {"values": {block: {"value": element} for block, element in values.items()}}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0REALIGN",
            "trigger_id": "trigger-submit",
            "view": {"type": "modal", "team_id": TEAM, "hash": "h", **view, "state": state},
        }
        return await self.interact(payload)

    async def acknowledge(self, user: str, delivery_id: int, ts: str) -> Reply:
        """`user` clicks Acknowledge on the DM (message `ts`) of delivery `delivery_id`."""
        button = {"type": "button", "action_id": "realign.acknowledge", "value": str(delivery_id)}
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0REALIGN",
            "trigger_id": "trigger-click",
            "container": {"type": "message", "channel_id": f"D{user}", "message_ts": ts},
            "channel": {"id": f"D{user}"},
            "message": {"type": "message", "ts": ts, "text": "", "blocks": []},
            "response_url": f"{self.response_base}click-{user}",
            "actions": [{**button, "block_id": "realign.respond", "action_ts": str(time.time())}],
        }
        return await self.interact(payload)


def _typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def basics_values(today: date) -> dict[str, dict[str, Any]]:
    """The first modal step: effective in two weeks, acknowledge within three."""
    return {
        "title": _typed("Benchmark: new on-call rota"),
        "what": _typed("Support takes weekend on-call."),
        "why": _typed("Customers wait too long at weekends."),
        "effective_date": {"type": "datepicker", "selected_date": (today + timedelta(days=14)).isoformat()},
        "ack_deadline": {"type": "datepicker", "selected_date": (today + timedelta(days=21)).isoformat()},
        "customer_impact": {"type": "static_select", "selected_option": {"value": "none"}},
        "customer_plan": _typed(""),
    }


def group_values(usergroup: str) -> dict[str, dict[str, Any]]:
    """One audience group: every member of `usergroup`, with new expectations."""
    return {
        "name": _typed("Everyone"),
        "usergroups": {"type": "multi_static_select", "selected_options": [{"value": usergroup}]},
        "today": _typed("Weekdays only."),
        "from_effective": _typed("Answer pages at weekends too."),
    }
