"""The delivery engine's core loop: claim due deliveries, send each within its workspace's rate, settle.

Storage, the platform API and the clock are ports, so the same loop runs against SQLite or PostgreSQL,
Slack or Teams, and a test's fake clock. Several lanes run at once, so one slow call delays only its
own batch; outcomes are settled a batch at a time, fenced by the claim's attempt number.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.model import Announcement, Change, announcement_for
from bot.ports import Announcer, ChangeStore, Claim, Failed, Outbox, Outcome, Retry, SendResult, Sent
from bot.rate import RateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineTuning:
    batch: int = 100
    lanes: int = 2
    in_flight: int = 64
    lease: timedelta = timedelta(seconds=60)
    send_timeout: timedelta = timedelta(seconds=10)  # the platform client's timeout
    batch_seconds: float = 2.0  # a claim holds at most about this many seconds of sending at the rate limit
    max_attempts: int = 8
    backoff_base: float = 2.0
    backoff_cap: float = 300.0


def backoff(attempt: int, *, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: somewhere in [d/2, d] with d = min(cap, base * 2**(attempt-1))."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return random.uniform(delay / 2, delay)


class Dispatcher:
    """Drains the outbox. `drain()` returns when nothing is claimable right now."""

    def __init__(
        self,
        *,
        queue: Outbox,
        changes: ChangeStore,
        messengers: Mapping[str, Announcer],
        limiters: Mapping[str, RateLimiter],
        clock: Clock,
        tuning: EngineTuning = EngineTuning(),
    ) -> None:
        self.queue = queue
        self.changes = changes
        self.messengers = messengers
        self.limiters = limiters
        self.clock = clock
        self.tuning = tuning
        self._slots = asyncio.Semaphore(tuning.in_flight)
        self._stopping = False
        self._changes: dict[int, Change] = {}
        self._announcements: dict[tuple[int, int], Announcement] = {}

    def stop(self) -> None:
        """Finish the batches in hand, claim no more (a graceful shutdown)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def drain(self) -> int:
        """Deliver everything due; returns how many deliveries were settled."""
        counts = await asyncio.gather(*(self._lane() for _ in range(self.tuning.lanes)))
        return sum(counts)

    async def _lane(self) -> int:
        settled = 0
        while not self._stopping:
            claimed_at = self.clock.now()
            claims = await self.queue.claim(now=claimed_at, limit=self._batch(), lease=self.tuning.lease)
            if not claims:
                return settled
            # Past this moment another worker may take the claims over: never start a send after it.
            last_send = claimed_at + self.tuning.lease - self.tuning.send_timeout
            outcomes = await asyncio.gather(*(self._deliver(claim, last_send) for claim in claims))
            await self.queue.settle(outcomes, now=self.clock.now())
            settled += len(outcomes)
        return settled

    def _batch(self) -> int:
        """As many claims as the lanes, sharing the rate as it is now, can send while the lease allows."""
        slowest = min((limiter.configured for limiter in self.limiters.values()), default=0.0)
        if slowest == 0:  # no platform: nothing can be sent
            return 1
        window = (self.tuning.lease - self.tuning.send_timeout).total_seconds()
        sendable = slowest * min(self.tuning.batch_seconds, window) / self.tuning.lanes
        return max(1, min(self.tuning.batch, int(sendable)))

    async def _change(self, change_id: int) -> Change:
        if change_id not in self._changes:
            change = await self.changes.get_by_id(change_id)
            assert change is not None, f"change {change_id} has deliveries but does not exist"
            self._changes[change_id] = change
        return self._changes[change_id]

    def _announcement(self, change: Change, claim: Claim) -> Announcement:
        key = (claim.change_id, claim.group_mask)
        if key not in self._announcements:
            self._announcements[key] = announcement_for(change, claim.group_mask)
        return replace(self._announcements[key], delivery_id=claim.delivery_id)

    async def _deliver(self, claim: Claim, last_send: datetime) -> Outcome:
        async with self._slots:
            try:
                result = await self._send(claim, last_send)
            except Exception as error:  # a bug or an unclassified fault must not lose the delivery
                log.exception("delivery %s: unexpected error", claim.delivery_id)
                result = Retry(f"internal error: {type(error).__name__}", unsure=True)
        return self._outcome(claim, result)

    async def _send(self, claim: Claim, last_send: datetime) -> SendResult:
        change = await self._change(claim.change_id)
        messenger = self.messengers[change.workspace]
        announcement = self._announcement(change, claim)
        if claim.unsure:  # the last attempt may have reached the platform: look before sending again
            ref = await messenger.find_announcement(user_id=claim.user_id, delivery_id=claim.delivery_id)
            if ref is not None:
                return Sent(ref)
        limiter = self.limiters[change.workspace]
        await limiter.acquire()
        if self.clock.now() >= last_send:  # e.g. a long 429 pause: hand the claim back untouched
            return Retry("lease ran out before sending", after=0, rate_limited=True)  # due again at once
        result = await messenger.send_announcement(announcement, user_id=claim.user_id)
        if isinstance(result, Retry) and result.rate_limited:
            limiter.penalize(result.after)
        return result

    def _outcome(self, claim: Claim, result: SendResult) -> Outcome:
        if isinstance(result, Sent):
            policy = self._changes[claim.change_id].policy
            remind_at = self.clock.now() + policy.remind_after if policy.max_reminders > 0 else None
            return Outcome(claim, result, remind_at=remind_at)
        if not isinstance(result, Retry):
            return Outcome(claim, result)
        if claim.attempt >= self.tuning.max_attempts and not result.rate_limited:
            return Outcome(claim, Failed(f"gave up after {claim.attempt} attempts: {result.reason}"))
        delay = result.after
        if delay is None:
            delay = backoff(claim.attempt, base=self.tuning.backoff_base, cap=self.tuning.backoff_cap)
        return Outcome(claim, result, retry_at=self.clock.now() + timedelta(seconds=delay))
