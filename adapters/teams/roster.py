"""Installation: when Realign is added to a team, a group chat or someone's personal scope, keep the
conversation reference and the roster (paged, TeamsInfo.get_paged_members) in the database, and
register the tenant as a workspace. A private channel's roster is read on its own.

Removal: when Realign is removed from a team or chat, or someone removes it from their personal scope,
the install and its members are forgotten; a personal uninstall stops what waits for that person, and
the last install of a tenant stops the tenant (`Removals`). Whoever is then in no installed team, chat
or personal scope is inactive, so audiences exclude them as deactivated (store.teams `mark_leavers`);
adapters.teams.sync reads the rosters again every hour."""

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

    async def installs(self, workspace: str) -> list[Install]: ...

    async def remove_members(
        self, workspace: str, conversation_ids: Collection[str], user_ids: Collection[str]
    ) -> None: ...

    async def mark_leavers(self, workspace: str, *, at: datetime) -> tuple[int, int]: ...

    async def user_for(self, workspace: str, teams_id: str) -> str | None: ...

    async def set_timezone(self, workspace: str, user_id: str, tz: str) -> bool: ...


class Removals(Protocol):
    """What stops when Realign is removed (realign.teams_web does it, over store.removal)."""

    async def person_removed(self, workspace: str, user_id: str) -> None:
        """They removed Realign from their personal scope: what waits for them fails, in words."""
        ...

    async def tenant_removed(self, workspace: str) -> None:
        """The tenant's last install is gone: what waits there fails, in words; no more follow-up."""
        ...


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

    def __init__(
        self,
        *,
        people: PeopleWriter,
        records: InstallRecords,
        clock: Clock,
        removals: Removals | None = None,
    ) -> None:
        self.people = people
        self.records = records
        self.clock = clock
        self.removals = removals
        self._zones: dict[tuple[str, str], str] = {}  # time zones recorded by this process

    async def time_zone_seen(self, workspace: str, user_id: str, tz: str) -> None:
        """A person's Teams client reported their time zone (its `clientInfo`): keep it on the person, so
        follow-up reaches them in their working hours. Written once per change, not per activity."""
        if self._zones.get((workspace, user_id)) == tz:
            return
        try:
            known = await self.records.set_timezone(workspace, user_id, tz)
        except Exception as error:  # a nicety: the turn has been answered, the next activity tries again
            log.warning("could not record the time zone of %s in %s: %s", user_id, workspace, error)
            return
        if known:  # someone not stored yet (no install seen) is recorded on a later activity
            self._zones[(workspace, user_id)] = tz

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
        await self.records.mark_leavers(workspace, at=self.clock.now())  # someone back is active again
        log.info("Realign was added to a Teams %s in %s", "team" if team.get("id") else kind, workspace)

    async def removed(self, turn: TurnContext, *, workspace: str) -> None:
        """Realign was removed from a team or chat, or from someone's personal scope (both the
        installationUpdate and the conversationUpdate may come: doing it twice changes nothing)."""
        activity = turn.activity
        team_id = _team_id(activity)
        await self.records.remove_install(workspace, team_id or activity.conversation.id)
        personal = not team_id and (activity.conversation.conversation_type or "personal") == "personal"
        if personal and self.removals is not None and activity.from_property is not None:
            await self.removals.person_removed(workspace, user_id_of(activity.from_property))
        gone, _ = await self.records.mark_leavers(workspace, at=self.clock.now())
        last = not await self.records.installs(workspace)
        if last and self.removals is not None:
            await self.removals.tenant_removed(workspace)
        where = "a personal scope" if personal else "a team" if team_id else "a chat"
        log.info("Realign was removed from %s in %s; %d people inactive now", where, workspace, gone)

    async def left(self, turn: TurnContext, *, workspace: str) -> None:
        """People left a team (and its channels) or a chat Realign is in: they are no longer its members,
        and whoever is then in no install is inactive."""
        activity = turn.activity
        team_id = _team_id(activity)
        where = team_id or activity.conversation.id
        conversations = {where} | {
            i.conversation_id
            for i in await self.records.installs(workspace)
            if team_id and i.team_id == team_id
        }
        user_ids = [await self._user_id(workspace, m) for m in activity.members_removed or []]
        await self.records.remove_members(workspace, conversations, user_ids)
        gone, _ = await self.records.mark_leavers(workspace, at=self.clock.now())
        log.info("%d people left a Teams conversation in %s; %d inactive now", len(user_ids), workspace, gone)

    async def _user_id(self, workspace: str, member: Any) -> str:
        if getattr(member, "aad_object_id", None):
            return str(member.aad_object_id)
        return await self.records.user_for(workspace, member.id) or str(member.id)

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
        await keep(
            self.people,
            self.records,
            workspace=workspace,
            conversation_id=conversation_id,
            members=members,
            service_url=turn.activity.service_url,
            at=self.clock.now(),
            personal=personal,
        )


async def keep(
    people: PeopleWriter,
    records: InstallRecords,
    *,
    workspace: str,
    conversation_id: str,
    members: Sequence[TeamsChannelAccount],
    service_url: str,
    at: datetime,
    personal: bool = False,
) -> None:
    """A conversation's whole roster, as read: the people (active), how to reach them, and that they
    are its members (a personal scope's member is the person whose 1:1 chat it is)."""
    found = [person_of(m) for m in members]
    await people.upsert_synced(workspace, found, at=at)
    reach = [Reach(user_id_of(m), m.id, service_url, conversation_id if personal else None) for m in members]
    await records.save_people(workspace, reach, at=at)
    if personal:
        for entry in reach:
            await records.set_conversation(workspace, entry.user_id, conversation_id)
    await records.replace_members(workspace, conversation_id, [p.user_id for p in found])


def _team_id(activity: Any) -> str | None:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    found = (data.get("team") or {}).get("id")
    return str(found) if found else None
