"""What Slack sends to an app, shaped and signed as Slack does: slash commands, view submissions, button
clicks and Events API callbacks, plus the element states a modal submission carries.

Shared by both drivers of Realign's `/slack/events`: the in-process one of the tests
(tests/e2e/slack_driver.py, which reads the views Realign opened from the fake beside it) and the
benchmark's out-of-process one (bench/slack.py). Requests are signed with
`slack_sdk.signature.SignatureVerifier`, the way Slack signs them, so Realign's real verification runs.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"  # SLACK_SIGNING_SECRET of every Realign the drivers talk to
APP_ID = "A0REALIGN"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
Element = dict[str, Any]  # one element's state, as in view.state.values[block_id]["value"]


@dataclass(frozen=True)
class Reply:
    """Realign's HTTP answer and how long the round trip took."""

    status: int
    body: str
    seconds: float = 0.0

    def json(self) -> dict[str, Any]:
        """The body as JSON ({} when empty)."""
        return dict(json.loads(self.body)) if self.body else {}


# --- signing and sending ---------------------------------------------------------------------------


def signed_headers(
    body: str, *, content_type: str = FORM, secret: str = SECRET, age: float = 0, sign: bool = True
) -> dict[str, str]:
    """Slack's request headers for `body`: timestamp `age` seconds ago, signed (or, without `sign`, with
    a signature that cannot verify)."""
    timestamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body) if sign else None
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature or "v0=bad",
    }


async def post_signed(
    http: aiohttp.ClientSession,
    url: str,
    body: str,
    *,
    content_type: str = FORM,
    secret: str = SECRET,
    age: float = 0,
    sign: bool = True,
    headers: dict[str, str] | None = None,
) -> Reply:
    """POST `body` to `url` as Slack would; returns the answer and its round-trip time."""
    sent = signed_headers(body, content_type=content_type, secret=secret, age=age, sign=sign) | (
        headers or {}
    )
    started = time.perf_counter()
    async with http.post(url, data=body.encode(), headers=sent) as response:
        text = await response.text()
    return Reply(response.status, text, time.perf_counter() - started)


def form(fields: dict[str, str]) -> str:
    """A form-encoded body (slash commands)."""
    return urlencode(fields)


def interaction_form(payload: dict[str, Any]) -> str:
    """The form-encoded body of an interaction: the payload as JSON in one `payload` field."""
    return urlencode({"payload": json.dumps(payload)})


# --- payloads ------------------------------------------------------------------------------------


def command_fields(*, team: str, user: str, command: str, text: str, response_url: str) -> dict[str, str]:
    """A slash command's fields: posted form-encoded over HTTP, an envelope's payload in Socket Mode."""
    return {
        "token": "legacy",
        "team_id": team,
        "team_domain": "acme",
        "channel_id": "C0GENERAL",
        "user_id": user,
        "user_name": user.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "trigger_id": f"trigger-{user}-{time.monotonic_ns()}",
        "response_url": response_url,
    }


def view_submission(
    *, team: str, user: str, view: dict[str, Any], values: dict[str, Element]
) -> dict[str, Any]:
    """Submitting `view` (at least its id, callback_id and private_metadata) with these element states,
    by block id."""
    state = {"values": {block: {"value": element} for block, element in values.items()}}
    return {
        "type": "view_submission",
        "team": {"id": team},
        "user": {"id": user, "team_id": team},
        "api_app_id": APP_ID,
        "trigger_id": "trigger-submit",
        "view": {"type": "modal", **view, "team_id": team, "state": state, "hash": "h"},
    }


def block_actions(
    *, team: str, user: str, message: dict[str, Any], button: dict[str, Any], response_url: str
) -> dict[str, Any]:
    """`user` clicks `button` (its action_id and value) on `message` (its ts) in their DM with the app."""
    return {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": user, "team_id": team},
        "api_app_id": APP_ID,
        "trigger_id": "trigger-click",
        "container": {"type": "message", "channel_id": f"D{user}", "message_ts": message["ts"]},
        "channel": {"id": f"D{user}"},
        "message": message,
        "response_url": response_url,
        "actions": [{**button, "block_id": "realign.respond", "action_ts": str(time.time())}],
    }


def event_callback(*, team: str, event: dict[str, Any]) -> dict[str, Any]:
    """An Events API callback from `team` (e.g. `{"type": "app_uninstalled"}`), posted as JSON."""
    return {
        "token": "legacy",
        "team_id": team,
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": f"Ev{time.monotonic_ns()}",
        "event_time": int(time.time()),
        "event": event,
    }


# --- element states, as Slack puts them in view.state.values[block_id]["value"] ---------------------


def typed(value: str) -> Element:
    return {"type": "plain_text_input", "value": value}


def date(value: str) -> Element:
    return {"type": "datepicker", "selected_date": value}


def chosen(value: str) -> Element:
    return {"type": "static_select", "selected_option": {"value": value}}


def users(*ids: str) -> Element:
    return {"type": "multi_users_select", "selected_users": list(ids)}


def options(*values: str) -> Element:
    return {"type": "multi_static_select", "selected_options": [{"value": v} for v in values]}


def conversations(*ids: str) -> Element:
    return {"type": "multi_conversations_select", "selected_conversations": list(ids)}


def checked(*values: str) -> Element:
    return {"type": "checkboxes", "selected_options": [{"value": v} for v in values]}
