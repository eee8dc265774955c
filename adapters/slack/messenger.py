"""Slack Web API calls for deliveries: every failure is classified by error code, never by message text."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import render
from bot.model import Announcement, Escalation, GapReport
from bot.ports import Failed, MessageRef, Retry, SendResult, Sent

log = logging.getLogger(__name__)

METADATA_EVENT = "realign_announcement"
# The recipient cannot be reached until someone fixes something: record, don't retry.
PERMANENT = frozenset(
    {
        "thread_not_found",
        "message_not_found",
        "channel_not_found",
        "account_inactive",
        "messages_tab_disabled",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
        "is_archived",
        "not_in_channel",
        "restricted_action",
        "invalid_blocks",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "invalid_metadata_format",
        "invalid_metadata_schema",
    }
)
THREAD_GONE = frozenset({"thread_not_found", "message_not_found", "channel_not_found"})
# Slack's own trouble: the message may or may not have been posted.
UNSURE = frozenset({"internal_error", "fatal_error", "request_timeout", "service_unavailable"})


def classify(error: BaseException) -> Retry | Failed:
    """What a failed Web API call means for the delivery."""
    if isinstance(error, SlackApiError):
        status = error.response.status_code
        data = error.response.data if isinstance(error.response.data, dict) else {}
        code = str(data.get("error") or f"http_{status}")
        if status == 429 or code == "ratelimited":
            after = error.response.headers.get("Retry-After") or error.response.headers.get("retry-after")
            return Retry("ratelimited", after=float(after or 1), rate_limited=True)
        if status >= 500 or code in UNSURE:
            return Retry(code, unsure=True)
        if code in PERMANENT:
            return Failed(code)
        # invalid_auth, token_revoked, ...: an operator must act; the recipient is not at fault.
        log.error("Slack refused a delivery with %s; will retry", code)
        return Retry(code, after=60)
    if isinstance(error, aiohttp.ClientConnectorError):  # never connected: nothing was sent
        return Retry(f"connection failed: {error.os_error}")
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return Retry("timeout", unsure=True)
    return Retry(f"{type(error).__name__}: {error}", unsure=True)


class SlackMessenger:
    """Implements `bot.ports.Messenger` for one Slack workspace."""

    def __init__(self, client: AsyncWebClient, *, history_depth: int = 50) -> None:
        self.client = client
        self.history_depth = history_depth

    async def _post(self, channel: str, *, text: str, blocks: list[Any], **extra: Any) -> SendResult:
        try:
            response = await self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, **extra
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            return classify(error)
        return Sent(MessageRef(response["channel"], response["ts"]))

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult:
        payload = {"change_key": announcement.change_key, "delivery_id": announcement.delivery_id}
        return await self._post(
            user_id,
            text=render.announcement_text(announcement),
            blocks=render.announcement(announcement),
            metadata={"event_type": METADATA_EVENT, "event_payload": payload},
        )

    async def send_reminder(
        self, announcement: Announcement, *, user_id: str, thread: MessageRef | None
    ) -> SendResult:
        text, blocks = render.reminder_text(announcement), render.reminder(announcement)
        if thread is not None:
            result = await self._post(thread.channel, text=text, blocks=blocks, thread_ts=thread.ts)
            if not (isinstance(result, Failed) and result.reason in THREAD_GONE):
                return result
        return await self._post(user_id, text=text, blocks=blocks)  # the thread is gone: a new DM

    async def send_escalation(self, escalation: Escalation) -> SendResult:
        return await self._post(
            escalation.manager_id,
            text=render.escalation_text(escalation),
            blocks=render.escalation(escalation),
        )

    async def send_gap_report(self, report: GapReport) -> SendResult:
        return await self._post(
            report.change.announcer_id, text=render.gap_report_text(report), blocks=render.gap_report(report)
        )

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> MessageRef | None:
        try:
            opened = await self.client.conversations_open(users=user_id)
        except SlackApiError as error:
            if isinstance(classify(error), Failed):  # unreachable now: the send will say why, once
                return None
            raise
        channel = opened["channel"]["id"]
        history = await self.client.conversations_history(
            channel=channel, include_all_metadata=True, limit=self.history_depth
        )
        messages: list[dict[str, Any]] = history.get("messages", [])
        for message in messages:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("delivery_id") == delivery_id:
                return MessageRef(channel, message["ts"])
        return None

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None:
        await self.client.chat_update(
            channel=ref.channel,
            ts=ref.ts,
            text=render.announcement_text(announcement),
            blocks=render.announcement(announcement),
        )
