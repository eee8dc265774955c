"""Interactive sends: what Realign posts or updates in Teams while someone waits (an answer to a typed
command, a card refreshed after a click, a question passed on), from the web loop.

They go at once, within the web loop's limiter of the tenant (a burst of answers still keeps to
TEAMS_POST_RATE), and each request that reached Teams is paid for by the engine's limiter of the tenant
(`paid`: realign.wiring points it at the engine thread, which spends a slot there): the bulk senders
wait that much longer, so the two loops together stay within the tenant's rate, and delivery keeps all
of it while nobody is clicking. botbuilder never retries a 429, and a person is waiting, so a 429 is waited
out once (its Retry-After, at most `WAIT_AT_MOST` seconds) and the send tried again; a second 429 is one
log line and `Throttled`, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from msrest.exceptions import HttpOperationError

from bot.rate import RateLimiter

log = logging.getLogger(__name__)
WAIT_AT_MOST = 5.0  # seconds: Teams waits 15 s for the answer to an activity, and someone is waiting
T = TypeVar("T")


class Throttled(Exception):
    """Teams answered 429 twice to one interactive send: it was not sent."""

    def __init__(self, what: str, retry_after: float) -> None:
        super().__init__(f"Teams throttled {what} (429) twice")
        self.what, self.retry_after = what, retry_after


def throttled(error: BaseException) -> float | None:
    """The Retry-After of a connector 429 in seconds (1 when it gives none), or None for any other error."""
    response = error.response if isinstance(error, HttpOperationError) else None
    if response is None or response.status_code != 429:
        return None
    try:
        return max(0.0, float(response.headers.get("Retry-After") or 1))
    except ValueError:
        return 1.0


class Replies:
    """One tenant's interactive sends on the web loop, within its interactive limiter."""

    def __init__(
        self, *, workspace: str, limiter: RateLimiter, paid: Callable[[], None] = lambda: None
    ) -> None:
        self.workspace = workspace
        self.limiter = limiter
        self.paid = paid

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        await self.limiter.acquire()
        try:
            return await call()
        finally:
            self.paid()  # it reached Teams (or may have): it counts against the tenant's rate

    async def send(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` (one connector request) within the rate; a 429 is waited out and tried once more.
        Raises Throttled after a second 429, and whatever else `call` raises."""
        try:
            return await self._call(call)
        except Exception as error:
            after = throttled(error)
            if after is None:
                raise
        self.limiter.penalize(min(after, WAIT_AT_MOST))  # the retry's acquire waits it out
        try:
            return await self._call(call)
        except Exception as error:
            again = throttled(error)
            if again is None:
                raise
        log.warning(
            "Teams throttled %s in %s twice (429, Retry-After %.0fs); it was not sent",
            what,
            self.workspace,
            again,
        )
        self.limiter.penalize(min(again, WAIT_AT_MOST))
        raise Throttled(what, again)
