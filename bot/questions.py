"""Questions and concerns: a recipient asks (a button and a short form, or a reply typed into the DM);
the announcer answers; the answer reaches the asker in the thread of their announcement.

Asking is not acknowledging. A question is open until answered; a concern until the announcer marks it
resolved. Every question is stored before its message is sent, so none is lost: a send that fails is
answered to the person with an error (and the question still shows in `/change-status`).

These messages go out directly, not through the outbox: each is one person's action, answered while they
wait, with its outcome shown to them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot import copy
from bot.clock import Clock
from bot.errors import InvalidInput, NotAllowed, RealignError
from bot.model import MessageRef
from bot.ports import SendResult, Sent

QUESTION_LIMIT = 2000  # characters: one question, not an essay (and well inside a Slack section)


class QuestionKind(StrEnum):
    QUESTION = "question"
    CONCERN = "concern"  # e.g. "my team cannot do this by then"


class QuestionState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    RESOLVED = "resolved"  # concerns only: the announcer marked it dealt with


@dataclass(frozen=True)
class Question:
    """One question or concern of a recipient about a change, and what became of it."""

    id: int
    change_id: int
    change_key: str
    title: str  # the change's
    delivery_id: int
    asker_id: str
    owner_id: str  # who answers: the change's named owner, else its announcer
    kind: QuestionKind
    text: str
    asked_at: datetime
    state: QuestionState = QuestionState.OPEN
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    resolved_at: datetime | None = None
    thread: MessageRef | None = None  # the asker's announcement: the answer goes in its thread
    posted: MessageRef | None = None  # the message that asked the owner
    announcer_id: str = ""  # may answer too, when the change names another owner

    @property
    def is_open(self) -> bool:
        """Still waiting for the announcer: an unanswered question, or an unresolved concern."""
        if self.kind is QuestionKind.CONCERN:
            return self.state is not QuestionState.RESOLVED
        return self.state is QuestionState.OPEN


class NotDelivered(RealignError):
    """A question or answer was recorded but its message could not be sent; the text says so."""


class QuestionStore(Protocol):
    """Questions, stored with their audit events."""

    async def ask(
        self,
        *,
        workspace: str,
        change_key: str,
        user_id: str,
        kind: QuestionKind,
        text: str,
        at: datetime,
        request_ref: str,
    ) -> Question:
        """Record the question of the change's recipient `user_id` (NotFound if they are not one). The
        same `request_ref` (a form's id, a typed message's id) returns the question already recorded."""
        ...

    async def replied_to(self, *, workspace: str, user_id: str, thread: MessageRef | None) -> str | None:
        """The change key a reply typed into the DM is about: the announcement whose thread it is in, else
        the latest announcement the user was sent. None: they were sent none."""
        ...

    async def get(self, question_id: int, *, workspace: str) -> Question:
        """The question (NotFound if it is another workspace's, or none)."""
        ...

    async def posted(self, question_id: int, ref: MessageRef) -> None:
        """Where the message asking the owner is."""
        ...

    async def answer(self, question_id: int, *, user_id: str, text: str, at: datetime) -> Question: ...

    async def resolve(self, question_id: int, *, user_id: str, at: datetime) -> Question: ...

    async def open_questions(self, change_id: int, *, limit: int) -> tuple[list[Question], int]:
        """The first `limit` open questions and concerns (oldest first), and how many are open in all."""
        ...


class QuestionMessenger(Protocol):
    """The direct messages of questions and answers on one workspace."""

    async def send_question(self, question: Question) -> SendResult:
        """To the owner, with an Answer button (and Mark resolved, for a concern)."""
        ...

    async def update_question(self, ref: MessageRef, question: Question) -> None:
        """Show on the owner's message that it was answered (or resolved)."""
        ...

    async def send_answer(self, question: Question) -> SendResult:
        """To the asker, in the thread of their announcement (a new DM if it is gone)."""
        ...


def check_text(text: str, *, block: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput({block: copy.REQUIRED})
    if len(cleaned) > QUESTION_LIMIT:
        raise InvalidInput({block: copy.TOO_LONG.format(limit=QUESTION_LIMIT)})
    return cleaned


class Questioning:
    """Ask a question / I have a concern / Answer / Mark resolved, for one workspace."""

    def __init__(
        self,
        *,
        workspace: str,
        store: QuestionStore,
        messenger: QuestionMessenger,
        clock: Clock,
        later: Callable[[Coroutine[Any, Any, Any]], None],
        admins: Collection[str] = (),
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.messenger = messenger
        self.clock = clock
        self.later = later  # runs work after the person has been answered
        self.admins = frozenset(admins)

    async def ask(
        self, *, change_key: str, user_id: str, kind: QuestionKind, text: str, request_ref: str
    ) -> Question:
        """Record the question, then send it to the owner; NotDelivered if that send failed."""
        question = await self.store.ask(
            workspace=self.workspace,
            change_key=change_key,
            user_id=user_id,
            kind=kind,
            text=check_text(text, block="question"),
            at=self.clock.now(),
            request_ref=request_ref,
        )
        if question.posted is not None:  # a resubmission of what was already sent
            return question
        result = await self.messenger.send_question(question)
        if not isinstance(result, Sent):
            raise NotDelivered(copy.QUESTION_NOT_SENT)
        await self.store.posted(question.id, result.ref)
        return replace(question, posted=result.ref)

    async def ask_typed(
        self, *, user_id: str, text: str, thread: MessageRef | None, request_ref: str
    ) -> Question | None:
        """A reply typed into the DM: a question about the announcement it answers (None: the person was
        sent no announcement, so there is nothing to ask about)."""
        key = await self.store.replied_to(workspace=self.workspace, user_id=user_id, thread=thread)
        if key is None:
            return None
        return await self.ask(
            change_key=key, user_id=user_id, kind=QuestionKind.QUESTION, text=text, request_ref=request_ref
        )

    async def _owned(self, question_id: int, *, user_id: str) -> Question:
        question = await self.store.get(question_id, workspace=self.workspace)
        if user_id not in (question.owner_id, question.announcer_id) and user_id not in self.admins:
            raise NotAllowed(copy.NOT_YOUR_QUESTION)
        return question

    async def question(self, question_id: int, *, user_id: str) -> Question:
        """The question its owner is about to answer."""
        return await self._owned(question_id, user_id=user_id)

    async def answer(self, *, question_id: int, user_id: str, text: str) -> Question:
        """Record the answer and send it to the asker; a later answer follows up on the first."""
        await self._owned(question_id, user_id=user_id)
        answered = await self.store.answer(
            question_id, user_id=user_id, text=check_text(text, block="answer"), at=self.clock.now()
        )
        result = await self.messenger.send_answer(answered)
        if answered.posted is not None:
            self.later(self.messenger.update_question(answered.posted, answered))
        if not isinstance(result, Sent):
            raise NotDelivered(copy.ANSWER_NOT_SENT)
        return answered

    async def resolve(self, *, question_id: int, user_id: str) -> Question:
        question = await self._owned(question_id, user_id=user_id)
        if question.kind is not QuestionKind.CONCERN:
            raise InvalidInput({"question": copy.ONLY_CONCERNS_RESOLVE})
        resolved = await self.store.resolve(question_id, user_id=user_id, at=self.clock.now())
        if resolved.posted is not None:
            self.later(self.messenger.update_question(resolved.posted, resolved))
        return resolved
