"""The bundled sample organisation (`organisation.csv`): 30 people of a small company with managers,
departments and time zones, so the console has someone to announce to."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources

from bot.model import Person

SAMPLE = "organisation.csv"


@dataclass(frozen=True)
class Member:
    """One row of the sample: the directory entry, and the title the org chart keeps beside it."""

    person: Person
    title: str | None


def read(text: str) -> list[Member]:
    """Rows with the columns user_id, name, email, title, department, manager_id, tz, active."""
    members = []
    for row in csv.DictReader(io.StringIO(text)):
        person = Person(
            user_id=row["user_id"].strip(),
            name=row["name"].strip(),
            email=row["email"].strip() or None,
            tz=row["tz"].strip() or None,
            active=row["active"].strip().lower() != "false",
            department=row["department"].strip() or None,
            manager_id=row["manager_id"].strip() or None,
        )
        members.append(Member(person, row["title"].strip() or None))
    return members


def sample() -> list[Member]:
    return read(resources.files(__package__).joinpath(SAMPLE).read_text(encoding="utf-8"))
