"""A token bucket per workspace that every sender shares; it backs off on 429 and recovers when they stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RateLimiter:
    """Hands out send slots at `rate` per second (bursts up to `burst`), first come first served.

    When several processes send to one workspace, each takes its `share()` of the rate.

    A 429 pauses everyone for the platform's `Retry-After` and lowers the rate by a fifth (once per
    pause, however many in-flight calls report it); after `recover_after` seconds without one the
    rate climbs back by a tenth of the configured rate per second."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        recover_after: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.whole = rate  # the workspace's rate, for all its senders
        self._whole_burst = burst if burst is not None else rate / 10
        self.configured = rate
        self.rate = rate
        self.burst = max(1.0, self._whole_burst)
        self.recover_after = recover_after
        self._now = monotonic
        self._tokens = self.burst
        self._stamp = monotonic()
        self._paused_until = 0.0
        self._last_penalty = float("-inf")
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        quiet = now - self._last_penalty - self.recover_after
        if quiet > 0 and self.rate < self.configured:
            step = self.configured * 0.1 * min(quiet, now - self._stamp)
            self.rate = min(self.configured, self.rate + step)
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait for the next slot."""
        async with self._lock:
            while True:
                now = self._now()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self.rate)

    def share(self, senders: int) -> None:
        """The workspace's rate is split between `senders` processes: take this one's part of it."""
        senders = max(1, senders)
        part = self.whole / senders
        if part == self.configured:
            return
        self.rate *= part / self.configured  # where AIMD had got to, on the new scale
        self.configured = part
        self.burst = max(1.0, self._whole_burst / senders)
        self._tokens = min(self._tokens, self.burst)

    def penalize(self, retry_after: float | None) -> None:
        """The platform said 429: stop until `retry_after` (default 1 s) has passed, then go slower."""
        now = self._now()
        pause = retry_after if retry_after and retry_after > 0 else 1.0
        if now >= self._paused_until:  # first report of this episode
            self.rate = max(self.configured * 0.05, self.rate * 0.8)
        self._paused_until = max(self._paused_until, now + pause)
        self._last_penalty = now
        self._tokens = 0.0
