"""The console's directory: the people table of one workspace, where departments stand in for user groups.

A person is picked by handle (`dana`), a department by its handle (`@support`, `@customer-success`), and
`@everyone` is the whole workspace, as a Slack channel everyone is in would be."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Protocol

from bot.model import AudienceGroup, Person

EVERYONE = "everyone"


class Listed(Protocol):
    """A directory row as the people table lists it (store.orgchart.Known has these)."""

    @property
    def user_id(self) -> str: ...
    @property
    def title(self) -> str | None: ...


class PeopleTable(Protocol):
    """What the console's directory reads from the store (store.people.SqlPeople has it)."""

    async def get_many(self, workspace: str, user_ids: Collection[str]) -> dict[str, Person]: ...

    async def directory(self, workspace: str) -> Sequence[Listed]: ...


def handle(department: str) -> str:
    """`Customer Success` -> `customer-success`."""
    return re.sub(r"[^a-z0-9]+", "-", department.lower()).strip("-")


class ConsoleDirectory:
    """Implements `bot.ports.Directory` over the people table; the roster is read once per `refresh()`."""

    def __init__(self, *, workspace: str, people: PeopleTable) -> None:
        self.workspace = workspace
        self.store = people
        self.roster: dict[str, Person] = {}
        self.titles: dict[str, str | None] = {}

    async def refresh(self) -> None:
        """Read the workspace's people (a few hundred at most in a console) into the roster."""
        rows = await self.store.directory(self.workspace)
        self.titles = {row.user_id: row.title for row in rows}
        found = await self.store.get_many(self.workspace, list(self.titles))
        self.roster = {user_id: found[user_id] for user_id in sorted(found)}

    def departments(self) -> dict[str, str]:
        """Department handle -> department name."""
        names = {person.department for person in self.roster.values() if person.department}
        return {handle(name): name for name in sorted(names)}

    def name(self, user_id: str | None) -> str:
        person = self.roster.get(user_id or "")
        return person.name if person and person.name else user_id or ""

    def _in_department(self, group_handle: str) -> set[str]:
        if group_handle == EVERYONE:
            return set(self.roster)
        return {u for u, p in self.roster.items() if p.department and handle(p.department) == group_handle}

    async def members(self, group: AudienceGroup) -> set[str]:
        selected = set(group.user_ids)
        for group_handle in (*group.usergroup_ids, *group.channel_ids):
            selected |= self._in_department(group_handle.lstrip("@#").lower())
        return selected

    async def people(self, user_ids: Collection[str]) -> dict[str, Person]:
        return await self.store.get_many(self.workspace, user_ids)

    async def in_any_usergroup(self, user_id: str, handles: Collection[str]) -> bool:
        return any(user_id in self._in_department(h.lstrip("@").lower()) for h in handles)
