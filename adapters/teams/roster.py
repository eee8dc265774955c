"""Installation: when Realign is added to a team, a group chat or someone's personal scope, keep the
conversation reference and the roster (paged, TeamsInfo.get_paged_members) in the database, and
register the tenant as a workspace. A private channel's roster is read on its own."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from botbuilder.core import TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema.teams import TeamsChannelAccount

from bot.clock import Clock
from bot.model import Person
from store.teams import Install, Reach

log = logging.getLogger(__name__)
PAGE = 500  # Teams' largest page of a paged roster


class PeopleWriter(Protocol):
    async def ensure_workspace(self, *, key: str, platform: str, name: str, at: datetime) -> None: ...

    async def upsert_synced(self, workspace: str, people: Any, *, at: datetime) -> int: ...


class InstallRecords(Protocol):
    async def save_install(self, install: Install, *, reference: dict[str, Any], at: datetime) -> None: ...

    async def save_people(self, workspace: str, people: Sequence[Reach], *, at: datetime) -> None: ...

    async def replace_members(
        self, workspace: str, conversation_id: str, user_ids: Collection[str]
    ) -> None: ...

    async def remove_install(self, workspace: str, conversation_id: str) -> None: ...

    async def set_conversation(self, workspace: str, user_id: str, conversation_id: str) -> None: ...


def user_id_of(account: Any) -> str:
    """The core's id for a Teams person: their Entra object id (stable across the tenant, and short)."""
    return str(getattr(account, "aad_object_id", None) or account.id)


def person_of(member: TeamsChannelAccount) -> Person:
    return Person(
        user_id=user_id_of(member),
        name=member.name or member.given_name or "",
        email=member.email or member.user_principal_name,
        is_bot=(member.user_role or "") == "bot",
    )


class Installer:
    """Turns conversationUpdate activities about Realign itself into stored installs and rosters."""

    def __init__(self, *, people: PeopleWriter, records: InstallRecords, clock: Clock) -> None:
        self.people = people
        self.records = records
        self.clock = clock

    async def installed(self, turn: TurnContext, *, workspace: str) -> None:
        activity, now = turn.activity, self.clock.now()
        await self.people.ensure_workspace(key=workspace, platform="teams", name="", at=now)
        reference = TurnContext.get_conversation_reference(activity).serialize()
        data = activity.channel_data or {}
        team = (data.get("team") or {}) if isinstance(data, dict) else {}
        kind = activity.conversation.conversation_type or "personal"
        if team.get("id"):
            await self._team(turn, workspace=workspace, team=team, reference=reference)
        else:
            install = Install(workspace, activity.conversation.id, kind, activity.service_url)
            await self.records.save_install(install, reference=reference, at=now)
            personal = kind == "personal"
            members = await self._roster(turn, activity.conversation.id, personal=personal)
            await self._keep(workspace, activity.conversation.id, members, turn, personal=personal)
        log.info("Realign was added to a Teams %s in %s", "team" if team.get("id") else kind, workspace)

    async def removed(self, turn: TurnContext, *, workspace: str) -> None:
        data = turn.activity.channel_data or {}
        team_id = ((data.get("team") or {}) if isinstance(data, dict) else {}).get("id")
        await self.records.remove_install(workspace, team_id or turn.activity.conversation.id)

    async def _team(
        self, turn: TurnContext, *, workspace: str, team: dict[str, Any], reference: dict[str, Any]
    ) -> None:
        now, team_id, url = self.clock.now(), str(team["id"]), turn.activity.service_url
        general = Install(
            workspace, team_id, "channel", url, team_id=team_id, name=str(team.get("name") or "")
        )
        await self.records.save_install(general, reference=reference, at=now)
        members = await self._paged(turn, team_id)
        await self._keep(workspace, team_id, members, turn, personal=False)
        for channel in await self._channels(turn, team_id):
            if channel.id == team_id:
                continue
            private = (channel.type or "standard") != "standard"
            install = Install(
                workspace,
                channel.id,
                "channel",
                url,
                team_id=team_id,
                name=channel.name or "",
                private=private,
            )
            await self.records.save_install(install, reference=reference, at=now)
            if private:  # its audience is its own members, not the team's
                await self._keep(
                    workspace, channel.id, await self._paged(turn, channel.id), turn, personal=False
                )

    async def _channels(self, turn: TurnContext, team_id: str) -> list[Any]:
        client = await TeamsInfo.get_teams_connector_client(turn)  # synchronous: keep it off the loop
        listed = await asyncio.to_thread(client.teams.get_teams_channels, team_id)
        return list(listed.conversations or [])

    async def _roster(
        self, turn: TurnContext, conversation_id: str, *, personal: bool
    ) -> list[TeamsChannelAccount]:
        if personal:
            sender = turn.activity.from_property
            return [await TeamsInfo.get_member(turn, sender.id)]
        return await self._paged(turn, conversation_id)

    async def _paged(self, turn: TurnContext, conversation_id: str) -> list[TeamsChannelAccount]:
        """Every page of the roster: a page is never skipped (an error stops the install instead)."""
        members: list[TeamsChannelAccount] = []
        token: str | None = None
        connector = turn.turn_state.get(turn.adapter.BOT_CONNECTOR_CLIENT_KEY)
        while True:
            if conversation_id == turn.activity.conversation.id:
                page = await TeamsInfo.get_paged_members(turn, token, PAGE)
            else:
                page = await connector.conversations.get_teams_conversation_paged_members(
                    conversation_id, PAGE, token
                )
            members.extend(page.members or [])
            token = page.continuation_token
            if not token:
                return members

    async def _keep(
        self,
        workspace: str,
        conversation_id: str,
        members: list[TeamsChannelAccount],
        turn: TurnContext,
        *,
        personal: bool,
    ) -> None:
        now, url = self.clock.now(), turn.activity.service_url
        people = [person_of(m) for m in members]
        await self.people.upsert_synced(workspace, people, at=now)
        reach = [Reach(user_id_of(m), m.id, url, conversation_id if personal else None) for m in members]
        await self.records.save_people(workspace, reach, at=now)
        if personal:
            for entry in reach:
                await self.records.set_conversation(workspace, entry.user_id, conversation_id)
        else:
            await self.records.replace_members(workspace, conversation_id, [p.user_id for p in people])
