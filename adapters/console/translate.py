"""Typed lines to core inputs: commands, dates, choices, audience selectors, the answers of a form.

Pure functions. A line that cannot be read raises `Unreadable` with what to type instead; what the
core itself refuses (a date in the past, no expectations) comes back from the use case as InvalidInput.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta

from adapters.console import prompts
from bot import copy
from bot.announce import Basics
from bot.capacity import CapacityAnswer
from bot.errors import RealignError
from bot.model import AudienceGroup, CustomerImpact

_RELATIVE = re.compile(r"^\+\s*(\d{1,4})\s*([dw]?)$")
_WORDS = re.compile(r"[\s,]+")
IMPACTS = {"none": CustomerImpact.NONE, "indirect": CustomerImpact.INDIRECT, "direct": CustomerImpact.DIRECT}


class Unreadable(RealignError):
    """A typed answer that means nothing yet; the message says how to write it."""


@dataclass(frozen=True)
class Command:
    name: str  # without the slash, lower case: "announce-change"
    argument: str = ""


def command(line: str) -> Command | None:
    """`/as dana` -> Command("as", "dana"); a line that is not a command -> None."""
    text = line.strip()
    if not text.startswith("/") or len(text) == 1:
        return None
    name, _, argument = text[1:].partition(" ")
    return Command(name.lower(), argument.strip())


def day(text: str, *, today: date) -> date | None:
    """`2026-12-15`, `today`, `tomorrow`, `+14` / `+14d` (days) or `+2w` (weeks); empty -> None."""
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    if cleaned in ("today", "tomorrow"):
        return today + timedelta(days=cleaned == "tomorrow")
    relative = _RELATIVE.match(cleaned)
    if relative:
        days = int(relative[1]) * (7 if relative[2] == "w" else 1)
        return today + timedelta(days=days)
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        raise Unreadable(copy.BAD_DATE) from None


def clock_time(text: str) -> time | None:
    """`09:30`, `9:30` or `14:00`; empty -> None."""
    cleaned = text.strip()
    if not cleaned:
        return None
    found = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", cleaned)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise Unreadable(prompts.BAD_TIME)
    return time(int(found[1]), int(found[2]))


CAPACITY = {"yes": CapacityAnswer.YES, "help": CapacityAnswer.HELP, "no": CapacityAnswer.NO}


def capacity(text: str) -> CapacityAnswer:
    """`yes`, `help` (need help) or `no`; their first letters do too."""
    cleaned = text.strip().lower()
    for name, value in CAPACITY.items():
        if cleaned and cleaned in (name, name[0]):
            return value
    raise Unreadable(copy.BAD_CHOICE.format(choices=", ".join(CAPACITY)))


def impact(text: str) -> CustomerImpact:
    """`none` (also empty), `indirect` or `direct`; their first letters do too."""
    cleaned = text.strip().lower() or "none"
    for name, value in IMPACTS.items():
        if cleaned in (name, name[0]):
            return value
    raise Unreadable(copy.BAD_CHOICE.format(choices=", ".join(IMPACTS)))


def number(text: str) -> int | None:
    cleaned = text.strip()
    if not cleaned:
        return None
    if not cleaned.isdigit():
        raise Unreadable(copy.BAD_NUMBER)
    return int(cleaned)


def yes(text: str | None) -> bool:
    return (text or "").strip().lower() in ("y", "yes")


def audience(text: str, *, people: Collection[str], groups: Collection[str]) -> tuple[list[str], list[str]]:
    """`dana, lee @support` -> (people, group handles). A word names a person if one has that handle,
    else a group (`@` in front prefers the group); words naming neither raise Unreadable, listing them."""
    chosen: list[str] = []
    handles: list[str] = []
    unknown: list[str] = []
    for word in _WORDS.split(text.strip()):
        name = word.lstrip("@#").lower()
        if not name:
            continue
        if name in groups and (word.startswith("@") or name not in people):
            bucket = handles
        elif name in people:
            bucket = chosen
        else:
            bucket, name = unknown, word
        if name not in bucket:
            bucket.append(name)
    if unknown:
        raise Unreadable(copy.UNKNOWN_AUDIENCE.format(names=", ".join(unknown)))
    return chosen, handles


def basics(answers: Mapping[str, str], *, today: date) -> Basics:
    """The `/announce-change` answers as the form the use case validates."""
    return Basics(
        title=answers.get("title", ""),
        what=answers.get("what", ""),
        why=answers.get("why", ""),
        effective_date=day(answers.get("effective_date", ""), today=today),
        ack_deadline=day(answers.get("ack_deadline", ""), today=today),
        customer_impact=impact(answers.get("customer_impact", "")),
        customer_plan=answers.get("customer_plan", ""),
        remind_after=answers.get("remind_after", ""),
        reminders=number(answers.get("reminders", "")),
        escalate_after=answers.get("escalate_after", ""),
        own_words=yes(answers.get("own_words", "")),
        capacity_check=yes(answers.get("capacity_check", "")),
        publish_on=day(answers.get("publish_on", ""), today=today),
        publish_time=clock_time(answers.get("publish_time", "")),
    )


def group(answers: Mapping[str, str], *, people: Collection[str], groups: Collection[str]) -> AudienceGroup:
    chosen, handles = audience(answers.get("people", ""), people=people, groups=groups)
    return AudienceGroup(
        name=answers.get("name", "").strip(),
        today=answers.get("today", "").strip(),
        from_effective=answers.get("from_effective", "").strip(),
        user_ids=tuple(chosen),
        usergroup_ids=tuple(handles),
        customer_facing=yes(answers.get("customer_facing", "")),
    )
