"""Slack Web API calls for deliveries: every failure is classified by error code, never by message text."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack import alignment, amend, capacity, render
from bot.amend import AmendNotice
from bot.capacity import CapacityReply, CapacityRequest
from bot.model import Announcement, Escalation, GapReport
from bot.ports import Failed, Found, MessageRef, Retry, SendResult, Sent
from bot.questions import Question

log = logging.getLogger(__name__)

METADATA_EVENT = "realign_announcement"
NOTICE_EVENT = "realign_notice"  # follow-up messages: reminders, escalations, gap reports
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


def reply_code(status: int, data: Any) -> str:
    """The error code of a Web API reply that is not `ok`: Slack's own, `ratelimited` for any 429, or
    `http_<status>` when there is none (e.g. the HTML error page of a proxy in front of Slack)."""
    error = data.get("error") if isinstance(data, dict) else None
    return "ratelimited" if status == 429 else str(error or f"http_{status}")


def error_code(error: BaseException) -> str:
    """The code a failed Web API call counts under (metrics): the reply's, or what went wrong on the way."""
    if isinstance(error, SlackApiError):
        return reply_code(error.response.status_code, error.response.data)
    if isinstance(error, aiohttp.ClientConnectorError):
        return "connection_failed"
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return "timeout"
    return type(error).__name__


def classify_reply(status: int, data: Any, retry_after: str | None) -> Retry | Failed:
    """What a Web API reply that is not `ok` means for the delivery."""
    code = reply_code(status, data)
    if code == "ratelimited":
        return Retry("ratelimited", after=float(retry_after or 1), rate_limited=True)
    if status >= 500 or code in UNSURE:
        return Retry(code, unsure=True)
    if code in PERMANENT:
        return Failed(code)
    # invalid_auth, token_revoked, ...: an operator must act; the recipient is not at fault.
    log.error("Slack refused a delivery with %s; will retry", code)
    return Retry(code, after=60)


def classify(error: BaseException) -> Retry | Failed:
    """What a failed Web API call means for the delivery."""
    if isinstance(error, SlackApiError):
        headers = error.response.headers
        retry_after = headers.get("Retry-After") or headers.get("retry-after")
        return classify_reply(error.response.status_code, error.response.data, retry_after)
    if isinstance(error, aiohttp.ClientConnectorError):  # never connected: nothing was sent
        return Retry(f"connection failed: {error.os_error}")
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return Retry("timeout", unsure=True)
    return Retry(f"{type(error).__name__}: {error}", unsure=True)


class AnnouncementBodies:
    """`chat.postMessage` bodies for announcements, serialised once per (change, groups).

    The recipients of one group set differ only in their channel and delivery id, so the JSON is
    rendered once with a marker for the id and then pieced together per recipient: the fan-out's hot
    path does no block building and no JSON encoding."""

    MARKER = -918273645  # stands for the delivery id in a cached body
    SIZE = 256

    def __init__(self) -> None:
        self._pieces: dict[Announcement, list[str]] = {}

    def body(self, announcement: Announcement, *, user_id: str) -> bytes:
        assert announcement.delivery_id is not None
        template = replace(announcement, delivery_id=self.MARKER)
        pieces = self._pieces.get(template)
        if pieces is None:
            pieces = json.dumps(self._fields(template)).split(str(self.MARKER))
            if len(pieces) != 3:  # the marker also appears in the text: render this one in full
                return json.dumps({"channel": user_id, **self._fields(announcement)}).encode()
            if len(self._pieces) >= self.SIZE:
                self._pieces.clear()
            self._pieces[template] = pieces
        rest = str(announcement.delivery_id).join(pieces)
        return f'{{"channel":{json.dumps(user_id)},{rest[1:]}'.encode()

    @staticmethod
    def _fields(a: Announcement) -> dict[str, Any]:
        payload = {"change_key": a.change_key, "delivery_id": a.delivery_id}
        return {
            "text": render.announcement_text(a),
            "blocks": render.announcement(a),
            "unfurl_links": False,
            "metadata": {"event_type": METADATA_EVENT, "event_payload": payload},
        }


