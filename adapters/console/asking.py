"""The console's commands for questions and concerns: /ask, /concern, a line typed with no command,
/answer N and /resolve N. A part of `Session` (adapters/console/repl.py), kept apart to keep each small."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from adapters.console import prompts
from adapters.console.lines import Lines
from adapters.console.messenger import Message
from bot import copy
from bot.errors import RealignError
from bot.questions import Question, QuestionKind

if TYPE_CHECKING:
    from adapters.console.repl import ConsoleServices


class Asking:
    """Asking, answering and resolving, as the person at the keyboard (`me`)."""

    services: ConsoleServices
    out: Console
    me: str
    _asked: int

    def show(self, arrived: list[Message]) -> None:  # Session's
        raise NotImplementedError

    def _request(self) -> str:
        self._asked += 1
        return f"console:{self.me}:{self.services.clock.now().isoformat()}:{self._asked}"

    def _latest_key(self, argument: str) -> str:
        """CHG-n as typed, else the change of the latest announcement in your inbox."""
        word = argument.strip().upper()
        if word:
            return word
        received = [m.announcement for m in self.services.messenger.inbox(self.me) if m.announcement]
        if not received:
            raise RealignError(copy.NOTHING_TO_ASK_ABOUT)
        return received[-1].change_key

    async def _ask(self, argument: str, lines: Lines, kind: QuestionKind) -> None:
        key = self._latest_key(argument)
        text = await lines.read(f"{prompts.QUESTION_TEXT.format(kind=kind.value)}: ")
        if text is None or text.strip() == prompts.CANCEL_WORD:
            self.out.print(escape(prompts.CANCELLED))
            return
        question = await self.services.questioning.ask(
            change_key=key, user_id=self.me, kind=kind, text=text, request_ref=self._request()
        )
        self._sent(question)

    def _sent(self, question: Question) -> None:
        owner = self.services.directory.name(question.owner_id)
        self.out.print(
            escape(copy.QUESTION_SENT.format(kind=question.kind.value, key=question.change_key, owner=owner))
        )
        self.show(self.services.messenger.take_arrivals())  # sent directly, not by the engine

    async def ask(self, argument: str, lines: Lines) -> None:
        await self._ask(argument, lines, QuestionKind.QUESTION)

    async def concern(self, argument: str, lines: Lines) -> None:
        await self._ask(argument, lines, QuestionKind.CONCERN)

    async def typed(self, line: str) -> None:
        """A line typed without a command: a question about your latest announcement, as a reply typed
        into a Slack DM is (someone with no announcement is told how the console works)."""
        inbox = self.services.messenger.inbox(self.me)
        received = [m for m in inbox if m.announcement]
        if not received:
            self.out.print(escape(prompts.NOT_A_COMMAND))
            return
        question = await self.services.questioning.ask_typed(
            user_id=self.me, text=line, thread=received[-1].ref, request_ref=self._request()
        )
        if question is not None:
            self._sent(question)

    def _question_at(self, argument: str, usage: str) -> Question:
        word = argument.strip()
        if not word.isdigit():
            raise RealignError(usage)
        chosen = [m for m in self.services.messenger.inbox(self.me) if m.number == int(word)]
        question = chosen[0].question if chosen else None
        if question is None:
            raise RealignError(prompts.NOT_A_QUESTION.format(number=word))
        return question

    async def answer(self, argument: str, lines: Lines) -> None:
        question = self._question_at(argument, prompts.USAGE_ANSWER)
        await self.services.questioning.question(question.id, user_id=self.me)  # may they answer it?
        text = await lines.read(f"{prompts.ANSWER_TEXT}: ")
        if text is None or text.strip() == prompts.CANCEL_WORD:
            self.out.print(escape(prompts.CANCELLED))
            return
        answered = await self.services.questioning.answer(question_id=question.id, user_id=self.me, text=text)
        self.out.print(escape(copy.ANSWER_SENT.format(asker=self.services.directory.name(answered.asker_id))))
        self.show(self.services.messenger.take_arrivals())

    async def resolve(self, argument: str, lines: Lines) -> None:
        question = self._question_at(argument, prompts.USAGE_ANSWER)
        await self.services.questioning.resolve(question_id=question.id, user_id=self.me)
        self.out.print(escape(copy.RESOLVED))
