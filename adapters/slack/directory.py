"""The Slack directory: `users.list` synced into the people table; user groups and channel members
fetched once per group (paginated) and cached briefly, never one call per person."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Collection
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.model import AudienceGroup, Person
from store.people import SqlPeople

log = logging.getLogger(__name__)
PAGE = 200
MISS_LOOKUPS = 20  # more cache misses than this wait for the next sync instead of users.info calls


def person(member: dict[str, Any]) -> Person:
    profile = member.get("profile") or {}
    return Person(
        user_id=member["id"],
        name=member.get("real_name") or profile.get("real_name") or member.get("name") or member["id"],
        email=profile.get("email"),
        tz=member.get("tz"),
        active=not member.get("deleted", False),
        is_bot=bool(member.get("is_bot") or member.get("is_app_user")),
    )


class SlackDirectory:
    """Implements `bot.ports.Directory` for one Slack workspace."""

    def __init__(
        self, *, workspace: str, client: AsyncWebClient, people: SqlPeople, clock: Clock, ttl: float = 300
    ) -> None:
        self.workspace = workspace
        self.client = client
        self.store = people
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, set[str]]] = {}

    async def _pages(self, method: str, key: str, **params: Any) -> AsyncIterator[list[Any]]:
        cursor = ""
        while True:
            response = await self.client.api_call(
                method, http_verb="GET", params={**params, "limit": PAGE, "cursor": cursor}
            )
            yield list(response.get(key, []))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return

    async def sync(self) -> int:
        """Refresh everyone from `users.list`; people no longer listed are marked inactive."""
        started = self.clock.now()
        seen = 0
        async for members in self._pages("users.list", "members"):
            seen += await self.store.upsert_synced(self.workspace, map(person, members), at=self.clock.now())
        gone = await self.store.finish_sync(self.workspace, started_at=started, at=self.clock.now())
        log.info("directory %s: %d people synced, %d marked inactive", self.workspace, seen, gone)
        return seen

    async def _cached(self, kind: str, ident: str) -> set[str]:
        hit = self._cache.get((kind, ident))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        members: set[str] = set()
        if kind == "usergroup":
            response = await self.client.usergroups_users_list(usergroup=ident)
            members.update(response.get("users", []))
        else:
            async for page in self._pages("conversations.members", "members", channel=ident):
                members.update(page)
        self._cache[(kind, ident)] = (time.monotonic(), members)
        return members

    async def members(self, group: AudienceGroup) -> set[str]:
        selected = set(group.user_ids)
        for usergroup in group.usergroup_ids:
            selected |= await self._cached("usergroup", usergroup)
        for channel in group.channel_ids:
            selected |= await self._cached("channel", channel)
        return selected

    async def people(self, user_ids: Collection[str]) -> dict[str, Person]:
        """From the cache; a few people who joined since the last sync are looked up one by one."""
        found = await self.store.get_many(self.workspace, user_ids)
        missing = [user_id for user_id in user_ids if user_id not in found]
        if missing and len(missing) <= MISS_LOOKUPS:
            fetched = [person(member) for member in await self._lookup(missing)]
            await self.store.upsert_synced(self.workspace, fetched, at=self.clock.now())
            found.update((p.user_id, p) for p in fetched)
        return found

    async def _lookup(self, user_ids: list[str]) -> list[dict[str, Any]]:
        members = []
        for user_id in user_ids:
            try:
                members.append((await self.client.users_info(user=user_id))["user"])
            except SlackApiError as error:
                if error.response.get("error") != "user_not_found":
                    raise
        return members

    async def usergroups(self) -> list[tuple[str, str]]:
        """(id, handle) of the workspace's enabled user groups, for pickers."""
        response = await self.client.usergroups_list()
        groups: list[dict[str, Any]] = response.get("usergroups", [])
        return [(group["id"], group["handle"]) for group in groups]

    async def in_any_usergroup(self, user_id: str, handles: Collection[str]) -> bool:
        wanted = {h.lstrip("@").lower() for h in handles}
        for group_id, handle in await self.usergroups():
            if (handle.lower() in wanted or group_id.lower() in wanted) and user_id in await self._cached(
                "usergroup", group_id
            ):
                return True
        return False
