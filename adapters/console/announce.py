"""`/announce-change` in the console: the Slack modal's fields asked one at a time, through the same use
case (bot.announce.Announcing) and its validation. Fields the use case refuses are asked again, alone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from adapters.console import prompts, render, translate
from adapters.console.directory import EVERYONE, ConsoleDirectory
from adapters.console.lines import Lines
from bot import copy
from bot.announce import Announcing
from bot.durations import format_duration
from bot.errors import InvalidInput
from bot.model import Change, CustomerImpact

Check = Callable[[str], Any]  # raises translate.Unreadable for an answer that cannot be read


def affects_customers(answers: Mapping[str, str]) -> bool:
    return translate.impact(answers.get("customer_impact", "")) is not CustomerImpact.NONE


class Cancelled(Exception):
    """The announcer typed /cancel, or the input ended."""


@dataclass
class AnnounceForm:
    """One announcer's `/announce-change` conversation."""

    announcing: Announcing
    directory: ConsoleDirectory
    lines: Lines
    out: Console
    user_id: str

    def __post_init__(self) -> None:
        self.draft_ref = f"console-{uuid4().hex}"
        self.key = ""

    async def run(self, title: str) -> None:
        await self.announcing.check_may_announce(user_id=self.user_id)
        try:
            change = await self.basics(title)
            self.key = change.key
            await self.groups(change)
            review = await self.announcing.review(key=self.key, user_id=self.user_id)
            body = render.review(review, name=self.directory.name)
            self.out.print(Panel(body, title="Review and publish", title_align="left"))
            question = prompts.SCHEDULE if review.scheduled else prompts.PUBLISH
            if not translate.yes(await self.ask(question)):
                self.out.print(escape(prompts.LEFT_AS_DRAFT.format(key=self.key)))
                return
        except Cancelled:
            note = prompts.LEFT_AS_DRAFT.format(key=self.key) if self.key else ""
            self.out.print(escape(f"{prompts.CANCELLED} {note}".strip()))
            return
        published = await self.announcing.publish(key=self.key, user_id=self.user_id)
        done = copy.PUBLISHED if published.first else copy.ALREADY_PUBLISHED
        text = done.format(key=self.key, count=published.recipients)
        if published.scheduled is not None and published.first:
            when, zone = published.scheduled
            text = copy.SCHEDULED.format(key=self.key, when=when, zone=zone).replace("`", "")
        self.out.print(f"[green]{escape(text)}[/green]")

    async def ask(self, label: str, default: str = "") -> str:
        answer = await self.lines.read(f"{label} [{default}]: " if default else f"{label}: ")
        if answer is None or answer.strip().lower() == prompts.CANCEL_WORD:
            raise Cancelled
        return answer.strip() or default

    async def answer(self, label: str, *, default: str = "", check: Check | None = None) -> str:
        """Ask until the answer can be read (a date that is a date, a handle that exists)."""
        while True:
            text = await self.ask(label, default)
            try:
                if check is not None:
                    check(text)
                return text
            except translate.Unreadable as error:
                self.out.print(f"[red]✗ {escape(str(error))}[/red]")

    async def fill(
        self,
        answers: dict[str, str],
        fields: list[str],
        labels: Mapping[str, str],
        checks: Mapping[str, Check],
    ) -> None:
        defaults = self.defaults()
        for field in fields:
            default = answers.get(field) or defaults.get(field, "")
            answers[field] = await self.answer(labels[field], default=default, check=checks.get(field))

    def defaults(self) -> dict[str, str]:
        policy = self.announcing.policy
        return {
            "customer_impact": CustomerImpact.NONE.value,
            "remind_after": format_duration(policy.remind_after),
            "reminders": str(policy.max_reminders),
            "escalate_after": format_duration(policy.escalate_after),
        }

    async def basics(self, title: str) -> Change:
        today = await self.announcing.today_for(self.user_id)
        zone = await self.announcing.zone_of(self.user_id) or "UTC"
        labels = {**prompts.BASICS, "publish_time": prompts.BASICS["publish_time"].format(zone=zone)}
        checks: dict[str, Check] = {
            "effective_date": lambda text: translate.day(text, today=today),
            "ack_deadline": lambda text: translate.day(text, today=today),
            "publish_on": lambda text: translate.day(text, today=today),
            "publish_time": translate.clock_time,
            "customer_impact": translate.impact,
            "reminders": translate.number,
        }
        answers = {"title": title} if title else {}
        fields, again = [field for field in prompts.BASICS if field not in answers], set[str]()
        while True:
            for field in fields:
                if field == "customer_plan" and field not in again and not affects_customers(answers):
                    continue  # asked only when customers are affected, or when the use case asks for it
                if field == "publish_time" and field not in again and not answers.get("publish_on"):
                    continue  # a time only for a day chosen
                await self.fill(answers, [field], labels, checks)
            try:
                return await self.announcing.submit_basics(
                    user_id=self.user_id,
                    draft_ref=self.draft_ref,
                    form=translate.basics(answers, today=today),
                )
            except InvalidInput as error:
                self.out.print(render.problems(error, labels))
                again = set(error.errors)
                fields = [field for field in prompts.BASICS if field in again]

    async def groups(self, change: Change) -> Change:
        position = 0
        while True:
            heading = prompts.GROUP_HEADING.format(number=position + 1, key=change.key)
            self.out.print(f"[bold]{escape(heading)}[/bold]")
            change = await self.group(change, position)
            if not translate.yes(await self.ask(prompts.ANOTHER_GROUP)):
                return change
            position += 1

    async def group(self, change: Change, position: int) -> Change:
        labels = {
            **prompts.GROUP,
            "from_effective": prompts.GROUP["from_effective"].format(
                effective=copy.day(change.effective_date)
            ),
        }
        people, groups = set(self.directory.roster), {*self.directory.departments(), EVERYONE}
        checks: dict[str, Check] = {
            "people": lambda text: translate.audience(text, people=people, groups=groups)
        }
        answers: dict[str, str] = {}
        fields = list(prompts.GROUP)
        if change.customer_impact is CustomerImpact.DIRECT:  # who briefs customers, asked when it matters
            labels["customer_facing"] = prompts.CUSTOMER_FACING
            fields.append("customer_facing")
        while True:
            await self.fill(answers, fields, labels, checks)
            group = translate.group(answers, people=people, groups=groups)
            try:
                return await self.announcing.submit_group(
                    key=change.key,
                    user_id=self.user_id,
                    draft_ref=self.draft_ref,
                    position=position,
                    group=group,
                )
            except InvalidInput as error:
                self.out.print(render.problems(error, labels))
                fields = [field for field in prompts.GROUP if field in error.errors]
