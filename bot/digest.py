"""The digest: a one-pager posted to a channel on a schedule: the changes announced since the last one,
those coming into effect in the coming week, and how far each open change has landed.

Which digest is due is a *slot*: the latest moment at or before now that the schedule names
(REALIGN_DIGEST_CRON). Each slot is posted once to its destination, across restarts and processes: a
tick claims it in the store with a lease (of several processes ticking at once, one gets it), posts it
and marks it posted. A claim taken over after a lease ran out (its claimer stopped, or did not hear back
from the platform) first looks for the message the earlier attempt may have posted. A slot more than
STALE old is never posted late: it is logged and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from bot.clock import Clock
from bot.model import ChangeState, MessageRef
from bot.ports import Failed, Found, Retry, SendResult, Sent

log = logging.getLogger(__name__)
STALE = timedelta(days=1)  # a slot older than this, never posted, is skipped (Realign was down)
CLAIM_LEASE = timedelta(minutes=2)  # how long a claimed digest is left to its claimer
FAILED_WAIT = timedelta(hours=1)  # after a refusal only an operator can fix: when to try again
AHEAD = timedelta(days=7)  # "coming into effect": from the slot's day, this far ahead
WEEK = timedelta(days=7)  # the window of the first slot, which has no slot before it


@dataclass(frozen=True)
class DigestChange:
    """One change as the digest sees it, with its totals now."""

    key: str
    title: str
    announcer_id: str
    state: ChangeState
    published_at: datetime | None
    effective_date: date
    targeted: int = 0
    acknowledged: int = 0
    open_questions: int = 0
    open_concerns: int = 0

    @property
    def rate(self) -> float:
        """Acknowledged of targeted (0 with nobody targeted)."""
        return self.acknowledged / self.targeted if self.targeted else 0.0


@dataclass(frozen=True)
class Digest:
    """What one slot's digest says; `since` is the slot before it (the window is since < t <= slot)."""

    slot: datetime
    since: datetime
    announced: list[DigestChange]
    coming: list[DigestChange]
    open: list[DigestChange]

    @property
    def empty(self) -> bool:
        return not (self.announced or self.coming or self.open)


def digest(changes: Iterable[DigestChange], *, since: datetime, slot: datetime) -> Digest:
    """The digest of `slot` over its changes: announced in the window (oldest first), coming into effect
    from the slot's day to AHEAD after it (soonest first), and every open change, the least acknowledged
    first (where attention is needed)."""
    rows = list(changes)
    live = (ChangeState.PUBLISHED, ChangeState.CLOSED)
    first, last = slot.date(), (slot + AHEAD).date()
    announced = [
        c for c in rows if c.state in live and c.published_at is not None and since < c.published_at <= slot
    ]
    coming = [c for c in rows if c.state in live and first <= c.effective_date < last]
    still_open = [c for c in rows if c.state is ChangeState.PUBLISHED]
    return Digest(
        slot=slot,
        since=since,
        announced=sorted(announced, key=lambda c: (c.published_at or slot, c.key)),
        coming=sorted(coming, key=lambda c: (c.effective_date, c.key)),
        open=sorted(still_open, key=lambda c: (c.rate, c.key)),
    )


# --- ports -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """Where a digest goes: a channel of one workspace."""

    workspace: str  # "slack:T001"
    channel: str  # "C0123ABCD"

    @property
    def key(self) -> str:
        return f"{self.workspace}/{self.channel}"


@dataclass(frozen=True)
class DigestClaim:
    """A slot's digest this process now holds until `lease_until`. `taken_over`: an earlier claim's
    lease ran out, so that attempt may have posted it (look before posting)."""

    slot: datetime
    destination: str
    lease_until: datetime
    taken_over: bool


class Slots(Protocol):
    """The moments a schedule names (realign.cron.CronSchedule)."""

    def latest(self, at: datetime) -> datetime | None:
        """The last moment at or before `at`, if any."""
        ...

    def before(self, moment: datetime) -> datetime | None:
        """The last moment strictly before `moment`, if any."""
        ...


class DigestStore(Protocol):
    """The digests the schedule called for, one row per slot and destination, and what they report."""

    async def claim(
        self, *, slot: datetime, destination: str, now: datetime, lease: timedelta
    ) -> DigestClaim | None:
        """Atomically take the slot's digest until `now + lease`: new, or taken over from a claim whose
        lease has run out. None when it is posted or another claim holds it: of several processes racing,
        one gets it."""
        ...

    async def posted(self, claim: DigestClaim, *, ref: MessageRef, at: datetime) -> None:
        """Record the digest as posted (at `ref`), with its audit event."""
        ...

    async def hold(self, claim: DigestClaim, *, until: datetime) -> None:
        """Leave a claimed digest alone until `until` (a refusal that waits on an operator)."""
        ...

    async def state(self, *, slot: datetime, destination: str) -> str | None:
        """`claimed`, `posted`, or None when the slot was never claimed."""
        ...

    async def changes(
        self, *, workspace: str, since: datetime, until: datetime, effective: tuple[date, date]
    ) -> list[DigestChange]:
        """The workspace's changes a digest may list, with their totals: open ones, and published or
        closed ones announced in `since < published_at <= until` or taking effect in `effective`
        (first day included, last excluded)."""
        ...


