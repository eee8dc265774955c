"""`/amend CHG-n` in the console: the Slack amend form's fields asked one at a time, each with its
current value as the default (Enter keeps it), through the same use case (bot.amend.Amending). Fields
the use case refuses are asked again, alone. A part of `Session` (adapters/console/repl.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from adapters.console import prompts, render, translate
from adapters.console.lines import Lines
from bot import copy
from bot.amend import Amendment
from bot.errors import InvalidInput, RealignError

if TYPE_CHECKING:
    from adapters.console.repl import ConsoleServices


class Amend:
    """The announcer amends a published change of theirs, as `me`."""

    services: ConsoleServices
    out: Console
    me: str

    async def catch_up(self) -> None:  # Session's
        raise NotImplementedError

    async def amend(self, argument: str, lines: Lines) -> None:
        key = argument.strip().upper()
        if not key:
            raise RealignError(prompts.USAGE_AMEND)
        amending = self.services.amending
        change = await amending.start(key=key, user_id=self.me)
        today = await self.services.announcing.today_for(self.me)
        answers = {
            "what": change.what,
            "why": change.why,
            "effective_date": change.effective_date.isoformat(),
            "ack_deadline": change.ack_deadline.isoformat(),
        }
        labels = {name: prompts.BASICS[name] for name in answers}
        for position, group in enumerate(change.groups):
            answers[f"today_{position}"], answers[f"group_{position}"] = group.today, group.from_effective
            labels[f"today_{position}"] = prompts.AMEND_TODAY.format(group=group.name)
            labels[f"group_{position}"] = prompts.AMEND_FROM.format(group=group.name)
        self.out.print(f"[bold]{escape(copy.AMEND_TITLE.format(key=change.key))}[/bold]")
        self.out.print(escape(f"{copy.AMEND_INTRO} {prompts.AMEND_KEEP}"))
        fields = list(answers)
        while True:
            for field in fields:
                answer = await lines.read(f"{labels[field]} [{answers[field]}]: ")
                if answer is None or answer.strip().lower() == prompts.CANCEL_WORD:
                    self.out.print(escape(prompts.CANCELLED))
                    return
                answers[field] = answer.strip() or answers[field]
            try:
                form = Amendment(
                    what=answers["what"],
                    why=answers["why"],
                    effective_date=translate.day(answers["effective_date"], today=today),
                    ack_deadline=translate.day(answers["ack_deadline"], today=today),
                    expectations=tuple(
                        (answers[f"today_{p}"], answers[f"group_{p}"]) for p in range(len(change.groups))
                    ),
                )
                amended = await amending.amend(key=key, user_id=self.me, form=form, revision=change.revision)
            except translate.Unreadable as error:
                self.out.print(f"[red]✗ {escape(str(error))}[/red]")
                fields = ["effective_date", "ack_deadline"]
                continue
            except InvalidInput as error:
                self.out.print(render.problems(error, labels))
                nothing = error.errors == {"what": copy.AMEND_NOTHING}  # then everything again
                fields = [field for field in answers if nothing or field in error.errors] or ["what"]
                continue
            break
        changes = "; ".join(amended.changed)
        done = copy.AMENDED.format(key=key, changes=changes, reasked=amended.reasked, updated=amended.updated)
        self.out.print(f"[green]{escape(done)}[/green]")
        await self.catch_up()
