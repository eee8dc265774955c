"""Asking, answering and resolving, on in-memory ports: what the core refuses, and that a failed send is
said (the question stays recorded) rather than lost."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from bot import copy
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.model import MessageRef
from bot.ports import Failed, SendResult, Sent
from bot.questions import (
    QUESTION_LIMIT,
    NotDelivered,
    Question,
    Questioning,
    QuestionKind,
    QuestionState,
)
from tests.conftest import FakeClock

RECIPIENTS = {"U1", "U2"}  # CHG-1 was delivered to them, announced by UANN


class MemoryQuestions:
    """`QuestionStore` over a dict: CHG-1 reaches RECIPIENTS."""

    def __init__(self) -> None:
        self.rows: dict[int, Question] = {}
        self.refs: dict[str, int] = {}

    async def ask(self, *, workspace: str, change_key: str, user_id: str, kind: QuestionKind, text: str,
                  at: datetime, request_ref: str) -> Question:  # fmt: skip
        if request_ref in self.refs:
            return self.rows[self.refs[request_ref]]
        if change_key != "CHG-1" or user_id not in RECIPIENTS or workspace != "T1":
            raise NotFound(copy.NOT_YOUR_CHANGE_TO_ASK.format(key=change_key))
        question = Question(len(self.rows) + 1, 1, "CHG-1", "New CRM", 7, user_id, "UANN", kind, text, at)
        self.rows[question.id] = question
        self.refs[request_ref] = question.id
        return question

    async def replied_to(self, *, workspace: str, user_id: str, thread: MessageRef | None) -> str | None:
        return "CHG-1" if user_id in RECIPIENTS else None

    async def get(self, question_id: int, *, workspace: str) -> Question:
        if question_id not in self.rows or workspace != "T1":
            raise NotFound(copy.NO_SUCH_QUESTION)
        return self.rows[question_id]

    async def posted(self, question_id: int, ref: MessageRef) -> None:
        self.rows[question_id] = replace(self.rows[question_id], posted=ref)

    async def answer(self, question_id: int, *, user_id: str, text: str, at: datetime) -> Question:
        old = self.rows[question_id]
        state = old.state if old.state is QuestionState.RESOLVED else QuestionState.ANSWERED
        self.rows[question_id] = replace(old, answer=text, answered_by=user_id, answered_at=at, state=state)
        return self.rows[question_id]

    async def resolve(self, question_id: int, *, user_id: str, at: datetime) -> Question:
        self.rows[question_id] = replace(self.rows[question_id], state=QuestionState.RESOLVED, resolved_at=at)
        return self.rows[question_id]

    async def open_questions(self, change_id: int, *, limit: int) -> tuple[list[Question], int]:
        still = [q for q in self.rows.values() if q.is_open]
        return still[:limit], len(still)


class Inbox:
    """`QuestionMessenger` that files what it sends; `down` makes every send fail."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Question]] = []
        self.updated: list[Question] = []
        self.down = False

    async def send_question(self, question: Question) -> SendResult:
        return self._file("question", question)

    async def send_answer(self, question: Question) -> SendResult:
        return self._file("answer", question)

    async def update_question(self, ref: MessageRef, question: Question) -> None:
        self.updated.append(question)

    def _file(self, kind: str, question: Question) -> SendResult:
        if self.down:
            return Failed("restricted_action")
        self.sent.append((kind, question))
        return Sent(MessageRef("D", str(len(self.sent))))


class Later:
    def __init__(self) -> None:
        self.work: list[Coroutine[Any, Any, Any]] = []

    def __call__(self, work: Coroutine[Any, Any, Any]) -> None:
        self.work.append(work)

    async def run(self) -> None:
        while self.work:
            await self.work.pop(0)


@pytest.fixture
def parts(clock: FakeClock) -> tuple[Questioning, MemoryQuestions, Inbox, Later]:
    store, inbox, later = MemoryQuestions(), Inbox(), Later()
    questioning = Questioning(workspace="T1", store=store, messenger=inbox, clock=clock, later=later)
    return questioning, store, inbox, later


