"""The console's read-eval-print loop: one typed command, one use case call, the answer rendered as text.

The engine (what the tick jobs do beside `realign serve`) runs when something can have fallen due: after
a publish, and as `/advance` moves the clock, so reminders, escalations and gap reports arrive in order.
What it sends is listed, and shown in full when it is for you. The clock stands still otherwise, so
nothing else can fall due between commands.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape

from adapters.console import prompts, render, translate
from adapters.console.amending import Amend
from adapters.console.announce import AnnounceForm
from adapters.console.asking import Asking
from adapters.console.checks import Checks
from adapters.console.clock import ConsoleClock
from adapters.console.directory import EVERYONE, ConsoleDirectory
from adapters.console.lines import Lines
from adapters.console.messenger import ConsoleMessenger, Kind, Message
from bot import copy
from bot.acknowledge import Acknowledging
from bot.amend import Amending
from bot.announce import Announcing
from bot.capacity import CapacityChecking
from bot.durations import parse_duration
from bot.errors import ConfigError, RealignError
from bot.model import Announcement
from bot.questions import Questioning
from bot.status import Closing, Reporting
from bot.words import Restating

MAX_STEPS = 12  # engine runs per /advance, however far: a 1-day jump runs it every 2 hours
ENGINE_AFTER = frozenset({"announce-change"})  # commands that queue messages due at once


class Engine(Protocol):
    """The background work of `realign serve`, run once: send what is due now."""

    async def run(self) -> None: ...


@dataclass
class Later:
    """Work a use case hands on for after its answer (Acknowledging's message update): run after the
    command, before the next prompt, so the console stays in step."""

    work: list[Coroutine[Any, Any, Any]] = field(default_factory=list)

    def __call__(self, work: Coroutine[Any, Any, Any]) -> None:
        self.work.append(work)

    async def run(self) -> None:
        while self.work:
            await self.work.pop(0)


@dataclass(frozen=True)
class ConsoleServices:
    """The use cases, engine and adapter parts one console session calls."""

    workspace: str
    announcing: Announcing
    reporting: Reporting
    acknowledging: Acknowledging
    closing: Closing
    questioning: Questioning
    restating: Restating
    amending: Amending
    directory: ConsoleDirectory
    messenger: ConsoleMessenger
    engine: Engine
    clock: ConsoleClock
    later: Later
    sweep: timedelta = timedelta(seconds=60)  # the shortest step /advance takes
    capacity: CapacityChecking | None = None


def steps(total: timedelta, *, shortest: timedelta) -> list[timedelta]:
    """`total` cut into at most MAX_STEPS equal steps, none shorter than `shortest` (but the last)."""
    count = max(1, min(MAX_STEPS, math.ceil(total / max(shortest, timedelta(seconds=1)))))
    step = total / count
    return [step] * (count - 1) + [total - step * (count - 1)]


class Session(Asking, Checks, Amend):
    """One person at the keyboard, being whoever `/as` says."""

    def __init__(self, *, services: ConsoleServices, out: Console, me: str) -> None:
        self.services = services
        self.out = out
        self.me = me
        self.done = False
        self._asked = 0  # questions asked in this session: each one's request is its own
        self.commands: dict[str, Callable[[str, Lines], Awaitable[None]]] = {
            "announce-change": self.announce,
            "as": self.become,
            "inbox": self.inbox,
            "ack": self.ack,
            "ask": self.ask,
            "concern": self.concern,
            "answer": self.answer,
            "resolve": self.resolve,
            "change-status": self.status,
            "close": self.close,
            "amend": self.amend,
            "publish": self.publish_now,
            "cancel-publish": self.cancel_publish,
            "capacity": self.capacity,
            "advance": self.advance,
            "people": self.people,
            "help": self.help,
            "quit": self.quit,
            "exit": self.quit,
        }

    @property
    def prompt(self) -> str:
        return f"{self.me}> "

    def words(self) -> list[str]:
        """What Tab completes."""
        directory = self.services.directory
        groups = [f"@{handle}" for handle in (*directory.departments(), EVERYONE)]
        return [*(f"/{name}" for name in self.commands), *directory.roster, *groups]

    def banner(self) -> None:
        directory, clock = self.services.directory, self.services.clock
        self.out.print(
            escape(
                prompts.BANNER.format(
                    workspace=self.services.workspace,
                    count=len(directory.roster),
                    now=copy.moment(clock.now()),
                    name=directory.name(self.me),
                )
            )
        )

    async def run(self, lines: Lines) -> None:
        """Read and run commands until /quit or the end of input."""
        while not self.done:
            line = await lines.read(self.prompt)
            if line is None:
                return
            await self.handle(line, lines)

    async def handle(self, line: str, lines: Lines) -> None:
        command = translate.command(line)
        if command is None:
            if line.strip():
                try:
                    await self.typed(line)
                except RealignError as error:
                    self.out.print(f"[red]{escape(str(error))}[/red]")
            return
        handler = self.commands.get(command.name)
        if handler is None:
            self.out.print(escape(prompts.UNKNOWN_COMMAND.format(command=f"/{command.name}")))
            return
        try:
            await handler(command.argument, lines)
        except RealignError as error:
            self.out.print(f"[red]{escape(str(error))}[/red]")
        await self.services.later.run()
        if command.name in ENGINE_AFTER:
            await self.catch_up()

    async def catch_up(self) -> None:
        """Run the engine once at the current time and show what it sent."""
        await self.services.engine.run()
        self.show(self.services.messenger.take_arrivals())

    def show(self, arrived: list[Message]) -> None:
        for line in render.arrivals(arrived, name=self.services.directory.name):
            self.out.print(f"[dim]{line}[/dim]")
        self.print_messages([m for m in arrived if m.to == self.me])

    def print_messages(self, messages: list[Message]) -> None:
        for message in messages:
            self.out.print(render.message(message, name=self.services.directory.name))
            message.shown = True

    # --- commands --------------------------------------------------------------------------------------

    async def announce(self, argument: str, lines: Lines) -> None:
        services = self.services
        form = AnnounceForm(services.announcing, services.directory, lines, self.out, self.me)
        await form.run(argument)

    async def become(self, argument: str, lines: Lines) -> None:
        handle = argument.strip().lstrip("@").lower()
        if not handle:
            raise RealignError(prompts.USAGE_AS)
        person = self.services.directory.roster.get(handle)
        if person is None:
            raise RealignError(prompts.NO_SUCH_PERSON.format(handle=handle))
        self.me = handle
        title = self.services.directory.titles.get(handle) or person.department or ""
        self.out.print(f"[bold]{escape(prompts.NOW_AS.format(name=person.name, title=title))}[/bold]")
        inbox = self.services.messenger.inbox(handle)
        waiting = sum(
            1
            for m in inbox
            if m.kind is Kind.ANNOUNCEMENT and m.announcement and not m.announcement.acknowledged_at
        )
        if inbox:
            self.out.print(escape(prompts.INBOX_COUNT.format(count=len(inbox), pending=waiting)))
        self.print_messages([m for m in inbox if not m.shown])

    async def inbox(self, argument: str, lines: Lines) -> None:
        inbox = self.services.messenger.inbox(self.me)
        if not inbox:
            self.out.print(escape(prompts.INBOX_EMPTY))
        self.print_messages(inbox)

    def _to_acknowledge(self, argument: str) -> tuple[Message, Announcement]:
        """The message `/ack` clicks: number N of the inbox (an announcement or a reminder), the latest
        announcement of CHG-n, or the latest announcement still waiting."""
        inbox = [(m, m.announcement) for m in self.services.messenger.inbox(self.me) if m.announcement]
        originals = [(m, a) for m, a in inbox if m.kind is Kind.ANNOUNCEMENT]
        word = argument.strip().upper()
        if word.isdigit():
            chosen = [(m, a) for m, a in inbox if m.number == int(word)]
            if not chosen:
                raise RealignError(prompts.NO_SUCH_MESSAGE.format(number=word))
            return chosen[0]  # a reminder too: the core shows the acknowledgement on it and the original
        if word:
            matching = [(m, a) for m, a in originals if a.change_key == word]
        else:
            matching = [(m, a) for m, a in originals if a.acknowledged_at is None]
        if not matching:
            raise RealignError(prompts.NOTHING_TO_ACK)
        return matching[-1]

    async def ack(self, argument: str, lines: Lines) -> None:
        message, announcement = self._to_acknowledge(argument)
        assert announcement.delivery_id is not None  # it was delivered
        if announcement.own_words and announcement.acknowledged_at is None:
            asked = prompts.OWN_WORDS.format(effective=copy.day(announcement.effective_date))
            line = await lines.read(f"{asked} ")
            if line is None or line.strip() == prompts.CANCEL_WORD:
                self.out.print(escape(prompts.CANCELLED))
                return
            await self.services.restating.acknowledge(
                delivery_id=announcement.delivery_id, user_id=self.me, text=line, clicked_in=message.ref
            )
        else:
            await self.services.acknowledging.acknowledge(
                delivery_id=announcement.delivery_id, user_id=self.me, clicked_in=message.ref
            )
        await self.services.later.run()  # the message shows the acknowledgement in place
        self.out.print(render.updated(message))

    async def status(self, argument: str, lines: Lines) -> None:
        reporting, words = self.services.reporting, argument.split()
        name = self.services.directory.name
        if not words:
            self.out.print(render.overview(await reporting.overview(user_id=self.me)))
        elif len(words) == 1:
            self.out.print(render.detail(await reporting.status(key=words[0], user_id=self.me), name=name))
        else:
            raise RealignError(copy.UNKNOWN_STATUS_ARGUMENT)

    async def close(self, argument: str, lines: Lines) -> None:
        key = argument.strip().upper()
        if not key:
            raise RealignError(prompts.USAGE_CLOSE)
        closed = await self.services.closing.close(key=key, user_id=self.me)
        self.out.print(escape((copy.CLOSED if closed else copy.NOT_OPEN).format(key=key)))

    async def advance(self, argument: str, lines: Lines) -> None:
        try:
            total = parse_duration(argument)
        except ConfigError:
            raise RealignError(prompts.USAGE_ADVANCE) from None
        for step in steps(total, shortest=self.services.sweep):
            await self.services.later.run()
            now = self.services.clock.advance(step)
            await self.services.engine.run()
            arrived = self.services.messenger.take_arrivals()
            if arrived:
                self.out.print(f"[bold]── {escape(copy.moment(now))} ──[/bold]")
                self.show(arrived)
        self.out.print(escape(prompts.IT_IS_NOW.format(now=copy.moment(self.services.clock.now()))))

    async def people(self, argument: str, lines: Lines) -> None:
        directory = self.services.directory
        roster = list(directory.roster.values())
        self.out.print(render.people(roster, titles=directory.titles, name=directory.name))

    async def help(self, argument: str, lines: Lines) -> None:
        self.out.print(escape(prompts.HELP), highlight=False)

    async def quit(self, argument: str, lines: Lines) -> None:
        self.done = True
        self.out.print(escape(prompts.BYE))