class DigestPoster(Protocol):
    """Posts a digest to a channel, and finds one posted already: its message carries the slot."""

    async def post_digest(self, digest: Digest, *, channel: str) -> SendResult: ...

    async def find_digest(self, *, channel: str, slot: datetime) -> Found:
        """The slot's digest among the channel's latest messages, if it is there (reconciliation)."""
        ...


# --- the tick ----------------------------------------------------------------------------------------


class Digesting:
    """The digest tick: post the due slot's digest to the destination, once."""

    def __init__(
        self,
        *,
        store: DigestStore,
        slots: Slots,
        destination: Destination,
        poster: Callable[[str], Awaitable[DigestPoster | None]],
        clock: Clock,
        lease: timedelta = CLAIM_LEASE,
        send_timeout: timedelta = timedelta(seconds=10),
    ) -> None:
        self.store = store
        self.slots = slots
        self.destination = destination
        self.poster = poster  # a workspace key -> its poster (None: not served here)
        self.clock = clock
        self.lease = lease
        self.send_timeout = send_timeout
        self._skipped: datetime | None = None  # the stale slot last looked at (logged once)

    async def tick(self) -> bool:
        """Post the due digest if nobody has; True when this call saw it posted (posted or found)."""
        now = self.clock.now()
        slot = self.slots.latest(now)
        if slot is None:
            return False
        if now - slot > STALE:
            await self._skip(slot)
            return False
        where = self.destination
        claim = await self.store.claim(slot=slot, destination=where.key, now=now, lease=self.lease)
        if claim is None:  # posted already, or another process holds it
            return False
        poster = await self.poster(where.workspace)
        if poster is None:  # the lease runs out; a process that serves the workspace takes it over
            log.error("the digest of %s is due, but workspace %s is not served here", slot, where.workspace)
            return False
        if claim.taken_over:
            found = await poster.find_digest(channel=where.channel, slot=slot)
            if isinstance(found, Retry):  # cannot tell: the next claim looks again
                log.warning("could not look for the digest of %s in %s: %s", slot, where.key, found.reason)
                if not (found.unsure or found.rate_limited):  # refused (not in the channel, no scope)
                    await self.store.hold(claim, until=self.clock.now() + FAILED_WAIT)
                return False
            if found is not None:
                await self.store.posted(claim, ref=found, at=self.clock.now())
                log.info("the digest of %s was already in %s; recorded as posted", slot, where.key)
                return True
        if self.clock.now() > claim.lease_until - self.send_timeout:
            return False  # too late to send within the lease: another claim would not know of it
        return await self._post(poster, claim)

    async def _post(self, poster: DigestPoster, claim: DigestClaim) -> bool:
        where, slot = self.destination, claim.slot
        since = self.slots.before(slot) or slot - WEEK
        effective = (slot.date(), (slot + AHEAD).date())
        changes = await self.store.changes(
            workspace=where.workspace, since=since, until=slot, effective=effective
        )
        result = await poster.post_digest(digest(changes, since=since, slot=slot), channel=where.channel)
        if isinstance(result, Sent):
            await self.store.posted(claim, ref=result.ref, at=self.clock.now())
            log.info("posted the digest of %s to %s", slot, where.key)
            return True
        if isinstance(result, Failed):
            log.error(
                "the platform refused the digest of %s in %s (%s); add Realign to the channel (Slack: invite"
                " it; Teams: install it in the team) or fix the setting REALIGN_DIGEST_CHANNEL; tried again"
                " in %s",
                slot,
                where.key,
                result.reason,
                FAILED_WAIT,
            )
            await self.store.hold(claim, until=self.clock.now() + FAILED_WAIT)
            return False
        # Retry: the lease runs out, and the next claim looks for it before posting again.
        log.warning("the digest of %s to %s was not posted (%s); tried again", slot, where.key, result.reason)
        return False

    async def _skip(self, slot: datetime) -> None:
        if self._skipped == slot:
            return
        self._skipped = slot
        if await self.store.state(slot=slot, destination=self.destination.key) != "posted":
            log.warning(
                "the digest of %s to %s was never posted (Realign was not running then); it is more than"
                " %s old, so it is skipped: the next one goes out on time",
                slot,
                self.destination.key,
                STALE,
            )
