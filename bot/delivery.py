"""The delivery engine's core loop: claim due rows, send each within its workspace's rate, settle.

Storage, the platform API and the clock are ports, so the same loop runs against SQLite or PostgreSQL,
Slack or Teams, and a test's fake clock. Several lanes run at once, so one slow call delays only its
own batch; outcomes are settled a batch at a time, fenced by the claim's attempt number. `Drain` is the
loop every outbox shares (announcements here, follow-up messages in bot.notices); a subclass says only
how to send one row, and how to find one already sent.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from bot import copy
from bot.clock import Clock
from bot.context import bind
from bot.model import Announcement, Change, announcement_for
from bot.ports import (
    NO_METER,
    Announcer,
    ChangeStore,
    Claim,
    ClaimT,
    Deferred,
    Failed,
    Found,
    Meter,
    Outbox,
    Outcome,
    Result,
    Retry,
    Sent,
    Skipped,
)
from bot.rate import RateLimiter

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")
MessengerT = TypeVar("MessengerT", bound=Announcer)
R = TypeVar("R")
UNRECORDABLE = "internal error recording the outcome"
RESCAN = 1.0  # seconds: how often a drain looks for workspaces whose rows fell due meanwhile


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


class Recent(Generic[K, V]):
    """A small least-recently-used map: in-process caches stay bounded however long a process runs."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