class SlackMessenger:
    """Implements `bot.ports.Messenger` for one Slack workspace."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        history_depth: int = 50,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.history_depth = history_depth
        self._on_error = on_error  # told the code of every failed call (metrics)
        self._bodies = AnnouncementBodies()
        self._post_url = f"{client.base_url}chat.postMessage"
        self._headers = {
            "Authorization": f"Bearer {client.token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        self._timeout = aiohttp.ClientTimeout(total=client.timeout)

    async def _post(
        self, channel: str, *, text: str, blocks: list[Any], notice_id: int | None = None, **extra: Any
    ) -> SendResult:
        if notice_id is not None:
            extra["metadata"] = {"event_type": NOTICE_EVENT, "event_payload": {"notice_id": notice_id}}
        try:
            response = await self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, **extra
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            return self._classify(error)
        return Sent(MessageRef(response["channel"], response["ts"]))

    def _classify(self, error: BaseException) -> Retry | Failed:
        if self._on_error is not None:
            self._on_error(error_code(error))
        return classify(error)

    def _classify_reply(self, status: int, data: Any, retry_after: str | None) -> Retry | Failed:
        if self._on_error is not None:
            self._on_error(reply_code(status, data))
        return classify_reply(status, data, retry_after)

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult:
        # The fan-out's hot path posts a pre-serialised body on the client's HTTP session, without
        # slack_sdk's per-call request building; errors mean the same as on every other call.
        body = self._bodies.body(announcement, user_id=user_id)
        session = self.client.session
        assert session is not None, "the Slack client needs a shared aiohttp session"
        try:
            async with session.post(
                self._post_url, data=body, headers=self._headers, timeout=self._timeout
            ) as response:
                status, retry_after = response.status, response.headers.get("Retry-After")
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            return self._classify(error)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if status == 200 and isinstance(data, dict) and data.get("ok"):
            return Sent(MessageRef(data["channel"], data["ts"]))
        return self._classify_reply(status, data, retry_after)

    async def send_reminder(
        self, announcement: Announcement, *, user_id: str, thread: MessageRef | None, notice_id: int
    ) -> SendResult:
        text, blocks = render.reminder_text(announcement), render.reminder(announcement)
        if thread is not None:
            result = await self._post(
                thread.conversation, text=text, blocks=blocks, thread_ts=thread.id, notice_id=notice_id
            )
            if not (isinstance(result, Failed) and result.reason in THREAD_GONE):
                return result
        return await self._post(
            user_id, text=text, blocks=blocks, notice_id=notice_id
        )  # thread gone: a new DM

    async def send_escalation(self, escalation: Escalation, *, notice_id: int) -> SendResult:
        return await self._post(
            escalation.manager_id,
            text=render.escalation_text(escalation),
            blocks=render.escalation(escalation),
            notice_id=notice_id,
        )

    async def send_gap_report(self, report: GapReport, *, notice_id: int) -> SendResult:
        return await self._post(
            report.change.announcer_id,
            text=render.gap_report_text(report),
            blocks=render.gap_report(report),
            notice_id=notice_id,
        )

    async def _lookup(self, method: str, **params: Any) -> list[dict[str, Any]] | Retry | None:
        """Messages of a conversation (or a thread); a Retry when Slack says wait; None when unreachable."""
        try:
            reply = await self.client.api_call(
                method,
                http_verb="GET",
                params={"include_all_metadata": True, "limit": self.history_depth, **params},
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            verdict = self._classify(error)
            return None if isinstance(verdict, Failed) else verdict  # unreachable: the send will say why
        return list(reply.get("messages", []))

    async def _dm(self, user_id: str) -> str | Retry | None:
        try:
            opened = await self.client.conversations_open(users=user_id)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            verdict = self._classify(error)
            return None if isinstance(verdict, Failed) else verdict
        return str(opened["channel"]["id"])

    async def _find(
        self, user_id: str, event: str, key: str, value: int, *, thread: MessageRef | None = None
    ) -> Found:
        """The message with our metadata `event` and payload[key] == value: in the thread, else the DM."""
        places: list[tuple[str, dict[str, Any]]] = []
        if thread is not None:
            places.append((thread.conversation, {"ts": thread.id}))
        dm = await self._dm(user_id)
        if isinstance(dm, Retry):
            return dm
        if dm is not None:
            places.append((dm, {}))
        for channel, params in places:
            method = "conversations.replies" if params else "conversations.history"
            messages = await self._lookup(method, channel=channel, **params)
            if isinstance(messages, Retry):
                return messages
            for message in messages or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event and payload.get(key) == value:
                    return MessageRef(channel, message["ts"])
        return None

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> Found:
        return await self._find(user_id, METADATA_EVENT, "delivery_id", delivery_id)

    async def find_notice(self, *, user_id: str, notice_id: int, thread: MessageRef | None) -> Found:
        return await self._find(user_id, NOTICE_EVENT, "notice_id", notice_id, thread=thread)

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None:
        await self.client.chat_update(
            channel=ref.conversation,
            ts=ref.id,
            text=render.announcement_text(announcement),
            blocks=render.announcement(announcement),
        )

    async def send_amendment(self, notice: AmendNotice, *, notice_id: int) -> SendResult:
        """The DM updated in place; for someone asked again, a note in its thread (found by its notice id)."""
        a, ref = notice.announcement, notice.ref
        try:
            await self.client.chat_update(
                channel=ref.conversation,
                ts=ref.id,
                text=render.announcement_text(a),
                blocks=render.announcement(a),
            )
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            return self._classify(error)
        if not a.reasked:
            return Sent(ref)
        return await self._post(
            ref.conversation,
            text=amend.note_text(a),
            blocks=amend.note(a),
            thread_ts=ref.id,
            notice_id=notice_id,
        )

    async def update_reminder(self, ref: MessageRef, announcement: Announcement) -> None:
        await self.client.chat_update(
            channel=ref.conversation,
            ts=ref.id,
            text=render.reminder_text(announcement),
            blocks=render.reminder(announcement),
        )

    # --- questions and answers (bot.questions.QuestionMessenger): sent directly, not through the outbox

    async def send_question(self, question: Question) -> SendResult:
        return await self._post(
            question.owner_id, text=alignment.question_text(question), blocks=alignment.question(question)
        )

    async def update_question(self, ref: MessageRef, question: Question) -> None:
        await self.client.chat_update(
            channel=ref.conversation,
            ts=ref.id,
            text=alignment.question_text(question),
            blocks=alignment.question(question),
        )

    async def send_answer(self, question: Question) -> SendResult:
        text, blocks = alignment.answer_text(question), alignment.answer(question)
        thread = question.thread
        if thread is not None:
            result = await self._post(thread.conversation, text=text, blocks=blocks, thread_ts=thread.id)
            if not (isinstance(result, Failed) and result.reason in THREAD_GONE):
                return result
        return await self._post(question.asker_id, text=text, blocks=blocks)  # thread gone: a new DM

    # --- the capacity check (bot.capacity.CapacityMessenger): the question is a notice, the answer direct

    async def send_capacity_check(self, request: CapacityRequest, *, notice_id: int) -> SendResult:
        return await self._post(
            request.manager_id,
            text=capacity.request_text(request),
            blocks=capacity.request(request),
            notice_id=notice_id,
        )

    async def send_capacity_reply(self, reply: CapacityReply) -> SendResult:
        return await self._post(
            reply.announcer_id, text=capacity.reply_text(reply), blocks=capacity.reply(reply)
        )
