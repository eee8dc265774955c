"""The Teams directory: people from the rosters of the teams and chats Realign was added to (cached in
the database at install), teams and channels as audience selectors. A standard channel's audience is
its team's roster; a private channel's is its own member list."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from bot.model import AudienceGroup, Person
from store.teams import Install

CHANNELS_SHOWN = 200


class PeopleTable(Protocol):
    async def get_many(self, workspace: str, user_ids: Collection[str]) -> dict[str, Person]: ...

    async def directory(self, workspace: str) -> Sequence[Any]: ...


class Rosters(Protocol):
    async def installs(self, workspace: str) -> list[Install]: ...

    async def members_of(self, workspace: str, conversation_ids: Collection[str]) -> set[str]: ...

    async def search_people(self, workspace: str, text: str, *, limit: int) -> list[tuple[str, str]]: ...


class TeamsDirectory:
    """Implements `bot.ports.Directory` for one Teams tenant, from cached rosters only."""

    def __init__(self, *, workspace: str, people: PeopleTable, rosters: Rosters) -> None:
        self.workspace = workspace
        self.store = people
        self.rosters = rosters

    async def channels(self) -> list[Install]:
        """The teams, channels and group chats Realign is installed in (audience choices)."""
        return [i for i in await self.rosters.installs(self.workspace) if i.kind != "personal"]

    async def search(self, text: str, *, limit: int, skip: int = 0) -> list[tuple[str, str]]:
        """(name, user id) of active people whose name or email contains `text`: the pickers' typeahead,
        answered from the person table (never a list of everyone)."""
        found = await self.rosters.search_people(self.workspace, text, limit=skip + limit)
        return found[skip:]

    async def pickers(
        self, chosen: Collection[str], *, shown: int
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """The announce form's pickers: the first `shown` people and everyone already `chosen` (so the
        form shows their names again), and the installed teams and channels."""
        people = dict((value, title) for title, value in await self.search("", limit=shown))
        missing = [user_id for user_id in chosen if user_id and user_id not in people]
        for user_id, person in (await self.people(missing)).items() if missing else ():
            people[user_id] = person.name or person.email or user_id
        channels = [(i.name or i.conversation_id, i.conversation_id) for i in await self.channels()]
        return sorted((title, value) for value, title in people.items()), channels[:CHANNELS_SHOWN]

    async def members(self, group: AudienceGroup) -> set[str]:
        selected = set(group.user_ids)
        if group.channel_ids:
            installs = {i.conversation_id: i for i in await self.rosters.installs(self.workspace)}
            rosters = set()
            for channel_id in group.channel_ids:
                install = installs.get(channel_id)
                if (
                    install is not None
                    and install.kind == "channel"
                    and not install.private
                    and install.team_id
                ):
                    rosters.add(install.team_id)  # a standard channel: everyone in the team
                else:
                    rosters.add(channel_id)
            selected |= await self.rosters.members_of(self.workspace, rosters)
        return selected

    async def people(self, user_ids: Collection[str]) -> dict[str, Person]:
        return await self.store.get_many(self.workspace, user_ids)

    async def in_any_usergroup(self, user_id: str, handles: Collection[str]) -> bool:
        return False  # Teams has no user groups; REALIGN_ANNOUNCERS names people by id there
