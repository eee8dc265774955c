"""The Teams directory: people from the rosters of the teams and chats Realign was added to (cached in
the database at install), teams and channels as audience selectors. A standard channel's audience is
its team's roster; a private channel's is its own member list."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from bot.model import AudienceGroup, Person
from store.teams import Install


class PeopleTable(Protocol):
    async def get_many(self, workspace: str, user_ids: Collection[str]) -> dict[str, Person]: ...

    async def directory(self, workspace: str) -> Sequence[Any]: ...


class Rosters(Protocol):
    async def installs(self, workspace: str) -> list[Install]: ...

    async def members_of(self, workspace: str, conversation_ids: Collection[str]) -> set[str]: ...


class TeamsDirectory:
    """Implements `bot.ports.Directory` for one Teams tenant, from cached rosters only."""

    def __init__(self, *, workspace: str, people: PeopleTable, rosters: Rosters) -> None:
        self.workspace = workspace
        self.store = people
        self.rosters = rosters

    async def channels(self) -> list[Install]:
        """The teams, channels and group chats Realign is installed in (audience choices)."""
        return [i for i in await self.rosters.installs(self.workspace) if i.kind != "personal"]

    async def choices(self, *, limit: int = 200) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(name, user id) of active people and (name, conversation id) of installed teams and channels,
        for the announce form's pickers."""
        people = [
            (row.name or row.email or row.user_id, row.user_id)
            for row in await self.store.directory(self.workspace)
            if row.active
        ]
        channels = [(i.name or i.conversation_id, i.conversation_id) for i in await self.channels()]
        return sorted(people)[:limit], channels[:limit]

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