async def test_a_question_goes_to_the_announcer_and_its_answer_to_the_asker(parts: Any) -> None:
    questioning, store, inbox, later = parts

    asked = await questioning.ask(
        change_key="CHG-1", user_id="U1", kind=QuestionKind.QUESTION, text="  Why?  ", request_ref="r"
    )
    answered = await questioning.answer(question_id=asked.id, user_id="UANN", text="Because.")
    await later.run()

    assert [(kind, q.text) for kind, q in inbox.sent] == [("question", "Why?"), ("answer", "Why?")]
    assert answered.answer == "Because." and store.rows[asked.id].posted == MessageRef("D", "1")
    assert [q.state for q in inbox.updated] == [QuestionState.ANSWERED]  # the announcer's message


async def test_a_failed_send_is_said_and_the_question_kept_to_send_again(parts: Any) -> None:
    questioning, store, inbox, _ = parts
    inbox.down = True

    with pytest.raises(NotDelivered, match="could not pass it on"):
        await questioning.ask(
            change_key="CHG-1", user_id="U1", kind=QuestionKind.CONCERN, text="No.", request_ref="r"
        )

    assert len(store.rows) == 1 and store.rows[1].posted is None
    inbox.down = False
    await questioning.ask(
        change_key="CHG-1", user_id="U1", kind=QuestionKind.CONCERN, text="No.", request_ref="r"
    )
    await questioning.ask(
        change_key="CHG-1", user_id="U1", kind=QuestionKind.CONCERN, text="No.", request_ref="r"
    )
    assert len(inbox.sent) == 1 and len(store.rows) == 1  # sent once, when it could be


@pytest.mark.parametrize("text", ["", "   ", "x" * (QUESTION_LIMIT + 1)])
async def test_an_empty_or_overlong_question_is_refused_on_its_field(parts: Any, text: str) -> None:
    questioning, store, _, _ = parts
    with pytest.raises(InvalidInput) as refused:
        await questioning.ask(
            change_key="CHG-1", user_id="U1", kind=QuestionKind.QUESTION, text=text, request_ref="r"
        )
    assert set(refused.value.errors) == {"question"} and store.rows == {}


async def test_only_the_announcer_answers_and_only_concerns_are_resolved(parts: Any) -> None:
    questioning, _, _, _ = parts
    asked = await questioning.ask(
        change_key="CHG-1", user_id="U1", kind=QuestionKind.QUESTION, text="Why?", request_ref="r"
    )

    for user in ("U1", "U2"):
        with pytest.raises(NotAllowed):
            await questioning.answer(question_id=asked.id, user_id=user, text="Guess.")
    with pytest.raises(InvalidInput):
        await questioning.resolve(question_id=asked.id, user_id="UANN")
    with pytest.raises(NotFound):
        await questioning.question(99, user_id="UANN")


async def test_a_typed_reply_needs_an_announcement_to_be_about(parts: Any) -> None:
    questioning, _, inbox, _ = parts
    assert await questioning.ask_typed(user_id="UX", text="Hi", thread=None, request_ref="im:1") is None
    asked = await questioning.ask_typed(user_id="U2", text="Hi?", thread=None, request_ref="im:2")
    assert asked is not None and asked.kind is QuestionKind.QUESTION and len(inbox.sent) == 1


def test_an_answered_concern_stays_open_until_resolved(clock: FakeClock) -> None:
    concern = Question(1, 1, "CHG-1", "T", 1, "U1", "UANN", QuestionKind.CONCERN, "No.", clock.now())
    question = replace(concern, kind=QuestionKind.QUESTION)
    assert concern.is_open and replace(concern, state=QuestionState.ANSWERED).is_open
    assert not replace(concern, state=QuestionState.RESOLVED).is_open
    assert question.is_open and not replace(question, state=QuestionState.ANSWERED).is_open
