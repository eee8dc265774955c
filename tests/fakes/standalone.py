"""A fake in a process of its own, as the benchmarks run it: served until a signal, and reached over HTTP
through its control API (`/_fake/...`) instead of through its Python methods.

`python -m tests.fakes.slack_api` and `python -m tests.fakes.teams_connector` serve this way; the first
line either prints is its base URL. `SlackControl` is the client of the Slack fake's control API.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any, Protocol

import aiohttp


class Fake(Protocol):
    """What every fake server has: start on a port, a base URL, stop."""

    url: str

    async def start(self, *, port: int = 0) -> Any: ...

    async def stop(self) -> None: ...


async def serve_until_signalled(fake: Fake, *, port: int) -> None:
    """Start `fake`, print its base URL (the first stdout line), serve until SIGTERM or SIGINT, stop."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await fake.start(port=port)
    print(fake.url, flush=True)
    await stopping.wait()
    await fake.stop()


class SlackControl:
    """The Slack fake's control API, for a fake in another process (`api_url`: its `/api/` base URL)."""

    def __init__(self, http: aiohttp.ClientSession, api_url: str) -> None:
        self.http = http
        self.base = api_url.removesuffix("api/")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(self.base + path, json=body) as response:
            response.raise_for_status()
            return dict(await response.json())

    async def add_users(self, count: int, *, prefix: str = "U", start: int = 0) -> int:
        """Users `{prefix}00000000`, ... (`start` is the first number); returns how many were added."""
        answer = await self._post("_fake/users", {"count": count, "prefix": prefix, "start": start})
        return int(answer["created"])

    async def add_usergroup(
        self, group_id: str, handle: str, *, count: int, prefix: str = "U", start: int = 0
    ) -> None:
        """A user group `@handle` holding the users `add_users` names with the same numbers."""
        group = {"id": group_id, "handle": handle, "prefix": prefix, "start": start, "count": count}
        await self._post("_fake/config", {"usergroup": group})

    async def rate_limit(self, method: str, per_second: float, *, retry_after: int = 1) -> None:
        """429 + Retry-After once the method's workspace-wide bucket is empty."""
        limit = {"method": method, "per_second": per_second, "retry_after": retry_after}
        await self._post("_fake/config", {"rate_limit": limit})

    async def stats(self) -> dict[str, Any]:
        """Call counts by method, DMs per user, 429s answered, ids of the views opened (oldest first)."""
        async with self.http.get(self.base + "_fake/stats") as response:
            response.raise_for_status()
            return dict(await response.json())

    async def views(self) -> list[str]:
        """Ids of the views opened so far, oldest first."""
        return list((await self.stats())["views"])
