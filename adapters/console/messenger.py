"""Direct messages in the console: one in-memory inbox per person. The REPL prints what arrives.

Every port call maps to one inbox operation (append, find, replace), so when the follow-up messages
become outbox rows the messenger still only files what it is handed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bot.amend import AmendNotice
from bot.capacity import CapacityReply, CapacityRequest
from bot.clock import Clock
from bot.model import Announcement, Escalation, GapReport
from bot.ports import Found, MessageRef, SendResult, Sent
from bot.questions import Question


class Kind(StrEnum):
    ANNOUNCEMENT = "announcement"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    GAP_REPORT = "gap report"
    QUESTION = "question"  # to the announcer: a question or concern to answer
    ANSWER = "answer"  # to the asker, in the thread of their announcement
    CAPACITY = "capacity check"  # to a manager: can your team do this by then?
    CAPACITY_REPLY = "capacity answer"  # to the announcer: a manager's answer
    AMENDMENT = "amendment"  # in an announcement's thread: it changed for you, acknowledge again


Body = Announcement | Escalation | GapReport | Question | CapacityRequest | CapacityReply


@dataclass
class Message:
    """One DM as the recipient's inbox holds it: the core's view model, rendered when shown."""

    number: int  # its place in the recipient's inbox, from 1 (what `/ack N` names)
    to: str
    kind: Kind
    body: Body
    at: datetime
    ref: MessageRef
    thread: MessageRef | None = None
    notice_id: int | None = None  # a follow-up message's outbox row
    shown: bool = False  # printed to its recipient at least once

    @property
    def announcement(self) -> Announcement | None:
        return self.body if isinstance(self.body, Announcement) else None

    @property
    def question(self) -> Question | None:
        return self.body if isinstance(self.body, Question) else None

    @property
    def change_key(self) -> str:
        body = self.body
        if isinstance(body, Announcement | Question | CapacityReply):
            return body.change_key
        return body.change.key


class ConsoleMessenger:
    """Implements `bot.ports.Messenger`: files every message in its recipient's inbox; never fails."""

    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self.inboxes: dict[str, list[Message]] = {}
        self._arrived: list[Message] = []
        self._sent = 0

    def inbox(self, user_id: str) -> list[Message]:
        return self.inboxes.get(user_id, [])

    def take_arrivals(self) -> list[Message]:
        """Messages filed since the last call, in order."""
        arrived, self._arrived = self._arrived, []
        return arrived

    def _file(
        self,
        user_id: str,
        kind: Kind,
        body: Body,
        *,
        thread: MessageRef | None = None,
        notice_id: int | None = None,
    ) -> Sent:
        self._sent += 1
        inbox = self.inboxes.setdefault(user_id, [])
        ref = MessageRef(conversation=f"console:{user_id}", id=str(self._sent))
        message = Message(len(inbox) + 1, user_id, kind, body, self.clock.now(), ref, thread, notice_id)
        inbox.append(message)
        self._arrived.append(message)
        return Sent(ref)

    def _at(self, ref: MessageRef) -> Message | None:
        return next((m for m in self.inbox(ref.conversation.removeprefix("console:")) if m.ref == ref), None)

    async def send_announcement(self, announcement: Announcement, *, user_id: str) -> SendResult:
        return self._file(user_id, Kind.ANNOUNCEMENT, announcement)

    async def find_announcement(self, *, user_id: str, delivery_id: int) -> Found:
        for message in self.inbox(user_id):
            shown = message.announcement
            if message.kind is Kind.ANNOUNCEMENT and shown and shown.delivery_id == delivery_id:
                return message.ref
        return None

    async def update_announcement(self, ref: MessageRef, announcement: Announcement) -> None:
        message = self._at(ref)
        if message is not None:
            message.body = announcement  # the acknowledgement shows on the message in place

    async def update_reminder(self, ref: MessageRef, announcement: Announcement) -> None:
        await self.update_announcement(ref, announcement)

    async def send_reminder(
        self, announcement: Announcement, *, user_id: str, thread: MessageRef | None, notice_id: int
    ) -> SendResult:
        return self._file(user_id, Kind.REMINDER, announcement, thread=thread, notice_id=notice_id)

    async def send_escalation(self, escalation: Escalation, *, notice_id: int) -> SendResult:
        return self._file(escalation.manager_id, Kind.ESCALATION, escalation, notice_id=notice_id)

    async def send_gap_report(self, report: GapReport, *, notice_id: int) -> SendResult:
        return self._file(report.change.announcer_id, Kind.GAP_REPORT, report, notice_id=notice_id)

    async def find_notice(self, *, user_id: str, notice_id: int, thread: MessageRef | None) -> Found:
        return next((m.ref for m in self.inbox(user_id) if m.notice_id == notice_id), None)

    async def send_amendment(self, notice: AmendNotice, *, notice_id: int) -> SendResult:
        """The announcement updated in place; for someone asked again, a note in its thread."""
        await self.update_announcement(notice.ref, notice.announcement)
        if not notice.announcement.reasked:
            return Sent(notice.ref)
        return self._file(
            notice.user_id, Kind.AMENDMENT, notice.announcement, thread=notice.ref, notice_id=notice_id
        )

    # --- questions and answers (bot.questions.QuestionMessenger) ---------------------------------------

    async def send_question(self, question: Question) -> SendResult:
        return self._file(question.owner_id, Kind.QUESTION, question)

    async def update_question(self, ref: MessageRef, question: Question) -> None:
        message = self._at(ref)
        if message is not None:
            message.body = question

    async def send_answer(self, question: Question) -> SendResult:
        return self._file(question.asker_id, Kind.ANSWER, question, thread=question.thread)

    # --- the capacity check (bot.capacity.CapacityMessenger) -------------------------------------------

    async def send_capacity_check(self, request: CapacityRequest, *, notice_id: int) -> SendResult:
        return self._file(request.manager_id, Kind.CAPACITY, request, notice_id=notice_id)

    async def send_capacity_reply(self, reply: CapacityReply) -> SendResult:
        return self._file(reply.announcer_id, Kind.CAPACITY_REPLY, reply)
