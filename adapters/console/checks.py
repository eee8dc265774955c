"""The console's commands for the scheduled publish and the capacity check: /publish CHG-n and
/cancel-publish CHG-n (the announcer's), /capacity N (a manager's answer, then a comment). A part of
`Session` (adapters/console/repl.py), like Asking."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from adapters.console import prompts, translate
from adapters.console.lines import Lines
from adapters.console.messenger import Kind, Message
from bot import copy
from bot.capacity import CapacityRequest
from bot.errors import RealignError

if TYPE_CHECKING:
    from adapters.console.repl import ConsoleServices


class Checks:
    """Publishing a scheduled change now or calling it off, and answering a capacity check, as `me`."""

    services: ConsoleServices
    out: Console
    me: str

    def show(self, arrived: list[Message]) -> None:  # Session's
        raise NotImplementedError

    async def catch_up(self) -> None:  # Session's
        raise NotImplementedError

    def _key(self, argument: str) -> str:
        key = argument.strip().upper()
        if not key:
            raise RealignError(prompts.USAGE_PUBLISH)
        return key

    async def publish_now(self, argument: str, lines: Lines) -> None:
        key = self._key(argument)
        published = await self.services.announcing.publish(key=key, user_id=self.me, at_once=True)
        done = copy.PUBLISHED if published.first else copy.NOT_SCHEDULED
        self.out.print(escape(done.format(key=key, count=published.recipients)))
        if published.first:
            await self.catch_up()

    async def cancel_publish(self, argument: str, lines: Lines) -> None:
        key = self._key(argument)
        cancelled = await self.services.announcing.cancel(key=key, user_id=self.me)
        self.out.print(escape((copy.SCHEDULE_CANCELLED if cancelled else copy.NOT_SCHEDULED).format(key=key)))

    def _request_at(self, argument: str) -> CapacityRequest:
        word = argument.strip()
        if not word.isdigit():
            raise RealignError(prompts.USAGE_CAPACITY)
        chosen = [m for m in self.services.messenger.inbox(self.me) if m.number == int(word)]
        if not chosen or chosen[0].kind is not Kind.CAPACITY:
            raise RealignError(prompts.NOT_A_CAPACITY_CHECK.format(number=word))
        body = chosen[0].body
        assert isinstance(body, CapacityRequest)
        return body

    async def capacity(self, argument: str, lines: Lines) -> None:
        request, checking = self._request_at(argument), self.services.capacity
        assert checking is not None, "the console wires the capacity check"
        effective = copy.day(request.change.effective_date)
        while True:
            said = await lines.read(f"{prompts.CAPACITY_CHOICE.format(effective=effective)}: ")
            if said is None or said.strip() == prompts.CANCEL_WORD:
                self.out.print(escape(prompts.CANCELLED))
                return
            try:
                answer = translate.capacity(said)
                break
            except translate.Unreadable as error:
                self.out.print(f"[red]✗ {escape(str(error))}[/red]")
        comment = await lines.read(f"{prompts.CAPACITY_COMMENT}: ")
        if comment is None or comment.strip() == prompts.CANCEL_WORD:
            self.out.print(escape(prompts.CANCELLED))
            return
        reply = await checking.answer(
            change_key=request.change.key, user_id=self.me, answer=answer, comment=comment
        )
        announcer = self.services.directory.name(reply.announcer_id)
        self.out.print(escape(copy.CAPACITY_SENT.format(announcer=announcer)))
        self.show(self.services.messenger.take_arrivals())  # sent directly, not by the engine
