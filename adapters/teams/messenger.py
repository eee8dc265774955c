"""Bot Connector calls for deliveries and follow-up: every failure is classified by HTTP status and
Teams error code, never by message text.

botbuilder's client retries no POST and never a 429 (urllib3 retries GET and PUT on 5xx only), so the
delivery engine retries: 429 after `Retry-After`, 412/5xx/timeouts with backoff. 403 and 404 are
permanent and recorded with their Teams code (bot.copy says it in words).

Reconciliation. The connector cannot list or read a conversation's messages. The activity id Realign
recorded (store.teams `teams_sent`, written the moment the connector answers, before the outbox row is
settled) finds a message whose answer came; a send whose answer never came (a timeout, a 5xx after the
request left, a crash mid-request) is looked for in the 1:1 chat through Microsoft Graph (adapters.teams.
graph): every card carries a client-generated id, `realign-<kind>-<row id>`. A lookup that cannot tell
is an unsure retry, never a blind resend (see docs/architecture.md, "Teams and exactly once").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import Any, Protocol, TypeVar

from botbuilder.schema import Activity, ActivityTypes, Attachment, ChannelAccount, ConversationParameters
from msrest.exceptions import ClientRequestError, DeserializationError, HttpOperationError
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ConnectTimeout

from adapters.teams import amend, capacity, cards
from adapters.teams.connector import Connectors
from adapters.teams.graph import GraphError, mark, marker
from adapters.teams.replies import Replies, Throttled
from bot.amend import AmendNotice
from bot.capacity import CapacityReply, CapacityRequest
from bot.clock import Clock
from bot.model import Announcement, Escalation, GapReport
from bot.ports import Failed, Found, MessageRef, Retry, SendResult, Sent
from bot.questions import Question
from store.teams import Reach

log = logging.getLogger(__name__)
UNREACHABLE = "teams_unreachable"  # nobody knows how to reach them: in no team or chat with Realign
DELIVERY, NOTICE = "delivery", "notice"
RETRYABLE = frozenset({412, 500, 502, 503, 504})
T = TypeVar("T")


class Records(Protocol):
    """What the messenger keeps in the database (store.teams.SqlTeams has it)."""

    async def reach(self, workspace: str, user_id: str) -> Reach | None: ...

    async def set_conversation(self, workspace: str, user_id: str, conversation_id: str) -> None: ...

    async def record_sent(
        self, *, kind: str, row_id: int, user_id: str, activity_id: str, at: datetime
    ) -> None: ...

    async def sent(self, *, kind: str, row_id: int) -> str | None: ...

    async def bot_app_id(self, workspace: str) -> str | None: ...

    async def names(self, workspace: str, user_ids: Collection[str]) -> dict[str, str]: ...


def error_code(status: int | None, body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code or (f"http_{status}" if status else "no_status"))


def classify(error: BaseException) -> Retry | Failed:
    """What a failed connector call means for the message."""
    if isinstance(error, HttpOperationError):
        response = error.response
        status = response.status_code if response is not None else None
        try:
            body = response.json() if response is not None else None
        except ValueError:
            body = None
        code = error_code(status, body)
        if status == 429:
            retry_after = response.headers.get("Retry-After") if response is not None else None
            try:
                after = float(retry_after or 1)
            except ValueError:
                after = 1.0
            return Retry("Throttled", after=after, rate_limited=True)
        if status == 412:  # refused before any effect
            return Retry(code)
        if status in RETRYABLE or (status or 0) >= 500:
            return Retry(code, unsure=True)
        if status in (403, 404, 400, 413):
            return Failed(code)
        log.error("Teams refused a message with %s %s; will retry", status, code)  # 401: operator
        return Retry(code, after=60)
    if isinstance(error, DeserializationError):  # a gateway's HTML page (503/504): status unknown
        return Retry("gateway error", unsure=True)
    if isinstance(error, ClientRequestError):
        inner = getattr(error, "inner_exception", None)
        if isinstance(inner, ConnectTimeout) or (
            isinstance(inner, RequestsConnectionError) and "timed out" not in str(inner).lower()
        ):
            return Retry("connection failed")  # never connected: nothing was sent
        return Retry("timeout", unsure=True)
    return Retry(f"{type(error).__name__}", unsure=True)


def message(card: cards.Card, summary: str) -> Activity:
    return Activity(
        type=ActivityTypes.message,
        summary=summary,
        attachments=[Attachment(content_type=cards.CONTENT_TYPE, content=card)],
    )


class TeamsMessenger:
    """Implements `bot.ports.Messenger` for one Teams tenant. A MessageRef is (the person's user id, the
    activity id): their 1:1 conversation id is looked up, as Teams ids are too long for the outbox."""

    def __init__(
        self,
        *,
        workspace: str,
        tenant_id: str,
        bot_id: str,
        connectors: Connectors,
        records: Records,
        clock: Clock,
        on_error: Callable[[str], None] | None = None,
        replies: Replies | None = None,
        pace: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.workspace = workspace
        # The engine's limiter: the outbox takes one slot a send; when the 1:1 chat had to be created
        # first (a request of its own), the post waits for a second slot (else a cold fan-out would
        # run at twice the rate).
        self.pace = pace
        self.replies = replies  # the web loop's: sends someone waits for stay within its share of the rate
        self.tenant_id = tenant_id
        self.bot_id = bot_id
        self.connectors = connectors
        self.records = records
        self.clock = clock
        self._on_error = on_error
        self._chats: dict[str, str] = {}  # user id -> Graph chat id (derived, so kept in memory only)

    def _classify(self, error: BaseException) -> Retry | Failed:
        verdict = classify(error)
        if self._on_error is not None:
            self._on_error(verdict.reason)
        return verdict

    async def _conversation(self, user_id: str) -> tuple[Reach, str] | Retry | Failed:
        """The bot's 1:1 conversation with the user, created (idempotently) and kept the first time."""
        reach = await self.records.reach(self.workspace, user_id)
        if reach is None:
            return Failed(UNREACHABLE)
        if reach.conversation_id:
            return reach, reach.conversation_id
        params = ConversationParameters(
            is_group=False,
            bot=ChannelAccount(id=self.bot_id),
            members=[ChannelAccount(id=reach.teams_id)],
            tenant_id=self.tenant_id,
            channel_data={"tenant": {"id": self.tenant_id}},
        )
        try:
            client = await self.connectors.client(reach.service_url)
            made = await client.conversations.create_conversation(params)
        except PermissionError as error:
            log.error("%s", error)
            return Failed(UNREACHABLE)
        except Exception as error:
            verdict = self._classify(error)
            # Creating a conversation posts nothing: an unknown outcome is simply tried again.
            return (
                Retry(verdict.reason, after=verdict.after, rate_limited=verdict.rate_limited)
                if isinstance(verdict, Retry)
                else verdict
            )
        await self.records.set_conversation(self.workspace, user_id, made.id)
        if self.pace is not None:  # the send that follows is a request of its own: it waits for a slot
            await self.pace()
        return reach, made.id

    async def _post(
        self, user_id: str, card: cards.Card, summary: str, *, kind: str, row_id: int
    ) -> SendResult:
        found = await self._conversation(user_id)
        if isinstance(found, Retry | Failed):
            return found
        reach, conversation_id = found
        try:
            client = await self.connectors.client(reach.service_url)
            marked = mark(card, kind, row_id)  # findable through Graph if the answer never comes
            sent = await client.conversations.send_to_conversation(conversation_id, message(marked, summary))
        except Exception as error:
            return self._classify(error)
        try:
            await self.records.record_sent(
                kind=kind, row_id=row_id, user_id=user_id, activity_id=sent.id, at=self.clock.now()
            )
        except Exception:  # the settle records it too; only a crash before that would lose it
            log.exception("could not record the activity id of %s %s", kind, row_id)
        return Sent(MessageRef(user_id, sent.id))

    async def _find(self, user_id: str, *, kind: str, row_id: int) -> Found:
        try:
            activity_id = await self.records.sent(kind=kind, row_id=row_id)
            if activity_id:
                return MessageRef(user_id, activity_id)
            graph = self.connectors.graph(self.tenant_id)
            if graph is None:  # MICROSOFT_GRAPH_URL off: the send is repeated (at most one duplicate)
                return None
            reach = await self.records.reach(self.workspace, user_id)
            if reach is None or not reach.conversation_id:
                return None  # no 1:1 chat was ever made: nothing can have been posted
            app_id = (
                self.connectors.registration.app_id or await self.records.bot_app_id(self.workspace) or ""
            )
            chat_id = self._chats.get(user_id)
            if chat_id is None:
                chat_id = await graph.chat_id(user_id, app_id)
                if chat_id is None:
                    return Retry("lookup failed: no personal installation to look in", after=60, unsure=True)
                self._chats[user_id] = chat_id
            found = await graph.find(chat_id, marker(kind, row_id), app_id=app_id, now=self.clock.now())
        except GraphError as error:
            if self._on_error is not None:
                self._on_error(f"graph {error.code}")
            return Retry(f"lookup failed: {error.code}", after=error.retry_after, unsure=True)
        except Exception as error:
            return Retry(f"lookup failed: {type(error).__name__}", unsure=True)
        if found is None:
            return None
        try:  # the next lookup needs no Graph call
            await self.records.record_sent(
                kind=kind, row_id=row_id, user_id=user_id, activity_id=found, at=self.clock.now()
            )
        except Exception:
            log.exception("could not record the activity id of %s %s", kind, row_id)
        return MessageRef(user_id, found)

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult:
        assert announcement.delivery_id is not None
        return await self._post(
            user_id,
            cards.announcement(announcement),
            cards.announcement_text(announcement),
            kind=DELIVERY,
            row_id=announcement.delivery_id,
        )

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> Found:
        return await self._find(user_id, kind=DELIVERY, row_id=delivery_id)

    async def send_reminder(
        self, announcement: Announcement, *, user_id: str, thread: MessageRef | None, notice_id: int
    ) -> SendResult:
        # A 1:1 chat has no threads: the reminder follows the announcement in the same conversation.
        return await self._post(
            user_id,
            cards.reminder(announcement),
            cards.reminder_text(announcement),
            kind=NOTICE,
            row_id=notice_id,
        )

    async def send_escalation(self, escalation: Escalation, *, notice_id: int) -> SendResult:
        return await self._post(
            escalation.manager_id,
            cards.escalation(escalation),
            cards.escalation_text(escalation),
            kind=NOTICE,
            row_id=notice_id,
        )

    async def send_gap_report(self, report: GapReport, *, notice_id: int) -> SendResult:
        try:
            people = await self.records.names(self.workspace, [q.asker_id for q in report.questions])
        except Exception:  # names are a nicety: the report goes out with ids rather than not at all
            log.exception("could not read the names of the askers in a gap report")
            people = {}
        return await self._post(
            report.change.announcer_id,
            cards.gap_report(report, people),
            cards.gap_report_text(report),
            kind=NOTICE,
            row_id=notice_id,
        )

    async def find_notice(self, *, user_id: str, notice_id: int, thread: MessageRef | None) -> Found:
        return await self._find(user_id, kind=NOTICE, row_id=notice_id)

    async def names(self, *user_ids: str | None) -> dict[str, str]:
        return await self.records.names(self.workspace, [u for u in user_ids if u])

    # --- questions and answers (bot.questions.QuestionMessenger): sent directly, not through the outbox

    async def send_direct(
        self, user_id: str, card: cards.Card, summary: str, *, reply_to: str | None = None
    ) -> SendResult:
        """One card in the person's 1:1 chat, while someone waits for its outcome; `reply_to` makes it a
        reply to that activity (a new message if Teams refuses the reply)."""
        return await self.send_activity(user_id, message(card, summary), reply_to=reply_to)

    async def send_activity(
        self, user_id: str, activity: Activity, *, reply_to: str | None = None
    ) -> SendResult:
        """One message (any attachment: a card, a file consent card, a file) in the person's 1:1 chat,
        as send_direct."""
        found = await self._conversation(user_id)
        if isinstance(found, Retry | Failed):
            return found
        reach, conversation_id = found
        try:
            client = await self.connectors.client(reach.service_url)
            if reply_to:
                try:
                    sent = await self._interactive(
                        "a reply",
                        lambda: client.conversations.reply_to_activity(conversation_id, reply_to, activity),
                    )
                    return Sent(MessageRef(user_id, sent.id))
                except Throttled as error:
                    return Retry("Throttled", after=error.retry_after, rate_limited=True)
                except Exception as error:
                    verdict = self._classify(error)
                    if isinstance(verdict, Retry):
                        return verdict
                    log.warning("Teams refused a reply (%s); sending it as a new message", verdict.reason)
            sent = await self._interactive(
                "a message", lambda: client.conversations.send_to_conversation(conversation_id, activity)
            )
        except Throttled as error:
            return Retry("Throttled", after=error.retry_after, rate_limited=True)
        except Exception as error:
            return self._classify(error)
        return Sent(MessageRef(user_id, sent.id))

    async def _interactive(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """A send someone waits for: on the web loop, paid for by the engine's budget of the tenant (a 429
        waited out once); the engine's messenger has no `replies`, its limiter paces it already."""
        return await (call() if self.replies is None else self.replies.send(what, call))

    async def send_question(self, question: Question) -> SendResult:
        people = await self.names(question.asker_id)
        return await self.send_direct(
            question.owner_id, cards.question(question, people), cards.question_text(question, people)
        )

    async def update_question(self, ref: MessageRef, question: Question) -> None:
        people = await self.names(question.asker_id, question.answered_by)
        await self._update(ref, cards.question(question, people), cards.question_text(question, people))

    async def send_answer(self, question: Question) -> SendResult:
        """To the asker, as a reply to their announcement (a 1:1 chat has no threads in Teams' sense,
        but a reply quotes what it answers)."""
        people = await self.names(question.answered_by)
        thread = question.thread
        reply_to = thread.id if thread is not None and thread.conversation == question.asker_id else None
        return await self.send_direct(
            question.asker_id,
            cards.answer(question, people),
            cards.answer_text(question),
            reply_to=reply_to,
        )

    async def _update(self, ref: MessageRef, card: cards.Card, summary: str) -> None:
        reach = await self.records.reach(self.workspace, ref.conversation)
        if reach is None or not reach.conversation_id:
            log.warning("cannot update a Teams message: no conversation with %s", ref.conversation)
            return
        client = await self.connectors.client(reach.service_url)
        activity = message(card, summary)
        activity.id = ref.id
        conversation_id = reach.conversation_id
        try:
            await self._interactive(
                "a card update",
                lambda: client.conversations.update_activity(conversation_id, ref.id, activity),
            )
        except Throttled:
            return  # said in one log line; the card shows its old state until the next update

    async def send_amendment(self, notice: AmendNotice, *, notice_id: int) -> SendResult:
        """The card updated in place; for someone asked again, a note after it (a 1:1 chat has no
        threads), recorded and findable like every follow-up message."""
        a = notice.announcement
        try:
            await self._update(notice.ref, cards.announcement(a), cards.announcement_text(a))
        except Exception as error:
            return self._classify(error)
        if not a.reasked:
            return Sent(notice.ref)
        return await self._post(
            notice.user_id, amend.note(a), amend.note_text(a), kind=NOTICE, row_id=notice_id
        )

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None:
        await self._update(ref, cards.announcement(announcement), cards.announcement_text(announcement))

    async def update_reminder(self, ref: MessageRef, announcement: Announcement) -> None:
        await self._update(ref, cards.reminder(announcement), cards.reminder_text(announcement))

    # --- the capacity check (bot.capacity.CapacityMessenger): the question is a notice, the answer direct

    async def send_capacity_check(self, request: CapacityRequest, *, notice_id: int) -> SendResult:
        people = await self._names_or_ids(request.change.announcer_id)
        return await self._post(
            request.manager_id,
            capacity.request(request, people),
            capacity.request_text(request),
            kind=NOTICE,
            row_id=notice_id,
        )

    async def send_capacity_reply(self, reply: CapacityReply) -> SendResult:
        people = await self._names_or_ids(reply.manager_id)
        return await self.send_direct(
            reply.announcer_id, capacity.reply(reply, people), capacity.reply_text(reply, people)
        )

    async def _names_or_ids(self, *user_ids: str) -> dict[str, str]:
        try:
            return await self.names(*user_ids)
        except Exception:  # names are a nicety: the message goes out with ids rather than not at all
            log.exception("could not read the names for a capacity check message")
            return {}