class Drain(Generic[ClaimT, MessengerT]):
    """Drains one outbox. `drain()` returns when nothing is claimable right now."""

    CHANGES_KEPT = 256

    def __init__(
        self,
        *,
        queue: Outbox[ClaimT],
        changes: ChangeStore,
        messengers: Mapping[str, MessengerT],
        limiters: Mapping[str, RateLimiter],
        clock: Clock,
        tuning: EngineTuning = EngineTuning(),
        meter: Meter = NO_METER,
        connect: Callable[[str], Awaitable[object]] | None = None,
    ) -> None:
        self.queue: Outbox[ClaimT] = queue
        # Looks for a workspace missing from `messengers` (installed since this process last looked);
        # a workspace still missing after it is one Realign was removed from.
        self.connect = connect
        self.meter = meter
        self.changes = changes
        self.messengers = messengers
        self.limiters = limiters
        self.clock = clock
        self.tuning = tuning
        self._slots = asyncio.Semaphore(tuning.in_flight)
        self._stopping = False
        self._changes: Recent[int, Change] = Recent(self.CHANGES_KEPT)

    def stop(self) -> None:
        """Finish the batches in hand, claim no more (a graceful shutdown)."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def drain(self) -> int:
        """Send everything due; returns how many rows were settled.

        Each workspace has lanes of its own, paced by its own limiter, so one workspace's big fan-out
        never queues another's messages behind it; workspaces whose rows fall due meanwhile join in."""
        running: dict[str, asyncio.Task[int]] = {}
        settled = 0
        try:
            while not self._stopping:
                for workspace in await self.queue.due_workspaces(now=self.clock.now()):
                    if workspace not in running:
                        running[workspace] = asyncio.ensure_future(self._workspace(workspace))
                if not running:
                    break
                await asyncio.wait(running.values(), timeout=RESCAN, return_when=asyncio.FIRST_COMPLETED)
                for workspace, task in list(running.items()):
                    if task.done():
                        settled += task.result()
                        del running[workspace]
        finally:
            settled += sum(await asyncio.gather(*running.values()))  # they stop after the batch in hand
        return settled

    async def _workspace(self, workspace: str) -> int:
        if workspace not in self.messengers and self.connect is not None:
            await self.connect(workspace)
        return sum(await asyncio.gather(*(self._lane(workspace) for _ in range(self.tuning.lanes))))

    async def _lane(self, workspace: str) -> int:
        bind(workspace=workspace)  # each lane is a task of its own
        settled = 0
        while not self._stopping:
            claimed_at = self.clock.now()
            claims = await self.queue.claim(
                now=claimed_at, limit=self._batch(workspace), lease=self.tuning.lease, workspace=workspace
            )
            if not claims:
                return settled
            # Past this moment another worker may take the claims over: never start a send after it.
            last_send = claimed_at + self.tuning.lease - self.tuning.send_timeout
            try:  # each change once, not once per row; read again if it was amended since
                revisions = await self.changes.revisions({claim.change_id for claim in claims})
                for change_id, revision in revisions.items():
                    await self._change(change_id, revision)
                await self._prepare(claims)
            except Exception:  # each row then reads its own
                log.exception("preparing a batch of %d failed", len(claims))
            try:
                outcomes = await asyncio.gather(*(self._deliver(claim, last_send) for claim in claims))
            finally:
                self._prepared(claims)
            outcomes = await self._settle(outcomes)
            self.meter.settled(workspace=workspace, outcomes=outcomes)
            settled += len(outcomes)
        return settled

    async def _settle(self, outcomes: list[Outcome[ClaimT]]) -> list[Outcome[ClaimT]]:
        """Record a batch; if that fails, each row alone, so one row that cannot be recorded (a bug, a
        value the database refuses) is settled as failed with the reason and the others go on."""
        try:
            await self.queue.settle(outcomes, now=self.clock.now())
            return outcomes
        except Exception:
            log.exception("settling %d rows failed; settling them one by one", len(outcomes))
        recorded = []
        for outcome in outcomes:
            try:
                await self.queue.settle([outcome], now=self.clock.now())
            except Exception as error:
                log.exception(
                    "%s %s: its outcome could not be recorded", type(outcome.claim).__name__, outcome.claim.id
                )
                outcome = Outcome(outcome.claim, Failed(f"{UNRECORDABLE}: {type(error).__name__}"))
                await self.queue.settle([outcome], now=self.clock.now())
            recorded.append(outcome)
        return recorded

    def _batch(self, workspace: str) -> int:
        """As many claims as the lanes, sharing the workspace's rate as it is now, can send while the
        lease allows."""
        limiter = self.limiters.get(workspace)
        rate = limiter.configured if limiter is not None else 1.0
        window = (self.tuning.lease - self.tuning.send_timeout).total_seconds()
        sendable = rate * min(self.tuning.batch_seconds, window) / self.tuning.lanes
        return max(1, min(self.tuning.batch, int(sendable)))

    async def _change(self, change_id: int, revision: int | None = None) -> Change:
        """The change, from the cache unless `revision` says it was amended since it was read."""
        change = self._changes.get(change_id)
        if change is None or (revision is not None and change.revision != revision):
            change = await self.changes.get_by_id(change_id)
            assert change is not None, f"change {change_id} has outbox rows but does not exist"
            self._changes.put(change_id, change)
        return change

    async def _deliver(self, claim: ClaimT, last_send: datetime) -> Outcome[ClaimT]:
        bind(delivery=claim.delivery_id)  # gather() runs each delivery as a task of its own
        try:
            change = await self._change(claim.change_id)
            bind(change=change.key)
            result = await self._send(claim, change, last_send)
            return self._outcome(claim, change, result)
        except Exception as error:  # a bug or an unclassified fault must not lose the row
            log.exception("%s %s: unexpected error", type(claim).__name__, claim.id)
            return self._retry(claim, Retry(f"internal error: {type(error).__name__}", unsure=True))

    async def _send(self, claim: ClaimT, change: Change, last_send: datetime) -> Result:
        early = self._before(claim, change)
        if early is not None:
            return early
        messenger, limiter = self.messengers.get(change.workspace), self.limiters.get(change.workspace)
        if messenger is None or limiter is None:  # uninstalled, its tokens revoked: nobody to send with
            return Failed(copy.REMOVED_FROM_WORKSPACE)
        # A slot is an HTTP request in flight: waiting for the workspace's rate holds none, so a slow
        # workspace never keeps the others' requests waiting.
        if claim.unsure:  # the last attempt may have reached the platform: look before sending again
            await limiter.acquire()
            async with self._slots:
                found = self._limited(limiter, await self._find(messenger, claim))
            if isinstance(found, Retry):  # still unknown: the next attempt must look again
                return replace(found, unsure=True)
            if found is not None:
                return Sent(found)
        await limiter.acquire()
        if self.clock.now() >= last_send:  # e.g. a long 429 pause: hand the claim back untouched
            return Retry("lease ran out before sending", after=0, rate_limited=True)  # due again at once
        async with self._slots:
            return self._limited(limiter, await self._post(messenger, claim, change))

    @staticmethod
    def _limited(limiter: RateLimiter, result: R) -> R:
        if isinstance(result, Retry) and result.rate_limited:
            limiter.penalize(result.after)
        return result

    async def _prepare(self, claims: list[ClaimT]) -> None:
        """Read what a whole batch needs in one go, before sending it (nothing by default)."""

    def _prepared(self, claims: list[ClaimT]) -> None:
        """Forget what `_prepare` read for these claims, once the batch is sent."""

    def _before(self, claim: ClaimT, change: Change) -> Deferred | Skipped | None:
        """A reason not to send now (nothing by default)."""
        return None

    async def _find(self, messenger: MessengerT, claim: ClaimT) -> Found:
        raise NotImplementedError

    async def _post(self, messenger: MessengerT, claim: ClaimT, change: Change) -> Result:
        raise NotImplementedError

    def _delivered(self, claim: ClaimT, change: Change) -> datetime | None:
        """When the next reminder falls due once this row is sent (None: never)."""
        return None

    def _outcome(self, claim: ClaimT, change: Change, result: Result) -> Outcome[ClaimT]:
        if isinstance(result, Sent):
            return Outcome(claim, result, remind_at=self._delivered(claim, change))
        if isinstance(result, Retry):
            return self._retry(claim, result)
        return Outcome(claim, result)

    def _retry(self, claim: ClaimT, result: Retry) -> Outcome[ClaimT]:
        if claim.attempt >= self.tuning.max_attempts and not result.rate_limited:
            return Outcome(claim, Failed(f"gave up after {claim.attempt} attempts: {result.reason}"))
        delay = result.after
        if delay is None:
            delay = backoff(claim.attempt, base=self.tuning.backoff_base, cap=self.tuning.backoff_cap)
        return Outcome(claim, result, retry_at=self.clock.now() + timedelta(seconds=delay))


class Dispatcher(Drain[Claim, Announcer]):
    """Sends announcements: one DM per delivery, the expectations of the recipient's groups merged."""

    ANNOUNCEMENTS_KEPT = 1024
    _announcements: Recent[tuple[int, int, int], Announcement] | None = None

    def _announcement(self, change: Change, claim: Claim) -> Announcement:
        if self._announcements is None:
            self._announcements = Recent(self.ANNOUNCEMENTS_KEPT)
        key = (claim.change_id, change.revision, claim.group_mask)
        shown = self._announcements.get(key) or self._announcements.put(
            key, announcement_for(change, claim.group_mask)
        )
        return replace(shown, delivery_id=claim.delivery_id)

    async def _find(self, messenger: Announcer, claim: Claim) -> Found:
        return await messenger.find_announcement(user_id=claim.user_id, delivery_id=claim.delivery_id)

    async def _post(self, messenger: Announcer, claim: Claim, change: Change) -> Result:
        return await messenger.send_announcement(self._announcement(change, claim), user_id=claim.user_id)

    def _delivered(self, claim: Claim, change: Change) -> datetime | None:
        policy = change.policy
        return self.clock.now() + policy.remind_after if policy.max_reminders > 0 else None
