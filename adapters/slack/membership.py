"""Members of user groups and channels, as audiences need them: fetched once per group, kept briefly in
a bounded cache, and a big channel's member list read in the background rather than in the request.

`MemberCache` is an LRU bounded in groups and in member ids in all, so a process that sees many
channels over a week holds only the recent ones. `ChannelLoad` is one channel's `conversations.members`
walk (cursor after cursor, so never in parallel) running as a task of its own; requests wait for it
within a budget and it finishes whether or not they wait.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

MAX_GROUPS = 256  # cached user groups and channels
MAX_MEMBERS = 300_000  # member ids cached in all (about 25 MB); one larger group is still kept alone

Key = tuple[str, str]  # ("usergroup" | "channel", id)


@dataclass(frozen=True)
class Cached:
    members: frozenset[str]
    loaded_at: float  # time.monotonic()

    def fresh(self, ttl: float) -> bool:
        return time.monotonic() - self.loaded_at < ttl


class MemberCache:
    """Members by group, least recently used first out once over `max_groups` or `max_members`."""

    def __init__(self, *, max_groups: int = MAX_GROUPS, max_members: int = MAX_MEMBERS) -> None:
        self.max_groups = max_groups
        self.max_members = max_members
        self.members = 0  # ids held in all
        self._entries: OrderedDict[Key, Cached] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Key) -> bool:
        return key in self._entries

    def get(self, key: Key) -> Cached | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: Key, members: frozenset[str]) -> Cached:
        self._drop(key)
        entry = self._entries[key] = Cached(members, time.monotonic())
        self.members += len(members)
        while len(self._entries) > 1 and (
            len(self._entries) > self.max_groups or self.members > self.max_members
        ):
            self._drop(next(iter(self._entries)))
        return entry

    def _drop(self, key: Key) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.members -= len(old.members)


@dataclass
class ChannelLoad:
    """One channel's member list being read page by page; `pages` and `read` tell how far it got."""

    task: asyncio.Task[frozenset[str]] = field(init=False)
    pages: int = 0
    read: int = 0

    def start(
        self,
        pages: AsyncIterator[list[str]],
        *,
        progress: asyncio.Condition,
        done: Callable[[ChannelLoad], None],
    ) -> ChannelLoad:
        self.task = asyncio.ensure_future(self._read(pages, progress))
        self.task.add_done_callback(lambda _: done(self))
        return self

    async def _read(self, pages: AsyncIterator[list[str]], progress: asyncio.Condition) -> frozenset[str]:
        members: set[str] = set()
        try:
            async for page in pages:
                members.update(page)
                self.pages, self.read = self.pages + 1, len(members)
                async with progress:
                    progress.notify_all()
            return frozenset(members)
        finally:
            async with progress:
                progress.notify_all()


async def wait_within(
    loads: list[ChannelLoad], *, progress: asyncio.Condition, pages: int, seconds: float
) -> None:
    """Wait until every load is done or has read `pages` more pages, or `seconds` have passed."""
    if not loads:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    start = {id(load): load.pages for load in loads}

    def enough() -> bool:
        return all(load.task.done() or load.pages - start[id(load)] >= pages for load in loads)

    async with progress:
        while not enough() and (remaining := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(progress.wait(), remaining)
            except TimeoutError:
                return
