"""The Slack directory: `users.list` synced into the people table; user groups and channel members
fetched once per group (paginated) and cached briefly, never one call per person.

Sync. One process at a time per workspace: the sync runs under the lease `directory.sync:<workspace>`
(bot.singleton), so a process that finds it held skips the run. Pages of 1,000 (`users.list`'s maximum)
come through a client that honours 429 + Retry-After (slack_sdk's AsyncRateLimitErrorRetryHandler), so
a throttled page is asked for again, never skipped; the next page is fetched while the last `WRITERS`
are written. Only a complete walk marks the people it did not see inactive.

Big channels. `conversations.members` is one cursor after another, so a 10,000-member channel is ten
calls in a row, too slow to sit inside the 3 s Slack gives a modal submission. A channel's member list
is read by a background task (adapters.slack.membership); the request waits for it at most
`CHANNEL_PAGES` pages or `CHANNEL_WAIT` seconds. If it is not done by then the announcer is asked to
submit again in a moment (InvalidInput on `channels`), and by then the list is cached; a stale cached
list is used meanwhile when there is one. A private channel Realign is not in is refused the same way,
with what to do about it. Request-path calls never sleep on a 429: only the sync and the background
reads wait out Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.membership import Cached, ChannelLoad, Key, MemberCache, wait_within
from bot import copy as text
from bot.clock import Clock
from bot.errors import InvalidInput
from bot.model import AudienceGroup, Person
from bot.ports import Leases
from bot.singleton import run_alone

log = logging.getLogger(__name__)
QUIET_SDK = logging.getLogger(f"{__name__}.slack_sdk")  # the background client's, INFO and up
QUIET_SDK.setLevel(logging.INFO)
PAGE = 1000  # users.list's and conversations.members' largest page
WRITERS = 2  # pages of a sync written at once (on PostgreSQL each on a connection of its own)
MISS_LOOKUPS = 20  # more cache misses than this wait for the next sync instead of users.info calls
RATE_LIMIT_RETRIES = 10  # per call, each after the Retry-After Slack gives
SYNC_LEASE = timedelta(minutes=2)  # renewed every third of it while a sync runs
CHANNEL_PAGES = 3  # conversations.members pages a request waits for (3,000 members) ...
CHANNEL_WAIT = 1.2  # ... or seconds, whichever comes first
HIDDEN = frozenset({"channel_not_found", "not_in_channel"})  # private, and Realign is not in it


class People(Protocol):
    """The people table as the directory uses it (store.people.SqlPeople has it)."""

    async def upsert_synced(self, workspace: str, people: Iterable[Person], *, at: datetime) -> int:
        """Insert or refresh people from a platform sync; returns how many were written."""
        ...

    async def finish_sync(self, workspace: str, *, started_at: datetime, at: datetime) -> int:
        """Mark inactive the people the sync begun at `started_at` did not see; returns how many."""
        ...

    async def get_many(self, workspace: str, user_ids: Collection[str]) -> dict[str, Person]:
        """The known people among `user_ids`, by id."""
        ...


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


def patient(client: AsyncWebClient, *, retries: int = RATE_LIMIT_RETRIES) -> AsyncWebClient:
    """A client like `client` (same token, URL, session) that also waits out 429s, for background work."""
    others = [h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)]
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        ssl=client.ssl,
        proxy=client.proxy,
        session=client.session,
        trust_env_in_session=client.trust_env_in_session,
        headers=dict(client.headers),
        team_id=client.default_params.get("team_id"),
        # slack_sdk formats each response body for a debug line whenever its logger's own level is
        # unset (whatever the effective level): a third of the sync's CPU with pages of 1,000 people.
        logger=QUIET_SDK,
        retry_handlers=[*others, AsyncRateLimitErrorRetryHandler(max_retry_count=retries)],
    )


class SlackDirectory:
    """Implements `bot.ports.Directory` for one Slack workspace. With `leases`, one process at a time
    syncs it; without, every caller of `sync()` does."""

    def __init__(
        self,
        *,
        workspace: str,
        client: AsyncWebClient,
        people: People,
        clock: Clock,
        ttl: float = 300,
        leases: Leases | None = None,
        holder: str | None = None,
        cache: MemberCache | None = None,
    ) -> None:
        self.workspace = workspace
        self.client = client  # the request path's: a 429 fails fast
        self.background = patient(client)  # the sync's and background reads': a 429 is waited out
        self.store = people
        self.clock = clock
        self.ttl = ttl
        self.leases = leases
        self.holder = holder or uuid.uuid4().hex
        self.cache = cache or MemberCache()
        self.lease_ttl = SYNC_LEASE
        self.channel_pages = CHANNEL_PAGES
        self.channel_wait = CHANNEL_WAIT
        self._loads: dict[str, ChannelLoad] = {}
        self._progress = asyncio.Condition()

    async def _pages(
        self, client: AsyncWebClient, method: str, key: str, **params: Any
    ) -> AsyncIterator[list[Any]]:
        cursor = ""
        while True:
            response = await client.api_call(
                method, http_verb="GET", params={**params, "limit": PAGE, "cursor": cursor}
            )
            yield list(response.get(key, []))
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                return

    # --- the sync ----------------------------------------------------------------------------------

    async def sync(self) -> int | None:
        """Refresh everyone from `users.list`; people no longer listed are marked inactive. Returns how
        many were listed, or None if another process holds the sync lease (it syncs instead)."""
        if self.leases is None:
            return await self._sync()
        seen = await run_alone(
            self._sync,
            leases=self.leases,
            name=f"directory.sync:{self.workspace}",
            holder=self.holder,
            clock=self.clock,
            ttl=self.lease_ttl,
        )
        if seen is None:
            log.info(
                "directory %s: people synced by another process (it holds the lease); skipped here",
                self.workspace,
            )
        return seen

    async def _sync(self) -> int:
        started = self.clock.now()
        seen = 0
        writing: deque[asyncio.Task[int]] = deque()  # pages being written while the next is fetched
        try:
            async for members in self._pages(self.background, "users.list", "members"):
                batch = [person(member) for member in members]
                if len(writing) >= WRITERS:
                    seen += await writing.popleft()
                writing.append(asyncio.ensure_future(self._write(batch)))
            while writing:
                seen += await writing.popleft()
        finally:  # pages in hand are written, not cancelled (a cancelled SQLite write can keep its lock)
            await asyncio.gather(*writing, return_exceptions=True)
        gone = await self.store.finish_sync(self.workspace, started_at=started, at=self.clock.now())
        log.info("directory %s: %d people synced, %d marked inactive", self.workspace, seen, gone)
        return seen

    async def _write(self, batch: Sequence[Person]) -> int:
        return await self.store.upsert_synced(self.workspace, batch, at=self.clock.now())

    # --- audiences ---------------------------------------------------------------------------------

    async def members(self, group: AudienceGroup) -> set[str]:
        selected = set(group.user_ids)
        for usergroup in group.usergroup_ids:
            selected |= await self._usergroup(usergroup)
        for members in await self._channels(group.channel_ids):
            selected |= members
        return selected

    async def _usergroup(self, group_id: str) -> frozenset[str]:
        key: Key = ("usergroup", group_id)
        hit = self.cache.get(key)
        if hit is not None and hit.fresh(self.ttl):
            return hit.members
        response = await self.client.usergroups_users_list(usergroup=group_id)
        return self.cache.put(key, frozenset(response.get("users", []))).members

    async def _channels(self, channel_ids: Sequence[str]) -> list[frozenset[str]]:
        """Each channel's members: cached, or read within the budget; else InvalidInput on `channels`."""
        found: list[frozenset[str]] = []
        waiting: list[tuple[ChannelLoad, Cached | None]] = []
        for channel in dict.fromkeys(channel_ids):
            hit = self.cache.get(("channel", channel))
            if hit is not None and hit.fresh(self.ttl):
                found.append(hit.members)
            else:
                waiting.append((self._load(channel), hit))
        loads = [load for load, _ in waiting]
        await wait_within(loads, progress=self._progress, pages=self.channel_pages, seconds=self.channel_wait)
        unfinished, read = 0, 0
        for load, stale in waiting:
            if load.task.done():
                found.append(load.task.result())  # raises InvalidInput for a channel Realign cannot see
            elif stale is not None:
                found.append(stale.members)  # while the refresh finishes in the background
            else:
                unfinished, read = unfinished + 1, read + load.read
        if unfinished:
            raise InvalidInput({"channels": text.CHANNEL_LOADING.format(count=read)})
        return found

    def _load(self, channel: str) -> ChannelLoad:
        """The background read of the channel's members (one per channel at a time)."""
        if channel in self._loads:
            return self._loads[channel]
        self._loads[channel] = load = ChannelLoad().start(
            self._channel_pages(channel),
            progress=self._progress,
            done=lambda load: self._loaded(channel, load),
        )
        return load

    async def _channel_pages(self, channel: str) -> AsyncIterator[list[str]]:
        try:
            async for page in self._pages(
                self.background, "conversations.members", "members", channel=channel
            ):
                yield page
        except SlackApiError as error:
            if error.response.get("error") in HIDDEN:
                raise InvalidInput({"channels": text.CHANNEL_HIDDEN}) from None
            raise

    def _loaded(self, channel: str, load: ChannelLoad) -> None:
        if self._loads.get(channel) is load:
            del self._loads[channel]
        if load.task.cancelled():
            return
        if (error := load.task.exception()) is not None:  # retrieved here; waiters get it too
            log.info("directory %s: members of %s not read: %s", self.workspace, channel, error)
            return
        self.cache.put(("channel", channel), load.task.result())

    async def close(self) -> None:
        """Stop background reads (at shutdown)."""
        loads = list(self._loads.values())
        for load in loads:
            load.task.cancel()
        await asyncio.gather(*(load.task for load in loads), return_exceptions=True)

    # --- people ------------------------------------------------------------------------------------

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
            if (handle.lower() in wanted or group_id.lower() in wanted) and user_id in await self._usergroup(
                group_id
            ):
                return True
        return False
