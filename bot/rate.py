"""A token bucket per workspace that every sender shares; it backs off on 429 and recovers when they stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Probing:
    """`SLACK_POST_RATE=auto`: find a workspace's limit, which nobody publishes, by trying.

    Before the first 429 the rate grows by `fast` every `every` seconds of busy sending; a 429 at rate r
    sets it to `below` x r and from then on it grows by `slow` per step, so it settles just under the
    limit and tests it now and then, rather than sawing between half and full. Never above `ceiling`.
    The trade-off: a 429 now and then (each honoured, each costing a pause) buys a rate near the limit.
    """

    ceiling: float = 20.0
    floor: float = 1.0
    every: float = 2.0
    fast: float = 0.20
    slow: float = 0.01
    below: float = 0.95


class RateLimiter:
    """Hands out send slots at `rate` per second (bursts up to `burst`), first come first served.

    When several processes send to one workspace, each takes its `share()` of the rate.

    A 429 pauses everyone for the platform's `Retry-After` and lowers the rate by a fifth (once per
    pause, however many in-flight calls report it); after `recover_after` seconds without one the
    rate climbs back by a tenth of the configured rate per second. With `probing` the rate is not
    configured but found (see Probing)."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        recover_after: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        on_wait: Callable[[float], None] | None = None,
        probing: Probing | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.probing = probing
        if probing is not None:  # where to start: e.g. what an earlier process learnt
            rate = min(max(rate, probing.floor), probing.ceiling)
        self.whole = rate  # the workspace's rate, for all its senders
        self._whole_burst = burst if burst is not None else rate / 10
        self.configured = rate
        self.rate = rate
        self.burst = max(1.0, self._whole_burst)
        self.recover_after = recover_after
        self._now = monotonic
        self._sleep = sleep  # with `monotonic`, a test's virtual time
        self._on_wait = on_wait  # told how long each acquire() waited (for metrics)
        self._tokens = self.burst
        self._stamp = monotonic()
        self._paused_until = 0.0
        self._last_penalty = float("-inf")
        self._lock = asyncio.Lock()
        self._senders = 1
        self.limit_seen: float | None = None  # probing: the workspace rate that last drew a 429
        self._step_at = self._stamp
        self._taken = 0  # slots handed out since the last probing step
        self.spent = 0  # slots taken by `spend` (replies sent elsewhere), for tests and dashboards

    def _refill(self, now: float) -> None:
        if self.probing is not None:
            self._probe(now)
        quiet = now - self._last_penalty - self.recover_after
        if self.probing is None and quiet > 0 and self.rate < self.configured:
            step = self.configured * 0.1 * min(quiet, now - self._stamp)
            self.rate = min(self.configured, self.rate + step)
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        """Wait for the next slot."""
        started = self._now()
        await self._take()
        if self._on_wait is not None:
            self._on_wait(self._now() - started)

    async def _take(self) -> None:
        async with self._lock:
            while True:
                now = self._now()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                self._refill(now)
                if self._tokens >= 1:
                    self._tokens -= 1
                    self._taken += 1
                    return
                await self._sleep((1 - self._tokens) / self.rate)

    def spend(self) -> None:
        """Take a slot now, without waiting: one already used by someone waiting on an answer (a reply
        in a Teams turn, sent from the web loop). The slot is owed if none is free (tokens go below
        zero), so the bulk senders wait that much longer and the platform's rate still holds."""
        self._refill(self._now())
        self._tokens -= 1
        self._taken += 1
        self.spent += 1

    def _probe(self, now: float) -> None:
        """Probing: a step up after `every` seconds of sending near the rate with no 429."""
        assert self.probing is not None
        probing = self.probing
        if now - self._step_at < probing.every:
            return
        busy = self._taken >= 0.8 * self.configured * (now - self._step_at)
        self._step_at, self._taken = now, 0
        if not busy or now - self._last_penalty < probing.every or self.whole >= probing.ceiling:
            return
        step = probing.fast if self.limit_seen is None else probing.slow
        self._rescale(min(probing.ceiling, self.whole * (1 + step)))

    def _rescale(self, whole: float) -> None:
        self.whole = whole
        self.configured = self.rate = whole / self._senders

    def share(self, senders: int) -> None:
        """The workspace's rate is split between `senders` processes: take this one's part of it."""
        senders = max(1, senders)
        self._senders = senders
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
        if now >= self._paused_until and self.probing is not None:  # just under what drew it
            self.limit_seen = self.whole
            self._rescale(max(self.probing.floor, self.whole * self.probing.below))
        elif now >= self._paused_until:  # first report of this episode
            self.rate = max(self.configured * 0.05, self.rate * 0.8)
        self._paused_until = max(self._paused_until, now + pause)
        self._last_penalty = now
        self._tokens = 0.0
